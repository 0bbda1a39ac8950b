package ext4

import (
	"io"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

func fileTypeOK(mode uint32) (uint16, error) {
	switch uint16(mode) & extfmt.S_IFMT {
	case 0:
		return uint16(mode&0o7777) | extfmt.S_IFREG, nil
	case extfmt.S_IFREG, extfmt.S_IFCHR, extfmt.S_IFBLK, extfmt.S_IFIFO, extfmt.S_IFSOCK:
		return uint16(mode & 0o177777), nil
	}
	return 0, syscall.EINVAL
}

// prepareCreate checks that name can be created in dir.
func (fs *FS) prepareCreate(dir Ino, name string) (*inode, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	d, err := fs.dirInode(dir)
	if err != nil {
		return nil, err
	}
	if d.links() == 0 {
		return nil, syscall.ENOENT
	}
	if _, _, err := fs.lookup(d, name); err == nil {
		return nil, syscall.EEXIST
	} else if err != syscall.ENOENT {
		return nil, err
	}
	return d, nil
}

func (fs *FS) touchDir(d *inode) error {
	now := time.Now()
	d.raw.SetTime(extfmt.Mtime, now)
	d.raw.SetTime(extfmt.Ctime, now)
	return fs.iput(d)
}

// link finishes a creation: enter the name, or free the new inode if that fails.
func (fs *FS) link(d *inode, name string, in *inode) error {
	if err := fs.addEntry(d, name, in.ino, extfmt.FileTypeOfMode(in.mode())); err != nil {
		in.setLinks(0)
		fs.freeInode(in)
		return err
	}
	return fs.touchDir(d)
}

// Create makes a regular file, device node, FIFO or socket (mode holds the type bits; none
// means a regular file). rdev is a Linux dev_t for device nodes.
func (fs *FS) Create(dir Ino, name string, mode, uid, gid uint32, rdev uint64) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	m, err := fileTypeOK(mode)
	if err != nil {
		return 0, err
	}
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	in, err := fs.newInode(dir, m, uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(1)
	if t := m & extfmt.S_IFMT; t == extfmt.S_IFCHR || t == extfmt.S_IFBLK {
		in.raw.SetDev(Major(rdev), Minor(rdev))
	}
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	return in.ino, fs.link(d, name, in)
}

// Mkdir makes a directory.
func (fs *FS) Mkdir(dir Ino, name string, mode, uid, gid uint32) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	if d.links() >= 65000 && fs.rocompat&extfmt.RoCompatDirNlink == 0 {
		return 0, syscall.EMLINK
	}
	in, err := fs.newInode(dir, extfmt.S_IFDIR|uint16(mode&0o7777), uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(2)
	p, err := fs.mapNewBlock(in, 0, fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg))
	if err != nil {
		in.setLinks(0)
		fs.freeInode(in)
		return 0, err
	}
	b := fs.bnew(p)
	fs.initDirBlock(b)
	rl := fs.recLen(b, 0)
	fs.putDirent(b, 0, 12, in.ino, ".", extfmt.FTDir)
	fs.putDirent(b, 12, rl-12, d.ino, "..", extfmt.FTDir)
	fs.dirCsum(in, b)
	in.setSize(uint64(fs.bs))
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	if err := fs.link(d, name, in); err != nil {
		return 0, err
	}
	fs.incLinks(d)
	return in.ino, fs.iput(d)
}

func (fs *FS) incLinks(d *inode) {
	switch n := d.links(); {
	case n == 1 && d.isDir():
	case n >= 64999 && d.isDir():
		d.setLinks(1)
	default:
		d.setLinks(int(n) + 1)
	}
}

func (fs *FS) decLinks(d *inode) {
	if n := d.links(); n > 2 || (!d.isDir() && n > 0) {
		d.setLinks(int(n) - 1)
	}
}

// Symlink makes a symbolic link to target.
func (fs *FS) Symlink(dir Ino, name, target string, uid, gid uint32) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	if len(target) == 0 {
		return 0, syscall.ENOENT
	}
	if int64(len(target)) >= fs.bs || len(target) >= 4096 {
		return 0, syscall.ENAMETOOLONG
	}
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	in, err := fs.newInode(dir, extfmt.S_IFLNK|0o777, uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(1)
	if len(target) < 60 {
		in.setFlags(in.flags() &^ extfmt.FlagExtents)
		clear(in.raw.IBlock())
		copy(in.raw.IBlock(), target)
	} else {
		p, err := fs.mapNewBlock(in, 0, fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg))
		if err != nil {
			in.setLinks(0)
			fs.freeInode(in)
			return 0, err
		}
		copy(fs.bnew(p), target)
	}
	in.setSize(uint64(len(target)))
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	return in.ino, fs.link(d, name, in)
}

// Readlink returns a symbolic link's target.
func (fs *FS) Readlink(ino Ino) (target string, err error) {
	if err := fs.begin(false); err != nil {
		return "", err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return "", err
	}
	if in.ftype() != extfmt.S_IFLNK {
		return "", syscall.EINVAL
	}
	sz := in.size()
	if sz > uint64(fs.bs) || sz > 65536 {
		return "", corrupt("symlink inode %d has size %d", ino, sz)
	}
	if fs.fastSymlink(in) {
		return string(in.raw.IBlock()[:sz]), nil
	}
	if in.flags()&extfmt.FlagInline == 0 {
		p, _, _, err := fs.mapBlock(in, 0)
		if err != nil {
			return "", err
		}
		if p == 0 {
			return "", corrupt("slow symlink inode %d has no data block", ino)
		}
		b, err := fs.bread(p)
		if err != nil {
			return "", err
		}
		return string(b[:sz]), nil
	}
	buf := make([]byte, sz)
	n, err := fs.readData(in, buf, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	return string(buf[:n]), nil
}

// Link makes newname in newdir another name for ino (not a directory).
func (fs *FS) Link(ino Ino, newdir Ino, newname string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	if in.isDir() {
		return syscall.EPERM
	}
	if in.links() >= 65000 {
		return syscall.EMLINK
	}
	d, err := fs.prepareCreate(newdir, newname)
	if err != nil {
		return err
	}
	if err := fs.addEntry(d, newname, ino, extfmt.FileTypeOfMode(in.mode())); err != nil {
		return err
	}
	in.setLinks(int(in.links()) + 1)
	in.raw.SetTime(extfmt.Ctime, time.Now())
	if err := fs.iput(in); err != nil {
		return err
	}
	return fs.touchDir(d)
}

// drop releases one link of in; at zero it is freed, or kept until Release if open.
func (fs *FS) drop(in *inode) error {
	if in.isDir() {
		in.setLinks(0)
	} else if in.links() > 0 {
		in.setLinks(int(in.links()) - 1)
	}
	in.raw.SetTime(extfmt.Ctime, time.Now())
	if in.links() > 0 {
		return fs.iput(in)
	}
	if fs.open[in.ino] > 0 {
		fs.orphans[in.ino] = true
		return fs.iput(in)
	}
	return fs.freeInode(in)
}

// Unlink removes a non-directory name.
func (fs *FS) Unlink(dir Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return err
	}
	ino, _, err := fs.lookup(d, name)
	if err != nil {
		return err
	}
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	if in.isDir() {
		return syscall.EISDIR
	}
	if _, err := fs.removeEntry(d, name); err != nil {
		return err
	}
	if err := fs.touchDir(d); err != nil {
		return err
	}
	return fs.drop(in)
}

// Rmdir removes an empty directory.
func (fs *FS) Rmdir(dir Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	switch name {
	case ".":
		return syscall.EINVAL
	case "..":
		return syscall.ENOTEMPTY
	}
	d, err := fs.dirInode(dir)
	if err != nil {
		return err
	}
	ino, _, err := fs.lookup(d, name)
	if err != nil {
		return err
	}
	in, err := fs.dirInode(ino)
	if err != nil {
		return err
	}
	if empty, err := fs.dirEmpty(in); err != nil {
		return err
	} else if !empty {
		return syscall.ENOTEMPTY
	}
	if _, err := fs.removeEntry(d, name); err != nil {
		return err
	}
	fs.decLinks(d)
	if err := fs.touchDir(d); err != nil {
		return err
	}
	return fs.drop(in)
}

// ReadDir returns up to max entries (all if max <= 0) from position cookie (0 to start);
// each entry's Next is the cookie to continue after it. "." and ".." are included, first.
// Every other name is one path component (1..255 bytes, no '/' or NUL, not a dot name)
// naming the root or an ordinary inode; an entry that is not is corruption. What a single
// directory block cannot show is left to walkers: a corrupt image may repeat a name, or
// name a directory in two places (so that it contains itself).
func (fs *FS) ReadDir(dir Ino, cookie uint64, max int) (ents []DirEntry, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return nil, err
	}
	err = fs.scanDir(d, cookie, func(e dirent, _, next uint64) bool {
		t := uint8(0)
		if e.ftype < 8 {
			t = extfmt.FTToDT[e.ftype]
		}
		ents = append(ents, DirEntry{Name: string(e.name), Ino: e.ino, Type: t, Next: next})
		return max <= 0 || len(ents) < max
	})
	return ents, err
}
