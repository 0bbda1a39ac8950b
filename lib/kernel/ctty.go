package kernel

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Controlling terminals of the guest's ptys. Linux makes a tty the controlling terminal of a
// session leader that has none when it opens the tty without O_NOCTTY (busybox telnetd and
// sshd's children rely on it). The kernel opens every guest file itself, always with
// O_NOCTTY (it must never take a terminal of the guest's), and the open that would have done
// it happens in the wrong process. So for that one case (a pty slave opened by a session
// leader with no controlling terminal) the kernel installs the fd, answers the call, and
// stops the caller on its way out of it (ptrace, as ptrace.go attaches for one call) to make
// it call TIOCSCTTY on the new fd itself, from the shim's syscall site. TIOCSCTTY with 0
// does exactly what the open would have: it takes the tty only if the caller leads its
// session, has no terminal yet, and the tty is no other session's.

// openedTerminal finishes an open of the kernel's devices: an fd of a guest pty slave opened
// without O_NOCTTY by a session leader without a terminal becomes its controlling terminal.
func (c *Call) openedTerminal(fd int, flags int, cloexec bool) result {
	if flags&(unix.O_NOCTTY|unix.O_PATH) != 0 || c.Tid == c.k.initTgid || !c.k.isTerminalSlave(fd) || !leaderWithoutTerminal(c.Tid) {
		return newFD(fd, cloexec)
	}
	go c.k.installTerminal(c, fd, cloexec)
	return result{fd: -1, answered: true}
}

// isTerminalSlave: fd is a slave of the guest's devpts or one of the machine's lines
// (tty1-15, ttyS0-63: kernel-held host ptys, ttyline.go). /dev/console never becomes a
// controlling terminal by an open, as on Linux (con0 outside the lines, and tty0, are the
// console).
func (k *Kernel) isTerminalSlave(fd int) bool {
	if k.isPtySlave(fd) {
		return true
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != ptyMajor ||
		k.devptsDev() != 0 && st.Dev == k.devptsDev() {
		return false
	}
	return k.cfg.Lines.lineOfRdev(st.Rdev) != nil
}

// isPtySlave: fd is a slave of the guest's devpts.
func (k *Kernel) isPtySlave(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && k.devptsDev() != 0 && st.Dev == k.devptsDev() &&
		st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == ptyMajor
}

// leaderWithoutTerminal: the task's process leads its session and has no controlling
// terminal (/proc/TID/stat: session, tty_nr).
func leaderWithoutTerminal(tid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	// after the name: state ppid pgrp session tty_nr
	f := strings.Fields(s[i+1:])
	if len(f) < 5 {
		return false
	}
	tgid, _ := procTgidPpid(tid)
	return f[3] == strconv.Itoa(tgid) && f[4] == "0"
}

// installTerminal installs fd in the caller, answers its open with it and has it call
// TIOCSCTTY on it before it returns to its program (on a thread of its own: ptrace requests
// come from the thread that attached).
func (k *Kernel) installTerminal(c *Call, fd int, cloexec bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := c.Tid
	gfd, err := notifAddfd(k.listener, c.n.ID, fd, cloexec)
	unix.Close(fd)
	if err != nil {
		if err != unix.ENOENT && err != unix.ESRCH {
			k.respond(c.n.ID, tid, errno(unix.EMFILE))
		}
		return
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, 0, 0, 0); e != 0 {
		k.respond(c.n.ID, tid, ok(int64(gfd))) // the fd without the terminal: better than none
		return
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(tid), 0, 0, 0, 0); e != 0 {
		unix.PtraceDetach(tid)
		k.respond(c.n.ID, tid, ok(int64(gfd)))
		return
	}
	k.respond(c.n.ID, tid, ok(int64(gfd)))
	for {
		var ws unix.WaitStatus
		if _, err := wait4Tid(tid, &ws); err != nil || ws.Exited() || ws.Signaled() {
			return
		}
		if !ws.Stopped() {
			continue
		}
		// The first stop after the answer: the interrupt, or a signal that came first. The
		// call is over and its result in the registers, which inject keeps.
		if _, err := inject(tid, shimAddr+shimSyscallOff, unix.SYS_IOCTL, uint64(gfd), unix.TIOCSCTTY, 0); err != nil {
			k.debugf("open by %d: making its terminal: %v", k.guestPid(tid), err)
		}
		deliver := 0
		if sig := ws.StopSignal(); ws>>16 == 0 && sig != unix.SIGTRAP {
			deliver = int(sig) // a signal-delivery stop: the signal goes on to the task
		}
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(deliver), 0, 0); e == unix.ESRCH {
			settle(tid)
		}
		return
	}
}

// controllingPty returns the number of the guest pty that is the task's controlling
// terminal (false: none, or another terminal such as the console). /proc/TID/stat gives the
// terminal's number only, and the console is a pty of the host's devpts with the same major
// number — often with the same minor too, as the guest's instance counts from 0. The task's
// own fds tell them apart: a slave of the guest's instance with that number wins (a session
// that got a guest pty usually still holds the console as its stdio, inherited); then a host
// pty with it; without either, a number that is not the console's is the guest's. (Left
// ambiguous: a task whose terminal is the console and which holds a guest slave of the same
// number gets the guest pty for /dev/tty; Linux gives no way to ask a slave's session from
// outside it.)
func (k *Kernel) controllingPty(tid int) (uint32, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 5 {
		return 0, false
	}
	nr, err := strconv.ParseUint(f[4], 10, 32)
	// tty_nr is new_encode_dev's: minor's low byte, major, minor's high bits
	major, minor := uint32(nr>>8)&0xfff, uint32(nr&0xff)|uint32(nr>>12)&0xfff00
	if err != nil || nr == 0 || major != ptyMajor || k.devptsDev() == 0 {
		return 0, false
	}
	dir := "/proc/" + strconv.Itoa(tid) + "/fd/"
	ents, _ := os.ReadDir(dir)
	host := false
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(dir+e.Name(), &st) == nil && st.Rdev == unix.Mkdev(major, minor) && st.Mode&unix.S_IFMT == unix.S_IFCHR {
			if st.Dev == k.devptsDev() {
				return minor, true
			}
			host = true
		}
	}
	if host {
		return 0, false
	}
	if k.cfg.Console != nil {
		if fd, err := k.cfg.Console.Open(unix.O_PATH); err == nil {
			var st unix.Stat_t
			con := unix.Fstat(fd, &st) == nil && st.Rdev == unix.Mkdev(major, minor)
			unix.Close(fd)
			if con {
				return 0, false
			}
		}
	}
	return minor, true
}

// openCtty opens guest pty n for /dev/tty (whose own mode, 0666, is what Linux checks).
func (k *Kernel) openCtty(n uint32, flags int) (int, error) {
	dir := k.devptsFD()
	if dir < 0 {
		return -1, unix.ENXIO
	}
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK) | unix.O_NOCTTY | unix.O_CLOEXEC
	return unix.Openat(dir, strconv.FormatUint(uint64(n), 10), acc|unix.O_NOFOLLOW, 0)
}
