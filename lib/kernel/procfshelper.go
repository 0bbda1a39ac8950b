package kernel

import (
	"encoding/binary"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The guest's /proc is generated from a procfs instance of the guest's PID namespace (its
// numbers are the guest's), which the launcher makes at every boot. The kernel process is
// confined by Landlock (jail.go) to files its rules named before it started; a procfs made
// later has no rule, and Landlock refuses to read it. So stage 1 leaves one small helper
// outside the domain, with the kernel's own identity, that opens files of procfs instances
// for the kernel: read-only, below an fd the kernel hands it that must be a procfs, and never
// through a link (the per-process cwd, root, exe and fd/N entries are magic links into the
// guest's files, or anyone's). It can thus give the kernel nothing the kernel could not
// already read through the host's /proc, which its rules allow.

// procfsArg0 marks the helper.
const procfsArg0 = "[gouml-procfs]"

// procfsHelperEnv is the kernel's end of its socket to the helper (stage 2).
const procfsHelperEnv = "GOUML_PROCFS_HELPER"

// Requests: one byte, then the name; "set" carries the procfs fd. Replies: a 4-byte errno,
// with the opened fd on success.
const (
	procfsSet  = 'S'
	procfsOpen = 'O'
	procfsDir  = 'D'
	// POSIX message queues live in a file system of the guest's IPC namespace that no
	// Landlock rule can name either: the helper joins that namespace (one thread of it) and
	// opens and unlinks queues there for the kernel.
	mqSetNS  = 'I' // the guest's IPC namespace (fd)
	mqOpen   = 'Q' // flags u32, mode u32, has attr u8, struct mq_attr (64 bytes), name
	mqUnlink = 'U' // name
	// The guest's mqueue file system (mount -t mqueue on /dev/mqueue: mqueuefs.go): the
	// helper makes an instance of the guest's IPC namespace and opens its root or a queue,
	// read-only or O_PATH, by one checked name.
	mqfsOpen = 'M' // kind ('d' the directory, 'p' O_PATH, 'r' read-only), name
	// The size of a tmpfs the kernel mounts for the guest (tmpfs.go) is set by a remount,
	// which Landlock refuses to the kernel: the fd is one of its tmpfs instances.
	tmpfsSetSize = 'Z' // size in bytes (decimal)
)

const (
	nsGetUserns = 0xb701 // NS_GET_USERNS
	nsGetNstype = 0xb703 // NS_GET_NSTYPE
)

// startProcfsHelper starts the helper (stage 1, before the kernel restricts itself) and
// returns the kernel's end of its socket, inherited across the re-execution.
func startProcfsHelper() (int, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	theirs := os.NewFile(uintptr(sp[1]), "procfs-helper")
	defer theirs.Close()
	cmd := exec.Command(selfExe)
	cmd.Args[0] = procfsArg0
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		unix.Close(sp[0])
		return -1, err
	}
	go cmd.Wait()
	return sp[0], nil
}

// procfsHelperMain is the helper: it serves until the kernel goes away.
func procfsHelperMain() {
	const sock = 3
	// the thread that may join the guest's IPC namespace is this one, for good
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	procfs := -1
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	reply := func(e unix.Errno, fd int) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(e))
		var rights []byte
		if fd >= 0 {
			rights = unix.UnixRights(fd)
		}
		unix.SendmsgN(sock, b[:], rights, nil, 0)
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			os.Exit(0)
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if r, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, r...)
				}
			}
		}
		e, fd := helperRequest(buf[0], buf[1:n], fds, &procfs)
		reply(e, fd)
	}
}

// helperRequest serves one request of the kernel: an errno and an fd to send (-1: none).
// The fds that came with it are the request's to close or keep.
func helperRequest(op byte, body []byte, fds []int, procfs *int) (unix.Errno, int) {
	switch op {
	case procfsSet:
		var sf unix.Statfs_t
		if len(fds) != 1 || unix.Fstatfs(fds[0], &sf) != nil || sf.Type != unix.PROC_SUPER_MAGIC {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return unix.EINVAL, -1
		}
		if *procfs >= 0 {
			unix.Close(*procfs)
		}
		*procfs = fds[0]
		return 0, -1
	case procfsOpen, procfsDir:
		for _, fd := range fds {
			unix.Close(fd)
		}
		if *procfs < 0 {
			return unix.ENOENT, -1
		}
		how := procHow
		how.Flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
		if op == procfsDir {
			how.Flags |= unix.O_DIRECTORY
		}
		fd, err := openat2(*procfs, string(body), &how)
		if err != nil {
			e, _ := err.(unix.Errno)
			if e == 0 {
				e = unix.EIO
			}
			return e, -1
		}
		return 0, fd
	case mqSetNS:
		if len(fds) != 1 || !guestIPCNamespace(fds[0]) {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return unix.EINVAL, -1
		}
		err := unix.Setns(fds[0], unix.CLONE_NEWIPC)
		unix.Close(fds[0])
		if helperMqfs >= 0 {
			unix.Close(helperMqfs) // the last boot's namespace
			helperMqfs = -1
		}
		return errnoOf(err), -1
	case mqfsOpen:
		for _, fd := range fds {
			unix.Close(fd)
		}
		return mqfsRequest(body)
	case mqOpen:
		for _, fd := range fds {
			unix.Close(fd)
		}
		const head = 1 + 4 + 4 + 1 + 64
		if len(body)+1 <= head || !validName(string(body[head-1:])) {
			return unix.EINVAL, -1
		}
		flags := binary.LittleEndian.Uint32(body[0:])
		mode := binary.LittleEndian.Uint32(body[4:])
		attr := uintptr(0)
		if body[8] != 0 {
			attr = uintptr(unsafe.Pointer(&body[9]))
		}
		name, _ := unix.BytePtrFromString(string(body[head-1:]))
		r, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(name)), uintptr(flags|unix.O_CLOEXEC), uintptr(mode), attr, 0, 0)
		if e != 0 {
			return e, -1
		}
		return 0, int(r)
	case mqUnlink:
		for _, fd := range fds {
			unix.Close(fd)
		}
		if !validName(string(body)) {
			return unix.EINVAL, -1
		}
		name, _ := unix.BytePtrFromString(string(body))
		_, _, e := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(name)), 0, 0)
		return e, -1
	case placeholdOp:
		return placeholdRequest(fds), -1
	case tmpfsSetSize:
		if len(fds) != 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return unix.EINVAL, -1
		}
		err := tmpfsResize(fds[0], string(body))
		unix.Close(fds[0])
		return errnoOf(err), -1
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	return unix.EINVAL, -1
}

// guestIPCNamespace reports whether fd is an IPC namespace owned by a user namespace other
// than the helper's own (the guest's, below it): the helper never joins the host's.
func guestIPCNamespace(fd int) bool {
	t, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nsGetNstype, 0)
	if e != 0 || int(t) != unix.CLONE_NEWIPC {
		return false
	}
	u, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nsGetUserns, 0)
	if e != 0 {
		return false
	}
	defer unix.Close(int(u))
	var owner, mine unix.Stat_t
	if unix.Fstat(int(u), &owner) != nil || unix.Stat("/proc/self/ns/user", &mine) != nil {
		return false
	}
	return owner.Ino != mine.Ino || owner.Dev != mine.Dev
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}

// procfsClient is the kernel's side of the helper (nil: no helper, open directly).
type procfsClient struct {
	mu   sync.Mutex
	sock int
}

func (p *procfsClient) call(op byte, name string, fd int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rights []byte
	if fd >= 0 {
		rights = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(p.sock, append([]byte{op}, name...), rights, nil, 0); err != nil {
		return -1, err
	}
	b := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(p.sock, b, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, err
		}
		if n != 4 {
			return -1, unix.EIO
		}
		if e := unix.Errno(binary.LittleEndian.Uint32(b)); e != 0 {
			return -1, e
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return -1, nil
		}
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil && len(r) > 0 {
				for _, extra := range r[1:] {
					unix.Close(extra)
				}
				return r[0], nil
			}
		}
		return -1, nil
	}
}

// procfsOpenAt opens name below the guest's procfs for reading, without following links.
func (k *Kernel) procfsOpenAt(name string, dir bool) (int, error) {
	if k.procHelper == nil {
		how := procHow
		how.Flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
		if dir {
			how.Flags |= unix.O_DIRECTORY
		}
		return openat2(k.procfs, name, &how)
	}
	op := byte(procfsOpen)
	if dir {
		op = procfsDir
	}
	return k.procHelper.call(op, name, -1)
}

// sysMqOpen opens a POSIX message queue of the guest's IPC namespace through the helper (the
// queue's file system is beyond the kernel's Landlock rules) and installs it in the caller.
func sysMqOpen(c *Call) result {
	name, r := c.mqName(unix.EACCES) // as Linux: a name with a slash, or "." and ".."
	if r.errno != 0 {
		return r
	}
	flags := uint32(c.Arg(1))
	mode := uint32(c.Arg(2)) &^ procUmask(c.Tid) & 0o777
	req := make([]byte, 1+4+4+1+64)
	req[0] = mqOpen
	binary.LittleEndian.PutUint32(req[1:], flags&^unix.O_CLOEXEC)
	binary.LittleEndian.PutUint32(req[5:], mode)
	if c.Arg(3) != 0 && flags&unix.O_CREAT != 0 {
		req[9] = 1
		if err := c.Read(c.Arg(3), req[10:10+64]); err != nil {
			return fail(err)
		}
	}
	fd, err := c.k.procHelper.call(req[0], string(req[1:])+name, -1)
	if err != nil {
		return fail(err)
	}
	if fd < 0 {
		return errno(unix.EIO)
	}
	return newFD(fd, flags&unix.O_CLOEXEC != 0)
}

// sysMqUnlink removes a POSIX message queue of the guest's IPC namespace (through the helper).
func sysMqUnlink(c *Call) result {
	name, r := c.mqName(unix.ENOENT)
	if r.errno != 0 {
		return r
	}
	if _, err := c.k.procHelper.call(mqUnlink, name, -1); err != nil {
		return fail(err)
	}
	return ok(0)
}

// mqName reads a queue name (argument 0) for the helper; bad is the error a name Linux's
// queue file system cannot hold gets.
func (c *Call) mqName(bad unix.Errno) (string, result) {
	if c.k.procHelper == nil {
		return "", errno(unix.ENOSYS)
	}
	name, err := c.Str(0)
	switch {
	case err != nil:
		return "", fail(err)
	case len(name) > 255:
		return "", errno(unix.ENAMETOOLONG)
	case !validName(name):
		return "", errno(bad)
	}
	return name, ok(0)
}
