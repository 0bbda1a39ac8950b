package kernel

import (
	"encoding/binary"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/ubd"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// File system calls on the directory root. See Root (vfs.go) for how paths are resolved.
//
// What the host user cannot give a host file — another owner, set-id bits, being a device
// node — is stored beside it in extended attributes, in the scheme of lib/hostmeta (the one
// mkrootfs's directory output uses), so a root built by mkrootfs boots with its owners and
// modes, and what the guest changes survives reboots. Set-id bits never go on the host file
// (a setuid file of the host user would hand the user's identity to anyone who runs it):
// they live in user.gouml.mode.

// guestStat turns the host's stat of an fd the kernel holds into the guest's.
func guestStat(fd int, st *unix.Stat_t) { hostmeta.Apply(selfFD(fd), st, hostUID, hostGID) }

// deviceOf returns the mode type and number of a device file of the tree: a placeholder, or
// a real device node (which the tree's nodev mount makes unusable as such) (0 if it is none).
func deviceOf(fd int, st *unix.Stat_t) (uint32, uint64) {
	if t := st.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		return t, st.Rdev
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 {
		return 0, 0
	}
	g := *st
	guestStat(fd, &g)
	if t := g.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		return t, g.Rdev
	}
	return 0, 0
}

// kernelDeviceName maps a device number to the kernel's /dev name for it.
func kernelDeviceName(typ uint32, dev uint64) string {
	if typ == unix.S_IFBLK && unix.Major(dev) == ubd.Major {
		n := unix.Minor(dev)
		if n >= 16*cmdline.MaxUBD {
			return ""
		}
		name := ubd.DiskName(int(n / 16))
		if n%16 != 0 {
			name += strconv.Itoa(int(n % 16))
		}
		return name
	}
	if typ != unix.S_IFCHR {
		return ""
	}
	switch [2]uint32{unix.Major(dev), unix.Minor(dev)} {
	case [2]uint32{1, 3}:
		return "null"
	case [2]uint32{1, 5}:
		return "zero"
	case [2]uint32{1, 7}:
		return "full"
	case [2]uint32{1, 8}:
		return "random"
	case [2]uint32{1, 9}:
		return "urandom"
	case [2]uint32{5, 0}:
		return "tty"
	case [2]uint32{5, 1}:
		return "console"
	case [2]uint32{4, 0}:
		return "tty0"
	}
	return ""
}

var hostUID, hostGID = uint32(os.Geteuid()), uint32(os.Getegid())

// selfFD is the kernel's magic-link name for one of its own fds (a path the kernel chose).
func selfFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// ---- open ----

func sysOpen(c *Call) result {
	return c.open(unix.AT_FDCWD, 0, int(c.Arg(1)), uint32(c.Arg(2)))
}

func sysOpenat(c *Call) result {
	return c.open(c.Int(0), 1, int(c.Arg(2)), uint32(c.Arg(3)))
}

func sysCreat(c *Call) result {
	return c.open(unix.AT_FDCWD, 0, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(c.Arg(1)))
}

func sysOpenat2(c *Call) result {
	size := c.Arg(3)
	if size < 24 {
		return errno(unix.EINVAL)
	}
	var how [24]byte
	if err := c.Read(c.Arg(2), how[:]); err != nil {
		return fail(err)
	}
	flags := binary.LittleEndian.Uint64(how[0:])
	mode := binary.LittleEndian.Uint64(how[8:])
	resolve := binary.LittleEndian.Uint64(how[16:])
	if resolve&^uint64(unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS|unix.RESOLVE_NO_XDEV|unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		return errno(unix.EINVAL)
	}
	// The guest's own RESOLVE_BENEATH/IN_ROOT scoping is not modelled yet: resolution is
	// still confined to the guest root.
	return c.open(c.Int(0), 1, int(flags), uint32(mode))
}

func (c *Call) open(dirfd int32, pathArg int, flags int, mode uint32) result {
	p, err := c.Str(pathArg)
	if err != nil {
		return fail(err)
	}
	// O_CREAT|O_EXCL never follows a final symlink (EEXIST), O_NOFOLLOW refuses one (ELOOP)
	follow := flags&unix.O_NOFOLLOW == 0 && flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL
	abs, err := c.absOf(dirfd, p, follow)
	if err != nil {
		return fail(err)
	}
	cloexec := flags&unix.O_CLOEXEC != 0
	// The kernel's files; the rest of /dev is the root's own directory, opened like any
	// (a FIFO there must not block the dispatcher either).
	if fs, rest := special(abs); fs == "/proc" || fs == "/dev" && c.k.kernelDevice(rest) {
		fd, err := c.k.openSpecial(c, fs, rest, flags)
		if err != nil {
			return fail(err)
		}
		return newFD(fd, cloexec)
	}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		mode &^= procUmask(c.Tid)
	}
	// Open non-blocking first: a FIFO would block the notification loop. Anything that can
	// block on open is then reopened on its own goroutine.
	created := false
	var fd int
	if flags&unix.O_CREAT != 0 && flags&unix.O_EXCL == 0 && (c.nonRootCreator() || mode&0o7000 != 0) {
		// only a file this call creates gets the creator as owner and the set-id bits
		// asked for: find out which it is
		fd, err = c.root().Open(abs, flags|unix.O_EXCL|unix.O_NONBLOCK, mode)
		if err == nil {
			created = true
		} else if err == unix.EEXIST {
			fd, err = c.root().Open(abs, flags&^unix.O_CREAT|unix.O_NONBLOCK, mode)
		}
	} else {
		fd, err = c.root().Open(abs, flags|unix.O_NONBLOCK, mode)
		created = flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
	}
	if err == unix.EACCES || err == unix.EROFS {
		// A device: a node copied into a directory root (the tree is mounted nodev), or a
		// placeholder opened for writing on a read-only file system. Linux opens devices
		// whatever the file system's mode; the kernel gives its own device of that number.
		if pfd, perr := c.root().Open(abs, unix.O_PATH, 0); perr == nil {
			var st unix.Stat_t
			unix.Fstat(pfd, &st)
			typ, dev := deviceOf(pfd, &st)
			unix.Close(pfd)
			if typ != 0 && flags&unix.O_PATH == 0 {
				return c.openDevice(typ, dev, flags, cloexec)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	if flags&unix.O_PATH == 0 {
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if typ, dev := deviceOf(fd, &st); typ != 0 {
			unix.Close(fd)
			return c.openDevice(typ, dev, flags, cloexec)
		}
	}
	if created && mode&0o7000 != 0 {
		// the guest's set-id and sticky bits: in its metadata, never on the host file
		if r := setGuestMode(fd, mode&0o7777); r.errno != 0 {
			unix.Close(fd)
			return r
		}
	}
	if flags&unix.O_NONBLOCK == 0 && flags&unix.O_PATH == 0 {
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if st.Mode&unix.S_IFMT == unix.S_IFIFO {
			// reopened through the fd, never by the name, which a guest could change
			obj := fd
			return result{fd: -1, async: func() result {
				defer unix.Close(obj)
				type opened struct {
					fd  int
					err error
				}
				ch := make(chan opened, 1)
				go func() {
					fd, err := unix.Open(selfFD(obj), flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_NONBLOCK)|unix.O_CLOEXEC, 0)
					ch <- opened{fd, err}
				}()
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case o := <-ch:
						if o.err != nil {
							return fail(o.err)
						}
						return newFD(o.fd, cloexec)
					case <-tick.C:
					}
					if !signalPending(c.Tid) && !c.k.dying.Load() {
						continue
					}
					// A FIFO open waiting for its peer is interrupted like Linux's: the
					// kernel becomes the peer for a moment to release the waiting open,
					// whose fd it then drops.
					if peer, err := unix.Open(selfFD(obj), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
						o := <-ch
						unix.Close(peer)
						if o.err == nil {
							unix.Close(o.fd)
						}
					}
					return errno(errRestart)
				}
			}}
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
	}
	if created {
		c.setCreatorOwner(fd)
	}
	return newFD(fd, cloexec)
}

// openDevice opens the kernel's device of a type and number for a device file of the tree.
func (c *Call) openDevice(typ uint32, dev uint64, flags int, cloexec bool) result {
	name := kernelDeviceName(typ, dev)
	if name == "" {
		return errno(unix.ENXIO) // no such device in this kernel
	}
	dfd, err := c.k.openSpecial(c, "/dev", name, flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC))
	if err != nil {
		return fail(err)
	}
	return newFD(dfd, cloexec)
}

func (k *Kernel) exists(r *Root, abs string) bool {
	fd, err := r.OpenPath(abs, true)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// nonRootCreator reports whether files the caller creates need an owner record.
func (c *Call) nonRootCreator() bool {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	cr := c.cred()
	return cr.FSUID != 0 || cr.FSGID != 0
}

// setCreatorOwner records a non-root creator as the owner of a file the kernel created.
func (c *Call) setCreatorOwner(fd int) {
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	if cr.FSUID == 0 && cr.FSGID == 0 {
		return
	}
	setOwnerXattrs(fd, cr.FSUID, cr.FSGID)
}

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
	abs, err := c.absOf(dirfd, p, follow)
	if err != nil {
		return -1, err
	}
	if fs, rest := special(abs); fs != "" {
		return c.k.openSpecial(c, fs, rest, unix.O_PATH|nofollowSpecial(abs, follow))
	}
	// route once: the file system's Root resolves the rest (c.fs is writable()'s)
	var rest string
	c.fs, rest = c.root().route(abs)
	return c.fs.OpenPath(rest, follow)
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

// owner returns the guest owner of a file given an O_PATH fd and its host stat.
func owner(fd int, st *unix.Stat_t) (uint32, uint32) {
	g := *st
	guestStat(fd, &g)
	return g.Uid, g.Gid
}

// setOwnerXattrs records the guest owner of a file the kernel holds an fd of.
func setOwnerXattrs(fd int, uid, gid uint32) error { return hostmeta.SetOwner(selfFD(fd), uid, gid) }

func (c *Call) writeStat(fd int, addr uint64) result {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if c.k.onHostfs(fd) {
		c.k.hostStat(&st)
	} else {
		guestStat(fd, &st)
	}
	c.k.blockStat(&st)
	c.k.kernelStat(fd, &st)
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
	return c.stat(c.Int(0), 1, fl&unix.AT_SYMLINK_NOFOLLOW == 0, fl&unix.AT_EMPTY_PATH != 0, c.Arg(2))
}

func sysStatx(c *Call) result {
	fl := int(c.Arg(2))
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
	if c.k.onHostfs(fd) {
		c.k.hostStat(&st)
	} else {
		guestStat(fd, &st)
	}
	c.k.blockStat(&st)
	c.k.kernelStat(fd, &st)
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
	var sf unix.Statfs_t
	if efs, ro := c.k.ext4Of(c.fs); efs != nil {
		// an image's file system: its counts as of the last write-back
		st, err := efs.Statfs()
		if err != nil {
			return fail(err)
		}
		sf = unix.Statfs_t{Type: 0xEF53, Bsize: st.Bsize, Frsize: st.Bsize, Blocks: st.Blocks, Bfree: st.Bfree,
			Bavail: st.Bavail, Files: st.Files, Ffree: st.Ffree, Namelen: st.Namelen,
			Fsid: unix.Fsid{Val: [2]int32{int32(st.Fsid[0]), int32(st.Fsid[1])}}}
		if ro {
			sf.Flags |= unix.ST_RDONLY
		}
	} else if err := unix.Fstatfs(fd, &sf); err != nil {
		return fail(err)
	} else {
		c.k.kernelStatfs(fd, &sf)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sf)), unsafe.Sizeof(sf))
	if err := c.Write(c.Arg(1), b); err != nil {
		return fail(err)
	}
	return ok(0)
}

// ---- access ----

func (c *Call) access(dirfd int32, pathArg int, mode uint32, flags int) result {
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
	if mode&unix.W_OK != 0 && c.root().ReadOnly() && st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return errno(unix.EROFS)
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

// ---- names ----

// parent resolves dirfd+path to (parent dir fd, last component).
func (c *Call) parent(dirfd int32, pathArg int) (int, string, error) {
	p, err := c.Str(pathArg)
	if err != nil {
		return -1, "", err
	}
	abs, err := c.abs(dirfd, p)
	if err != nil {
		return -1, "", err
	}
	if fs, rest := special(abs); fs == "/proc" || fs == "/dev" && c.k.kernelDevice(rest) {
		return -1, "", c.k.specialNameErr(c, fs, rest, abs)
	}
	var rest string
	c.fs, rest = c.root().route(abs)
	return c.fs.Parent(rest)
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
	abs, err := c.abs(dirfd, p)
	if err != nil {
		return fail(err)
	}
	var target string
	if fs, rest := special(abs); fs != "" {
		target, err = c.k.readlinkSpecial(c, fs, rest)
	} else {
		var pfd int
		var name string
		pfd, name, err = c.root().Parent(abs)
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
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := unix.Mkdirat(pfd, name, mode&0o7777&^procUmask(c.Tid)); err != nil {
		return fail(err)
	}
	if fd, err := unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
		c.setCreatorOwner(fd)
		unix.Close(fd)
	}
	return ok(0)
}

func sysMkdir(c *Call) result   { return c.mkdir(unix.AT_FDCWD, 0, uint32(c.Arg(1))) }
func sysMkdirat(c *Call) result { return c.mkdir(c.Int(0), 1, uint32(c.Arg(2))) }

func (c *Call) unlink(dirfd int32, pathArg int, flags int) result {
	pfd, name, err := c.parent(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(pfd)
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := unix.Unlinkat(pfd, name, flags); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysUnlink(c *Call) result   { return c.unlink(unix.AT_FDCWD, 0, 0) }
func sysRmdir(c *Call) result    { return c.unlink(unix.AT_FDCWD, 0, unix.AT_REMOVEDIR) }
func sysUnlinkat(c *Call) result { return c.unlink(c.Int(0), 1, int(c.Arg(2))&unix.AT_REMOVEDIR) }

func (c *Call) rename(olddir int32, oldArg int, newdir int32, newArg int, flags uint) result {
	ofd, oname, err := c.parent(olddir, oldArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(ofd)
	ofs := c.fs
	nfd, nname, err := c.parent(newdir, newArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(nfd)
	if c.fs != ofs {
		return errno(unix.EXDEV)
	}
	if err := c.writable(); err != nil {
		return fail(err)
	}
	if err := unix.Renameat2(ofd, oname, nfd, nname, flags); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysRename(c *Call) result   { return c.rename(unix.AT_FDCWD, 0, unix.AT_FDCWD, 1, 0) }
func sysRenameat(c *Call) result { return c.rename(c.Int(0), 1, c.Int(2), 3, 0) }
func sysRenameat2(c *Call) result {
	return c.rename(c.Int(0), 1, c.Int(2), 3, uint(c.Arg(4)))
}

func (c *Call) link(olddir int32, oldArg int, newdir int32, newArg int, flags int) result {
	nfd, nname, err := c.parent(newdir, newArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(nfd)
	if err := c.writable(); err != nil {
		return fail(err)
	}
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
		if err := unix.Linkat(unix.AT_FDCWD, selfFD(src), nfd, nname, unix.AT_SYMLINK_FOLLOW); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	ofd, oname, err := c.parent(olddir, oldArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(ofd)
	if c.fs != nfs {
		return errno(unix.EXDEV)
	}
	if err := unix.Linkat(ofd, oname, nfd, nname, 0); err != nil {
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
	nfd, nname, err := c.parent(newdir, newArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(nfd)
	if err := c.writable(); err != nil {
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
	if err := unix.Symlinkat(target, nfd, nname); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysSymlink(c *Call) result   { return c.symlink(0, unix.AT_FDCWD, 1) }
func sysSymlinkat(c *Call) result { return c.symlink(0, c.Int(1), 2) }

func (c *Call) mknod(dirfd int32, pathArg int, mode uint32, dev uint64) result {
	pfd, name, err := c.parent(dirfd, pathArg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(pfd)
	if err := c.writable(); err != nil {
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
		c.setCreatorOwner(fd)
		return ok(0)
	default:
		return errno(unix.EINVAL)
	}
	if err := unix.Mknodat(pfd, name, mode&unix.S_IFMT|perm&0o777, int(dev)); err != nil {
		return fail(err)
	}
	if perm&0o7000 != 0 || c.nonRootCreator() {
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
		c.setCreatorOwner(fd)
	}
	return ok(0)
}

func sysMknod(c *Call) result   { return c.mknod(unix.AT_FDCWD, 0, uint32(c.Arg(1)), c.Arg(2)) }
func sysMknodat(c *Call) result { return c.mknod(c.Int(0), 1, uint32(c.Arg(2)), c.Arg(3)) }

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
	if err := c.metaTarget(fd); err != nil {
		return fail(err)
	}
	if err := c.mayChangeMeta(fd); err != nil {
		return fail(err)
	}
	return setGuestMode(fd, mode&0o7777)
}

func sysFchmod(c *Call) result {
	fd, err := c.guestFD(c.Int(0))
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
	if uid, _ := owner(fd, &st); uid != fsuid {
		return unix.EPERM
	}
	return nil
}

func sysChmod(c *Call) result     { return c.chmod(unix.AT_FDCWD, 0, uint32(c.Arg(1)), 0) }
func sysFchmodat(c *Call) result  { return c.chmod(c.Int(0), 1, uint32(c.Arg(2)), 0) }
func sysFchmodat2(c *Call) result { return c.chmod(c.Int(0), 1, uint32(c.Arg(2)), int(c.Arg(3))) }

func (c *Call) chown(fd int, uid, gid uint32) result {
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
	ou, og := owner(fd, &st)
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
	if cr.FSUID != 0 && (nu != ou || ou != cr.FSUID || (ng != og && ng != cr.FSGID && !containsID(cr.Groups, ng))) {
		return errno(unix.EPERM)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return ok(0) // user xattrs cannot be set on symlinks; their owner is not kept yet
	}
	if nu == ou && ng == og {
		return ok(0)
	}
	if err := setOwnerXattrs(fd, nu, ng); err != nil {
		return fail(err)
	}
	// Like Linux, changing the owner of a file drops its set-id bits (for non-directories).
	g := st
	guestStat(fd, &g)
	if g.Mode&unix.S_IFMT != unix.S_IFDIR && g.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		return setGuestMode(fd, g.Mode&0o1777)
	}
	return ok(0)
}

func (c *Call) chownPath(dirfd int32, pathArg int, uidArg, gidArg int, flags int) result {
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
	fd, err := c.guestFD(c.Int(0))
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
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// O_PATH fd of a symlink: the magic link would follow it
		return ok(0)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, selfFD(fd), ts, 0); err != nil {
		return fail(err)
	}
	return ok(0)
}

func nowTimes() []unix.Timespec {
	return []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
}

func sysUtimensat(c *Call) result {
	flags := int(c.Arg(3))
	var fd int
	var err error
	if c.Arg(1) == 0 {
		fd, err = c.guestFD(c.Int(0)) // futimens
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

func sysGetcwd(c *Call) result {
	cwd := c.k.cwd(c.root(), c.Tid)
	b := append([]byte(cwd), 0)
	if uint64(len(b)) > c.Arg(1) {
		return errno(unix.ERANGE)
	}
	if err := c.Write(c.Arg(0), b); err != nil {
		return fail(err)
	}
	return ok(int64(len(b)))
}

func sysInotifyAddWatch(c *Call) result {
	mask := uint32(c.Arg(2))
	fd, err := c.pathFD(unix.AT_FDCWD, 1, mask&unix.IN_DONT_FOLLOW == 0, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	pidfd, err := unix.PidfdOpen(c.T.Proc.Tgid, 0)
	if err != nil {
		return fail(err)
	}
	ifd, err := unix.PidfdGetfd(pidfd, int(c.Int(0)), 0)
	unix.Close(pidfd)
	if err != nil {
		return errno(unix.EBADF)
	}
	defer unix.Close(ifd)
	wd, err := unix.InotifyAddWatch(ifd, selfFD(fd), mask|unix.IN_DONT_FOLLOW)
	if err != nil {
		return fail(err)
	}
	return ok(int64(wd))
}

// adminPath reads path argument i of a call only guest root may make (chroot, umount,
// swapon …) and makes it absolute.
func (c *Call) adminPath(i int) (string, error) {
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return "", unix.EPERM
	}
	p, err := c.Str(i)
	if err != nil {
		return "", err
	}
	return c.absFollow(unix.AT_FDCWD, p)
}

// sysChroot gives the calling process a root of its own (inherited by its children). Paths
// are then resolved inside that directory exactly as inside the machine's root.
func sysChroot(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	if fs, _ := special(abs); fs != "" {
		return errno(unix.EPERM) // chroot into /proc or /dev: not supported
	}
	fd, err := c.root().Open(abs, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fail(err)
	}
	g, w := c.k.objPath(selfFD(fd))
	if w != inTree || strings.HasSuffix(g, " (deleted)") {
		unix.Close(fd)
		return errno(unix.ENOENT)
	}
	nr := c.root().Sub(fd, g)
	c.k.mu.Lock()
	c.T.Proc.Root = nr
	c.k.roots = append(c.k.roots, nr)
	c.k.mu.Unlock()
	return ok(0)
}

// mount: a ubd device's ext2/3/4 file system (mount.go), remounting the root or such a mount
// read-write or read-only, and proc on /proc or devtmpfs on /dev, which are always there.
// Anything else is ENODEV.
func sysMount(c *Call) result {
	target, err := c.Str(1)
	if err != nil {
		return fail(err)
	}
	flags := c.Arg(3)
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	abs, _ := c.absFollow(unix.AT_FDCWD, target)
	if flags&unix.MS_REMOUNT != 0 && strings.TrimRight(abs, "/") == "" {
		if err := c.k.root.SetReadOnly(flags&unix.MS_RDONLY != 0); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	if flags&unix.MS_REMOUNT != 0 {
		if rt, _ := c.root().route(abs); rt != c.root() && path.Clean(abs) != "/" {
			return result{fd: -1, async: func() result {
				if err := c.k.remount(abs, flags&unix.MS_RDONLY != 0); err != nil {
					return fail(err)
				}
				return ok(0)
			}}
		}
	}
	fstype, _ := c.Str(2)
	if flags&(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_MOVE) == 0 {
		// The kernel's own /proc and /dev are always there: mounting them where they are
		// (as every init does) succeeds without changing anything.
		switch dir := path.Clean(abs); {
		case fstype == "proc" && dir == "/proc", fstype == "devtmpfs" && dir == "/dev":
			return ok(0)
		case (fstype == "tmpfs" || fstype == "hostfs") && c.T.Proc.Root == nil:
			src, _ := c.Str(0)
			var data string
			if c.Arg(4) != 0 {
				if data, err = c.Str(4); err != nil {
					return fail(err)
				}
			}
			return result{fd: -1, async: func() result {
				at, err := c.k.mountTarget(c, abs)
				if err == nil {
					if fstype == "tmpfs" {
						err = c.k.mountTmpfs(c, src, at, flags, data)
					} else {
						err = c.k.mountHostfs(c, at, flags, data)
					}
				}
				if err != nil {
					return fail(err)
				}
				return ok(0)
			}}
		}
		if src, err := c.Str(0); err == nil && src != "" && c.T.Proc.Root == nil {
			srcAbs, err := c.absFollow(unix.AT_FDCWD, src)
			if err != nil {
				return fail(err)
			}
			// unpacking a file system takes a while: not on the dispatcher's goroutine
			return result{fd: -1, async: func() result {
				if err := c.k.mountBlock(c, path.Clean(srcAbs), abs, fstype, flags); err != nil {
					return fail(err)
				}
				return ok(0)
			}}
		}
	}
	return errno(unix.ENODEV)
}

func sysUmount(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	flags := int(c.Arg(1))
	return result{fd: -1, async: func() result {
		if err := c.k.umount(abs, flags); err != nil {
			return fail(err)
		}
		return ok(0)
	}}
}
