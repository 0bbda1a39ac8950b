package kernel

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gouml/gouml/lib/hostmeta"
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
func guestStat(fd int, st *unix.Stat_t) {
	if d := procSelfFD(); d >= 0 && hostmeta.ApplyAt(d, strconv.Itoa(fd), st, hostUID, hostGID) {
		return
	}
	hostmeta.Apply(selfFD(fd), st, hostUID, hostGID)
}

// procSelfFD is the kernel's own /proc/self/fd, opened once (O_PATH): the attribute reads of
// every stat name an fd below it instead of walking /proc/self/fd/N from the root (-1 when it
// cannot be opened). Every thread of the kernel shares the one fd table it lists.
var procSelfFD = sync.OnceValue(func() int {
	fd, err := unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
})

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

// kernelDeviceName maps a device number to the kernel's /dev name for it ("" = none).
func (k *Kernel) kernelDeviceName(typ uint32, dev uint64) string {
	if d := k.deviceByNum(devNum{typ == unix.S_IFBLK, unix.Major(dev), unix.Minor(dev)}); d != nil && (typ == unix.S_IFBLK || typ == unix.S_IFCHR) {
		return d.name
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
	abs, raw, r, done := c.openAbs(dirfd, p, flags, mode, follow)
	if done {
		return r
	}
	cloexec := flags&unix.O_CLOEXEC != 0
	opath := flags&unix.O_PATH != 0 // answered with a stand-in: no device is opened for it
	if opath {
		if r, ok := c.openPathNative(dirfd, p, abs, raw, flags, follow); ok {
			return r
		}
		// a file the guest's own lookup would not find (in /proc, a mount, the kernel's
		// chroot): a read-only descriptor of it stands in for the O_PATH one
		flags = flags&^(unix.O_PATH|unix.O_ACCMODE|unix.O_CREAT|unix.O_TRUNC) | unix.O_RDONLY | unix.O_NONBLOCK
	}
	// The kernel's files; the rest of /dev is the root's own directory, opened like any
	// (a FIFO there must not block the dispatcher either).
	if fs, rest := c.k.special(abs); c.k.served(fs, rest) {
		if err := c.mayOpenKernelDevice(fs, rest, flags, opath); err != nil {
			return fail(err)
		}
		return c.openKernelFile(abs, fs, rest, flags, mode, cloexec)
	}
	if e := c.missingDevice(abs); e != 0 {
		return errno(e)
	}
	if mayCreate(flags) {
		mode &^= procUmask(c.Tid)
	}
	// Open non-blocking first: a FIFO would block the notification loop. Anything that can
	// block on open is then reopened on its own goroutine.
	fd, created, cdir, err := c.openFile(abs, flags|unix.O_NONBLOCK, mode, follow)
	if err == errDenied {
		return errno(unix.EACCES) // by the guest's modes: no device is looked for
	}
	if cdir >= 0 {
		defer unix.Close(cdir)
	}
	fifoWait := false
	if err == unix.ENXIO && flags&(unix.O_NONBLOCK|unix.O_ACCMODE) == unix.O_WRONLY {
		// A FIFO with no reader yet: the non-blocking probe fails where the guest's open
		// waits for one. Take the FIFO by O_PATH and wait on its own goroutine (below).
		if pfd, perr := c.openPathAs(abs, true); perr == nil {
			var st unix.Stat_t
			if unix.Fstat(pfd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
				fd, err, fifoWait = pfd, nil, true
			} else {
				unix.Close(pfd)
			}
		}
	}
	if err == unix.EACCES || err == unix.EROFS {
		// A device: a node copied into a directory root (the tree is mounted nodev), or a
		// placeholder opened for writing on a read-only file system. Linux opens devices
		// whatever the file system's mode; the kernel gives its own device of that number.
		if pfd, perr := c.openPathAs(abs, true); perr == nil {
			var st unix.Stat_t
			unix.Fstat(pfd, &st)
			typ, dev := deviceOf(pfd, &st)
			mf := c.k.fdMountFlags(pfd)
			unix.Close(pfd)
			if typ != 0 && !opath {
				return c.openDevice(typ, dev, mf, flags, cloexec)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	if !fifoWait && !opath && !created { // (O_PATH: a read-only stand-in; a file just made is no placeholder)
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if typ, dev := deviceOf(fd, &st); typ != 0 {
			defer unix.Close(fd)
			return c.openDevice(typ, dev, c.k.fdMountFlags(fd), flags, cloexec)
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
		if st.Mode&unix.S_IFMT == unix.S_IFIFO && (fifoWait || flags&unix.O_ACCMODE == unix.O_RDONLY) {
			return c.fifoOpen(fd, flags, cloexec, fifoWait)
		}
		blocking(fd)
	}
	if created && cdir >= 0 {
		c.setCreatorOwner(fd, cdir)
	} else if created {
		if pfd, _, err := c.root().Parent(abs); err == nil {
			c.setCreatorOwner(fd, pfd)
			unix.Close(pfd)
		}
	}
	return newFD(fd, cloexec)
}

// openKernelFile is open(2) of one of the kernel's own files (abs, and special's fs and rest).
func (c *Call) openKernelFile(abs, fs, rest string, flags int, mode uint32, cloexec bool) result {
	var fd int
	var err error
	if fs == "/dev" && c.k.mqueuePath(rest) {
		fd, err = c.k.openMqueue(c, rest[len("mqueue"):], flags, mode) // O_CREAT makes a queue
	} else if fs == "/dev" {
		fd, err = c.k.openSpecial(c, fs, rest, flags) // a device with a slash: absCanon's
	} else {
		fd, err = c.k.openSpecial(c, fs, rest, flags|slashDir(abs))
	}
	if fs == "/dev" {
		if rest == "console" {
			// /dev/console never becomes a controlling terminal by an open (Linux's
			// tty_open), whatever line serves it
			return c.specialFD(fd, err, flags|unix.O_NOCTTY, cloexec)
		}
		return c.specialFD(fd, err, flags, cloexec)
	}
	if err != nil {
		return fail(err)
	}
	return newFD(fd, cloexec)
}

// fifoOpen finishes a blocking open of a FIFO on its own goroutine; obj is the kernel's
// probe of it (an O_PATH fd when fifoWait). Only a reader's open, or a writer's whose probe
// found no reader, comes here: a writer's probe that opened had a reader, so Linux's open
// returns at once and the probe is the guest's writer (reopened, it could wait for ever: the
// reader it let through may have gone meanwhile), and O_RDWR never waits. The FIFO is reopened through the fd, never by
// the name, which a guest could change. A reader's probe is a reader already: a writer may
// have opened against it, and even written and gone, before the blocking reopen waits. It
// stays open until the reopen is done (so what was written stays in the pipe), and if it saw
// a writer first (data or a hang-up), it is the guest's reader itself.
func (c *Call) fifoOpen(obj int, flags int, cloexec, fifoWait bool) result {
	readerProbe := !fifoWait && flags&unix.O_ACCMODE == unix.O_RDONLY
	return result{fd: -1, async: func() result {
		keep := false
		defer func() {
			if !keep {
				unix.Close(obj)
			}
		}()
		type opened struct {
			fd  int
			err error
		}
		ch := make(chan opened, 1)
		go func() {
			fd, err := unix.Open(selfFD(obj), flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_NONBLOCK)|unix.O_CLOEXEC, 0)
			ch <- opened{fd, err}
		}()
		release := func() {
			// the kernel becomes the peer for a moment to release the waiting
			// open, whose fd it then drops
			if peer, err := unix.Open(selfFD(obj), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				o := <-ch
				unix.Close(peer)
				if o.err == nil {
					unix.Close(o.fd)
				}
			}
		}
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
			if readerProbe {
				pfd := []unix.PollFd{{Fd: int32(obj), Events: unix.POLLIN}}
				if n, _ := unix.Poll(pfd, 0); n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
					release()
					blocking(obj)
					keep = true
					return newFD(obj, cloexec)
				}
			}
			if !signalPending(c.Tid) && !c.k.dying.Load() {
				continue
			}
			// a FIFO open waiting for its peer is interrupted like Linux's
			release()
			return errno(errRestart)
		}
	}}
}

// blocking clears O_NONBLOCK on fd: the kernel opens files non-blocking (a FIFO must not
// block the dispatcher) and hands them on blocking when the guest did not ask otherwise.
func blocking(fd int) {
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
}

// openPathNative lets an O_PATH open run in the guest itself (ok) where nativeOPath and
// flagsStay allow it and the host's own lookup passes every directory (nativeMayWalk).
func (c *Call) openPathNative(dirfd int32, p, abs, raw string, flags int, follow bool) (result, bool) {
	if !c.nativeOPath(dirfd, p, abs) || !c.flagsStay() || !nativeMayWalk(c.k.root, raw, flags, follow) {
		return result{}, false
	}
	if !c.privileged() {
		// the host does not check a guest user's search permission: the kernel does first
		// (a guest racing renames can at most get an O_PATH fd, which gives no access to
		// the file)
		fd, err := c.lookupObj(c.fsCred(), abs, follow)
		if err != nil {
			return fail(err), true
		}
		unix.Close(fd)
	}
	return cont(), true
}

// nativeOPath says whether an O_PATH open may run in the guest itself. seccomp cannot install
// an O_PATH file in the caller (ADDFD takes none), so a path of the machine's root tree is
// left to the guest's own lookup: the host resolves it in the guest's chroot, a detached copy
// of that same tree, where nothing else can be named, and an O_PATH descriptor gives no access
// to the file's contents. A guest that changes the path meanwhile only gets another file of
// its own tree. Paths the guest's chroot does not hold as the kernel sees them (/proc, /dev's
// kernel devices, mounted file systems, a relative path from a directory of those, a chroot
// of the kernel's) are the kernel's to open.
func (c *Call) nativeOPath(dirfd int32, p, abs string) bool {
	inRoot := func(g string) bool {
		fs, rest := c.k.special(g)
		if c.k.served(fs, rest) {
			return false
		}
		rt, _ := c.k.root.route(g)
		return rt == c.k.root
	}
	if c.root() != c.k.root || !inRoot(abs) {
		return false
	}
	if strings.HasPrefix(p, "/") {
		return true
	}
	base, err := c.abs1(dirfd, ".")
	return err == nil && inRoot(base)
}

// flagsStay says whether the open flags the kernel checked are the ones a native run of the
// call would use. open, openat and creat carry them in registers, which nothing can change.
// openat2 reads them from the guest's memory when the host runs it, after the kernel read
// them: another thread of the caller may have made the O_PATH open an O_RDONLY one by then,
// which an ordinary user's native open (as root of the guest's user namespace, owner of
// root's files) would be allowed for a file it may not read. Guest root may read every file
// anyway; what else a changed word could ask (writing, creating, truncating) the guest's
// Landlock layer refuses, where it handles truncation too (ABI 3). Otherwise the kernel
// answers with its stand-in, like for a path the guest's chroot does not hold.
func (c *Call) flagsStay() bool {
	return c.n.Data.Nr != unix.SYS_OPENAT2 || c.privileged() && guestLayerStopsWrites()
}

// guestLayerStopsWrites says whether the guest's Landlock layer (stub.go) refuses every
// write, create and truncation by path: it handles truncation from ABI 3 on.
var guestLayerStopsWrites = sync.OnceValue(func() bool {
	abi, _ := landlockABI()
	return abi >= 3
})

// openDevice opens the kernel's device of a type and number for a device file of the tree,
// on a mount of flags mf: a nodev mount's nodes open nothing (EACCES, as Linux's may_open).
func (c *Call) openDevice(typ uint32, dev uint64, mf uint64, flags int, cloexec bool) result {
	if typ != unix.S_IFBLK && typ != unix.S_IFCHR {
		return errno(unix.ENXIO)
	}
	dfd, err := c.k.openNode(c, typ, dev, mf, flags)
	return c.specialFD(dfd, err, flags, cloexec)
}

// openNode opens the kernel's device for a device node of the trees (by its name or again
// through /proc/PID/fd) on a mount of flags mf.
func (k *Kernel) openNode(c *Call, typ uint32, dev uint64, mf uint64, flags int) (int, error) {
	if mf&unix.MS_NODEV != 0 {
		return -1, unix.EACCES // before the device is looked for, as Linux's may_open
	}
	d := k.deviceByNum(devNum{typ == unix.S_IFBLK, unix.Major(dev), unix.Minor(dev)})
	if d == nil {
		return -1, unix.ENXIO // no such device in this kernel
	}
	if flags&unix.O_DIRECTORY != 0 {
		return -1, unix.ENOTDIR
	}
	// by number, not by name: an unconfigured line has no name in /dev, and its open says
	// ENXIO itself
	return d.open(k, c, flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC))
}

// specialFD answers an open of a kernel file: the fd, the error, or — for a line that
// waits for its channel (a port: console's client) — a wait on the call's own goroutine
// that a signal for the caller interrupts.
func (c *Call) specialFD(fd int, err error, flags int, cloexec bool) result {
	var w *errWaitOpen
	if errors.As(err, &w) {
		tid := c.Tid
		return result{fd: -1, async: func() result {
			fd, err := w.wait(tid)
			if err != nil {
				return fail(err)
			}
			return newFD(fd, cloexec)
		}}
	}
	if err != nil {
		return fail(err)
	}
	return c.openedTerminal(fd, flags, cloexec)
}

// setCreatorOwner records the owner of a file the kernel created in the directory pfd: the
// creator, with the directory's group instead of the creator's when the directory is
// set-group-ID (a new directory then is too), as on Linux. Root's own files need no record.
func (c *Call) setCreatorOwner(fd, pfd int) {
	uid, gid, inherit := c.creatorOwner(pfd)
	if uid != 0 || gid != 0 {
		setOwnerXattrs(fd, uid, gid)
	}
	var st unix.Stat_t
	if inherit && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		guestStat(fd, &st)
		setGuestMode(fd, st.Mode&0o7777|unix.S_ISGID)
	}
}

// creatorOwner is the owner of a file the caller creates in the directory pfd: its FSUID,
// and its FSGID or, in a set-group-ID directory, the directory's group (inherit true).
func (c *Call) creatorOwner(pfd int) (uid, gid uint32, inherit bool) {
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	uid, gid = cr.FSUID, cr.FSGID
	var pst unix.Stat_t
	if unix.Fstat(pfd, &pst) == nil {
		guestStat(pfd, &pst)
		if pst.Mode&unix.S_ISGID != 0 {
			gid, inherit = pst.Gid, true
		}
	}
	return uid, gid, inherit
}

// missingDevice is the error of opening abs when it names a device the machine lacks and
// the root's /dev holds no such entry (devices.go); 0 otherwise. Such a name is never a
// file to create on the host.
func (c *Call) missingDevice(abs string) unix.Errno {
	fs, rest := c.k.special(abs)
	if fs != "/dev" {
		return 0
	}
	e := c.k.missingDevice(rest)
	if e == 0 {
		return 0
	}
	fd, err := c.root().OpenPath(abs, false)
	if err == nil {
		unix.Close(fd)
		return 0
	}
	if err != unix.ENOENT {
		return 0
	}
	return e
}
