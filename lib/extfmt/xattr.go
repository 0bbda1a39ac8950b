package extfmt

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Extended attribute layout. In an inode the entries start after a 4-byte magic that
// follows the extra fields, and value offsets count from the first entry; in an attribute
// block they start after the 32-byte header, and offsets count from the block's start.
const (
	XattrMagic           = 0xEA020000
	XattrBlockHeaderSize = 32
	XattrEntryHeaderSize = 16
	XattrIbodyHeaderSize = 4
)

// Attribute name indexes: the stored name is the full name without its prefix.
const (
	XattrIndexUser            = 1
	XattrIndexPosixACLAccess  = 2
	XattrIndexPosixACLDefault = 3
	XattrIndexTrusted         = 4
	XattrIndexSecurity        = 6
	XattrIndexSystem          = 7
	XattrIndexRichACL         = 8
)

var xattrPrefixes = []struct {
	index  uint8
	prefix string
}{
	// the whole-name ones first, so that "system.posix_acl_access" is not "system." +
	// "posix_acl_access"
	{XattrIndexPosixACLAccess, "system.posix_acl_access"}, {XattrIndexPosixACLDefault, "system.posix_acl_default"},
	{XattrIndexRichACL, "system.richacl"},
	{XattrIndexUser, "user."}, {XattrIndexTrusted, "trusted."}, {XattrIndexSecurity, "security."}, {XattrIndexSystem, "system."},
}

func wholeNameIndex(i uint8) bool {
	return i == XattrIndexPosixACLAccess || i == XattrIndexPosixACLDefault || i == XattrIndexRichACL
}

// Errors of SplitXattrName.
var (
	ErrXattrNamespace = errors.New("extended attribute namespace not storable in ext2/3/4")
	ErrXattrNameLong  = errors.New("extended attribute name longer than 255 bytes")
	ErrXattrNameEmpty = errors.New("extended attribute name empty after its prefix")
)

// SplitXattrName splits a full attribute name into its index and stored name.
func SplitXattrName(full string) (uint8, string, error) {
	for _, p := range xattrPrefixes {
		if !strings.HasPrefix(full, p.prefix) {
			continue
		}
		if wholeNameIndex(p.index) && full != p.prefix {
			continue
		}
		n := full[len(p.prefix):]
		if len(n) > MaxNameLen {
			return 0, "", ErrXattrNameLong
		}
		if n == "" && !wholeNameIndex(p.index) {
			return 0, "", ErrXattrNameEmpty
		}
		return p.index, n, nil
	}
	return 0, "", ErrXattrNamespace
}

// Xattr is one extended attribute as stored: name index, name without prefix, value.
type Xattr struct {
	Index uint8
	Name  string
	Value []byte
}

// FullName is the attribute's name with its prefix, or "" for an index this package does
// not know (such attributes are kept but not shown).
func (x Xattr) FullName() string {
	for _, p := range xattrPrefixes {
		if p.index == x.Index {
			return p.prefix + x.Name
		}
	}
	return ""
}

// XattrEntry is a decoded entry with the fields a reader may want to check.
type XattrEntry struct {
	Xattr
	ValueInum uint32 // ea_inode: the value lives in this inode (then Value is nil)
	Hash      uint32 // e_hash as stored
}

func align4(n int) int { return (n + 3) &^ 3 }

// XattrEntrySize is the space an entry with a name of nameLen bytes takes.
func XattrEntrySize(nameLen int) int { return align4(XattrEntryHeaderSize + nameLen) }

// XattrValueSize is the space a value of n bytes takes (values are padded to 4 bytes).
func XattrValueSize(n int) int { return align4(n) }

// ParseXattrEntries decodes the entries in b[off:end], up to the 4 zero bytes that end the
// list. Values are read from values at base+e_value_offs (an attribute block is both b and
// values with base 0; an inode's region has base at its first entry). Values are copied;
// values that together exceed the region (so some overlap) are refused.
// An entry whose value is in an ea_inode comes back with ValueInum set and no value.
func ParseXattrEntries(b []byte, off, end int, values []byte, base int) ([]XattrEntry, error) {
	end = min(end, len(b))
	var out []XattrEntry
	total := 0
	for {
		if off < 0 || off+4 > end {
			return nil, errors.New("extended attribute entries run past the end")
		}
		if le.Uint32(b[off:]) == 0 {
			return out, nil
		}
		if off+XattrEntryHeaderSize > end {
			return nil, errors.New("truncated extended attribute entry")
		}
		nl := int(b[off])
		idx := b[off+1]
		voff := int(le.Uint16(b[off+2:]))
		e := XattrEntry{ValueInum: le.Uint32(b[off+4:]), Hash: le.Uint32(b[off+12:])}
		vsize := int(le.Uint32(b[off+8:]))
		if off+XattrEntryHeaderSize+nl > end || nl == 0 && !wholeNameIndex(idx) {
			return nil, errors.New("bad extended attribute name")
		}
		e.Index, e.Name = idx, string(b[off+XattrEntryHeaderSize:off+XattrEntryHeaderSize+nl])
		if e.ValueInum == 0 {
			if vsize > len(values) || base+voff < 0 || base+voff+vsize > len(values) {
				return nil, errors.New("extended attribute value out of bounds")
			}
			// Values never share space (e2fsck calls that a collision), so together they fit
			// in the region; entries pointing many times at one big value would otherwise
			// make a 64 KiB block cost gigabytes of copies.
			if total += vsize; total > len(values) {
				return nil, errors.New("extended attribute values overlap")
			}
			e.Value = append([]byte(nil), values[base+voff:base+voff+vsize]...)
		}
		out = append(out, e)
		off += XattrEntrySize(nl)
	}
}

// XattrsSpace is the space entries for xs and their values take, with the end marker.
func XattrsSpace(xs []Xattr) int {
	n := 4
	for _, x := range xs {
		n += XattrEntrySize(len(x.Name)) + XattrValueSize(len(x.Value))
	}
	return n
}

// PutXattrs lays xs out in r: entries from entOff on, values packed from the end of r
// down, value offsets counted from base, entry hashes set. It reports false (and leaves r
// unchanged) if they do not fit. The bytes from entOff to the end are rewritten.
func PutXattrs(r []byte, entOff, base int, xs []Xattr) bool {
	if entOff+XattrsSpace(xs) > len(r) {
		return false
	}
	clear(r[entOff:])
	off, vend := entOff, len(r)
	for _, x := range xs {
		vend -= XattrValueSize(len(x.Value))
		copy(r[vend:], x.Value)
		r[off] = byte(len(x.Name))
		r[off+1] = x.Index
		voff := vend - base
		if len(x.Value) == 0 {
			voff = 0
		}
		le.PutUint16(r[off+2:], uint16(voff))
		le.PutUint32(r[off+4:], 0)
		le.PutUint32(r[off+8:], uint32(len(x.Value)))
		le.PutUint32(r[off+12:], XattrHash(x.Name, x.Value))
		copy(r[off+XattrEntryHeaderSize:], x.Name)
		off += XattrEntrySize(len(x.Name))
	}
	return true
}

// SortXattrsForBlock orders attributes as the kernel keeps them in a block (by index, then
// name length, then name), which its lookups and e2fsck expect.
func SortXattrsForBlock(xs []Xattr) {
	sort.SliceStable(xs, func(i, j int) bool {
		a, b := xs[i], xs[j]
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		if len(a.Name) != len(b.Name) {
			return len(a.Name) < len(b.Name)
		}
		return a.Name < b.Name
	})
}

// XattrBlock builds an attribute block of size bs holding xs (sorted first): header with
// refcount 1, entries, values, entry and block hashes. The checksum is left zero: it
// depends on where the block goes (XattrBlockCsum).
func XattrBlock(bs int, xs []Xattr) ([]byte, error) {
	xs = append([]Xattr(nil), xs...)
	SortXattrsForBlock(xs)
	b := make([]byte, bs)
	if !PutXattrs(b, XattrBlockHeaderSize, 0, xs) {
		return nil, fmt.Errorf("extended attributes do not fit in one %d-byte block", bs)
	}
	le.PutUint32(b[0:], XattrMagic)
	le.PutUint32(b[4:], 1) // refcount
	le.PutUint32(b[8:], 1) // blocks
	SetXattrBlockHash(b)
	return b, nil
}

// SetXattrBlockHash recomputes h_hash from the entries' stored hashes.
func SetXattrBlockHash(b []byte) {
	var hs []uint32
	for off := XattrBlockHeaderSize; off+XattrEntryHeaderSize <= len(b) && le.Uint32(b[off:]) != 0; off += XattrEntrySize(int(b[off])) {
		hs = append(hs, le.Uint32(b[off+12:]))
	}
	le.PutUint32(b[12:], XattrBlockHash(hs))
}

// The hash shifts of fs/ext4/xattr.c.
const (
	nameHashShift  = 5
	valueHashShift = 16
	blockHashShift = 16
)

// XattrHash is an entry's e_hash as Linux (since 6.2) and e2fsprogs (since 1.47) compute
// it: the name's bytes taken as unsigned, then the value's 32-bit little-endian words
// (zero-padded to a multiple of 4).
func XattrHash(name string, value []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<nameHashShift ^ h>>(32-nameHashShift) ^ uint32(name[i])
	}
	return hashValue(h, value)
}

// XattrHashSigned is the legacy e_hash that kernels built with a signed char computed (x86
// before 6.2): name bytes of 0x80 and above were sign-extended. It differs from XattrHash
// only for names with such bytes. Readers must accept it; nobody should write it.
func XattrHashSigned(name string, value []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<nameHashShift ^ h>>(32-nameHashShift) ^ uint32(int32(int8(name[i])))
	}
	return hashValue(h, value)
}

func hashValue(h uint32, value []byte) uint32 {
	for i := 0; i < len(value); i += 4 {
		var w [4]byte
		copy(w[:], value[i:])
		h = h<<valueHashShift ^ h>>(32-valueHashShift) ^ le.Uint32(w[:])
	}
	return h
}

// XattrHashOK reports whether stored is a valid e_hash for the attribute: either form, as
// Linux and e2fsck accept both. (An entry in the inode may also carry 0, which e2fsprogs
// writes there and e2fsck accepts; that is the caller's to allow.)
func XattrHashOK(stored uint32, name string, value []byte) bool {
	return stored == XattrHash(name, value) || stored == XattrHashSigned(name, value)
}

// XattrBlockHash is h_hash over the entries' hashes in order; an entry without a hash
// (0) makes the block's hash 0, which keeps the block out of the kernel's sharing cache.
func XattrBlockHash(entryHashes []uint32) uint32 {
	var h uint32
	for _, e := range entryHashes {
		if e == 0 {
			return 0
		}
		h = h<<blockHashShift ^ h>>(32-blockHashShift) ^ e
	}
	return h
}

// XattrBlockCsum is an attribute block's checksum: crc32c from the file system seed over
// the block number and the block with h_checksum taken as zero.
func XattrBlockCsum(fsSeed uint32, blk uint64, b []byte) uint32 {
	var n [8]byte
	le.PutUint64(n[:], blk)
	c := Crc32c(fsSeed, n[:])
	c = Crc32c(c, b[:0x10])
	c = Crc32c(c, []byte{0, 0, 0, 0})
	return Crc32c(c, b[0x14:])
}

// SetXattrBlockCsum stores XattrBlockCsum in the block's header.
func SetXattrBlockCsum(fsSeed uint32, blk uint64, b []byte) {
	le.PutUint32(b[0x10:], XattrBlockCsum(fsSeed, blk, b))
}

// XattrBlockHeader is the start of an attribute block.
type XattrBlockHeader struct {
	Magic    uint32
	Refcount uint32
	Blocks   uint32
	Hash     uint32
	Checksum uint32
}

// ParseXattrBlockHeader decodes and checks an attribute block's header: the magic, and a
// block count of 1 (no kernel ever wrote another).
func ParseXattrBlockHeader(b []byte) (XattrBlockHeader, error) {
	if len(b) < XattrBlockHeaderSize {
		return XattrBlockHeader{}, fmt.Errorf("attribute block of %d bytes", len(b))
	}
	h := XattrBlockHeader{le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:]), le.Uint32(b[16:])}
	if h.Magic != XattrMagic || h.Blocks != 1 {
		return h, fmt.Errorf("bad attribute block header (magic %#x, blocks %d)", h.Magic, h.Blocks)
	}
	return h, nil
}

// SetXattrRefcount changes the block's h_refcount.
func SetXattrRefcount(b []byte, n uint32) { le.PutUint32(b[4:], n) }
