package ext4

import (
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// Getxattr returns the value of extended attribute name (ENODATA if absent).
func (fs *FS) Getxattr(ino Ino, name string) (v []byte, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return nil, err
	}
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.Index == idx && x.Name == n {
			if isACL(idx) {
				v, err := extfmt.ACLFromDisk(x.Value)
				if err != nil {
					return nil, corrupt("inode %d: %s: %v", ino, name, err)
				}
				return v, nil
			}
			return x.Value, nil
		}
	}
	return nil, syscall.ENODATA
}

// Listxattr returns the names of the inode's extended attributes (system.data excluded).
func (fs *FS) Listxattr(ino Ino) (names []string, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if isInlineData(x) {
			continue
		}
		if n := x.FullName(); n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// Setxattr flags
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// Setxattr sets extended attribute name (flags XattrCreate / XattrReplace as setxattr(2)).
func (fs *FS) Setxattr(ino Ino, name string, value []byte, flags int) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return err
	}
	if isInlineData(extfmt.Xattr{Index: idx, Name: n}) {
		return syscall.EPERM
	}
	if isACL(idx) {
		if value, err = extfmt.ACLToDisk(value); err != nil {
			return syscall.EINVAL
		}
	}
	// the most one attribute block can hold: its header, this entry and the end marker
	if int64(len(value)) > fs.bs-extfmt.XattrBlockHeaderSize-int64(extfmt.XattrEntrySize(len(n)))-4 {
		return syscall.E2BIG
	}
	return fs.changeXattr(ino, idx, n, value, flags, false)
}

// Removexattr removes extended attribute name (ENODATA if absent).
func (fs *FS) Removexattr(ino Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return err
	}
	if isInlineData(extfmt.Xattr{Index: idx, Name: n}) {
		return syscall.EPERM
	}
	return fs.changeXattr(ino, idx, n, nil, 0, true)
}

func (fs *FS) changeXattr(ino Ino, idx uint8, name string, value []byte, flags int, remove bool) error {
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return err
	}
	found := -1
	for i, x := range xs {
		if x.Index == idx && x.Name == name {
			found = i
		}
	}
	switch {
	case remove && found < 0:
		return syscall.ENODATA
	case remove:
		xs = append(xs[:found], xs[found+1:]...)
	case found >= 0 && flags&XattrCreate != 0:
		return syscall.EEXIST
	case found < 0 && flags&XattrReplace != 0:
		return syscall.ENODATA
	case found >= 0:
		xs[found].Value = append([]byte(nil), value...)
	default:
		xs = append(xs, extfmt.Xattr{Index: idx, Name: name, Value: append([]byte(nil), value...)})
	}
	if err := fs.writeXattrs(in, xs); err != nil {
		return err
	}
	in.raw.SetTime(extfmt.Ctime, time.Now())
	return fs.iput(in)
}

func isACL(idx uint8) bool {
	return idx == extfmt.XattrIndexPosixACLAccess || idx == extfmt.XattrIndexPosixACLDefault
}
