package ext4

import (
	"strings"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// Root returns the root directory's inode number.
func (fs *FS) Root() Ino { return RootIno }

func (fs *FS) begin(write bool) error {
	fs.mu.Lock()
	if fs.unmounted {
		fs.mu.Unlock()
		return syscall.EIO
	}
	if write && fs.ro {
		fs.mu.Unlock()
		return syscall.EROFS
	}
	return nil
}

func (fs *FS) end(err *error) {
	if e := fs.trim(); e != nil && *err == nil {
		*err = e
	}
	fs.mu.Unlock()
}

func (fs *FS) dirInode(ino Ino) (*inode, error) {
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, syscall.ENOTDIR
	}
	return in, nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return syscall.EINVAL
	}
	if len(name) > 255 {
		return syscall.ENAMETOOLONG
	}
	return nil
}

// Lookup returns the inode that name refers to in directory dir.
func (fs *FS) Lookup(dir Ino, name string) (ino Ino, err error) {
	if err := fs.begin(false); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return 0, err
	}
	ino, _, err = fs.lookup(d, name)
	return ino, err
}

// Getattr returns an inode's attributes.
func (fs *FS) Getattr(ino Ino) (a Attr, err error) {
	if err := fs.begin(false); err != nil {
		return Attr{}, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return Attr{}, err
	}
	return fs.attr(in), nil
}

// SetAttr fields to change, selected by Valid.
type SetAttr struct {
	Valid               uint32 // SetMode | SetUID | ...
	Mode                uint32 // permission bits (the file type cannot change)
	UID, GID            uint32
	Size                uint64
	Atime, Mtime, Ctime time.Time
}

// SetAttr.Valid bits
const (
	SetMode = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime
	SetMtime
	SetCtime
)

// Setattr changes an inode's attributes; the ctime becomes now unless SetCtime is given.
func (fs *FS) Setattr(ino Ino, sa SetAttr) (a Attr, err error) {
	if err := fs.begin(true); err != nil {
		return Attr{}, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return Attr{}, err
	}
	if sa.Valid&SetSize != 0 {
		switch in.ftype() {
		case extfmt.S_IFDIR:
			return Attr{}, syscall.EISDIR
		case extfmt.S_IFREG:
		default:
			return Attr{}, syscall.EINVAL
		}
		if err := fs.truncate(in, sa.Size); err != nil {
			return Attr{}, err
		}
		in.raw.SetTime(extfmt.Mtime, time.Now())
	}
	if sa.Valid&SetMode != 0 {
		le.PutUint16(in.raw[0:], in.ftype()|uint16(sa.Mode&0o7777))
	}
	if sa.Valid&SetUID != 0 {
		in.setUID(sa.UID)
	}
	if sa.Valid&SetGID != 0 {
		in.setGID(sa.GID)
	}
	if sa.Valid&SetAtime != 0 {
		in.raw.SetTime(extfmt.Atime, sa.Atime)
	}
	if sa.Valid&SetMtime != 0 {
		in.raw.SetTime(extfmt.Mtime, sa.Mtime)
	}
	if sa.Valid&SetCtime != 0 {
		in.raw.SetTime(extfmt.Ctime, sa.Ctime)
	} else {
		in.raw.SetTime(extfmt.Ctime, time.Now())
	}
	if err := fs.iput(in); err != nil {
		return Attr{}, err
	}
	return fs.attr(in), nil
}

func (fs *FS) maxSize() uint64 {
	if fs.incompat&extfmt.IncompatExtents != 0 {
		return (1<<32 - 1) * uint64(fs.bs)
	}
	p := fs.perBlock()
	return (12 + p + p*p + p*p*p) * uint64(fs.bs)
}

func (fs *FS) noteSize(sz uint64) {
	if sz > 1<<31-1 && fs.rocompat&extfmt.RoCompatLargeFile == 0 {
		fs.rocompat |= extfmt.RoCompatLargeFile
		fs.super.FeatureRoCompat = fs.rocompat
		fs.sbDirty = true
	}
}

func (fs *FS) truncate(in *inode, size uint64) error {
	fs.dropReadAhead(in.ino)
	if err := fs.uninline(in); err != nil {
		return err
	}
	max := fs.maxSize()
	if in.flags()&extfmt.FlagExtents == 0 {
		p := fs.perBlock()
		max = (12 + p + p*p + p*p*p) * uint64(fs.bs)
	}
	if size > max {
		return syscall.EFBIG
	}
	old := in.size()
	if size < old {
		bs := uint64(fs.bs)
		if err := fs.truncateBlocks(in, (size+bs-1)/bs); err != nil {
			return err
		}
		if size%bs != 0 {
			p, _, unwritten, err := fs.mapBlock(in, size/bs)
			if err != nil {
				return err
			}
			if p != 0 && !unwritten {
				z := make([]byte, bs-size%bs)
				if _, err := fs.dev.WriteAt(z, int64(p*bs+size%bs)); err != nil {
					return ioErr("writing block %d: %v", p, err)
				}
			}
		}
	}
	in.setSize(size)
	fs.noteSize(size)
	return nil
}

// Fsync makes the inode's data and metadata (and, in this implementation, everything
// else pending) durable.
func (fs *FS) Fsync(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	return fs.flush(true)
}

// Open notes that the caller holds ino open: if its last link goes away it is freed only
// at the matching last Release (or at Unmount), as the kernel keeps unlinked open files.
func (fs *FS) Open(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	if _, err := fs.iget(ino); err != nil {
		return err
	}
	fs.open[ino]++
	return nil
}

// Release drops a hold taken by Open.
func (fs *FS) Release(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	if fs.open[ino] > 0 {
		fs.open[ino]--
	}
	if fs.open[ino] == 0 {
		delete(fs.open, ino)
		if fs.orphans[ino] && !fs.ro {
			in, err := fs.iget(ino)
			if err != nil {
				return err
			}
			return fs.freeInode(in)
		}
	}
	return nil
}
