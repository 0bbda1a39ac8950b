package extfmt

import (
	"fmt"
	"time"
)

// Inode numbers with a fixed role.
const (
	BadBlocksIno    = 1
	RootIno         = 2
	ResizeIno       = 7
	JournalIno      = 8
	GoodOldFirstIno = 11 // first ordinary inode of a revision 0 file system
)

// GoodOldInodeSize is the size of a revision 0 inode; larger inodes continue with the
// extra fields (i_extra_isize bytes of them) and then in-inode extended attributes.
const GoodOldInodeSize = 128

// Inode flags (i_flags).
const (
	FlagIndex    = 0x1000     // htree directory
	FlagHugeFile = 0x40000    // i_blocks counts file system blocks, not 512-byte sectors
	FlagExtents  = 0x80000    // i_block holds an extent tree root
	FlagEAInode  = 0x200000   // the inode holds a large xattr value
	FlagInline   = 0x10000000 // data lives in i_block and the system.data xattr
)

// File type bits of i_mode.
const (
	S_IFMT   = 0xF000
	S_IFSOCK = 0xC000
	S_IFLNK  = 0xA000
	S_IFREG  = 0x8000
	S_IFBLK  = 0x6000
	S_IFDIR  = 0x4000
	S_IFCHR  = 0x2000
	S_IFIFO  = 0x1000
)

// IBlockSize is the size of i_block: 15 block pointers, an extent root (a header and four
// entries), a fast symlink's target (up to 59 bytes) or inline data.
const IBlockSize = 60

// Block map layout: 12 direct pointers, then single, double and triple indirect blocks.
const (
	NDirBlocks = 12
	IndBlock   = 12
	DIndBlock  = 13
	TIndBlock  = 14
)

// Inode is an encoded inode (its length is the file system's inode size, at least 128).
// Its methods read and write fields in place, so the bytes a caller does not touch (and the
// in-inode attributes after the extra fields) are preserved.
type Inode []byte

// CheckInode checks that b can be used as an Inode: at least 128 bytes, and an
// i_extra_isize that is 4-aligned and stays inside it.
func CheckInode(b []byte) error {
	if len(b) < GoodOldInodeSize {
		return fmt.Errorf("inode of %d bytes", len(b))
	}
	if len(b) > GoodOldInodeSize {
		ex := Inode(b).ExtraIsize()
		if ex > len(b)-GoodOldInodeSize || ex&3 != 0 {
			return fmt.Errorf("inode extra size %d invalid", ex)
		}
	}
	return nil
}

// Mode is i_mode: type bits and permissions.
func (in Inode) Mode() uint16 { return le.Uint16(in[0x0:]) }

// SetMode sets i_mode.
func (in Inode) SetMode(m uint16) { le.PutUint16(in[0x0:], m) }

// UID joins i_uid and i_uid_high.
func (in Inode) UID() uint32 { return uint32(le.Uint16(in[0x2:])) | uint32(le.Uint16(in[0x78:]))<<16 }

// SetUID splits v into i_uid and i_uid_high.
func (in Inode) SetUID(v uint32) {
	le.PutUint16(in[0x2:], uint16(v))
	le.PutUint16(in[0x78:], uint16(v>>16))
}

// GID joins i_gid and i_gid_high.
func (in Inode) GID() uint32 { return uint32(le.Uint16(in[0x18:])) | uint32(le.Uint16(in[0x7A:]))<<16 }

// SetGID splits v into i_gid and i_gid_high.
func (in Inode) SetGID(v uint32) {
	le.PutUint16(in[0x18:], uint16(v))
	le.PutUint16(in[0x7A:], uint16(v>>16))
}

// Size joins i_size_lo and i_size_high.
func (in Inode) Size() uint64 { return uint64(le.Uint32(in[0x4:])) | uint64(le.Uint32(in[0x6C:]))<<32 }

// SetSize splits v into i_size_lo and i_size_high.
func (in Inode) SetSize(v uint64) {
	le.PutUint32(in[0x4:], uint32(v))
	le.PutUint32(in[0x6C:], uint32(v>>32))
}

// Links is i_links_count.
func (in Inode) Links() uint16 { return le.Uint16(in[0x1A:]) }

// SetLinks sets i_links_count.
func (in Inode) SetLinks(n uint16) { le.PutUint16(in[0x1A:], n) }

// Flags is i_flags.
func (in Inode) Flags() uint32 { return le.Uint32(in[0x20:]) }

// SetFlags sets i_flags.
func (in Inode) SetFlags(f uint32) { le.PutUint32(in[0x20:], f) }

// Generation is i_generation (part of the inode's checksum seed).
func (in Inode) Generation() uint32 { return le.Uint32(in[0x64:]) }

// SetGeneration sets i_generation.
func (in Inode) SetGeneration(g uint32) { le.PutUint32(in[0x64:], g) }

// Dtime is i_dtime (deletion time; the orphan list link while orphaned).
func (in Inode) Dtime() uint32 { return le.Uint32(in[0x14:]) }

// SetDtime sets i_dtime.
func (in Inode) SetDtime(t uint32) { le.PutUint32(in[0x14:], t) }

// FileACL joins i_file_acl_lo and _high: the extended attribute block.
func (in Inode) FileACL() uint64 {
	return uint64(le.Uint32(in[0x68:])) | uint64(le.Uint16(in[0x76:]))<<32
}

// SetFileACL splits v into i_file_acl_lo and _high.
func (in Inode) SetFileACL(v uint64) {
	le.PutUint32(in[0x68:], uint32(v))
	le.PutUint16(in[0x76:], uint16(v>>32))
}

// BlocksRaw joins i_blocks_lo and i_blocks_high as stored: in 512-byte sectors, or in file
// system blocks when huge_file is on and the inode has FlagHugeFile.
func (in Inode) BlocksRaw() uint64 {
	return uint64(le.Uint32(in[0x1C:])) | uint64(le.Uint16(in[0x74:]))<<32
}

// SetBlocksRaw splits v into i_blocks_lo and i_blocks_high.
func (in Inode) SetBlocksRaw(v uint64) {
	le.PutUint32(in[0x1C:], uint32(v))
	le.PutUint16(in[0x74:], uint16(v>>32))
}

// IBlock is the 60-byte i_block area, aliasing the inode.
func (in Inode) IBlock() []byte { return in[0x28 : 0x28+IBlockSize] }

// ExtraIsize is i_extra_isize, or 0 for a 128-byte inode.
func (in Inode) ExtraIsize() int {
	if len(in) < GoodOldInodeSize+2 {
		return 0
	}
	return int(le.Uint16(in[0x80:]))
}

// SetExtraIsize sets i_extra_isize (no-op for a 128-byte inode).
func (in Inode) SetExtraIsize(n uint16) {
	if len(in) >= GoodOldInodeSize+2 {
		le.PutUint16(in[0x80:], n)
	}
}

// HasExtra reports whether the extra field at off (an offset from the inode's start) is
// within i_extra_isize: older inodes have fewer extra fields.
func (in Inode) HasExtra(off int) bool {
	return len(in) > GoodOldInodeSize && GoodOldInodeSize+in.ExtraIsize() >= off+4
}

const (
	offChecksumLo = 0x7C
	offChecksumHi = 0x82
)

func (in Inode) hasCsumHi() bool { return len(in) > GoodOldInodeSize && in.ExtraIsize() >= 4 }

// Checksum is the stored metadata_csum checksum (16 bits unless the extra fields hold the
// high half).
func (in Inode) Checksum() uint32 {
	v := uint32(le.Uint16(in[offChecksumLo:]))
	if in.hasCsumHi() {
		v |= uint32(le.Uint16(in[offChecksumHi:])) << 16
	}
	return v
}

// ComputeChecksum is the inode's metadata_csum checksum: crc32c from the inode's seed over
// the whole inode with the checksum fields taken as zero, truncated to 16 bits when there
// is no room for the high half.
func (in Inode) ComputeChecksum(fsSeed, ino uint32) uint32 {
	var zero [2]byte
	c := InodeCsumSeed(fsSeed, ino, in.Generation())
	c = Crc32c(c, in[:offChecksumLo])
	c = Crc32c(c, zero[:])
	if !in.hasCsumHi() {
		c = Crc32c(c, in[offChecksumLo+2:])
		return c & 0xFFFF
	}
	c = Crc32c(c, in[offChecksumLo+2:offChecksumHi])
	c = Crc32c(c, zero[:])
	return Crc32c(c, in[offChecksumHi+2:])
}

// SetChecksum stores ComputeChecksum.
func (in Inode) SetChecksum(fsSeed, ino uint32) {
	c := in.ComputeChecksum(fsSeed, ino)
	le.PutUint16(in[offChecksumLo:], uint16(c))
	if in.hasCsumHi() {
		le.PutUint16(in[offChecksumHi:], uint16(c>>16))
	}
}

// TimeField names one of an inode's timestamps by its offset.
type TimeField int

// The timestamps. Crtime exists only in inodes whose extra fields reach it.
const (
	Atime  TimeField = 0x08
	Ctime  TimeField = 0x0C
	Mtime  TimeField = 0x10
	Crtime TimeField = 0x90
)

func (f TimeField) extra() int {
	switch f {
	case Atime:
		return 0x8C
	case Ctime:
		return 0x84
	case Mtime:
		return 0x88
	case Crtime:
		return 0x94
	}
	return 0
}

// EncodeTime splits t into ext4's seconds word and extra word: the seconds' low 32 bits
// (read back signed), and in the extra word two epoch bits that extend them to 34 bits
// (through 2446) above 30 bits of nanoseconds.
func EncodeTime(t time.Time) (sec, extra uint32) {
	s := t.Unix()
	epoch := uint32((s-int64(int32(uint32(s))))>>32) & 3
	return uint32(s), uint32(t.Nanosecond())<<2 | epoch
}

// DecodeTime is EncodeTime's inverse; without an extra word the time is the signed 32-bit
// seconds. Nanoseconds out of range (a hostile image) are clamped.
func DecodeTime(sec, extra uint32, hasExtra bool) time.Time {
	s := int64(int32(sec))
	var ns int64
	if hasExtra {
		s += int64(extra&3) << 32
		ns = min(int64(extra>>2), 999999999)
	}
	return time.Unix(s, ns)
}

// Time decodes timestamp f, using its extra word when the inode has one; Crtime is the
// zero time when the inode has no room for it.
func (in Inode) Time(f TimeField) time.Time {
	if f == Crtime && !in.HasExtra(int(Crtime)) {
		return time.Time{}
	}
	x := f.extra()
	var extra uint32
	has := in.HasExtra(x)
	if has {
		extra = le.Uint32(in[x:])
	}
	return DecodeTime(le.Uint32(in[f:]), extra, has)
}

// SetTime encodes t into timestamp f (and its extra word when the inode has one); Crtime is
// not stored in an inode without room for it.
func (in Inode) SetTime(f TimeField, t time.Time) {
	if f == Crtime && !in.HasExtra(int(Crtime)) {
		return
	}
	sec, extra := EncodeTime(t)
	le.PutUint32(in[f:], sec)
	if x := f.extra(); in.HasExtra(x) {
		le.PutUint32(in[x:], extra)
	}
}

// Dev decodes a device node's number from i_block: the old 16-bit form in the first word
// (8-bit major and minor), or else the new form in the second.
func (in Inode) Dev() (major, minor uint32) {
	if old := le.Uint32(in[0x28:]); old != 0 {
		return old >> 8 & 0xff, old & 0xff
	}
	n := le.Uint32(in[0x2C:])
	return n & 0xfff00 >> 8, n&0xff | n>>12&0xfff00
}

// SetDev clears i_block and encodes a device number into it: the old form when major and
// minor both fit in 8 bits (as the kernel prefers), else the new form (12-bit major,
// 20-bit minor).
func (in Inode) SetDev(major, minor uint32) {
	clear(in.IBlock())
	if major < 256 && minor < 256 {
		le.PutUint32(in[0x28:], major<<8|minor)
		return
	}
	le.PutUint32(in[0x2C:], minor&0xff|(major&0xfff)<<8|(minor&^0xff)<<12)
}
