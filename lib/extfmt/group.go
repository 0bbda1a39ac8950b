package extfmt

import "fmt"

// Group descriptor sizes: 32 bytes classically, DescSize (at least 64) with the 64bit
// feature, whose extra bytes carry the high halves of every field.
const (
	GroupDescSize   = 32
	GroupDescSize64 = 64
)

// Group descriptor flags (bg_flags).
const (
	BgInodeUninit = 0x1
	BgBlockUninit = 0x2
	BgInodeZeroed = 0x4
)

// GroupDesc is a block group descriptor with its split fields joined.
type GroupDesc struct {
	BlockBitmap     uint64
	InodeBitmap     uint64
	InodeTable      uint64
	FreeBlocks      uint32
	FreeInodes      uint32
	UsedDirs        uint32
	Flags           uint16
	BlockBitmapCsum uint32
	InodeBitmapCsum uint32
	ItableUnused    uint32
	Checksum        uint16
}

// ParseGroupDesc decodes the descriptor in b, which is one descriptor of the given size
// (32, or the superblock's DescSize with 64bit); the high halves exist from 64 bytes on.
func ParseGroupDesc(b []byte) (GroupDesc, error) {
	var d GroupDesc
	if len(b) < GroupDescSize {
		return d, fmt.Errorf("group descriptor of %d bytes", len(b))
	}
	d.BlockBitmap = uint64(le.Uint32(b[0x0:]))
	d.InodeBitmap = uint64(le.Uint32(b[0x4:]))
	d.InodeTable = uint64(le.Uint32(b[0x8:]))
	d.FreeBlocks = uint32(le.Uint16(b[0xC:]))
	d.FreeInodes = uint32(le.Uint16(b[0xE:]))
	d.UsedDirs = uint32(le.Uint16(b[0x10:]))
	d.Flags = le.Uint16(b[0x12:])
	d.BlockBitmapCsum = uint32(le.Uint16(b[0x18:]))
	d.InodeBitmapCsum = uint32(le.Uint16(b[0x1A:]))
	d.ItableUnused = uint32(le.Uint16(b[0x1C:]))
	d.Checksum = le.Uint16(b[0x1E:])
	if len(b) >= GroupDescSize64 {
		d.BlockBitmap |= uint64(le.Uint32(b[0x20:])) << 32
		d.InodeBitmap |= uint64(le.Uint32(b[0x24:])) << 32
		d.InodeTable |= uint64(le.Uint32(b[0x28:])) << 32
		d.FreeBlocks |= uint32(le.Uint16(b[0x2C:])) << 16
		d.FreeInodes |= uint32(le.Uint16(b[0x2E:])) << 16
		d.UsedDirs |= uint32(le.Uint16(b[0x30:])) << 16
		d.ItableUnused |= uint32(le.Uint16(b[0x32:])) << 16
		d.BlockBitmapCsum |= uint32(le.Uint16(b[0x38:])) << 16
		d.InodeBitmapCsum |= uint32(le.Uint16(b[0x3A:])) << 16
	}
	return d, nil
}

// MarshalTo encodes d into b (one descriptor, 32 bytes or at least 64), leaving unknown
// bytes alone. High halves that a 32-byte descriptor cannot hold are dropped.
func (d *GroupDesc) MarshalTo(b []byte) {
	le.PutUint32(b[0x0:], uint32(d.BlockBitmap))
	le.PutUint32(b[0x4:], uint32(d.InodeBitmap))
	le.PutUint32(b[0x8:], uint32(d.InodeTable))
	le.PutUint16(b[0xC:], uint16(d.FreeBlocks))
	le.PutUint16(b[0xE:], uint16(d.FreeInodes))
	le.PutUint16(b[0x10:], uint16(d.UsedDirs))
	le.PutUint16(b[0x12:], d.Flags)
	le.PutUint16(b[0x18:], uint16(d.BlockBitmapCsum))
	le.PutUint16(b[0x1A:], uint16(d.InodeBitmapCsum))
	le.PutUint16(b[0x1C:], uint16(d.ItableUnused))
	le.PutUint16(b[0x1E:], d.Checksum)
	if len(b) >= GroupDescSize64 {
		le.PutUint32(b[0x20:], uint32(d.BlockBitmap>>32))
		le.PutUint32(b[0x24:], uint32(d.InodeBitmap>>32))
		le.PutUint32(b[0x28:], uint32(d.InodeTable>>32))
		le.PutUint16(b[0x2C:], uint16(d.FreeBlocks>>16))
		le.PutUint16(b[0x2E:], uint16(d.FreeInodes>>16))
		le.PutUint16(b[0x30:], uint16(d.UsedDirs>>16))
		le.PutUint16(b[0x32:], uint16(d.ItableUnused>>16))
		le.PutUint16(b[0x38:], uint16(d.BlockBitmapCsum>>16))
		le.PutUint16(b[0x3A:], uint16(d.InodeBitmapCsum>>16))
	}
}

// GroupDescCsum is a descriptor's metadata_csum checksum: crc32c over the group number and
// the descriptor with its checksum field taken as zero, truncated to 16 bits.
func GroupDescCsum(fsSeed uint32, group uint32, b []byte) uint16 {
	c := Crc32cU32(fsSeed, group)
	c = Crc32c(c, b[:0x1E])
	c = Crc32c(c, []byte{0, 0})
	c = Crc32c(c, b[0x20:])
	return uint16(c)
}

// GroupDescCsum16 is a descriptor's uninit_bg checksum (crc16 over the UUID, the group
// number and the descriptor without its checksum field). The bytes beyond 32 count only on
// 64bit file systems, as e2fsprogs computes it.
func GroupDescCsum16(uuid [16]byte, group uint32, b []byte, is64bit bool) uint16 {
	c := Crc16(0xFFFF, uuid[:])
	var g [4]byte
	le.PutUint32(g[:], group)
	c = Crc16(c, g[:])
	c = Crc16(c, b[:0x1E])
	if len(b) > 0x20 && is64bit {
		c = Crc16(c, b[0x20:])
	}
	return c
}
