package kernel

import (
	"strconv"
	"unsafe"

	"github.com/gouml/gouml/lib/hostmeta"
	"golang.org/x/sys/unix"
)

// stat, statx, statfs and access: the guest's view of a file's metadata (sys_file.go has
// the scheme).

// ---- stat ----

// pathFD opens an O_PATH fd for dirfd+path (AT_EMPTY_PATH with "" = dirfd itself).
func (c *Call) pathFD(dirfd int32, pathArg int, follow bool, emptyOK bool) (int, error) {
	p, err := c.Str(pathArg)
	if err != nil {
		return -1, err
	}
	if p == "" && emptyOK {
		if dirfd == unix.AT_FDCWD {
			return c.root().Open(c.k.cwd(c.root(), c.Tid), unix.O_PATH, 0)
		}
		return c.guestFD(dirfd)
	}
	if (p == "." || p == "./") && dirfd == unix.AT_FDCWD && c.cwdRemoved() {
		// the removed directory itself, which no name leads to any more
		return unix.Open("/proc/"+strconv.Itoa(c.Tid)+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	abs, err := c.abs1(dirfd, p)
	if err != nil {
		return -1, err
	}
	if c.privileged() {
		if fd, err, ok := c.openPlain(abs, follow); ok {
			return fd, err
		}
	}
	if abs, err = c.absCanon(abs, follow); err != nil {
		return -1, err
	}
	if fs, rest := c.k.special(abs); fs != "" {
		return c.k.openSpecial(c, fs, rest, unix.O_PATH|nofollowSpecial(abs, follow)|slashDir(abs))
	}
	// route once: the file system's Root resolves the rest (c.fs is writable()'s)
	return c.openPathAs(abs, follow)
}

// guestFileFD is guestFD for the calls Linux refuses on an O_PATH descriptor (fchmod,
// fchown, futimens): EBADF, as there.
func (c *Call) guestFileFD(fd int32) (int, error) {
	if fl, err := fdFlags(c.Tid, strconv.Itoa(int(fd))); err != nil {
		return -1, unix.EBADF
	} else if fl&unix.O_PATH != 0 {
		return -1, unix.EBADF
	}
	return c.guestFD(fd)
}

// guestFD gives the kernel its own O_PATH handle on one of the caller's fds.
func (c *Call) guestFD(fd int32) (int, error) {
	h, err := unix.Open("/proc/"+strconv.Itoa(c.Tid)+"/fd/"+strconv.Itoa(int(fd)), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return -1, unix.EBADF
		}
		return -1, err
	}
	return h, nil
}

// owner returns the guest owner of a file of the trees given an O_PATH fd and its host
// stat.
func (k *Kernel) owner(fd int, st *unix.Stat_t) (uint32, uint32) {
	g := *st
	guestStat(fd, &g)
	if g.Mode&unix.S_IFMT == unix.S_IFLNK {
		k.linkOwner(fd, &g)
	}
	return g.Uid, g.Gid
}

// setOwnerXattrs records the guest owner of a file the kernel holds an fd of.
func setOwnerXattrs(fd int, uid, gid uint32) error { return hostmeta.SetOwner(selfFD(fd), uid, gid) }

// guestView turns the host stat st of fd, an object the kernel holds, into what the guest's
// stat shows: the guest owner and mode of a file of its trees (or a hostfs file's host
// owner), a ubd device's node, a kernel device's node as devtmpfs has it with what the guest
// set on it, the guest's device numbers. Permission checks on kernel objects use the same
// view, so a check and a stat never disagree.
func (k *Kernel) guestView(fd int, st *unix.Stat_t) {
	if k.onHostfs(fd) {
		k.hostStat(st)
	} else {
		guestStat(fd, st)
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			k.linkOwner(fd, st)
		}
	}
	k.blockStat(st)
	k.kernelStat(fd, st)
	k.guestDev(st)
}

func (c *Call) writeStat(fd int, addr uint64) result {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	c.k.guestView(fd, &st)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))
	if err := c.Write(addr, b); err != nil {
		return fail(err)
	}
	return ok(0)
}

func (c *Call) stat(dirfd int32, pathArg int, follow, emptyOK bool, out uint64) result {
	fd, err := c.pathFD(dirfd, pathArg, follow, emptyOK)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.writeStat(fd, out)
}

func sysStat(c *Call) result  { return c.stat(unix.AT_FDCWD, 0, true, false, c.Arg(1)) }
func sysLstat(c *Call) result { return c.stat(unix.AT_FDCWD, 0, false, false, c.Arg(1)) }

func sysFstat(c *Call) result {
	fd, err := c.guestFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.writeStat(fd, c.Arg(1))
}

func sysNewfstatat(c *Call) result {
	fl := c.Arg(3)
	if fl&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return errno(unix.EINVAL)
	}
	return c.stat(c.Int(0), 1, fl&unix.AT_SYMLINK_NOFOLLOW == 0, fl&unix.AT_EMPTY_PATH != 0, c.Arg(2))
}

func sysStatx(c *Call) result {
	fl := int(c.Arg(2))
	if fl&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		fl&atStatxSyncType == atStatxSyncType || uint32(c.Arg(3))&unix.STATX__RESERVED != 0 {
		return errno(unix.EINVAL)
	}
	fd, err := c.pathFD(c.Int(0), 1, fl&unix.AT_SYMLINK_NOFOLLOW == 0, fl&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|(fl&0x6000), int(c.Arg(3)), &stx); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	st.Uid, st.Gid, st.Mode, st.Size = stx.Uid, stx.Gid, uint32(stx.Mode), int64(stx.Size)
	st.Rdev = unix.Mkdev(stx.Rdev_major, stx.Rdev_minor)
	st.Dev, st.Ino = unix.Mkdev(stx.Dev_major, stx.Dev_minor), stx.Ino
	st.Nlink, st.Blocks = uint64(stx.Nlink), int64(stx.Blocks)
	c.k.guestView(fd, &st)
	stx.Dev_major, stx.Dev_minor = unix.Major(st.Dev), unix.Minor(st.Dev)
	stx.Size, stx.Blocks, stx.Nlink = uint64(st.Size), uint64(st.Blocks), uint32(st.Nlink)
	stx.Uid, stx.Gid, stx.Mode = st.Uid, st.Gid, uint16(st.Mode)
	stx.Rdev_major, stx.Rdev_minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&stx)), unsafe.Sizeof(stx))
	if err := c.Write(c.Arg(4), b); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysStatfs(c *Call) result {
	fd, err := c.pathFD(unix.AT_FDCWD, 0, true, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.writeStatfs(fd, c.Arg(1))
}

// sysFstatfs is trapped like its path twin: the host's answer for the fd would be the host
// file system's (the directory an image is unpacked in, the memfd of a /proc file) with the
// host mount's nodev and nosuid, where the guest's mount decides (mountflags.go).
func sysFstatfs(c *Call) result {
	fd, err := c.guestFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.writeStatfs(fd, c.Arg(1))
}

func (c *Call) writeStatfs(fd int, addr uint64) result {
	var sf unix.Statfs_t
	if err := c.k.statfsOf(fd, &sf); err != nil {
		return fail(err)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sf)), unsafe.Sizeof(sf))
	if err := c.Write(addr, b); err != nil {
		return fail(err)
	}
	return ok(0)
}

// ---- access ----

func (c *Call) access(dirfd int32, pathArg int, mode uint32, flags int) result {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return errno(unix.EINVAL)
	}
	if flags&unix.AT_EACCESS == 0 {
		// the path is searched with the real ids too, as Linux's access does
		c.k.mu.Lock()
		c.as = c.cred().clone()
		c.k.mu.Unlock()
		c.as.FSUID, c.as.FSGID = c.as.UID, c.as.GID
	}
	fd, err := c.pathFD(dirfd, pathArg, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	if mode == unix.F_OK {
		return ok(0)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if mode&unix.X_OK != 0 && st.Mode&unix.S_IFMT == unix.S_IFREG && c.k.fdMountFlags(fd)&unix.MS_NOEXEC != 0 {
		return errno(unix.EACCES) // before the permission bits, as Linux's do_faccessat
	}
	if t := st.Mode & unix.S_IFMT; mode&unix.W_OK != 0 && t != unix.S_IFCHR && t != unix.S_IFBLK && t != unix.S_IFIFO && t != unix.S_IFSOCK {
		if err := c.writable(); err != nil {
			return fail(err)
		}
		var sf unix.Statfs_t
		if unix.Fstatfs(fd, &sf) == nil && sf.Flags&unix.ST_RDONLY != 0 {
			return errno(unix.EROFS)
		}
	}
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	if flags&unix.AT_EACCESS == 0 {
		cr.FSUID, cr.FSGID = cr.UID, cr.GID
	}
	guestStat(fd, &st)
	uid, gid := st.Uid, st.Gid
	if cr.FSUID == 0 {
		// root: everything but executing a file nobody may execute
		if mode&unix.X_OK != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Mode&0o111 == 0 {
			return errno(unix.EACCES)
		}
		return ok(0)
	}
	perm := st.Mode & 0o7
	if uid == cr.FSUID {
		perm = (st.Mode >> 6) & 0o7
	} else if gid == cr.FSGID || containsID(cr.Groups, gid) {
		perm = (st.Mode >> 3) & 0o7
	}
	if uint32(mode)&^perm&0o7 != 0 {
		return errno(unix.EACCES)
	}
	return ok(0)
}

// mayWrite: the caller's guest credentials allow writing the file behind fd by its mode.
func (c *Call) mayWrite(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	guestStat(fd, &st)
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	if cr.FSUID == 0 {
		return true
	}
	perm := st.Mode & 0o7
	if st.Uid == cr.FSUID {
		perm = (st.Mode >> 6) & 0o7
	} else if st.Gid == cr.FSGID || containsID(cr.Groups, st.Gid) {
		perm = (st.Mode >> 3) & 0o7
	}
	return perm&0o2 != 0
}

func containsID(ids []uint32, id uint32) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

func sysAccess(c *Call) result     { return c.access(unix.AT_FDCWD, 0, uint32(c.Arg(1)), 0) }
func sysFaccessat(c *Call) result  { return c.access(c.Int(0), 1, uint32(c.Arg(2)), 0) }
func sysFaccessat2(c *Call) result { return c.access(c.Int(0), 1, uint32(c.Arg(2)), int(c.Arg(3))) }
