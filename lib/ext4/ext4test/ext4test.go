// Package ext4test holds what the tests and fuzz targets of lib/ext4 and lib/shadow share:
// an image kept in memory and the compact encoding their fuzz corpora use for images.
package ext4test

import (
	"encoding/binary"
	"io"
	"syscall"
)

// Dev is an image in memory, kept as the 1 KiB pieces that are not zero; reads past the
// size end at EOF, writes past it fail. It satisfies ext4.Device.
type Dev struct {
	size   int64
	pieces map[int64][]byte
}

// NewDev returns an all-zero image of size bytes.
func NewDev(size int64) *Dev { return &Dev{size: size, pieces: map[int64][]byte{}} }

// ReadAt reads from the image.
func (d *Dev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < d.size {
		k, o := off>>10, off&1023
		c := min(int64(len(p)-n), 1024-o, d.size-off)
		if b := d.pieces[k]; b != nil {
			copy(p[n:n+int(c)], b[o:])
		} else {
			clear(p[n : n+int(c)])
		}
		n += int(c)
		off += c
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes into the image.
func (d *Dev) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, syscall.EIO
	}
	for n := 0; n < len(p); {
		k, o := off>>10, off&1023
		b := d.pieces[k]
		if b == nil {
			b = make([]byte, 1024)
			d.pieces[k] = b
		}
		c := copy(b[o:], p[n:])
		n += c
		off += int64(c)
	}
	return len(p), nil
}

// Size is the image's size.
func (d *Dev) Size() int64 { return d.size }

// Sync does nothing: the image is memory.
func (d *Dev) Sync() error { return nil }

// Encode writes an image compactly, as the fuzz corpora keep images: le32 size in KiB, then
// for each KiB that is not all zero: le32 its index, le16 how many of its bytes follow
// (trailing zeros are left out), the bytes.
func Encode(img []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(img)>>10))
	for k := 0; k+1024 <= len(img); k += 1024 {
		piece := img[k : k+1024]
		n := 1024
		for n > 0 && piece[n-1] == 0 {
			n--
		}
		if n > 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(k>>10))
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
			out = append(out, piece[:n]...)
		}
	}
	return out
}

// Decode reads an encoded image, whatever the bytes (a fuzzer's): nil when its size is
// outside 64 KiB..4 MiB; records past the size or cut short are dropped or cut.
func Decode(data []byte) *Dev {
	if len(data) < 4 {
		return nil
	}
	kib := int64(binary.LittleEndian.Uint32(data))
	if kib < 64 || kib > 4096 {
		return nil
	}
	d := NewDev(kib << 10)
	for p := data[4:]; len(p) >= 6; {
		k := int64(binary.LittleEndian.Uint32(p))
		n := min(int(binary.LittleEndian.Uint16(p[4:])), 1024, len(p)-6)
		if k < kib {
			b := make([]byte, 1024)
			copy(b, p[6:6+n])
			d.pieces[k] = b
		}
		p = p[6+n:]
	}
	return d
}
