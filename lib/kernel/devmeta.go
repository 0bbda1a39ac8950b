package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Owners and modes of the kernel's device nodes. On Linux, devtmpfs's nodes are ordinary
// inodes: root may chown and chmod /dev/console or a tty, and getty and login do exactly
// that to the line they serve (agetty: fchown(tty, 0, tty) and fchmod 0620, and it gives
// up when they fail). The kernel's devices are host objects the guest must never change
// (the host's /dev/null, a pty of the host's devpts), so what the guest sets is kept here,
// by the guest's device number, and shown by stat; the guest's own ptys keep their owners
// with the rest of their state (devpts.go).

type devMeta struct {
	mu sync.Mutex
	m  map[uint64]devAttr // by the guest's rdev (character devices)
}

type devAttr struct {
	uid, gid uint32
	perm     uint32
}

// applyDevMeta puts what the guest set on a device node into its stat (the node's own
// stat already made as devtmpfs has it).
func (k *Kernel) applyDevMeta(st *unix.Stat_t) {
	d := &k.devMeta
	d.mu.Lock()
	a, ok := d.m[st.Rdev]
	d.mu.Unlock()
	if ok {
		st.Uid, st.Gid = a.uid, a.gid
		st.Mode = st.Mode&unix.S_IFMT | a.perm
	}
}

// kernelDeviceStat reports the guest's view of fd when it is one of the kernel's character
// devices (not a file of the guest's trees): its stat as the guest sees it.
func (c *Call) kernelDeviceStat(fd int) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return st, false
	}
	if _, w := c.k.objPath(selfFD(fd)); w == inTree {
		return st, false
	}
	c.k.kernelStat(fd, &st)
	return st, st.Mode&unix.S_IFMT == unix.S_IFCHR
}

// devChown is chown of a kernel device: root may give it any owner; its owner may only
// change its group to one of its own (Linux's rule without CAP_CHOWN).
func (c *Call) devChown(fd int, st unix.Stat_t, uid, gid uint32) result {
	cr := c.fsCred()
	nu, ng := st.Uid, st.Gid
	if uid != noChange {
		nu = uid
	}
	if gid != noChange {
		ng = gid
	}
	if cr.FSUID != 0 && (nu != st.Uid || st.Uid != cr.FSUID || ng != st.Gid && ng != cr.FSGID && !containsID(cr.Groups, ng)) {
		return errno(unix.EPERM)
	}
	if c.k.onGuestDevpts(fd) {
		c.k.setPtyOwner(int(unix.Minor(st.Rdev)), nu, ng)
		return ok(0)
	}
	c.k.setDevAttr(st.Rdev, devAttr{nu, ng, st.Mode & 0o7777})
	return ok(0)
}

// devChmod is chmod of a kernel device: its owner or root.
func (c *Call) devChmod(fd int, st unix.Stat_t, mode uint32) result {
	if cr := c.fsCred(); cr.FSUID != 0 && cr.FSUID != st.Uid {
		return errno(unix.EPERM)
	}
	if c.k.onGuestDevpts(fd) {
		// the guest's own devpts instance: its node's mode is the guest's to set
		if err := unix.Fchmodat(unix.AT_FDCWD, selfFD(fd), mode&0o777, 0); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	c.k.setDevAttr(st.Rdev, devAttr{st.Uid, st.Gid, mode & 0o7777})
	return ok(0)
}

func (k *Kernel) setDevAttr(rdev uint64, a devAttr) {
	d := &k.devMeta
	d.mu.Lock()
	if d.m == nil {
		d.m = map[uint64]devAttr{}
	}
	d.m[rdev] = a
	d.mu.Unlock()
}

// onGuestDevpts: fd is a node of the guest's own devpts instance.
func (k *Kernel) onGuestDevpts(fd int) bool {
	var st unix.Stat_t
	return k.devptsDev() != 0 && unix.Fstat(fd, &st) == nil && st.Dev == k.devptsDev()
}

// mayOpenKernelDevice is the permission check of an open (not O_PATH: opath) of one of the
// kernel's /dev nodes by a caller other than root: Linux's may_open on the node's owner, group and mode, as the
// guest's stat shows them (devtmpfs's mode, then what the guest's chown and chmod set). The
// devices are host objects whose host modes say nothing about the guest's users, so without
// it any guest user could read a console root made 0600 or a pty login gave to another
// user. The node is judged by an O_PATH open of the same name (the view stat has), and then
// opened for real: a chmod by root between the two is the guest's own race, as an open
// racing a chmod is on Linux. The links to the caller's fds and POSIX queues have rules of
// their own.
func (c *Call) mayOpenKernelDevice(fs, rest string, flags int, opath bool) error {
	if opath || fs != "/dev" || devLink(rest) || c.k.mqueuePath(rest) || c.privileged() {
		return nil
	}
	want := map[int]uint32{unix.O_RDONLY: mayRead, unix.O_WRONLY: mayWrite}[flags&unix.O_ACCMODE]
	if flags&unix.O_ACCMODE == unix.O_RDWR || flags&unix.O_ACCMODE == unix.O_ACCMODE {
		want = mayRead | mayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		want |= mayWrite // Linux asks for write permission to truncate, even of a device
	}
	fd, err := c.k.openSpecial(c, fs, rest, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return nil // the open itself says why it fails
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	c.k.guestView(fd, &st)
	if !permits(c.fsCred(), &st, want) {
		return unix.EACCES
	}
	return nil
}
