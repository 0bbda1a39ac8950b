package ext

import (
	"fmt"

	"github.com/gouml/gouml/lib/extfmt"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// buildDir builds a directory's linear entries; it needs the child inode numbers.
func buildDir(in *inodeInfo, infos map[*fstree.Inode]*inodeInfo) ([]byte, error) {
	type ent struct {
		ino  uint32
		name string
		typ  byte
	}
	parent := in.node.Parent
	if parent == nil {
		parent = in.node
	}
	ents := []ent{{in.ino, ".", extfmt.FTDir}, {infos[parent.Inode].ino, "..", extfmt.FTDir}}
	for _, c := range in.node.SortedChildren() {
		if len(c.Name) > extfmt.MaxNameLen {
			return nil, fmt.Errorf("%s: name longer than %d bytes", c.Path(), extfmt.MaxNameLen)
		}
		ents = append(ents, ent{infos[c.Inode].ino, c.Name, fileType(c.Inode.Mode)})
	}
	var out []byte
	blk := make([]byte, blockSize)
	used, lastOff := 0, -1
	flush := func() {
		if lastOff >= 0 {
			// the last entry of a block reaches to the block's end
			extfmt.PutRecLen(blk, lastOff, blockSize-lastOff)
		}
		out = append(out, blk...)
		blk = make([]byte, blockSize)
		used, lastOff = 0, -1
	}
	for _, e := range ents {
		rec := extfmt.DirentSize(len(e.name))
		if used+rec > blockSize {
			flush()
		}
		extfmt.PutDirent(blk, used, rec, e.ino, e.name, e.typ, true)
		lastOff = used
		used += rec
	}
	flush()
	if in.lostAdd {
		for len(out) < lostFoundSize {
			empty := make([]byte, blockSize)
			extfmt.PutRecLen(empty, 0, blockSize)
			out = append(out, empty...)
		}
	}
	return out, nil
}

func fileType(mode uint32) byte { return extfmt.FileTypeOfMode(uint16(mode & fstree.TypeMask)) }
