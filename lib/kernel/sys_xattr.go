package kernel

import (
	"strings"

	"github.com/gouml/gouml/lib/hostmeta"

	"golang.org/x/sys/unix"
)

// Extended attributes. A guest's attributes are host user.* attributes of its files, so
// they need no privilege on the host: a guest "user.NAME" is the host's "user.NAME", and
// the names the host must never take from a guest, its trusted.* and security.* and any
// user.gouml.* (the guest's owners and modes: lib/hostmeta), are kept as
// "user.gouml.x.NAME". Listings show the guest's names only. Linux's rules apply: user.*
// only on regular files and directories (and a sticky directory's only for its owner),
// read or write permission on the file as the call needs, trusted.* for guest root only.
// Files that are not the guest's own (the kernel's memfds, host devices, pipes) have none.
//
// Known limits: a name within 13 bytes of the 255-byte limit fails with ERANGE when it
// must be kept under user.gouml.x.; system.* (POSIX ACLs) is not supported (EOPNOTSUPP);
// attributes of an image root's files are not written back to the image.

const xattrKept = hostmeta.XattrKept // the mapping is lib/hostmeta's, shared with mkrootfs

// xattrSizeMax is XATTR_SIZE_MAX; xattrListMax is XATTR_LIST_MAX.
const (
	xattrSizeMax = 65536
	xattrListMax = 65536
)

// hostXattrName maps a guest attribute name to the host's.
func hostXattrName(name string) (string, error) {
	if name == "" || len(name) > 255 {
		return "", unix.ERANGE
	}
	switch {
	case strings.HasPrefix(name, "user.gouml."), strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."):
		return xattrKept + name, nil
	case strings.HasPrefix(name, "user."):
		return name, nil
	}
	return "", unix.EOPNOTSUPP
}

// guestXattrName maps a host attribute name back; ok false for the host's own.
func guestXattrName(host string) (string, bool) { return hostmeta.XattrGuestName(host) }

// xattrTarget resolves the file of a path or fd call: args[0] is the path (or fd, when
// byFD), follow says whether a final symlink is followed.
func (c *Call) xattrTarget(byFD, follow bool) (int, error) {
	if byFD {
		return c.guestFileFD(c.Int(0))
	}
	return c.pathFD(unix.AT_FDCWD, 0, follow, false)
}

// xattrAllowed is Linux's xattr_permission for the file behind fd: write for set and
// remove, read for get. A nil error with own false: the file is none of the guest's
// trees', which has no attributes.
func (c *Call) xattrAllowed(fd int, name string, write bool) (own bool, err error) {
	if _, w := c.k.objPath(selfFD(fd)); w != inTree {
		return false, nil
	}
	var st unix.Stat_t
	if err := c.k.guestAttr(fd, &st); err != nil {
		return false, err
	}
	cr := c.fsCred()
	denied := unix.ENODATA
	if write {
		denied = unix.EPERM
	}
	switch {
	case strings.HasPrefix(name, "trusted."):
		if cr.FSUID != 0 {
			return false, denied
		}
	case strings.HasPrefix(name, "user."):
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFDIR:
			if write && st.Mode&unix.S_ISVTX != 0 && cr.FSUID != 0 && st.Uid != cr.FSUID {
				return false, unix.EPERM
			}
		default:
			return false, denied
		}
	}
	want := uint32(mayRead)
	if write {
		want = mayWrite
	}
	if !permits(cr, &st, want) {
		return false, unix.EACCES
	}
	if write {
		if err := c.metaTarget(fd); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (c *Call) setxattr(byFD, follow bool) result {
	name, err := c.Str(1)
	if err != nil {
		return fail(err)
	}
	size, flags := c.Arg(3), int(c.Arg(4))
	if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return errno(unix.EINVAL)
	}
	if name == "" || len(name) > 255 {
		return errno(unix.ERANGE)
	}
	if size > xattrSizeMax {
		return errno(unix.E2BIG)
	}
	val := make([]byte, size)
	if err := c.Read(c.Arg(2), val); err != nil {
		return fail(err)
	}
	fd, err := c.xattrTarget(byFD, follow)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	own, err := c.xattrAllowed(fd, name, true)
	if err != nil {
		return fail(err)
	}
	if !own {
		return errno(unix.EPERM)
	}
	host, err := hostXattrName(name)
	if err != nil {
		return fail(err)
	}
	return fail0(unix.Setxattr(selfFD(fd), host, val, flags))
}

func (c *Call) getxattr(byFD, follow bool) result {
	name, err := c.Str(1)
	if err != nil {
		return fail(err)
	}
	if name == "" || len(name) > 255 {
		return errno(unix.ERANGE)
	}
	fd, err := c.xattrTarget(byFD, follow)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	own, err := c.xattrAllowed(fd, name, false)
	if err != nil {
		return fail(err)
	}
	host, err := hostXattrName(name)
	if err != nil {
		return fail(err)
	}
	if !own {
		return errno(unix.ENODATA)
	}
	size := c.Arg(3)
	var buf []byte
	if size > 0 {
		buf = make([]byte, min(size, xattrSizeMax))
	}
	n, err := unix.Getxattr(selfFD(fd), host, buf)
	if err != nil {
		return fail(err)
	}
	if size > 0 {
		if err := c.Write(c.Arg(2), buf[:n]); err != nil {
			return fail(err)
		}
	}
	return ok(int64(n))
}

func (c *Call) listxattr(byFD, follow bool) result {
	fd, err := c.xattrTarget(byFD, follow)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	var out []byte
	if _, w := c.k.objPath(selfFD(fd)); w == inTree {
		buf := make([]byte, 4*xattrListMax)
		n, err := unix.Listxattr(selfFD(fd), buf)
		if err != nil && err != unix.EOPNOTSUPP {
			return fail(err)
		}
		root := c.fsCred().FSUID == 0
		for _, h := range strings.Split(string(buf[:max(n, 0)]), "\x00") {
			if g, ok := guestXattrName(h); ok && (root || !strings.HasPrefix(g, "trusted.")) {
				out = append(append(out, g...), 0)
			}
		}
	}
	size := c.Arg(2)
	if size == 0 {
		return ok(int64(len(out)))
	}
	if uint64(len(out)) > size {
		return errno(unix.ERANGE)
	}
	if err := c.Write(c.Arg(1), out); err != nil {
		return fail(err)
	}
	return ok(int64(len(out)))
}

func (c *Call) removexattr(byFD, follow bool) result {
	name, err := c.Str(1)
	if err != nil {
		return fail(err)
	}
	if name == "" || len(name) > 255 {
		return errno(unix.ERANGE)
	}
	fd, err := c.xattrTarget(byFD, follow)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	own, err := c.xattrAllowed(fd, name, true)
	if err != nil {
		return fail(err)
	}
	if !own {
		return errno(unix.EPERM)
	}
	host, err := hostXattrName(name)
	if err != nil {
		return fail(err)
	}
	return fail0(unix.Removexattr(selfFD(fd), host))
}

func sysSetxattr(c *Call) result     { return c.setxattr(false, true) }
func sysLsetxattr(c *Call) result    { return c.setxattr(false, false) }
func sysFsetxattr(c *Call) result    { return c.setxattr(true, true) }
func sysGetxattr(c *Call) result     { return c.getxattr(false, true) }
func sysLgetxattr(c *Call) result    { return c.getxattr(false, false) }
func sysFgetxattr(c *Call) result    { return c.getxattr(true, true) }
func sysListxattr(c *Call) result    { return c.listxattr(false, true) }
func sysLlistxattr(c *Call) result   { return c.listxattr(false, false) }
func sysFlistxattr(c *Call) result   { return c.listxattr(true, true) }
func sysRemovexattr(c *Call) result  { return c.removexattr(false, true) }
func sysLremovexattr(c *Call) result { return c.removexattr(false, false) }
func sysFremovexattr(c *Call) result { return c.removexattr(true, true) }
