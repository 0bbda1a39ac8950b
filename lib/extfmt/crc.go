package extfmt

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Crc32c is the kernel's raw crc32c_le, without the pre- and post-inversion that
// hash/crc32 applies: ext4 and jbd2 chain it from a seed (the file system's checksum seed,
// or ^0 for the superblock), so the conventional form would give other values.
func Crc32c(crc uint32, p []byte) uint32 { return ^crc32.Update(^crc, castagnoli, p) }

// Crc32cU32 continues crc over v in little-endian byte order, as ext4 folds inode and group
// numbers into its seeds.
func Crc32cU32(crc, v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return Crc32c(crc, b[:])
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for j := 0; j < 8; j++ {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return
}()

// Crc16 is the CRC-16 (polynomial 0x8005, reflected) that uninit_bg file systems use for
// group descriptor checksums.
func Crc16(crc uint16, p []byte) uint16 {
	for _, b := range p {
		crc = crc>>8 ^ crc16Table[byte(crc)^b]
	}
	return crc
}

// CsumSeed is the metadata_csum seed derived from the file system UUID, used unless the
// csum_seed feature stores one in the superblock (so that the UUID can change without
// rewriting every checksum).
func CsumSeed(uuid [16]byte) uint32 { return Crc32c(^uint32(0), uuid[:]) }

// InodeCsumSeed is the seed for everything owned by one inode (the inode itself, its
// directory blocks and extent tree blocks): the file system seed extended with the inode
// number and generation, so a block moved to another inode fails its check.
func InodeCsumSeed(fsSeed, ino, generation uint32) uint32 {
	return Crc32cU32(Crc32cU32(fsSeed, ino), generation)
}

// BitmapCsum is the checksum of a block or inode bitmap: crc32c of its first size bytes
// (blocks or inodes per group, over 8). The group descriptor holds it.
func BitmapCsum(fsSeed uint32, bitmap []byte, size int) uint32 {
	return Crc32c(fsSeed, bitmap[:min(size, len(bitmap))])
}
