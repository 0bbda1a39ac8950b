package extfmt

import "fmt"

// Directory entry file types (ext4_dir_entry_2.file_type, with the filetype feature).
const (
	FTUnknown = 0
	FTReg     = 1
	FTDir     = 2
	FTChr     = 3
	FTBlk     = 4
	FTFifo    = 5
	FTSock    = 6
	FTSymlink = 7
)

// FTToDT maps a directory entry file type to the DT_* value getdents64 reports.
var FTToDT = [8]uint8{0, 8, 4, 2, 6, 1, 12, 10}

// FileTypeOfMode is the directory entry file type for an inode mode.
func FileTypeOfMode(mode uint16) uint8 {
	switch mode & S_IFMT {
	case S_IFREG:
		return FTReg
	case S_IFDIR:
		return FTDir
	case S_IFCHR:
		return FTChr
	case S_IFBLK:
		return FTBlk
	case S_IFIFO:
		return FTFifo
	case S_IFSOCK:
		return FTSock
	case S_IFLNK:
		return FTSymlink
	}
	return FTUnknown
}

// Directory entry layout.
const (
	DirentHeaderSize = 8
	MaxNameLen       = 255
	// DirTailSize is the size of the checksum tail (a fake entry with inode 0, rec_len 12
	// and file type 0xDE, then the crc32c) that ends every leaf block with metadata_csum.
	DirTailSize = 12
	dirTailFT   = 0xDE
)

// DirentSize is the smallest rec_len that holds a name of nameLen bytes.
func DirentSize(nameLen int) int { return (DirentHeaderSize + nameLen + 3) &^ 3 }

// RecLen decodes the rec_len of the entry at off. Blocks of 64 KiB cannot hold their own
// size in 16 bits, so there a stored 65535 or 0 means the whole block.
func RecLen(b []byte, off int, blockSize int) int {
	rl := int(le.Uint16(b[off+4:]))
	if blockSize >= 65536 && (rl == 65535 || rl == 0) {
		return blockSize
	}
	return rl
}

// PutRecLen encodes rec_len rl for the entry at off (65536 as 65535, see RecLen).
func PutRecLen(b []byte, off, rl int) {
	if rl == 65536 {
		rl = 65535
	}
	le.PutUint16(b[off+4:], uint16(rl))
}

// Dirent is a decoded directory entry; Name aliases the block.
type Dirent struct {
	Inode    uint32
	RecLen   int
	Name     []byte
	FileType uint8
}

// ParseDirent decodes the entry at off in the directory region b and checks that it is
// well formed: a rec_len of at least 8, 4-aligned, inside b and holding the name. Without
// the filetype feature the type byte is the high byte of a 16-bit name length. Whether the
// name and inode number are acceptable is the caller's to decide.
func ParseDirent(b []byte, off int, blockSize int, filetype bool) (Dirent, error) {
	if off < 0 || off+DirentHeaderSize > len(b) {
		return Dirent{}, fmt.Errorf("directory entry at offset %d runs past the block", off)
	}
	rl := RecLen(b, off, blockSize)
	nl := int(b[off+6])
	ft := b[off+7]
	if !filetype {
		nl |= int(ft) << 8
		ft = 0
	}
	if rl < DirentHeaderSize || rl%4 != 0 || off+rl > len(b) || DirentHeaderSize+nl > rl {
		return Dirent{}, fmt.Errorf("bad directory entry at offset %d (rec_len %d, name_len %d)", off, rl, nl)
	}
	return Dirent{Inode: le.Uint32(b[off:]), RecLen: rl, Name: b[off+DirentHeaderSize : off+DirentHeaderSize+nl], FileType: ft}, nil
}

// PutDirent encodes an entry at off with rec_len rl; the name must fit (DirentSize). The
// file type is stored only with the filetype feature.
func PutDirent(b []byte, off, rl int, ino uint32, name string, ft uint8, filetype bool) {
	le.PutUint32(b[off:], ino)
	PutRecLen(b, off, rl)
	b[off+6] = byte(len(name))
	if filetype {
		b[off+7] = ft
	} else {
		b[off+7] = 0
	}
	copy(b[off+DirentHeaderSize:], name)
}

// HasDirTail reports whether the block ends with a checksum tail.
func HasDirTail(b []byte) bool {
	if len(b) < DirTailSize {
		return false
	}
	t := b[len(b)-DirTailSize:]
	return le.Uint32(t[0:]) == 0 && le.Uint16(t[4:]) == DirTailSize && t[6] == 0 && t[7] == dirTailFT
}

// PutDirTail writes an empty checksum tail at the end of the block.
func PutDirTail(b []byte) {
	t := b[len(b)-DirTailSize:]
	clear(t)
	le.PutUint16(t[4:], DirTailSize)
	t[7] = dirTailFT
}

// DirBlockCsum is the checksum a leaf block's tail holds: crc32c from the owning inode's
// seed over the block up to the tail.
func DirBlockCsum(inodeSeed uint32, b []byte) uint32 {
	return Crc32c(inodeSeed, b[:len(b)-DirTailSize])
}

// DirTailCsum is the checksum stored in the block's tail.
func DirTailCsum(b []byte) uint32 { return le.Uint32(b[len(b)-4:]) }

// SetDirTailCsum stores DirBlockCsum in the block's tail.
func SetDirTailCsum(inodeSeed uint32, b []byte) {
	le.PutUint32(b[len(b)-4:], DirBlockCsum(inodeSeed, b))
}

// DxRoot offsets: an htree root block is "." and ".." entries followed by the root info
// (whose indirect_levels byte is at DxRootLevelsOff) and then the count/limit header of
// the entries at DxRootEntriesOff; interior blocks start their entries at DxNodeEntriesOff,
// behind a fake empty entry.
const (
	DxRootLevelsOff  = 24 + 6
	DxRootEntriesOff = 32
	DxNodeEntriesOff = 8
	DxEntrySize      = 8
)
