package kernel

import (
	"strings"

	"github.com/gouml/gouml/lib/hostmeta"
	"golang.org/x/sys/unix"
)

// Calls on names: the parent directory is resolved (Call.parent) and the call is made on one
// component, which cannot leave it.

// ---- names ----

// parent resolves dirfd+path to (parent dir fd, last component).
func (c *Call) parent(dirfd int32, pathArg int) (int, string, error) {
	p, err := c.Str(pathArg)
	if err != nil {
		return -1, "", err
	}
	abs, err := c.abs1(dirfd, p)
	if err != nil {
		return -1, "", err
	}
	if pfd, name, err, ok := c.parentPlain(abs); ok {
		return pfd, name, err
	}
	if abs, err = c.absCanon(abs, false); err != nil {
		return -1, "", err
	}
	trimmed := strings.TrimRight(abs, "/")
	c.slash = trimmed != "" && len(trimmed) < len(abs)
	c.last = trimmed[strings.LastIndexByte(trimmed, '/')+1:]
	if fs, rest := c.k.special(abs); c.k.served(fs, rest) {
		return -1, "", c.k.specialNameErr(c, fs, rest, abs)
	}
	return c.parentAs(abs)
}

// writable: the file system of the path resolved last is mounted read-write.
func (c *Call) writable() error {
	r := c.fs
	if r == nil {
		r = c.root()
	}
	if r.ReadOnly() {
		return unix.EROFS
	}
	return nil
}

func (c *Call) readlink(dirfd int32, pathArg int, buf uint64, size int64) result {
	p, err := c.Str(pathArg)
	if err != nil {
		return fail(err)
	}
	if size <= 0 {
		return errno(unix.EINVAL)
	}
	if p == "" {
		// readlinkat(fd, ""): the link the fd is (an O_PATH fd of it)
		if dirfd == unix.AT_FDCWD {
			return errno(unix.ENOENT)
		}
		h, err := c.guestFD(dirfd)
		if err != nil {
			return fail(err)
		}
		b := make([]byte, 4096)
		n, err := unix.Readlinkat(h, "", b)
		unix.Close(h)
		if err != nil {
			return fail(err)
		}
		return c.readlinkResult(buf, size, string(b[:n]))
	}
	abs, err := c.abs1(dirfd, p)
	if err != nil {
		return fail(err)
	}
	if pfd, name, err, ok := c.parentPlain(abs); ok {
		if err != nil {
			return fail(err)
		}
		b := make([]byte, 4096)
		n, err := unix.Readlinkat(pfd, name, b)
		unix.Close(pfd)
		if err != nil {
			return fail(err)
		}
		return c.readlinkResult(buf, size, string(b[:n]))
	}
	if abs, err = c.absCanon(abs, false); err != nil {
		return fail(err)
	}
	if strings.HasSuffix(abs, "/") && strings.Trim(abs, "/") != "" {
		// "link/" is what the link leads to, which is no link: EINVAL for a
		// directory, ENOTDIR for anything else
		fd, err := c.pathFD(dirfd, pathArg, true, false)
		if err != nil {
			return fail(err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return errno(unix.EINVAL)
		}
		return errno(unix.ENOTDIR)
	}
	var target string
	if fs, rest := c.k.special(abs); fs != "" {
		target, err = c.k.readlinkSpecial(c, fs, rest)
		if err == unix.ENOENT {
			// a file of the kernel's that is there but no link (/proc/sys/…): EINVAL, as
			// Linux says; realpath(3) and so procps's sysctl rely on it
			if fd, oerr := c.k.openSpecial(c, fs, rest, unix.O_PATH|nofollowSpecial(abs, false)); oerr == nil {
				var st unix.Stat_t
				if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK {
					err = unix.EINVAL
				}
				unix.Close(fd)
			}
		}
	} else {
		var pfd int
		var name string
		pfd, name, err = c.parentAs(abs)
		if err == nil {
			b := make([]byte, 4096)
			var n int
			n, err = unix.Readlinkat(pfd, name, b)
			unix.Close(pfd)
			target = string(b[:max(n, 0)])
		}
	}
	if err != nil {
		return fail(err)
	}
	return c.readlinkResult(buf, size, target)
}

func (c *Call) readlinkResult(buf uint64, size int64, target string) result {
	if int64(len(target)) > size {
		target = target[:size]
	}
	if err := c.Write(buf, []byte(target)); err != nil {
		return fail(err)
	}
	return ok(int64(len(target)))
}

func sysReadlink(c *Call) result {
	return c.readlink(unix.AT_FDCWD, 0, c.Arg(1), int64(c.Arg(2)))
}
func sysReadlinkat(c *Call) result { return c.readlink(c.Int(0), 1, c.Arg(2), int64(c.Arg(3))) }

func (c *Call) mkdir(dirfd int32, pathArg int, mode uint32) result {
	pfd, name, err := c.parent(dirfd, pathArg)
	if err != nil {
		if err == unix.EBUSY || err == unix.EINVAL {
			return errno(unix.EEXIST)
		}
		return fail(err)
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return errno(unix.EEXIST) // before EROFS, as Linux
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := c.mayCreate(pfd); err != nil {
		return fail(err)
	}
	if err := unix.Mkdirat(pfd, name, mode&0o7777&^procUmask(c.Tid)); err != nil {
		return fail(err)
	}
	if fd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
		c.setCreatorOwner(fd, pfd)
		unix.Close(fd)
	}
	return ok(0)
}

func sysMkdir(c *Call) result   { return c.mkdir(unix.AT_FDCWD, 0, uint32(c.Arg(1))) }
func sysMkdirat(c *Call) result { return c.mkdir(c.Int(0), 1, uint32(c.Arg(2))) }

func (c *Call) unlink(dirfd int32, pathArg int, flags int) result {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return errno(unix.EINVAL)
	}
	pfd, name, err := c.parent(dirfd, pathArg)
	if err == errMqueueUnlink {
		if _, err := c.k.procHelper.call(mqUnlink, c.last, -1); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	if err == unix.EINVAL && (c.last == "." || c.last == "..") {
		switch {
		case flags == 0:
			return errno(unix.EISDIR)
		case c.last == "..":
			return errno(unix.ENOTEMPTY) // as Linux says it
		}
	}
	if err != nil {
		return fail(err)
	}
	defer unix.Close(pfd)
	if c.slash {
		// "name/" must be a directory itself, not a link to one
		if err := mustBeDir(pfd, name); err != nil {
			return fail(err)
		}
		if flags == 0 {
			return errno(unix.EISDIR)
		}
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := c.mayDelete(pfd, name); err != nil {
		return fail(err)
	}
	if err := c.k.unlinkAt(pfd, name, flags); err != nil {
		return fail(err)
	}
	return ok(0)
}

// mustBeDir checks a name followed by a slash: ENOENT if it does not exist, ENOTDIR if it is
// not a directory itself (a symlink to one is not).
func mustBeDir(pfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

// newName checks the name a call is to create when a slash followed it: Linux then creates
// nothing but a directory (EEXIST if the name exists, ENOENT if not).
func (c *Call) newName(pfd int, name string) error {
	if !c.slash {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return unix.EEXIST
	}
	return unix.ENOENT
}

func sysUnlink(c *Call) result   { return c.unlink(unix.AT_FDCWD, 0, 0) }
func sysRmdir(c *Call) result    { return c.unlink(unix.AT_FDCWD, 0, unix.AT_REMOVEDIR) }
func sysUnlinkat(c *Call) result { return c.unlink(c.Int(0), 1, int(c.Arg(2))) }

func (c *Call) rename(olddir int32, oldArg int, newdir int32, newArg int, flags uint) result {
	dots := func(err error) error {
		if err == unix.EINVAL && (c.last == "." || c.last == "..") {
			return unix.EBUSY // as Linux says it
		}
		return err
	}
	ofd, oname, err := c.parent(olddir, oldArg)
	if err != nil {
		return fail(dots(err))
	}
	defer unix.Close(ofd)
	ofs, oslash := c.fs, c.slash
	nfd, nname, err := c.parent(newdir, newArg)
	if err != nil {
		return fail(dots(err))
	}
	defer unix.Close(nfd)
	if oslash || c.slash {
		// with a slash after either name, only a directory moves
		if err := mustBeDir(ofd, oname); err != nil {
			return fail(err)
		}
	}
	if c.fs != ofs {
		return errno(unix.EXDEV)
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := c.mayRename(ofd, oname, nfd, nname, flags); err != nil {
		return fail(err)
	}
	if err := c.k.renameAt(ofd, oname, nfd, nname, flags); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysRename(c *Call) result   { return c.rename(unix.AT_FDCWD, 0, unix.AT_FDCWD, 1, 0) }
func sysRenameat(c *Call) result { return c.rename(c.Int(0), 1, c.Int(2), 3, 0) }
func sysRenameat2(c *Call) result {
	return c.rename(c.Int(0), 1, c.Int(2), 3, uint(c.Arg(4)))
}

// newEntry resolves where a call makes a new name (link, symlink): the parent directory and
// the name, refusing "." and "..", a name followed by a slash and a read-only file system,
// in Linux's order.
func (c *Call) newEntry(dirfd int32, arg int) (int, string, error) {
	pfd, name, err := c.parent(dirfd, arg)
	if err == unix.EINVAL && (c.last == "." || c.last == "..") {
		return -1, "", unix.EEXIST
	}
	if err != nil {
		return -1, "", err
	}
	if err := c.newName(pfd, name); err != nil {
		unix.Close(pfd)
		return -1, "", err
	}
	if err := c.writable(); err != nil {
		unix.Close(pfd)
		return -1, "", err
	}
	return pfd, name, nil
}

func (c *Call) link(olddir int32, oldArg int, newdir int32, newArg int, flags int) result {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return errno(unix.EINVAL)
	}
	if err := c.linkSourceFirst(olddir, oldArg, flags); err != nil {
		return fail(err)
	}
	nfd, nname, err := c.newEntry(newdir, newArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(nfd)
	nfs := c.fs
	if flags&unix.AT_SYMLINK_FOLLOW != 0 || flags&unix.AT_EMPTY_PATH != 0 {
		src, err := c.pathFD(olddir, oldArg, true, flags&unix.AT_EMPTY_PATH != 0)
		if err != nil {
			return fail(err)
		}
		defer unix.Close(src)
		if flags&unix.AT_EMPTY_PATH == 0 && c.fs != nfs {
			return errno(unix.EXDEV)
		}
		// Only a file of the guest's trees gets another name there: never a file the
		// kernel handed in (a ubd image, the memfd of a /proc file), whose inode is a host
		// file's that the name would then expose to chmod and unlink.
		if _, w := c.k.objPath(selfFD(src)); w != inTree {
			return errno(unix.EXDEV)
		}
		// protected_hardlinks before the directory's permission, as Linux's linkat
		if err := c.mayLink(src); err != nil {
			return fail(err)
		}
		if err := c.mayCreate(nfd); err != nil {
			return fail(err)
		}
		if err := c.k.linkAt(src, nfd, nname, func() error {
			return unix.Linkat(unix.AT_FDCWD, selfFD(src), nfd, nname, unix.AT_SYMLINK_FOLLOW)
		}); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	ofd, oname, err := c.parent(olddir, oldArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(ofd)
	if c.slash {
		if err := mustBeDir(ofd, oname); err != nil {
			return fail(err)
		}
		return errno(unix.EPERM) // a directory gets no hard link
	}
	// the source is looked up first (ENOENT before EXDEV and EACCES), and
	// protected_hardlinks is judged before the directory's permission, as Linux's linkat
	src, err := unix.Openat(ofd, oname, walkOpen, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(src)
	if c.fs != nfs {
		return errno(unix.EXDEV)
	}
	if err := c.mayLink(src); err != nil {
		return fail(err)
	}
	if err := c.mayCreate(nfd); err != nil {
		return fail(err)
	}
	if err := c.k.linkAt(src, nfd, nname, func() error { return unix.Linkat(ofd, oname, nfd, nname, 0) }); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysLink(c *Call) result   { return c.link(unix.AT_FDCWD, 0, unix.AT_FDCWD, 1, 0) }
func sysLinkat(c *Call) result { return c.link(c.Int(0), 1, c.Int(2), 3, int(c.Arg(4))) }

func (c *Call) symlink(targetArg int, newdir int32, newArg int) result {
	target, err := c.Str(targetArg)
	if err != nil {
		return fail(err)
	}
	if target == "" {
		return errno(unix.ENOENT)
	}
	nfd, nname, err := c.newEntry(newdir, newArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(nfd)
	if err := c.mayCreate(nfd); err != nil {
		return fail(err)
	}
	// An image's file system holds a link target of less than one block (as Linux's
	// ext2/3/4): refused now, not found out when the tree is written back.
	if efs, _ := c.k.ext4Of(c.fs); efs != nil {
		if st, err := efs.Statfs(); err == nil && int64(len(target)) >= st.Bsize {
			return errno(unix.ENAMETOOLONG)
		}
	}
	// The target is stored as the guest wrote it; it is only ever followed by RESOLVE_IN_ROOT.
	// The directory keeps the creator as the link's owner (linkowner.go); a hostfs link
	// shows its host owner, and the host's directory gets nothing.
	if c.k.onHostfs(nfd) {
		if err := unix.Symlinkat(target, nfd, nname); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	uid, gid, _ := c.creatorOwner(nfd)
	if err := c.k.symlinkAt(target, nfd, nname, uid, gid); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysSymlink(c *Call) result   { return c.symlink(0, unix.AT_FDCWD, 1) }
func sysSymlinkat(c *Call) result { return c.symlink(0, c.Int(1), 2) }

func (c *Call) mknod(dirfd int32, pathArg int, mode uint32, dev uint64) result {
	pfd, name, err := c.parent(dirfd, pathArg)
	if err == unix.EINVAL && (c.last == "." || c.last == "..") {
		return errno(unix.EEXIST)
	}
	if err != nil {
		return fail(err)
	}
	defer unix.Close(pfd)
	if err := c.newName(pfd, name); err != nil {
		return fail(err)
	}
	if mode&unix.S_IFMT == unix.S_IFDIR {
		return errno(unix.EPERM) // as Linux: mkdir makes directories
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := c.mayCreate(pfd); err != nil {
		return fail(err)
	}
	perm := mode & 0o7777 &^ procUmask(c.Tid)
	switch mode & unix.S_IFMT {
	case 0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		c.k.mu.Lock()
		root := c.cred().EUID == 0
		c.k.mu.Unlock()
		if !root {
			return errno(unix.EPERM)
		}
		// an empty placeholder file carrying the device number
		fd, err := unix.Openat(pfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, perm&0o777)
		if err != nil {
			return fail(err)
		}
		defer unix.Close(fd)
		if err := hostmeta.SetMode(selfFD(fd), mode&unix.S_IFMT|perm); err != nil {
			unix.Unlinkat(pfd, name, 0)
			return fail(err)
		}
		if err := hostmeta.SetRdev(selfFD(fd), dev); err != nil {
			unix.Unlinkat(pfd, name, 0)
			return fail(err)
		}
		c.setCreatorOwner(fd, pfd)
		return ok(0)
	default:
		return errno(unix.EINVAL)
	}
	if err := unix.Mknodat(pfd, name, mode&unix.S_IFMT|perm&0o777, int(dev)); err != nil {
		return fail(err)
	}
	// set-id and sticky bits live in the guest's metadata only (Root.Open)
	fd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	if perm&0o7000 != 0 {
		if r := setGuestMode(fd, perm); r.errno != 0 {
			return r
		}
	}
	c.setCreatorOwner(fd, pfd)
	return ok(0)
}

func sysMknod(c *Call) result   { return c.mknod(unix.AT_FDCWD, 0, uint32(c.Arg(1)), c.Arg(2)) }
func sysMknodat(c *Call) result { return c.mknod(c.Int(0), 1, uint32(c.Arg(2)), c.Arg(3)) }
