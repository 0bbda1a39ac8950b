// Package cow reads and writes UML's copy-on-write ("MOOO") block device overlay files, as the
// real kernel and uml-utilities do: versions 1, 2, 3 and the broken 64-bit version 3 layout
// are read; version 3 is written. The byte layout is in docs/interfaces.md (§1, "ubd COW file
// format").
//
// A COW file is a header, a bitmap with one bit per 512-byte sector of the backing file (set:
// the sector lives in the COW file) and a sparse data area holding those sectors.
package cow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Format constants shared by every version.
const (
	// Magic is "MOOO" read as a host-order (little-endian) u32.
	Magic = 0x4F4F4F4D
	// SectorSize is the only sector size UML's I/O path uses, whatever a header says.
	SectorSize = 512
	// DefaultAlignment is what the kernel and uml_mkcow write (the host page size).
	DefaultAlignment = 4096
	// MaxHeaderSize is the size of the largest header variant (broken 64-bit V3); reading
	// this many bytes is always enough to parse any header.
	MaxHeaderSize = v3BrokenSize

	v1Size       = 280
	v2Size       = 4120
	v3Size       = 4128
	v3BrokenSize = 4136
	pathLenV1    = 256
	pathLen      = 4096
)

// Errors returned by Unmarshal. ErrNotCOW means the data is simply not a COW file (the kernel
// then treats the file as a plain image); the others mean a damaged COW file.
var (
	ErrNotCOW  = errors.New("not a COW file")
	ErrShort   = errors.New("short header")
	ErrVersion = errors.New("invalid COW version")
)

// Header is a parsed COW header, whatever its on-disk version.
type Header struct {
	Version     int    // 1, 2 or 3
	Broken64    bool   // version 3 written with the unpacked 64-bit struct of pre-2006 tools
	BackingFile string // as stored: up to the first NUL
	MTime       int64  // backing file st_mtime in seconds (stored as a u32)
	Size        uint64 // backing file size in bytes
	SectorSize  uint32 // always 512 in files UML can use
	Alignment   uint32 // version 3 only; versions 1 and 2 align to SectorSize
	CowFormat   uint32 // 0 = bitmap, the only format
}

// Layout says where the bitmap and the data live in a COW file.
type Layout struct {
	BitmapOffset int64
	BitmapLen    int64
	DataOffset   int64
}

// Unmarshal parses a COW header from the start of a file (at most MaxHeaderSize bytes are
// looked at). It follows the kernel's detection algorithm exactly and then validates the
// header strictly, so a hostile header can never lead to a huge allocation or a division by
// zero later.
func Unmarshal(b []byte) (*Header, error) {
	if len(b) < 8 {
		return nil, ErrShort
	}
	le, be := binary.LittleEndian, binary.BigEndian
	var version uint32
	switch {
	case le.Uint32(b) == Magic:
		version = le.Uint32(b[4:])
	case be.Uint32(b) == Magic:
		version = be.Uint32(b[4:])
	default:
		return nil, ErrNotCOW
	}
	h := &Header{Version: int(version)}
	var path []byte
	switch {
	case version == 1:
		if len(b) < v1Size {
			return nil, fmt.Errorf("%w: V1 header needs %d bytes, have %d", ErrShort, v1Size, len(b))
		}
		// Version 1 is always host order, even when the magic was written big-endian.
		path = b[8 : 8+pathLenV1]
		h.MTime = int64(le.Uint32(b[264:]))
		h.Size = le.Uint64(b[268:])
		h.SectorSize = le.Uint32(b[276:])
	case version == 2:
		if len(b) < v2Size {
			return nil, fmt.Errorf("%w: V2 header needs %d bytes, have %d", ErrShort, v2Size, len(b))
		}
		path = b[8 : 8+pathLen]
		h.MTime = int64(be.Uint32(b[4104:]))
		h.Size = be.Uint64(b[4108:])
		h.SectorSize = be.Uint32(b[4116:])
	case version == 3 && len(b) < 36:
		return nil, fmt.Errorf("%w: V3 header needs %d bytes, have %d", ErrShort, v3Size, len(b))
	case version == 3 && !bytes.Equal(b[32:36], []byte{0, 0, 0, 0}):
		if len(b) < v3Size {
			return nil, fmt.Errorf("%w: V3 header needs %d bytes, have %d", ErrShort, v3Size, len(b))
		}
		h.MTime = int64(be.Uint32(b[8:]))
		h.Size = be.Uint64(b[12:])
		h.SectorSize = be.Uint32(b[20:])
		h.Alignment = be.Uint32(b[24:])
		h.CowFormat = be.Uint32(b[28:])
		path = b[32 : 32+pathLen]
	case version == 3:
		if len(b) < v3BrokenSize {
			return nil, fmt.Errorf("%w: broken 64-bit V3 header needs %d bytes, have %d", ErrShort, v3BrokenSize, len(b))
		}
		h.Broken64 = true
		// Old writers stored a 32-bit BE mtime in the first half of a 64-bit field.
		h.MTime = int64(be.Uint32(b[8:]))
		h.Size = be.Uint64(b[16:])
		h.SectorSize = be.Uint32(b[24:])
		h.Alignment = be.Uint32(b[28:])
		h.CowFormat = be.Uint32(b[32:])
		path = b[36 : 36+pathLen]
	default:
		return nil, fmt.Errorf("%w %d", ErrVersion, version)
	}
	n := bytes.IndexByte(path, 0)
	if n < 0 {
		return nil, errors.New("backing file name in COW header is not NUL-terminated")
	}
	h.BackingFile = string(path[:n])
	if _, err := h.Layout(); err != nil {
		return nil, err
	}
	return h, nil
}

// Layout computes the bitmap and data positions as the kernel does, refusing headers the
// kernel could not handle: a sector size other than 512 (its I/O path assumes 512), an
// alignment that is zero or not a power of two (its round-up is a bit mask), an unknown
// cow_format, or a size whose data offset overflows the kernel's int.
func (h *Header) Layout() (Layout, error) {
	if h.SectorSize != SectorSize {
		return Layout{}, fmt.Errorf("unsupported sector size %d in COW header (UML uses only %d)", int32(h.SectorSize), SectorSize)
	}
	if h.CowFormat != 0 {
		return Layout{}, fmt.Errorf("unknown COW format %d (only 0, bitmap, exists)", h.CowFormat)
	}
	ss := uint64(h.SectorSize)
	var l Layout
	var align uint64
	switch h.Version {
	case 1, 2:
		align = ss
		l.BitmapOffset = v1Size
		if h.Version == 2 {
			l.BitmapOffset = v2Size
		}
		// Versions 1 and 2 round the bitmap length down: the kernel's "rounding bug".
		l.BitmapLen = int64((h.Size/ss + boolToU64(h.Size%ss != 0)) / 8)
	case 3:
		align = uint64(h.Alignment)
		if align == 0 || align&(align-1) != 0 {
			return Layout{}, fmt.Errorf("invalid alignment %d in COW header (must be a power of two)", h.Alignment)
		}
		base := uint64(v3Size)
		if h.Broken64 {
			base = v3BrokenSize
		}
		l.BitmapOffset = int64(roundUp(base, align))
		sectors := h.Size/ss + boolToU64(h.Size%ss != 0)
		l.BitmapLen = int64(sectors/8 + boolToU64(sectors%8 != 0))
	default:
		return Layout{}, fmt.Errorf("%w %d", ErrVersion, h.Version)
	}
	data := roundUp(uint64(l.BitmapOffset)+uint64(l.BitmapLen), align)
	if data > math.MaxInt32 || uint64(l.BitmapOffset) > math.MaxInt32 {
		return Layout{}, fmt.Errorf("backing size %d in COW header is too large (data offset %d overflows UML's limit)", h.Size, data)
	}
	l.DataOffset = int64(data)
	return l, nil
}

// Sectors is the number of 512-byte sectors of the device, counting a partial last one.
func (h *Header) Sectors() int64 {
	return int64(h.Size/SectorSize + boolToU64(h.Size%SectorSize != 0))
}

// MarshalBinary encodes a normal version 3 header (4128 bytes), the only version UML writes.
// Bytes after the backing path's NUL are zero, as uml_mkcow writes them.
func (h *Header) MarshalBinary() ([]byte, error) {
	if h.Version != 3 || h.Broken64 {
		return nil, fmt.Errorf("only version 3 COW headers are written (asked for version %d)", h.Version)
	}
	if len(h.BackingFile) == 0 || len(h.BackingFile) > pathLen-1 {
		return nil, fmt.Errorf("backing file name must be 1 to %d bytes long (is %d)", pathLen-1, len(h.BackingFile))
	}
	if strings0(h.BackingFile) {
		return nil, errors.New("backing file name contains a NUL byte")
	}
	if h.MTime < 0 || h.MTime > math.MaxUint32 {
		return nil, fmt.Errorf("backing file mtime %d does not fit the COW header's 32 bits", h.MTime)
	}
	if _, err := h.Layout(); err != nil {
		return nil, err
	}
	b := make([]byte, v3Size)
	be := binary.BigEndian
	be.PutUint32(b[0:], Magic)
	be.PutUint32(b[4:], 3)
	be.PutUint32(b[8:], uint32(h.MTime))
	be.PutUint64(b[12:], h.Size)
	be.PutUint32(b[20:], h.SectorSize)
	be.PutUint32(b[24:], h.Alignment)
	be.PutUint32(b[28:], h.CowFormat)
	copy(b[32:], h.BackingFile)
	return b, nil
}

func strings0(s string) bool { return bytes.IndexByte([]byte(s), 0) >= 0 }

func roundUp(n, align uint64) uint64 { return (n + align - 1) / align * align }

func boolToU64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
