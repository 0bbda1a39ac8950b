package extfmt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var le = binary.LittleEndian

// SuperblockOffset and SuperblockSize place the primary superblock on the device; backups
// sit at the start of their group's first block.
const (
	SuperblockOffset = 1024
	SuperblockSize   = 1024
	SuperMagic       = 0xEF53
)

// Feature flags (s_feature_compat, _incompat, _ro_compat).
const (
	CompatHasJournal = 0x4
	CompatExtAttr    = 0x8
	CompatResizeIno  = 0x10
	CompatDirIndex   = 0x20
	CompatSparse2    = 0x200

	IncompatFiletype   = 0x2
	IncompatRecover    = 0x4
	IncompatJournalDev = 0x8
	IncompatMetaBG     = 0x10
	IncompatExtents    = 0x40
	Incompat64bit      = 0x80
	IncompatMMP        = 0x100
	IncompatFlexBG     = 0x200
	IncompatCsumSeed   = 0x2000
	IncompatLargedir   = 0x4000
	IncompatInlineData = 0x8000

	RoCompatSparseSuper   = 0x1
	RoCompatLargeFile     = 0x2
	RoCompatBtreeDir      = 0x4
	RoCompatHugeFile      = 0x8
	RoCompatGdtCsum       = 0x10
	RoCompatDirNlink      = 0x20
	RoCompatExtraIsize    = 0x40
	RoCompatBigalloc      = 0x200
	RoCompatMetadataCsum  = 0x400
	RoCompatOrphanPresent = 0x10000
)

// Superblock state bits (s_state).
const (
	StateValid  = 0x1 // cleanly unmounted
	StateErrors = 0x2
)

// CsumTypeCrc32c is the only metadata checksum type (s_checksum_type).
const CsumTypeCrc32c = 1

// Superblock holds the superblock fields the two users read or write. The high words of
// the 64-bit counts are decoded (and encoded) only when the 64bit feature is on, as the
// kernel reads them.
type Superblock struct {
	InodesCount       uint32
	BlocksCount       uint64
	RBlocksCount      uint64
	FreeBlocksCount   uint64
	FreeInodesCount   uint32
	FirstDataBlock    uint32
	LogBlockSize      uint32 // block size is 1024 << LogBlockSize
	LogClusterSize    uint32
	BlocksPerGroup    uint32
	ClustersPerGroup  uint32
	InodesPerGroup    uint32
	Mtime             uint32
	Wtime             uint32
	MntCount          uint16
	MaxMntCount       uint16
	Magic             uint16
	State             uint16
	Errors            uint16
	MinorRevLevel     uint16
	Lastcheck         uint32
	Checkinterval     uint32
	CreatorOS         uint32
	RevLevel          uint32 // 0: good old revision (128-byte inodes, no features)
	DefResuid         uint16
	DefResgid         uint16
	FirstIno          uint32
	InodeSize         uint16
	BlockGroupNr      uint16 // which group this copy lives in
	FeatureCompat     uint32
	FeatureIncompat   uint32
	FeatureRoCompat   uint32
	UUID              [16]byte
	VolumeName        [16]byte
	ReservedGdtBlocks uint16
	JournalInum       uint32
	HashSeed          [16]byte
	DefHashVersion    uint8
	JnlBackupType     uint8 // 1: JnlBlocks holds a copy of the journal inode's i_block and size
	DescSize          uint16
	DefaultMountOpts  uint32
	FirstMetaBg       uint32
	MkfsTime          uint32
	JnlBlocks         [17]uint32
	MinExtraIsize     uint16
	WantExtraIsize    uint16
	Flags             uint32
	BackupBgs         [2]uint32 // sparse_super2: the two groups with backups
	ChecksumType      uint8
	ChecksumSeed      uint32
	Checksum          uint32
}

// ErrBadMagic is returned by ParseSuperblock for bytes that are no ext2/3/4 superblock.
var ErrBadMagic = errors.New("no ext2/3/4 superblock magic")

// ParseSuperblock decodes a superblock. It checks only what it needs to decode (the length
// and the magic); geometry is the caller's to validate against its device.
func ParseSuperblock(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < SuperblockSize {
		return s, fmt.Errorf("superblock is %d bytes, want %d", len(b), SuperblockSize)
	}
	s.Magic = le.Uint16(b[0x38:])
	if s.Magic != SuperMagic {
		return s, fmt.Errorf("%w (%#x)", ErrBadMagic, s.Magic)
	}
	s.InodesCount = le.Uint32(b[0x0:])
	s.BlocksCount = uint64(le.Uint32(b[0x4:]))
	s.RBlocksCount = uint64(le.Uint32(b[0x8:]))
	s.FreeBlocksCount = uint64(le.Uint32(b[0xC:]))
	s.FreeInodesCount = le.Uint32(b[0x10:])
	s.FirstDataBlock = le.Uint32(b[0x14:])
	s.LogBlockSize = le.Uint32(b[0x18:])
	s.LogClusterSize = le.Uint32(b[0x1C:])
	s.BlocksPerGroup = le.Uint32(b[0x20:])
	s.ClustersPerGroup = le.Uint32(b[0x24:])
	s.InodesPerGroup = le.Uint32(b[0x28:])
	s.Mtime = le.Uint32(b[0x2C:])
	s.Wtime = le.Uint32(b[0x30:])
	s.MntCount = le.Uint16(b[0x34:])
	s.MaxMntCount = le.Uint16(b[0x36:])
	s.State = le.Uint16(b[0x3A:])
	s.Errors = le.Uint16(b[0x3C:])
	s.MinorRevLevel = le.Uint16(b[0x3E:])
	s.Lastcheck = le.Uint32(b[0x40:])
	s.Checkinterval = le.Uint32(b[0x44:])
	s.CreatorOS = le.Uint32(b[0x48:])
	s.RevLevel = le.Uint32(b[0x4C:])
	s.DefResuid = le.Uint16(b[0x50:])
	s.DefResgid = le.Uint16(b[0x52:])
	s.FirstIno = le.Uint32(b[0x54:])
	s.InodeSize = le.Uint16(b[0x58:])
	s.BlockGroupNr = le.Uint16(b[0x5A:])
	s.FeatureCompat = le.Uint32(b[0x5C:])
	s.FeatureIncompat = le.Uint32(b[0x60:])
	s.FeatureRoCompat = le.Uint32(b[0x64:])
	copy(s.UUID[:], b[0x68:])
	copy(s.VolumeName[:], b[0x78:])
	s.ReservedGdtBlocks = le.Uint16(b[0xCE:])
	s.JournalInum = le.Uint32(b[0xE0:])
	copy(s.HashSeed[:], b[0xEC:])
	s.DefHashVersion = b[0xFC]
	s.JnlBackupType = b[0xFD]
	s.DescSize = le.Uint16(b[0xFE:])
	s.DefaultMountOpts = le.Uint32(b[0x100:])
	s.FirstMetaBg = le.Uint32(b[0x104:])
	s.MkfsTime = le.Uint32(b[0x108:])
	for i := range s.JnlBlocks {
		s.JnlBlocks[i] = le.Uint32(b[0x10C+4*i:])
	}
	if s.FeatureIncompat&Incompat64bit != 0 {
		s.BlocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		s.RBlocksCount |= uint64(le.Uint32(b[0x154:])) << 32
		s.FreeBlocksCount |= uint64(le.Uint32(b[0x158:])) << 32
	}
	s.MinExtraIsize = le.Uint16(b[0x15C:])
	s.WantExtraIsize = le.Uint16(b[0x15E:])
	s.Flags = le.Uint32(b[0x160:])
	s.ChecksumType = b[0x175]
	s.BackupBgs[0] = le.Uint32(b[0x24C:])
	s.BackupBgs[1] = le.Uint32(b[0x250:])
	s.ChecksumSeed = le.Uint32(b[0x270:])
	s.Checksum = le.Uint32(b[0x3FC:])
	return s, nil
}

// MarshalTo encodes s into the first SuperblockSize bytes of b, leaving the fields it does
// not know as they are. It does not compute the checksum: see SetSuperblockChecksum.
func (s *Superblock) MarshalTo(b []byte) {
	b = b[:SuperblockSize]
	le.PutUint32(b[0x0:], s.InodesCount)
	le.PutUint32(b[0x4:], uint32(s.BlocksCount))
	le.PutUint32(b[0x8:], uint32(s.RBlocksCount))
	le.PutUint32(b[0xC:], uint32(s.FreeBlocksCount))
	le.PutUint32(b[0x10:], s.FreeInodesCount)
	le.PutUint32(b[0x14:], s.FirstDataBlock)
	le.PutUint32(b[0x18:], s.LogBlockSize)
	le.PutUint32(b[0x1C:], s.LogClusterSize)
	le.PutUint32(b[0x20:], s.BlocksPerGroup)
	le.PutUint32(b[0x24:], s.ClustersPerGroup)
	le.PutUint32(b[0x28:], s.InodesPerGroup)
	le.PutUint32(b[0x2C:], s.Mtime)
	le.PutUint32(b[0x30:], s.Wtime)
	le.PutUint16(b[0x34:], s.MntCount)
	le.PutUint16(b[0x36:], s.MaxMntCount)
	le.PutUint16(b[0x38:], s.Magic)
	le.PutUint16(b[0x3A:], s.State)
	le.PutUint16(b[0x3C:], s.Errors)
	le.PutUint16(b[0x3E:], s.MinorRevLevel)
	le.PutUint32(b[0x40:], s.Lastcheck)
	le.PutUint32(b[0x44:], s.Checkinterval)
	le.PutUint32(b[0x48:], s.CreatorOS)
	le.PutUint32(b[0x4C:], s.RevLevel)
	le.PutUint16(b[0x50:], s.DefResuid)
	le.PutUint16(b[0x52:], s.DefResgid)
	le.PutUint32(b[0x54:], s.FirstIno)
	le.PutUint16(b[0x58:], s.InodeSize)
	le.PutUint16(b[0x5A:], s.BlockGroupNr)
	le.PutUint32(b[0x5C:], s.FeatureCompat)
	le.PutUint32(b[0x60:], s.FeatureIncompat)
	le.PutUint32(b[0x64:], s.FeatureRoCompat)
	copy(b[0x68:0x78], s.UUID[:])
	copy(b[0x78:0x88], s.VolumeName[:])
	le.PutUint16(b[0xCE:], s.ReservedGdtBlocks)
	le.PutUint32(b[0xE0:], s.JournalInum)
	copy(b[0xEC:0xFC], s.HashSeed[:])
	b[0xFC] = s.DefHashVersion
	b[0xFD] = s.JnlBackupType
	le.PutUint16(b[0xFE:], s.DescSize)
	le.PutUint32(b[0x100:], s.DefaultMountOpts)
	le.PutUint32(b[0x104:], s.FirstMetaBg)
	le.PutUint32(b[0x108:], s.MkfsTime)
	for i, v := range s.JnlBlocks {
		le.PutUint32(b[0x10C+4*i:], v)
	}
	if s.FeatureIncompat&Incompat64bit != 0 {
		le.PutUint32(b[0x150:], uint32(s.BlocksCount>>32))
		le.PutUint32(b[0x154:], uint32(s.RBlocksCount>>32))
		le.PutUint32(b[0x158:], uint32(s.FreeBlocksCount>>32))
	}
	le.PutUint16(b[0x15C:], s.MinExtraIsize)
	le.PutUint16(b[0x15E:], s.WantExtraIsize)
	le.PutUint32(b[0x160:], s.Flags)
	b[0x175] = s.ChecksumType
	le.PutUint32(b[0x24C:], s.BackupBgs[0])
	le.PutUint32(b[0x250:], s.BackupBgs[1])
	le.PutUint32(b[0x270:], s.ChecksumSeed)
	le.PutUint32(b[0x3FC:], s.Checksum)
}

// Marshal encodes s into a new SuperblockSize-byte buffer.
func (s *Superblock) Marshal() []byte {
	b := make([]byte, SuperblockSize)
	s.MarshalTo(b)
	return b
}

// BlockSize is 1024 << LogBlockSize, or 0 if that is beyond what ext4 allows (64 KiB), so
// that a hostile value cannot make the caller shift out of range.
func (s *Superblock) BlockSize() int64 {
	if s.LogBlockSize > 6 {
		return 0
	}
	return 1024 << s.LogBlockSize
}

// MetadataCsumSeed is the seed every metadata_csum checksum starts from.
func (s *Superblock) MetadataCsumSeed() uint32 {
	if s.FeatureIncompat&IncompatCsumSeed != 0 {
		return s.ChecksumSeed
	}
	return CsumSeed(s.UUID)
}

// SuperblockChecksum is the metadata_csum checksum of an encoded superblock.
func SuperblockChecksum(b []byte) uint32 { return Crc32c(^uint32(0), b[:0x3FC]) }

// SetSuperblockChecksum stores SuperblockChecksum in an encoded superblock.
func SetSuperblockChecksum(b []byte) { le.PutUint32(b[0x3FC:], SuperblockChecksum(b)) }

// HasSuperSparse reports whether group g holds a superblock backup under sparse_super:
// groups 0 and 1 and the powers of 3, 5 and 7.
func HasSuperSparse(g uint64) bool {
	if g <= 1 {
		return true
	}
	for _, b := range []uint64{3, 5, 7} {
		n := b
		for n < g {
			n *= b
		}
		if n == g {
			return true
		}
	}
	return false
}
