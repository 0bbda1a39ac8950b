package kernel

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Call is one trapped system call being served (seccomp user notification). The loop reuses
// a Call for the next notification once its handler has returned (serve), so a handler keeps
// it beyond that only through result.async or by answering the call itself (answered).
type Call struct {
	k   *Kernel
	n   seccompNotif
	Tid int
	T   *Task
	fs  *Root // the file system the last path resolved in (a mount's, or the root's)
	// the last path parent() resolved: its last component as written, and whether a
	// slash followed it (the name must then be a directory)
	last  string
	slash bool
	// as, when set, are the credentials the call's permission checks use instead of the
	// caller's (access() checks with the real ids: dac.go)
	as *Cred
	// installed, when set, is told the number the handler's new fd got in the caller, before
	// the caller's call returns (a /proc/self/fd listing adds its own fd: special.go)
	installed func(gfd int)
	// trace is a Trace row's own part of the call (table.go: traced)
	trace *traceHooks
}

// Arg returns argument i.
func (c *Call) Arg(i int) uint64 { return c.n.Data.Args[i] }

// Int returns argument i as a C int.
func (c *Call) Int(i int) int32 { return int32(c.n.Data.Args[i]) }

// Str reads a path argument.
func (c *Call) Str(i int) (string, error) { return readString(c.Tid, c.Arg(i), 4095) }

// Read and Write access the caller's memory.
func (c *Call) Read(addr uint64, b []byte) error  { return readMem(c.Tid, addr, b) }
func (c *Call) Write(addr uint64, b []byte) error { return writeMem(c.Tid, addr, b) }

// result is a handler's answer.
type result struct {
	val     int64
	errno   unix.Errno
	cont    bool // let the call run natively (arguments are registers, checked already)
	fd      int  // >= 0: install this kernel fd in the caller and return its number
	cloexec bool
	async   func() result // run in its own goroutine (the call may block)
	// answered: the handler has passed the notification on and it will be answered there
	answered bool
	// trace: a Trace row's call (c.trace set), which the receiving thread serves itself
	// (serve)
	trace bool
	// installed is Call.installed, told the fd's number once it is installed
	installed func(gfd int)
}

type handler func(c *Call) result

func ok(v int64) result { return result{val: v, fd: -1} }
func fail(e error) result {
	var en unix.Errno
	if errors.As(e, &en) {
		return result{errno: en, fd: -1}
	}
	if e == errGone {
		return result{errno: unix.ESRCH, fd: -1}
	}
	return result{errno: unix.EIO, fd: -1}
}
func errno(e unix.Errno) result         { return result{errno: e, fd: -1} }
func cont() result                      { return result{cont: true, fd: -1} }
func newFD(fd int, cloexec bool) result { return result{fd: fd, cloexec: cloexec} }

// serve is the notification loop: receive, handle, answer, on one OS thread it keeps for
// the machine's life. Handlers run inline (no goroutine hand-off, no cross-CPU wake-up per
// call); a handler that may block returns result.async and only that part runs on a
// goroutine of its own. The loop allocates nothing for a call whose handler does not: the
// notification buffer is reused, and so is the Call, unless its handler kept it (an async
// part or a traced call has it, and a new Call is taken for the next notification).
func (k *Kernel) serve() {
	// Locked, the loop is the one thread asleep in NOTIF_RECV, which the host wakes on the
	// caller's CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) and switches to directly; it is never
	// unlocked, so the thread ends with the loop.
	//
	// A traced call (ptrace.go) is served by the thread that received it, which is running
	// already: its first part (resolving an execve's file) runs inline like any handler, and
	// a call that fails there (most execve calls of a PATH search) never leaves this thread.
	// Just before it attaches ptrace, the thread starts a new loop to take over receiving
	// and, once the call is over, goes back to the runtime. Handing every traced call to
	// another thread instead put a thread's wake-up (measured at 300–600 µs on a loaded
	// machine) before the work of every execve; the new loop's wake-up now overlaps with the
	// trace's own stops.
	runtime.LockOSThread()
	var n seccompNotif
	c := new(Call)
	for {
		if err := notifRecv(k.listener, &n); err != nil {
			if err == unix.ENOENT {
				continue // the caller died before we received its call
			}
			return // listener closed: the machine is down
		}
		kept, trace := k.dispatch(&n, c)
		if trace && c.Tid != k.initTgid {
			handed := false
			k.traceCallHere(c, func() { handed = true; go k.serve() })
			if handed {
				runtime.UnlockOSThread() // back to the runtime's threads
				return
			}
		} else if trace {
			// handed to the thread that forked init (initLoop), from a goroutine: a guest
			// init with many threads in traced calls at once can fill initCalls, and this
			// loop must go on receiving (the calls initLoop serves come back here)
			go k.traceCall(c)
		}
		if kept {
			c = new(Call)
		}
	}
}

// dispatch serves one notification with c, which it fills; it reports whether c was kept
// beyond the call (by an async part or a traced call), so that the caller takes a new one,
// and whether the call is a traced one, which the caller serves with traceCall.
func (k *Kernel) dispatch(n *seccompNotif, c *Call) (kept, trace bool) {
	nr := int(n.Data.Nr)
	s := byNr[nr]
	if s == nil || s.Handler == nil {
		k.logOnce(nr, "unsupported system call %s (%d): ENOSYS", sysName(nr), nr)
		k.respond(n.ID, int(n.Pid), errno(unix.ENOSYS))
		return false, false
	}
	*c = Call{k: k, n: *n, Tid: int(n.Pid)}
	k.mu.Lock()
	c.T = k.taskLocked(c.Tid)
	if c.T == nil {
		k.mu.Unlock()
		k.respond(n.ID, int(n.Pid), errno(unix.ESRCH))
		return false, false
	}
	c.T.seq++
	// A traced call the kernel rewrote and restarted (ptrace.go) comes back once: let it run.
	// Only that call, with the first argument the kernel gave it, matches.
	match := c.T.contNr == nr && c.T.contArg0 == n.Data.Args[0]
	if c.T.contNr >= 0 {
		if !match {
			k.debugf("%d: %s(%#x) while %s(%#x) was expected", c.Tid, sysName(nr), n.Data.Args[0], sysName(c.T.contNr), c.T.contArg0)
		}
		c.T.contNr = -1
	}
	k.mu.Unlock()
	if match {
		k.respond(n.ID, int(n.Pid), cont())
		return false, false
	}
	var start time.Time
	if k.stats != nil {
		start = time.Now()
	}
	r := k.handle(s, c)
	if k.stats != nil {
		k.stats.add(nr, start)
		if r.cont {
			k.stats.addCont(nr)
		}
	}
	if r.trace {
		return true, true
	}
	if r.answered {
		return true, false
	}
	if r.fd >= 0 {
		r.installed = c.installed
	}
	if r.async != nil {
		f, id, tid := r.async, n.ID, int(n.Pid)
		go func() {
			r := errno(unix.EIO)
			func() {
				defer k.recoverCall(c)
				r = f()
			}()
			markInterrupted(&c.n, r)
			k.respond(id, tid, r)
		}()
		return true, false
	}
	markInterrupted(n, r)
	k.respond(n.ID, int(n.Pid), r)
	return false, false
}

// interruptMark is what markInterrupted writes into the shim's cell.
var interruptMark = [8]byte{1}

// markInterrupted tells the shim that the kernel itself ends the call because of a signal
// (ERESTARTSYS, which the host makes EINTR after a handler without SA_RESTART, or EINTR):
// the shim retries a call that fails with EINTR only when the kernel never saw it (a signal
// interrupted it before it was received), so that Linux's calls that never fail with EINTR
// never do, while those the kernel interrupts as Linux would still do. A call made from the
// shim's second site has a cell at its stack pointer for the mark (shim.S: forward); a call
// made from anywhere else has none and is left alone. The guest can point that stack
// anywhere: the mark lands in its own memory, where it could write it itself.
func markInterrupted(n *seccompNotif, r result) {
	if r.errno != errRestart && r.errno != unix.EINTR || n.Data.IP != shimAddr+shimG2RetOff {
		return
	}
	tid := int(n.Pid)
	s, err := syscallSite(tid)
	// the call still waits for this answer: its site is the notification's
	if err != nil || s.Nr != int64(n.Data.Nr) || s.PC != n.Data.IP {
		return
	}
	_ = writeMem(tid, s.SP, interruptMark[:]) // EFAULT: a stack of the guest's choosing
}

// handle runs a handler; a handler that panics (a bug of ours, whatever the guest passed)
// fails that one call with EIO and is reported, and the machine runs on.
func (k *Kernel) handle(s *Syscall, c *Call) (r result) {
	r = errno(unix.EIO)
	defer k.recoverCall(c)
	return s.Handler(c)
}

// recoverCall turns a panic of a handler into a kernel message (deferred by the callers).
func (k *Kernel) recoverCall(c *Call) {
	if v := recover(); v != nil {
		fmt.Fprintf(k.cfg.Stderr, "linux: BUG: %s by guest pid %d: %v\n%s", sysName(int(c.n.Data.Nr)), k.guestPid(c.Tid), v, debug.Stack())
	}
}

func (k *Kernel) respond(id uint64, tid int, r result) {
	resp := seccompNotifResp{ID: id}
	switch {
	case r.cont:
		resp.Flags = notifFlagContinue
	case r.fd >= 0:
		// The caller cannot be interrupted between ADDFD and SEND (WAIT_KILLABLE_RECV,
		// seccomp.go): if SEND fails it died, and the fd went with it.
		gfd, err := notifAddfd(k.listener, id, r.fd, r.cloexec)
		unix.Close(r.fd)
		if err != nil {
			if err == unix.ENOENT || err == unix.ESRCH {
				return // the caller is gone
			}
			resp.Error = -int32(unix.EMFILE)
			break
		}
		resp.Val = int64(gfd)
		if r.installed != nil {
			r.installed(int(gfd))
		}
	case r.errno != 0:
		resp.Error = -int32(r.errno)
	default:
		resp.Val = r.val
	}
	_ = notifSend(k.listener, &resp) // ENOENT: the caller died or was interrupted
}

func (k *Kernel) logOnce(nr int, format string, a ...any) {
	if !k.cfg.Debug {
		return
	}
	k.debugMu.Lock()
	seen := k.logged[nr]
	k.logged[nr] = true
	k.debugMu.Unlock()
	if !seen {
		k.debugf(format, a...)
	}
}

// errRestart is Linux's ERESTARTSYS: answered when a signal is pending for a caller blocked
// in a handler, it makes the host restart the call after the signal (or fail it with EINTR
// when the handler lacks SA_RESTART), exactly like an interrupted blocking call.
const errRestart = unix.Errno(512)

// signalPending reports whether a signal would interrupt the task's blocking call now: one
// pending for the task itself that it does not block, or one pending for its process that
// Linux hands to this task. The answer that follows is ERESTARTSYS, which the host turns
// into a restart or EINTR only for a task that has a signal to handle; a task that another
// thread took the signal from would get 512 itself. So a signal of the process counts only
// where Linux's choice (complete_signal) is sure to fall on this task: it is the leader and
// does not block the signal, or no other thread can take it.
func signalPending(tid int) bool {
	st, err := taskSignals(tid)
	if err != nil {
		return true // gone: stop waiting for it
	}
	if st.pending&^st.blocked != 0 {
		return true
	}
	shared := st.shared &^ st.blocked
	if shared == 0 {
		return false
	}
	if st.tgid == tid {
		return true
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(st.tgid) + "/task")
	if err != nil {
		return true
	}
	for _, e := range ents {
		other, err := strconv.Atoi(e.Name())
		if err != nil || other == tid {
			continue
		}
		if o, err := taskSignals(other); err == nil && shared&^o.blocked != 0 {
			return false // that thread can take it, and the leader is preferred
		}
	}
	return true
}

// taskSig is a task's signal state from /proc/TID/status.
type taskSig struct {
	tgid                     int
	pending, shared, blocked uint64
}

func taskSignals(tid int) (taskSig, error) {
	var s taskSig
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		key, val, _ := strings.Cut(l, ":")
		val = strings.TrimSpace(val)
		switch key {
		case "Tgid":
			s.tgid, _ = strconv.Atoi(val)
		case "SigPnd":
			s.pending, _ = strconv.ParseUint(val, 16, 64)
		case "ShdPnd":
			s.shared, _ = strconv.ParseUint(val, 16, 64)
		case "SigBlk":
			s.blocked, _ = strconv.ParseUint(val, 16, 64)
		}
	}
	return s, nil
}

// waitInterruptible polls ready (which must not block) until it is done, sleeping on fd's
// events between tries; a signal for the caller ends the wait with errRestart.
func (c *Call) waitInterruptible(fd int, events int16, ready func() (result, bool)) result {
	for {
		if r, done := ready(); done {
			return r
		}
		if signalPending(c.Tid) {
			return errno(errRestart)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		unix.Poll(pfd, 20)
	}
}
