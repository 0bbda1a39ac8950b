package ext4

import (
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// rename flags
const (
	RenameNoReplace = 1 // RENAME_NOREPLACE
	RenameExchange  = 2 // RENAME_EXCHANGE
)

// isAncestor reports whether a is dir b or one of its ancestors.
func (fs *FS) isAncestor(a, b Ino) (bool, error) {
	// A corrupt ".." chain may loop: remembering the directories passed stops at the first
	// repeat instead of after a walk as long as the inode count.
	seen := map[Ino]bool{}
	for {
		if a == b {
			return true, nil
		}
		if b == RootIno {
			return false, nil
		}
		if seen[b] {
			break
		}
		seen[b] = true
		d, err := fs.dirInode(b)
		if err != nil {
			return false, err
		}
		p, _, err := fs.lookup(d, "..")
		if err != nil {
			return false, err
		}
		b = p
	}
	return false, corrupt("directory parent chain loops")
}

// Rename moves oldname in olddir to newname in newdir (flags: RenameNoReplace, RenameExchange).
func (fs *FS) Rename(olddir Ino, oldname string, newdir Ino, newname string, flags uint32) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	if flags&^3 != 0 || flags == 3 {
		return syscall.EINVAL
	}
	if err := checkName(oldname); err != nil {
		return err
	}
	if err := checkName(newname); err != nil {
		return err
	}
	od, err := fs.dirInode(olddir)
	if err != nil {
		return err
	}
	nd, err := fs.dirInode(newdir)
	if err != nil {
		return err
	}
	sino, _, err := fs.lookup(od, oldname)
	if err != nil {
		return err
	}
	src, err := fs.iget(sino)
	if err != nil {
		return err
	}
	tino, _, err := fs.lookup(nd, newname)
	if err != nil && err != syscall.ENOENT {
		return err
	}
	if tino == sino {
		return nil
	}
	if src.isDir() && olddir != newdir {
		if anc, err := fs.isAncestor(sino, newdir); err != nil {
			return err
		} else if anc {
			return syscall.EINVAL
		}
	}
	if flags&RenameExchange != 0 {
		return fs.renameExchange(od, nd, src, oldname, newname, tino)
	}
	return fs.renameReplace(od, nd, src, oldname, newname, tino, flags)
}

// renameExchange swaps the inodes that oldname in od and newname in nd name.
func (fs *FS) renameExchange(od, nd, src *inode, oldname, newname string, tino Ino) error {
	olddir, newdir, sino := od.ino, nd.ino, src.ino
	now := time.Now()
	if tino == 0 {
		return syscall.ENOENT
	}
	dst, err := fs.iget(tino)
	if err != nil {
		return err
	}
	if dst.isDir() && olddir != newdir {
		if anc, err := fs.isAncestor(tino, olddir); err != nil {
			return err
		} else if anc {
			return syscall.EINVAL
		}
	}
	if err := fs.setEntryIno(od, oldname, tino, extfmt.FileTypeOfMode(dst.mode())); err != nil {
		return err
	}
	if err := fs.setEntryIno(nd, newname, sino, extfmt.FileTypeOfMode(src.mode())); err != nil {
		return err
	}
	if olddir != newdir {
		if src.isDir() {
			if err := fs.setEntryIno(src, "..", newdir, extfmt.FTDir); err != nil {
				return err
			}
			fs.incLinks(nd)
			fs.decLinks(od)
		}
		if dst.isDir() {
			if err := fs.setEntryIno(dst, "..", olddir, extfmt.FTDir); err != nil {
				return err
			}
			fs.incLinks(od)
			fs.decLinks(nd)
		}
	}
	for _, x := range []*inode{src, dst} {
		x.raw.SetTime(extfmt.Ctime, now)
		if err := fs.iput(x); err != nil {
			return err
		}
	}
	if err := fs.touchDir(od); err != nil {
		return err
	}
	return fs.touchDir(nd)
}

// renameReplace moves oldname in od to newname in nd, replacing what newname named (tino,
// 0 if nothing) unless flags say RenameNoReplace.
func (fs *FS) renameReplace(od, nd, src *inode, oldname, newname string, tino Ino, flags uint32) error {
	olddir, newdir, sino := od.ino, nd.ino, src.ino
	now := time.Now()
	var dst *inode
	var err error
	if tino != 0 {
		if flags&RenameNoReplace != 0 {
			return syscall.EEXIST
		}
		dst, err = fs.iget(tino)
		if err != nil {
			return err
		}
		switch {
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR
		case dst.isDir():
			if empty, err := fs.dirEmpty(dst); err != nil {
				return err
			} else if !empty {
				return syscall.ENOTEMPTY
			}
		}
		if err := fs.setEntryIno(nd, newname, sino, extfmt.FileTypeOfMode(src.mode())); err != nil {
			return err
		}
	} else {
		if src.isDir() && nd.links() >= 65000 && fs.rocompat&extfmt.RoCompatDirNlink == 0 {
			return syscall.EMLINK
		}
		if err := fs.addEntry(nd, newname, sino, extfmt.FileTypeOfMode(src.mode())); err != nil {
			return err
		}
	}
	if _, err := fs.removeEntry(od, oldname); err != nil {
		return err
	}
	if src.isDir() {
		if olddir != newdir {
			if err := fs.setEntryIno(src, "..", newdir, extfmt.FTDir); err != nil {
				return err
			}
			fs.decLinks(od)
			if dst == nil {
				fs.incLinks(nd)
			}
		}
		if dst != nil {
			// the replaced directory's ".." no longer counts
			fs.decLinks(nd)
			if olddir != newdir {
				fs.incLinks(nd)
			}
		}
	}
	src.raw.SetTime(extfmt.Ctime, now)
	if err := fs.iput(src); err != nil {
		return err
	}
	if err := fs.touchDir(od); err != nil {
		return err
	}
	if err := fs.touchDir(nd); err != nil {
		return err
	}
	if dst != nil {
		return fs.drop(dst)
	}
	return nil
}
