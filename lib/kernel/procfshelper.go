package kernel

import (
	"encoding/binary"
	"os"
	"os/exec"
	"sync"
	"syscall"

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
		switch buf[0] {
		case procfsSet:
			var sf unix.Statfs_t
			if len(fds) != 1 || unix.Fstatfs(fds[0], &sf) != nil || sf.Type != unix.PROC_SUPER_MAGIC {
				for _, fd := range fds {
					unix.Close(fd)
				}
				reply(unix.EINVAL, -1)
				continue
			}
			if procfs >= 0 {
				unix.Close(procfs)
			}
			procfs = fds[0]
			reply(0, -1)
		case procfsOpen, procfsDir:
			for _, fd := range fds {
				unix.Close(fd)
			}
			if procfs < 0 {
				reply(unix.ENOENT, -1)
				continue
			}
			how := procHow
			how.Flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
			if buf[0] == procfsDir {
				how.Flags |= unix.O_DIRECTORY
			}
			fd, err := unix.Openat2(procfs, string(buf[1:n]), &how)
			if err != nil {
				e, _ := err.(unix.Errno)
				if e == 0 {
					e = unix.EIO
				}
				reply(e, -1)
				continue
			}
			reply(0, fd)
		default:
			reply(unix.EINVAL, -1)
		}
	}
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
		return unix.Openat2(k.procfs, name, &how)
	}
	op := byte(procfsOpen)
	if dir {
		op = procfsDir
	}
	return k.procHelper.call(op, name, -1)
}
