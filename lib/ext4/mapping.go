package ext4

import (
	"sort"
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

// extent is a leaf extent of the in-memory extent list.
type extent = extfmt.Extent

// loadExtents reads the whole extent tree of in into in.ext, validating it: headers, depth,
// ordering, ranges, and that no tree block is referenced twice (so a hostile tree cannot loop).
func (fs *FS) loadExtents(in *inode) error {
	if in.extLoaded {
		return nil
	}
	var list []extent
	var tree []uint64
	seen := map[uint64]bool{}
	var walk func(node []byte, depth int, where string) error
	walk = func(node []byte, depth int, where string) error {
		n, err := extfmt.ParseExtentNode(node)
		if err != nil {
			return corrupt("inode %d: %s: %v", in.ino, where, err)
		}
		if depth >= 0 && int(n.Header.Depth) != depth {
			return corrupt("inode %d: extent node in %s has depth %d, want %d", in.ino, where, n.Header.Depth, depth)
		}
		for _, x := range n.Extents {
			if x.Len == 0 || x.Start < fs.firstData || x.Start+uint64(x.Len) > fs.blocks || x.End() > 1<<32 {
				return corrupt("inode %d: extent %d+%d at block %d out of range", in.ino, x.Logical, x.Len, x.Start)
			}
			if k := len(list); k > 0 && list[k-1].End() > uint64(x.Logical) {
				return corrupt("inode %d: extents overlap or are out of order at logical block %d", in.ino, x.Logical)
			}
			list = append(list, x)
		}
		for _, x := range n.Index {
			child := x.Leaf
			if err := fs.checkBlock(child, "extent tree"); err != nil {
				return err
			}
			if seen[child] || len(seen) > int(fs.blocks) {
				return corrupt("inode %d: extent tree block %d referenced twice", in.ino, child)
			}
			seen[child] = true
			tree = append(tree, child)
			b, err := fs.bread(child)
			if err != nil {
				return err
			}
			err = fs.verifyOnce(child, func() error {
				h, err := extfmt.ParseExtentHeader(b)
				if off := h.TailOffset(); err == nil && off+4 <= len(b) &&
					le.Uint32(b[off:]) != extfmt.ExtentBlockCsum(fs.inodeSeed(in.ino, in.generation()), b, h) {
					return corrupt("inode %d: extent tree block %d checksum mismatch", in.ino, child)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := walk(b, int(n.Header.Depth)-1, "block "+uitoa(child, 10)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(in.raw.IBlock(), -1, "inode"); err != nil {
		return err
	}
	in.ext, in.treeBlocks, in.extLoaded = list, tree, true
	return nil
}

// mapBlock maps logical block lblk. It returns the physical block (0 for a hole), how many
// following logical blocks map contiguously the same way (at least 1), and whether the range
// is unwritten (reads as zeros).
func (fs *FS) mapBlock(in *inode, lblk uint64) (pblk, run uint64, unwritten bool, err error) {
	if in.flags()&extfmt.FlagExtents != 0 {
		if err := fs.loadExtents(in); err != nil {
			return 0, 0, false, err
		}
		l := in.ext
		i := sort.Search(len(l), func(i int) bool { return l[i].End() > lblk })
		if i == len(l) {
			return 0, 1 << 32, false, nil
		}
		if uint64(l[i].Logical) > lblk {
			return 0, uint64(l[i].Logical) - lblk, false, nil
		}
		off := lblk - uint64(l[i].Logical)
		return l[i].Start + off, uint64(l[i].Len) - off, l[i].Unwritten, nil
	}
	p, run, err := fs.indMap(in, lblk)
	return p, run, false, err
}

// --- block maps (ext2/ext3) ---

func (fs *FS) perBlock() uint64 { return uint64(fs.bs / 4) }

// indPath splits a logical block into the i_block slot and the offsets in each indirect level.
func (fs *FS) indPath(lblk uint64) (slot int, offs []uint64, err error) {
	p := fs.perBlock()
	switch {
	case lblk < 12:
		return int(lblk), nil, nil
	case lblk < 12+p:
		return 12, []uint64{lblk - 12}, nil
	case lblk < 12+p+p*p:
		r := lblk - 12 - p
		return 13, []uint64{r / p, r % p}, nil
	case lblk < 12+p+p*p+p*p*p:
		r := lblk - 12 - p - p*p
		return 14, []uint64{r / (p * p), r / p % p, r % p}, nil
	}
	return 0, nil, syscall.EFBIG
}

// indMap maps lblk through the block map. For a hole it also returns how many blocks the
// hole is known to span (the rest of the subtree whose pointer is zero), so that scanning a
// huge sparse file does not visit every block.
func (fs *FS) indMap(in *inode, lblk uint64) (uint64, uint64, error) {
	slot, offs, err := fs.indPath(lblk)
	if err != nil {
		return 0, 1 << 32, nil
	}
	p := fs.perBlock()
	b := uint64(le.Uint32(in.raw.IBlock()[4*slot:]))
	rest := func(i int) uint64 { // blocks left in the subtree entered at level i
		r := uint64(0)
		s := uint64(1)
		for range offs[i:] {
			s *= p
		}
		for _, o := range offs[i:] {
			s /= p
			r += (p - 1 - o) * s
		}
		return r + 1
	}
	for i, o := range offs {
		if b == 0 {
			return 0, rest(i), nil
		}
		if err := fs.checkBlock(b, "indirect"); err != nil {
			return 0, 0, err
		}
		blk, err := fs.bread(b)
		if err != nil {
			return 0, 0, err
		}
		b = uint64(le.Uint32(blk[4*o:]))
	}
	if b != 0 {
		if err := fs.checkBlock(b, "data"); err != nil {
			return 0, 0, err
		}
	}
	return b, 1, nil
}

// indSeek finds the first logical block >= from that is a hole (hole) or mapped (!hole) in a
// block-mapped file. It walks the indirect tree rather than mapping block by block, and
// remembers the subtrees it searched in vain: a corrupt tree whose indirect blocks are
// shared (every pointer of the triple indirect block naming one double indirect block, and
// so on) would otherwise cost a step for each of up to (blocksize/4)^3 blocks.
func (fs *FS) indSeek(in *inode, from uint64, hole bool) (uint64, bool, error) {
	for i := from; i < extfmt.NDirBlocks; i++ {
		if (le.Uint32(in.raw.IBlock()[4*i:]) == 0) == hole {
			return i, true, nil
		}
	}
	p := fs.perBlock()
	failed := map[uint64]bool{} // block<<2 | level: no match anywhere below it
	var walk func(b uint64, level int, base, span uint64) (uint64, bool, error)
	walk = func(b uint64, level int, base, span uint64) (uint64, bool, error) {
		if b == 0 {
			return max(base, from), hole, nil
		}
		key := b<<2 | uint64(level)
		whole := from <= base
		if whole && failed[key] {
			return 0, false, nil
		}
		if err := fs.checkBlock(b, "indirect"); err != nil {
			return 0, false, err
		}
		blk, err := fs.bread(b)
		if err != nil {
			return 0, false, err
		}
		child := span / p
		i := uint64(0)
		if !whole {
			i = (from - base) / child
		}
		for ; i < p; i++ {
			c := uint64(le.Uint32(blk[4*i:]))
			cb := base + i*child
			if level == 1 {
				if (c == 0) == hole {
					return max(cb, from), true, nil
				}
				continue
			}
			if r, ok, err := walk(c, level-1, cb, child); err != nil || ok {
				return r, ok, err
			}
		}
		if whole {
			failed[key] = true
		}
		return 0, false, nil
	}
	base, span := uint64(12), p
	for level := 1; level <= 3; level++ {
		if base+span > from {
			b := uint64(le.Uint32(in.raw.IBlock()[4*(extfmt.IndBlock-1+level):]))
			if r, ok, err := walk(b, level, base, span); err != nil || ok {
				return r, ok, err
			}
		}
		base += span
		span *= p
	}
	return 0, false, nil
}

// indSet maps lblk to pblk, allocating indirect blocks as needed.
func (fs *FS) indSet(in *inode, lblk, pblk uint64) error {
	slot, offs, err := fs.indPath(lblk)
	if err != nil {
		return err
	}
	if len(offs) == 0 {
		le.PutUint32(in.raw.IBlock()[4*slot:], uint32(pblk))
		return nil
	}
	ptr := in.raw.IBlock()[4*slot:]
	parent := uint64(0)
	for _, o := range offs {
		b := uint64(le.Uint32(ptr))
		if b == 0 {
			nb, _, err := fs.allocBlocks(pblk, 1)
			if err != nil {
				return err
			}
			fs.bnew(nb)
			le.PutUint32(ptr, uint32(nb))
			if parent != 0 {
				fs.bdirty(parent)
			}
			fs.addBlocks(in, 1)
			b = nb
		} else if err := fs.checkBlock(b, "indirect"); err != nil {
			return err
		}
		blk, err := fs.bread(b)
		if err != nil {
			return err
		}
		ptr = blk[4*o:]
		parent = b
	}
	le.PutUint32(ptr, uint32(pblk))
	fs.bdirty(parent)
	return nil
}

// indTruncate frees every block at or beyond logical block from.
func (fs *FS) indTruncate(in *inode, from uint64) error {
	p := fs.perBlock()
	for i := from; i < extfmt.NDirBlocks; i++ {
		if b := uint64(le.Uint32(in.raw.IBlock()[4*i:])); b != 0 {
			if err := fs.freeBlocks(b, 1); err != nil {
				return err
			}
			fs.addBlocks(in, -1)
			le.PutUint32(in.raw.IBlock()[4*i:], 0)
		}
	}
	// level-l tree at slot covers span blocks starting at base
	var rec func(b uint64, level int, base, span uint64) (empty bool, err error)
	seen := map[uint64]bool{}
	rec = func(b uint64, level int, base, span uint64) (bool, error) {
		if err := fs.checkBlock(b, "indirect"); err != nil {
			return false, err
		}
		if seen[b] {
			return false, corrupt("inode %d: indirect block %d referenced twice", in.ino, b)
		}
		seen[b] = true
		blk, err := fs.bread(b)
		if err != nil {
			return false, err
		}
		child := span / p
		empty := true
		for i := uint64(0); i < p; i++ {
			c := uint64(le.Uint32(blk[4*i:]))
			if c == 0 {
				continue
			}
			cb := base + i*child
			if cb+child <= from {
				empty = false
				continue
			}
			if level == 1 {
				if err := fs.freeBlocks(c, 1); err != nil {
					return false, err
				}
				fs.addBlocks(in, -1)
				le.PutUint32(blk[4*i:], 0)
				fs.bdirty(b)
				continue
			}
			e, err := rec(c, level-1, cb, child)
			if err != nil {
				return false, err
			}
			if e {
				le.PutUint32(blk[4*i:], 0)
				fs.bdirty(b)
			} else {
				empty = false
			}
		}
		if empty {
			if err := fs.freeBlocks(b, 1); err != nil {
				return false, err
			}
			fs.addBlocks(in, -1)
		}
		return empty, nil
	}
	base, span := uint64(12), p
	for level := 1; level <= 3; level++ {
		slot := 11 + level
		if b := uint64(le.Uint32(in.raw.IBlock()[4*slot:])); b != 0 && base+span > from {
			e, err := rec(b, level, base, span)
			if err != nil {
				return err
			}
			if e {
				le.PutUint32(in.raw.IBlock()[4*slot:], 0)
			}
		}
		base += span
		span *= p
	}
	return nil
}

// --- extent writing ---

// setExtent maps [lblk, lblk+n) to pblk.. (written) in the in-memory list, merging neighbours.
// Any previous mapping in the range must be unwritten or absent (the caller frees nothing).
func setExtent(l []extent, lblk uint64, n uint64, pblk uint64) []extent {
	end := lblk + n
	var out []extent
	for _, e := range l {
		if e.End() <= lblk || uint64(e.Logical) >= end {
			out = append(out, e)
			continue
		}
		if uint64(e.Logical) < lblk {
			out = append(out, extent{Logical: e.Logical, Len: uint32(lblk - uint64(e.Logical)), Start: e.Start, Unwritten: e.Unwritten})
		}
		if e.End() > end {
			off := end - uint64(e.Logical)
			out = append(out, extent{Logical: uint32(end), Len: uint32(e.End() - end), Start: e.Start + off, Unwritten: e.Unwritten})
		}
	}
	out = append(out, extent{Logical: uint32(lblk), Len: uint32(n), Start: pblk})
	sort.Slice(out, func(i, j int) bool { return out[i].Logical < out[j].Logical })
	// merge
	m := out[:0]
	for _, e := range out {
		if k := len(m); k > 0 {
			p := &m[k-1]
			if p.End() == uint64(e.Logical) && p.Start+uint64(p.Len) == e.Start && p.Unwritten == e.Unwritten &&
				uint64(p.Len)+uint64(e.Len) <= extfmt.ExtentInitMax-1 {
				p.Len += e.Len
				continue
			}
		}
		m = append(m, e)
	}
	return m
}

// storeExtents writes in.ext back as a tree, reusing the old tree blocks where possible.
func (fs *FS) storeExtents(in *inode) error {
	capBlk := int((fs.bs - extfmt.ExtentHeaderSize) / extfmt.ExtentEntrySize)
	need := 0
	for n := len(in.ext); n > extfmt.ExtentRootEntries; n = (n + capBlk - 1) / capBlk {
		need += (n + capBlk - 1) / capBlk
	}
	blocks, err := fs.treeBlocksFor(in, need)
	if err != nil {
		return err
	}
	// Build bottom-up: each level's nodes, until what is left fits in i_block.
	var index []extfmt.ExtentIndex
	next, depth, count := 0, 0, len(in.ext)
	for count > extfmt.ExtentRootEntries {
		var up []extfmt.ExtentIndex
		for i := 0; i < count; i += capBlk {
			j := min(i+capBlk, count)
			node := extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: uint16(capBlk), Depth: uint16(depth)}}
			first := uint32(0)
			if depth == 0 {
				node.Extents, first = in.ext[i:j], in.ext[i].Logical
			} else {
				node.Index, first = index[i:j], index[i].Logical
			}
			blk := blocks[next]
			next++
			buf := fs.bnew(blk)
			node.MarshalTo(buf)
			if fs.csum {
				le.PutUint32(buf[node.Header.TailOffset():], extfmt.ExtentBlockCsum(fs.inodeSeed(in.ino, in.generation()), buf, node.Header))
			}
			up = append(up, extfmt.ExtentIndex{Logical: first, Leaf: blk})
		}
		index, count = up, len(up)
		depth++
	}
	root := extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries, Depth: uint16(depth)}}
	if depth == 0 {
		root.Extents = in.ext
	} else {
		root.Index = index
	}
	clear(in.raw.IBlock())
	root.MarshalTo(in.raw.IBlock())
	in.treeBlocks = blocks
	return nil
}

// treeBlocksFor returns need blocks for the inode's extent tree: its old tree blocks, plus
// fresh ones or minus freed ones.
func (fs *FS) treeBlocksFor(in *inode, need int) ([]uint64, error) {
	old := in.treeBlocks
	if need <= len(old) {
		for _, b := range old[need:] {
			if err := fs.freeBlocks(b, 1); err != nil {
				return nil, err
			}
		}
		fs.addBlocks(in, -int64(len(old)-need))
		return append([]uint64(nil), old[:need]...), nil
	}
	goal := uint64(0)
	if len(in.ext) > 0 {
		goal = in.ext[0].Start
	}
	var fresh []uint64
	for len(old)+len(fresh) < need {
		b, _, err := fs.allocBlocks(goal, 1)
		if err != nil {
			for _, f := range fresh {
				fs.freeBlocks(f, 1)
			}
			return nil, err
		}
		fresh = append(fresh, b)
	}
	fs.addBlocks(in, int64(len(fresh)))
	return append(append([]uint64(nil), old...), fresh...), nil
}

// truncateBlocks frees every data block at or beyond logical block from (and the tree blocks
// that become unnecessary).
func (fs *FS) truncateBlocks(in *inode, from uint64) error {
	if in.flags()&extfmt.FlagInline != 0 {
		return syscall.EOPNOTSUPP
	}
	if in.flags()&extfmt.FlagExtents == 0 {
		return fs.indTruncate(in, from)
	}
	if err := fs.loadExtents(in); err != nil {
		return err
	}
	var out []extent
	changed := false
	for _, e := range in.ext {
		if e.End() <= from {
			out = append(out, e)
			continue
		}
		changed = true
		keep := uint64(0)
		if uint64(e.Logical) < from {
			keep = from - uint64(e.Logical)
			out = append(out, extent{Logical: e.Logical, Len: uint32(keep), Start: e.Start, Unwritten: e.Unwritten})
		}
		if err := fs.freeBlocks(e.Start+keep, uint64(e.Len)-keep); err != nil {
			return err
		}
		fs.addBlocks(in, -int64(uint64(e.Len)-keep))
	}
	if !changed {
		return nil
	}
	in.ext = out
	return fs.storeExtents(in)
}
