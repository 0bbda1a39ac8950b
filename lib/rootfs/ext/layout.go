package ext

import (
	"encoding/binary"
	"fmt"

	"github.com/gouml/gouml/lib/extfmt"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

var le = binary.LittleEndian

// blocksFor estimates the blocks an inode needs (exact for data, an upper bound for mapping).
func blocksFor(in *inodeInfo, ext4 bool) int64 {
	var d int64
	switch in.in.Type() {
	case fstree.TypeReg:
		d = (in.in.Size + blockSize - 1) / blockSize
	case fstree.TypeDir:
		// upper bound: every entry at its largest
		var b int64 = 24
		for _, c := range in.node.Children {
			b += int64(8+len(c.Name)+3) &^ 3
		}
		d = b/blockSize + 1 + int64(len(in.node.Children))/(blockSize/16)
		if in.lostAdd {
			d = max(d, lostFoundSize/blockSize)
		}
	case fstree.TypeLink:
		if len(in.in.Target) >= 60 {
			d = 1
		}
	}
	var m int64
	if ext4 {
		m = d/(blocksPerGrp-1024) + 1
	} else if d > 12 {
		m = (d-12)/1023 + 2
	}
	if len(in.in.Xattrs) > 0 {
		m++
	}
	return d + m
}

// layout allocates an inode's blocks and fills in its i_block.
func layout(in *inodeInfo, a *allocator, ext4 bool, infos map[*fstree.Inode]*inodeInfo) error {
	var nblocks int64
	switch in.in.Type() {
	case fstree.TypeReg:
		nblocks = (in.in.Size + blockSize - 1) / blockSize
	case fstree.TypeDir:
		d, err := buildDir(in, infos)
		if err != nil {
			return err
		}
		in.dir = d
		nblocks = int64(len(d)) / blockSize
	case fstree.TypeLink:
		if len(in.in.Target) > blockSize-1 {
			return fmt.Errorf("%s: symbolic link target longer than %d bytes", in.node.Path(), blockSize-1)
		}
		if len(in.in.Target) < 60 {
			copy(in.iblock[:], in.in.Target) // fast symlink: the target lives in i_block
		} else {
			nblocks = 1
		}
	}
	if len(in.in.Xattrs) > 0 {
		x, err := xattrBlock(in.in.Xattrs)
		if err != nil {
			return fmt.Errorf("%s: %w", in.node.Path(), err)
		}
		in.xattr = x
		b, err := a.one()
		if err != nil {
			return err
		}
		in.xblock = b
		in.blocks += blockSize / 512
	}
	if nblocks == 0 {
		if ext4 && (in.in.Type() == fstree.TypeReg || in.in.Type() == fstree.TypeDir) {
			extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries}.MarshalTo(in.iblock[:])
		}
		return nil
	}
	in.blocks += nblocks * blockSize / 512
	if ext4 {
		runs, err := a.alloc(nblocks, 32768)
		if err != nil {
			return err
		}
		in.runs = runs
		return extentTree(in, a, runs)
	}
	runs, err := a.alloc(nblocks, 1<<31)
	if err != nil {
		return err
	}
	in.runs = runs
	// Block map: 12 direct pointers, then single, double and triple indirect blocks.
	phys := make([]uint32, 0, nblocks)
	for _, r := range runs {
		for i := uint32(0); i < r.len; i++ {
			phys = append(phys, r.start+i)
		}
	}
	for i := 0; i < extfmt.NDirBlocks && i < len(phys); i++ {
		le.PutUint32(in.iblock[4*i:], phys[i])
	}
	rest := phys[min(extfmt.NDirBlocks, len(phys)):]
	const per = blockSize / 4
	for level := 1; level <= 3 && len(rest) > 0; level++ {
		span := 1
		for i := 1; i < level; i++ {
			span *= per
		}
		take := min(len(rest), span*per)
		top, err := indirect(in, a, rest[:take], level)
		if err != nil {
			return err
		}
		le.PutUint32(in.iblock[4*(extfmt.IndBlock-1+level):], top)
		rest = rest[take:]
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: too large for an ext2 block map", in.node.Path())
	}
	return nil
}

// indirect allocates a level-deep tree of indirect blocks over phys and returns its top
// block; the blocks' contents wait in in.metaData until the image is written.
func indirect(in *inodeInfo, a *allocator, phys []uint32, level int) (uint32, error) {
	b, err := a.one()
	if err != nil {
		return 0, err
	}
	in.meta = append(in.meta, b)
	in.blocks += blockSize / 512
	const per = blockSize / 4
	content := make([]byte, blockSize)
	if level == 1 {
		for i, p := range phys {
			le.PutUint32(content[4*i:], p)
		}
	} else {
		span := 1
		for i := 1; i < level; i++ {
			span *= per
		}
		for i := 0; len(phys) > 0; i++ {
			take := min(len(phys), span)
			c, err := indirect(in, a, phys[:take], level-1)
			if err != nil {
				return 0, err
			}
			le.PutUint32(content[4*i:], c)
			phys = phys[take:]
		}
	}
	if in.metaData == nil {
		in.metaData = map[uint32][]byte{}
	}
	in.metaData[b] = content
	return b, nil
}

// perLeaf is how many extents an extent tree leaf block holds.
const perLeaf = (blockSize - extfmt.ExtentHeaderSize) / extfmt.ExtentEntrySize

// extentTree maps runs in i_block: directly when four or fewer, else through up to four
// leaf blocks (allocated here, written by writeExtentLeaves) under an index in i_block.
func extentTree(in *inodeInfo, a *allocator, runs []run) error {
	if len(runs) <= extfmt.ExtentRootEntries {
		extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries}, Extents: extents(runs)}.MarshalTo(in.iblock[:])
		return nil
	}
	leaves := (len(runs) + perLeaf - 1) / perLeaf
	if leaves > extfmt.ExtentRootEntries {
		return fmt.Errorf("%s: too fragmented (%d extents)", in.node.Path(), len(runs))
	}
	root := extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries, Depth: 1}}
	logical := uint32(0)
	for l := 0; l < leaves; l++ {
		b, err := a.one()
		if err != nil {
			return err
		}
		in.meta = append(in.meta, b)
		in.blocks += blockSize / 512
		root.Index = append(root.Index, extfmt.ExtentIndex{Logical: logical, Leaf: uint64(b)})
		for _, r := range runs[l*perLeaf : min(len(runs), (l+1)*perLeaf)] {
			logical += r.len
		}
	}
	root.MarshalTo(in.iblock[:])
	return nil
}

// extents numbers runs into extents from logical block 0 on.
func extents(runs []run) []extfmt.Extent {
	var out []extfmt.Extent
	logical := uint32(0)
	for _, r := range runs {
		out = append(out, extfmt.Extent{Logical: logical, Len: r.len, Start: uint64(r.start)})
		logical += r.len
	}
	return out
}
