package ext

import (
	"bytes"
	"encoding/binary"
	"io"
)

// journalBlocks is mke2fs's default journal size for a file system of n blocks.
func journalBlocks(n int64) int64 {
	switch {
	case n < 2048:
		return 0
	case n < 32768:
		return 1024
	case n < 256*1024:
		return 4096
	case n < 512*1024:
		return 8192
	case n < 4096*1024:
		return 16384
	case n < 8192*1024:
		return 32768
	case n < 16384*1024:
		return 65536
	case n < 32768*1024:
		return 131072
	}
	return 262144
}

// journalContent is an empty jbd2 journal: a version 2 superblock saying "clean, nothing to
// replay" followed by zeros (left as holes in the image).
type journalContent struct {
	blocks int64
	uuid   [16]byte
}

func (j journalContent) Open() (io.ReadCloser, error) {
	sb := make([]byte, blockSize)
	be := binary.BigEndian
	be.PutUint32(sb[0:], 0xC03B3998) // magic
	be.PutUint32(sb[4:], 4)          // superblock v2
	be.PutUint32(sb[12:], blockSize)
	be.PutUint32(sb[16:], uint32(j.blocks)) // maxlen
	be.PutUint32(sb[20:], 1)                // first log block
	be.PutUint32(sb[24:], 1)                // sequence
	be.PutUint32(sb[28:], 0)                // start 0: the journal is empty
	copy(sb[48:64], j.uuid[:])
	be.PutUint32(sb[64:], 1) // users
	copy(sb[256:272], j.uuid[:])
	return io.NopCloser(io.MultiReader(bytes.NewReader(sb), io.LimitReader(zeroReader{}, (j.blocks-1)*blockSize))), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
