package ext4

import (
	"io"
	"syscall"
)

// uninline moves an inline-data file or directory into ordinary blocks, so that it can be
// modified with the normal code paths.
func (fs *FS) uninline(in *inode) error {
	if in.flags()&flagInline == 0 {
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
	case sIFREG, sIFLNK:
		if in.size() > uint64(fs.bs) {
			return corrupt("inline inode %d claims %d bytes", in.ino, in.size())
		}
		data = make([]byte, in.size())
		n, err := fs.readData(in, data, 0)
		if err != nil && err != io.EOF {
			return err
		}
		data = data[:n]
	case sIFDIR:
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
	var keep []xattr
	for _, x := range xs {
		if !(x.index == 7 && x.name == "data") {
			keep = append(keep, x)
		}
	}
	if err := fs.writeXattrs(in, keep); err != nil {
		return err
	}
	fl := in.flags() &^ flagInline
	clear(in.raw[0x28:0x64])
	in.ext, in.treeBlocks, in.extLoaded = nil, nil, true
	if fs.incompat&incompatExtents != 0 {
		fl |= flagExtents
		in.setFlags(fl)
		initExtentRoot(in)
	} else {
		in.setFlags(fl)
	}
	in.setSize(0)
	delete(fs.dcache, in.ino)
	fs.dropReadAhead(in.ino)
	if in.ftype() != sIFDIR {
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
	fs.putDirent(b, 0, 12, in.ino, ".", ftDir)
	fs.putDirent(b, 12, rl-12, parent, "..", ftDir)
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
