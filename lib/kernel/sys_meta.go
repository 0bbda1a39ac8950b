package kernel

import (
	"encoding/binary"

	"github.com/gouml/gouml/lib/hostmeta"
	"golang.org/x/sys/unix"
)

// Changes of mode, owner, times and size: fd-based calls go through the same code as their
// path twins (TestFDTwinsMatchPathCalls).

// ---- metadata ----

func (c *Call) chmod(dirfd int32, pathArg int, mode uint32, flags int) result {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return errno(unix.EINVAL)
	}
	fd, err := c.pathFD(dirfd, pathArg, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.chmodFD(fd, mode)
}

// chmodFD is chmod of a file the kernel holds an fd of: fchmod and chmod alike.
func (c *Call) chmodFD(fd int, mode uint32) result {
	if st, ok := c.kernelDeviceStat(fd); ok {
		return c.devChmod(fd, st, mode)
	}
	if err := c.metaTarget(fd); err != nil {
		return fail(err)
	}
	if err := c.mayChangeMeta(fd); err != nil {
		return fail(err)
	}
	if mode&unix.S_ISGID != 0 && !c.privileged() {
		// Linux drops set-group-ID when the caller is not of the file's group (without
		// CAP_FSETID): the owner could otherwise make a program run as a group he is not in
		cr := c.fsCred()
		var st unix.Stat_t
		if c.k.guestAttr(fd, &st) == nil && st.Gid != cr.FSGID && !containsID(cr.Groups, st.Gid) {
			mode &^= unix.S_ISGID
		}
	}
	return setGuestMode(fd, mode&0o7777)
}

func sysFchmod(c *Call) result {
	fd, err := c.guestFileFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.chmodFD(fd, uint32(c.Arg(1)))
}

// metaTarget says whether the mode, owner or times of the file behind fd may be changed at
// all: only files of the guest's trees have guest metadata. The kernel's objects (a host
// device behind /dev/null, the memfd behind a /proc file, a pipe) are refused, so that no
// call can reach a host file's metadata through them. A read-only mount refuses too.
func (c *Call) metaTarget(fd int) error {
	if _, w := c.k.objPath(selfFD(fd)); w != inTree {
		return unix.EPERM
	}
	var sf unix.Statfs_t
	if err := unix.Fstatfs(fd, &sf); err == nil && sf.Flags&unix.ST_RDONLY != 0 {
		return unix.EROFS
	}
	return nil
}

// setGuestMode gives a file the guest permission bits perm: the host file gets them without
// the set-id and sticky bits, user.gouml.mode keeps all of them (and the placeholder type).
func setGuestMode(fd int, perm uint32) result {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errno(unix.EOPNOTSUPP)
	}
	g := st
	guestStat(fd, &g)
	var b [32]byte
	_, xerr := unix.Getxattr(selfFD(fd), hostmeta.Mode, b[:])
	if perm&0o7000 != 0 || xerr == nil || g.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT {
		if err := hostmeta.SetMode(selfFD(fd), g.Mode&unix.S_IFMT|perm); err != nil {
			return fail(err)
		}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, selfFD(fd), perm&0o777, 0); err != nil {
		return fail(err)
	}
	return ok(0)
}

// mayChangeMeta: root or the file's guest owner.
func (c *Call) mayChangeMeta(fd int) error {
	c.k.mu.Lock()
	fsuid := c.cred().FSUID
	c.k.mu.Unlock()
	if fsuid == 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if uid, _ := c.k.owner(fd, &st); uid != fsuid {
		return unix.EPERM
	}
	return nil
}

func sysChmod(c *Call) result     { return c.chmod(unix.AT_FDCWD, 0, uint32(c.Arg(1)), 0) }
func sysFchmodat(c *Call) result  { return c.chmod(c.Int(0), 1, uint32(c.Arg(2)), 0) }
func sysFchmodat2(c *Call) result { return c.chmod(c.Int(0), 1, uint32(c.Arg(2)), int(c.Arg(3))) }

func (c *Call) chown(fd int, uid, gid uint32) result {
	if st, ok := c.kernelDeviceStat(fd); ok {
		return c.devChown(fd, st, uid, gid)
	}
	if err := c.metaTarget(fd); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if c.k.onHostfs(fd) {
		// host files keep their host owner: as on the real kernel run by an ordinary
		// user, only a change to what they already have succeeds
		c.k.hostStat(&st)
		if uid != noChange && uid != st.Uid || gid != noChange && gid != st.Gid {
			return errno(unix.EPERM)
		}
		return ok(0)
	}
	ou, og := c.k.owner(fd, &st)
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	nu, ng := ou, og
	if uid != noChange {
		nu = uid
	}
	if gid != noChange {
		ng = gid
	}
	same := uid == noChange && gid == noChange // nothing to change: anyone may
	if !same && cr.FSUID != 0 && (nu != ou || ou != cr.FSUID || (ng != og && ng != cr.FSGID && !containsID(cr.Groups, ng))) {
		return errno(unix.EPERM)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// its directory keeps a link's owner (linkowner.go); a link has no set-id bits
		if nu != ou || ng != og {
			if err := c.k.setLinkOwner(fd, nu, ng); err != nil {
				return fail(err)
			}
		}
		return ok(0)
	}
	if nu != ou || ng != og {
		if err := setOwnerXattrs(fd, nu, ng); err != nil {
			return fail(err)
		}
	}
	// Like Linux, any chown of a non-directory (root's too, same owner or not) drops its
	// set-user-ID bit, and its set-group-ID bit when group execution makes it one.
	g := st
	guestStat(fd, &g)
	if drop := uint32(unix.S_ISUID); g.Mode&unix.S_IFMT != unix.S_IFDIR {
		if g.Mode&unix.S_IXGRP != 0 {
			drop |= unix.S_ISGID
		}
		if g.Mode&drop != 0 {
			return setGuestMode(fd, g.Mode&0o7777&^drop)
		}
	}
	return ok(0)
}

func (c *Call) chownPath(dirfd int32, pathArg int, uidArg, gidArg int, flags int) result {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return errno(unix.EINVAL)
	}
	fd, err := c.pathFD(dirfd, pathArg, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.chown(fd, uint32(c.Arg(uidArg)), uint32(c.Arg(gidArg)))
}

func sysChown(c *Call) result  { return c.chownPath(unix.AT_FDCWD, 0, 1, 2, 0) }
func sysLchown(c *Call) result { return c.chownPath(unix.AT_FDCWD, 0, 1, 2, unix.AT_SYMLINK_NOFOLLOW) }
func sysFchownat(c *Call) result {
	return c.chownPath(c.Int(0), 1, 2, 3, int(c.Arg(4)))
}

func sysFchown(c *Call) result {
	fd, err := c.guestFileFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	return c.chown(fd, uint32(c.Arg(1)), uint32(c.Arg(2)))
}

// utimes: times is nil (now) or two timespecs.
func (c *Call) utimes(fd int, ts []unix.Timespec) result {
	if err := c.metaTarget(fd); err != nil {
		return fail(err)
	}
	if ts[0].Nsec != unix.UTIME_NOW && ts[0].Nsec != unix.UTIME_OMIT || ts[1].Nsec != unix.UTIME_NOW && ts[1].Nsec != unix.UTIME_OMIT {
		// explicit times: the owner or root only, as on Linux
		if err := c.mayChangeMeta(fd); err != nil {
			return fail(err)
		}
	} else if ts[0].Nsec != unix.UTIME_OMIT || ts[1].Nsec != unix.UTIME_OMIT {
		// "now": the owner, root, or whoever may write the file
		if err := c.mayChangeMeta(fd); err != nil && !c.mayWrite(fd) {
			return errno(unix.EACCES)
		}
	}
	// on the fd itself: an O_PATH fd of a symlink names the link, not where it leads
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(err)
	}
	return ok(0)
}

func nowTimes() []unix.Timespec {
	return []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
}

func sysUtimensat(c *Call) result {
	flags := int(c.Arg(3))
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return errno(unix.EINVAL)
	}
	var fd int
	var err error
	if c.Arg(1) == 0 {
		fd, err = c.guestFileFD(c.Int(0)) // futimens
	} else {
		fd, err = c.pathFD(c.Int(0), 1, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	}
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	ts := nowTimes()
	if c.Arg(2) != 0 {
		var b [32]byte
		if err := c.Read(c.Arg(2), b[:]); err != nil {
			return fail(err)
		}
		ts = []unix.Timespec{
			{Sec: int64(binary.LittleEndian.Uint64(b[0:])), Nsec: int64(binary.LittleEndian.Uint64(b[8:]))},
			{Sec: int64(binary.LittleEndian.Uint64(b[16:])), Nsec: int64(binary.LittleEndian.Uint64(b[24:]))},
		}
	}
	return c.utimes(fd, ts)
}

func (c *Call) utimesTimeval(dirfd int32, pathArg int, tvArg int) result {
	fd, err := c.pathFD(dirfd, pathArg, true, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	ts := nowTimes()
	if c.Arg(tvArg) != 0 {
		var b [32]byte
		if err := c.Read(c.Arg(tvArg), b[:]); err != nil {
			return fail(err)
		}
		ts = []unix.Timespec{
			{Sec: int64(binary.LittleEndian.Uint64(b[0:])), Nsec: 1000 * int64(binary.LittleEndian.Uint64(b[8:]))},
			{Sec: int64(binary.LittleEndian.Uint64(b[16:])), Nsec: 1000 * int64(binary.LittleEndian.Uint64(b[24:]))},
		}
	}
	return c.utimes(fd, ts)
}

func sysUtimes(c *Call) result    { return c.utimesTimeval(unix.AT_FDCWD, 0, 1) }
func sysFutimesat(c *Call) result { return c.utimesTimeval(c.Int(0), 1, 2) }

func sysUtime(c *Call) result {
	fd, err := c.pathFD(unix.AT_FDCWD, 0, true, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	ts := nowTimes()
	if c.Arg(1) != 0 {
		var b [16]byte
		if err := c.Read(c.Arg(1), b[:]); err != nil {
			return fail(err)
		}
		ts = []unix.Timespec{{Sec: int64(binary.LittleEndian.Uint64(b[0:]))}, {Sec: int64(binary.LittleEndian.Uint64(b[8:]))}}
	}
	return c.utimes(fd, ts)
}

func sysTruncate(c *Call) result {
	if int64(c.Arg(1)) < 0 {
		return errno(unix.EINVAL)
	}
	fd, err := c.pathFD(unix.AT_FDCWD, 0, true, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	// What it is first: opening a FIFO for writing would block, a directory cannot be, and
	// the kernel's own files (/dev, /proc) are no files of the guest's.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return errno(unix.EISDIR)
	default:
		return errno(unix.EINVAL)
	}
	if _, w := c.k.objPath(selfFD(fd)); w != inTree {
		return errno(unix.EACCES)
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if !c.mayWrite(fd) {
		return errno(unix.EACCES) // the guest's modes: w, as Linux's vfs_truncate asks
	}
	wfd, err := unix.Open(selfFD(fd), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(wfd)
	if err := unix.Ftruncate(wfd, int64(c.Arg(1))); err != nil {
		return fail(err)
	}
	return ok(0)
}
