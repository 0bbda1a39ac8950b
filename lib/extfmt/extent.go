package extfmt

import "fmt"

// Extent tree constants.
const (
	ExtentMagic      = 0xF30A
	ExtentHeaderSize = 12
	ExtentEntrySize  = 12 // a leaf extent and an index entry are the same size
	// ExtentInitMax is the longest initialized extent; a stored length above it marks an
	// unwritten (preallocated, reads as zeros) extent of length-ExtentInitMax blocks.
	ExtentInitMax = 32768
	// ExtentMaxDepth bounds the tree depth (the kernel's limit).
	ExtentMaxDepth = 5
	// ExtentRootEntries is how many entries fit in i_block after the header.
	ExtentRootEntries = (IBlockSize - ExtentHeaderSize) / ExtentEntrySize
)

// ExtentHeader starts every extent tree node.
type ExtentHeader struct {
	Entries    uint16
	Max        uint16 // capacity of the node
	Depth      uint16 // 0 for a leaf
	Generation uint32
}

// ParseExtentHeader decodes and checks the header of node b: the magic, entries within
// the capacity, the capacity within b, the depth within the kernel's limit.
func ParseExtentHeader(b []byte) (ExtentHeader, error) {
	var h ExtentHeader
	if len(b) < ExtentHeaderSize {
		return h, fmt.Errorf("extent node of %d bytes", len(b))
	}
	if m := le.Uint16(b[0:]); m != ExtentMagic {
		return h, fmt.Errorf("bad extent header magic %#x", m)
	}
	h = ExtentHeader{Entries: le.Uint16(b[2:]), Max: le.Uint16(b[4:]), Depth: le.Uint16(b[6:]), Generation: le.Uint32(b[8:])}
	if h.Entries > h.Max || ExtentHeaderSize+ExtentEntrySize*int(h.Max) > len(b) || h.Depth > ExtentMaxDepth {
		return h, fmt.Errorf("bad extent header (entries %d, max %d, depth %d)", h.Entries, h.Max, h.Depth)
	}
	return h, nil
}

// MarshalTo encodes the header at the start of b.
func (h ExtentHeader) MarshalTo(b []byte) {
	le.PutUint16(b[0:], ExtentMagic)
	le.PutUint16(b[2:], h.Entries)
	le.PutUint16(b[4:], h.Max)
	le.PutUint16(b[6:], h.Depth)
	le.PutUint32(b[8:], h.Generation)
}

// TailOffset is where a tree block's checksum (struct ext4_extent_tail) sits: right after
// the node's capacity, not at the end of the block.
func (h ExtentHeader) TailOffset() int { return ExtentHeaderSize + ExtentEntrySize*int(h.Max) }

// Extent is a leaf entry: Len blocks from logical block Logical map to physical Start.
type Extent struct {
	Logical   uint32
	Len       uint32 // 1..ExtentInitMax, or up to ExtentInitMax-1 when Unwritten
	Start     uint64 // 48 bits on disk
	Unwritten bool
}

// ParseExtent decodes the leaf entry at the start of b (12 bytes).
func ParseExtent(b []byte) Extent {
	e := Extent{Logical: le.Uint32(b[0:]), Len: uint32(le.Uint16(b[4:])),
		Start: uint64(le.Uint16(b[6:]))<<32 | uint64(le.Uint32(b[8:]))}
	if e.Len > ExtentInitMax {
		e.Len -= ExtentInitMax
		e.Unwritten = true
	}
	return e
}

// MarshalTo encodes e at the start of b.
func (e Extent) MarshalTo(b []byte) {
	l := e.Len
	if e.Unwritten {
		l += ExtentInitMax
	}
	le.PutUint32(b[0:], e.Logical)
	le.PutUint16(b[4:], uint16(l))
	le.PutUint16(b[6:], uint16(e.Start>>32))
	le.PutUint32(b[8:], uint32(e.Start))
}

// End is the first logical block after the extent.
func (e Extent) End() uint64 { return uint64(e.Logical) + uint64(e.Len) }

// ExtentIndex is an interior entry: the subtree at block Leaf covers logical blocks from
// Logical on.
type ExtentIndex struct {
	Logical uint32
	Leaf    uint64 // 48 bits on disk
}

// ParseExtentIndex decodes the index entry at the start of b (12 bytes).
func ParseExtentIndex(b []byte) ExtentIndex {
	return ExtentIndex{Logical: le.Uint32(b[0:]), Leaf: uint64(le.Uint16(b[8:]))<<32 | uint64(le.Uint32(b[4:]))}
}

// MarshalTo encodes x at the start of b (the unused last two bytes are zeroed).
func (x ExtentIndex) MarshalTo(b []byte) {
	le.PutUint32(b[0:], x.Logical)
	le.PutUint32(b[4:], uint32(x.Leaf))
	le.PutUint16(b[8:], uint16(x.Leaf>>32))
	le.PutUint16(b[10:], 0)
}

// ExtentNode is a decoded tree node: leaves when Header.Depth is 0, else index entries.
type ExtentNode struct {
	Header  ExtentHeader
	Extents []Extent
	Index   []ExtentIndex
}

// ParseExtentNode decodes a whole node (i_block or a tree block).
func ParseExtentNode(b []byte) (ExtentNode, error) {
	h, err := ParseExtentHeader(b)
	if err != nil {
		return ExtentNode{}, err
	}
	n := ExtentNode{Header: h}
	for i := 0; i < int(h.Entries); i++ {
		e := b[ExtentHeaderSize+ExtentEntrySize*i:]
		if h.Depth == 0 {
			n.Extents = append(n.Extents, ParseExtent(e))
		} else {
			n.Index = append(n.Index, ParseExtentIndex(e))
		}
	}
	return n, nil
}

// MarshalTo encodes the node into b: the header (Entries taken from the slices) and the
// entries; the rest of the node's capacity is zeroed.
func (n ExtentNode) MarshalTo(b []byte) {
	h := n.Header
	if h.Depth == 0 {
		h.Entries = uint16(len(n.Extents))
	} else {
		h.Entries = uint16(len(n.Index))
	}
	h.MarshalTo(b)
	clear(b[ExtentHeaderSize:h.TailOffset()])
	for i, e := range n.Extents {
		e.MarshalTo(b[ExtentHeaderSize+ExtentEntrySize*i:])
	}
	for i, x := range n.Index {
		x.MarshalTo(b[ExtentHeaderSize+ExtentEntrySize*i:])
	}
}

// ExtentBlockCsum is the checksum of an extent tree block with header h, stored at
// h.TailOffset(): crc32c from the owning inode's seed over the header and the capacity.
func ExtentBlockCsum(inodeSeed uint32, b []byte, h ExtentHeader) uint32 {
	return Crc32c(inodeSeed, b[:h.TailOffset()])
}
