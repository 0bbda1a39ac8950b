package ext4

import (
	"io"
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

// uninline moves an inline-data file or directory into ordinary blocks, so that it can be
// modified with the normal code paths.
func (fs *FS) uninline(in *inode) error {
	if in.flags()&extfmt.FlagInline == 0 {
		return nil
	}
	if fs.ro {
		return syscall.EROFS
	}
	var data []byte
	type ent struct {
		name string
		ino  Ino
		ft   uint8
	}
	var ents []ent
	var parent Ino
	switch in.ftype() {
	case extfmt.S_IFREG, extfmt.S_IFLNK:
		if in.size() > uint64(fs.bs) {
			return corrupt("inline inode %d claims %d bytes", in.ino, in.size())
		}
		data = make([]byte, in.size())
		n, err := fs.readData(in, data, 0)
		if err != nil && err != io.EOF {
			return err
		}
		data = data[:n]
	case extfmt.S_IFDIR:
		err := fs.scanDir(in, 0, func(d dirent, _, _ uint64) bool {
			switch string(d.name) {
			case ".":
			case "..":
				parent = d.ino
			default:
				ents = append(ents, ent{string(d.name), d.ino, d.ftype})
			}
			return true
		})
		if err != nil {
			return err
		}
	default:
		return syscall.EINVAL
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return err
	}
	var keep []extfmt.Xattr
	for _, x := range xs {
		if !isInlineData(x) {
			keep = append(keep, x)
		}
	}
	if err := fs.writeXattrs(in, keep); err != nil {
		return err
	}
	fl := in.flags() &^ extfmt.FlagInline
	clear(in.raw.IBlock())
	in.ext, in.treeBlocks, in.extLoaded = nil, nil, true
	if fs.incompat&extfmt.IncompatExtents != 0 {
		fl |= extfmt.FlagExtents
		in.setFlags(fl)
		initExtentRoot(in)
	} else {
		in.setFlags(fl)
	}
	in.setSize(0)
	delete(fs.dcache, in.ino)
	fs.dropReadAhead(in.ino)
	if in.ftype() != extfmt.S_IFDIR {
		if _, err := fs.writeData(in, data, 0); err != nil {
			return err
		}
		in.setSize(uint64(len(data)))
		return fs.iput(in)
	}
	p, err := fs.mapNewBlock(in, 0, fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg))
	if err != nil {
		return err
	}
	b := fs.bnew(p)
	fs.initDirBlock(b)
	rl := fs.recLen(b, 0)
	fs.putDirent(b, 0, 12, in.ino, ".", extfmt.FTDir)
	fs.putDirent(b, 12, rl-12, parent, "..", extfmt.FTDir)
	fs.dirCsum(in, b)
	in.setSize(uint64(fs.bs))
	if err := fs.iput(in); err != nil {
		return err
	}
	for _, e := range ents {
		if err := fs.addEntry(in, e.name, e.ino, e.ft); err != nil {
			return err
		}
	}
	return fs.iput(in)
}
