package kernel

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Guest tasks are not traced. A traced task stops in its tracer at every signal it receives,
// which costs two context switches per signal (about 15 µs on a VM) and would defeat the
// in-process SIGSYS fast path (shim.go). ptrace is attached on demand instead, for the
// Trace rows of the table (execve, execveat, chdir, and fork, vfork and clone of a new
// process, but a plain fork by a single-threaded process, which forkfast.go lets run
// natively) and only for the length of that one call:
//
//  1. The call arrives as a seccomp notification. On an OS thread of its own the kernel
//     seizes the caller, asks for a stop (PTRACE_INTERRUPT) and answers the notification
//     with ERESTARTNOINTR, so the caller stops on its way out with nothing done.
//  2. At that stop the call is rewritten (exec, chdir) and resumed with PTRACE_SYSCALL; the
//     host restarts it, and its notification, which comes back once, is let through
//     (Task.contNr).
//  3. The call's events (the new child of a fork, the new image of an exec) are handled at
//     their stops before the child or the image runs an instruction; the syscall-exit stop
//     ends the call and the kernel detaches.
//
// A signal or a group stop that comes before the call re-entered undoes the rewrite and
// detaches: the host restarts the original call after the signal, and it comes back as a
// new notification.

const (
	// errRestartNoIntr is Linux's ERESTARTNOINTR: the call is restarted after the stop (and
	// after a signal handler, whatever its SA_RESTART).
	errRestartNoIntr = unix.Errno(513)
	// traceOptions: TRACESYSGOOD tells syscall stops from SIGTRAPs, EXITKILL kills the
	// tracee if linux dies in the middle of a call.
	traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEFORK |
		unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL
)

// tracedBy is the handler of a Trace row whose own part is h: the call is served by
// traceCall on the thread that received it (serve; ptrace requests must come from the
// thread that attached), which also answers the notification.
func tracedBy(h *traceHooks) handler {
	if h == nil {
		h = &traceHooks{}
	}
	return func(c *Call) result {
		c.trace = h
		return result{fd: -1, answered: true, trace: true}
	}
}

// traceCall hands a Trace call of init's to the thread that forked init (initLoop); the
// other callers' are served by the thread that received them (serve).
func (k *Kernel) traceCall(c *Call) {
	k.initCalls <- c
	var one = [8]byte{1}
	unix.Write(k.initWake, one[:])
}

// traceFailed ends a traced call that panicked (a bug of ours): the caller, stopped in an
// unknown state, is killed rather than let go, and the panic is reported.
func (k *Kernel) traceFailed(c *Call) {
	if v := recover(); v != nil {
		unix.Kill(c.Tid, unix.SIGKILL)
		unix.PtraceDetach(c.Tid)
		fmt.Fprintf(k.cfg.Stderr, "linux: BUG: %s by guest pid %d: %v (the process was killed)\n%s", sysName(int(c.n.Data.Nr)), k.guestPid(c.Tid), v, debug.Stack())
	}
}

// traceCallHere serves a Trace call on the calling (locked) thread. When the caller ended in
// the call and this thread reaped it (it was this thread's child: init), its status is
// returned. handoff, when not nil, is called once the call is certain to need ptrace, just
// before this thread attaches it: the receiving loop hands its role on there (serve).
func (k *Kernel) traceCallHere(c *Call, handoff func()) (ws unix.WaitStatus, ended bool) {
	defer k.traceFailed(c)
	k.releaseStrays(nil, 0) // anything an earlier trace on this thread left
	tid, t, nr := c.Tid, c.T, int(c.n.Data.Nr)
	k.mu.Lock()
	t.forkRatcheted = t.Proc.ratcheted // before the call can fork (ratchet.go)
	k.mu.Unlock()
	var plan *tracePlan
	hooks := c.trace
	if hooks.prepare != nil {
		// Resolved while the caller waits in the notification: a call that fails now
		// (most execve calls of a PATH search) is answered without ptrace. The file is
		// installed in the caller before the answer, while the notification still lets
		// the kernel do that.
		var err error
		if plan, err = hooks.prepare(k, c); err != nil {
			k.respond(c.n.ID, tid, fail(err))
			return 0, false
		}
		// ADDFD takes no O_PATH file: a readable description of the same file (close-on-
		// exec in the caller, so a successful execve leaves nothing behind)
		afd, err := unix.Open(selfFD(plan.fd), plan.installFlags(), 0)
		if err != nil {
			unix.Close(plan.fd)
			k.respond(c.n.ID, tid, fail(err))
			return 0, false
		}
		gfd, err := notifAddfd(k.listener, c.n.ID, afd, true)
		unix.Close(afd)
		if err != nil {
			k.debugf("%s by %d: installing the file: %v", sysName(nr), k.guestPid(tid), err)
			unix.Close(plan.fd)
			if err != unix.ENOENT && err != unix.ESRCH {
				k.respond(c.n.ID, tid, errno(unix.EMFILE))
			}
			return 0, false
		}
		plan.gfd = gfd
	}
	if handoff != nil {
		handoff()
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, traceOptions, 0, 0); e != 0 {
		k.debugf("%s by %d: attaching: %v", sysName(nr), k.guestPid(tid), e)
		if plan != nil {
			unix.Close(plan.fd)
		}
		k.respond(c.n.ID, tid, errno(unix.EAGAIN))
		return 0, false
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(tid), 0, 0, 0, 0); e != 0 {
		k.debugf("%s by %d: interrupting: %v", sysName(nr), k.guestPid(tid), e)
		unix.PtraceDetach(tid)
		if plan != nil {
			unix.Close(plan.fd)
		}
		k.respond(c.n.ID, tid, errno(unix.EAGAIN))
		return 0, false
	}
	k.respond(c.n.ID, tid, errno(errRestartNoIntr))
	t.plan = plan
	d := &traceRun{k: k, t: t, tid: tid, nr: nr, plan: plan, hooks: hooks}
	d.run()
	return d.endStatus, d.ended
}

// traceRun is the state of one traced call.
type traceRun struct {
	k     *Kernel
	t     *Task
	tid   int
	nr    int
	hooks *traceHooks
	phase int // 0: until the interrupt stop, 1: until the call re-enters, 2: in the call
	saved unix.PtraceRegs
	// children reported by a fork event whose first stop has not been seen yet: they are
	// attached to this thread, which must let them go before it ends
	children map[int]bool
	seen     map[int]bool // children whose first stop came before their fork event
	over     bool         // the caller is detached; only children are left
	execed   bool         // a checked new image is in place
	detached bool         // the caller was let go (its pending state cleared before)
	// the caller ended in the call (reaped here if this thread is its parent)
	ended     bool
	endStatus unix.WaitStatus
	// the restarted call (number, first argument) to let through
	contNr   int
	contArg0 uint64
	plan     *tracePlan // execve/chdir: what the kernel resolved (sys_exec.go)
	forkSeen bool       // the call's fork event came
}

// forks reports whether the call makes a new process.
func (d *traceRun) forks() bool {
	return d.nr == unix.SYS_FORK || d.nr == unix.SYS_VFORK || d.nr == unix.SYS_CLONE
}

// releaseStrays lets go every task stopped in a ptrace stop for this thread that no trace is
// handling: a child auto-attached by a fork whose caller died before reporting it (or that a
// trace on this thread left behind). It is recorded as a child of parent (when given) or of
// its parent process, or killed when neither is known, and detached. It waits up to wait for
// one to show up (a child stops at once when it first runs). Only stops are collected, so a
// real child of this thread that exited (init, on the thread that forked it) is never reaped
// here.
func (k *Kernel) releaseStrays(parent *Task, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for {
		var si unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &si, unix.WSTOPPED|unix.WNOHANG|unix.WALL|unix.WNOTHREAD, nil)
		pid := int(*(*int32)(unsafe.Add(unsafe.Pointer(&si), 16))) // si_pid
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid == 0 {
			if err != nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(time.Millisecond)
			continue
		}
		k.mu.Lock()
		known := k.tasks[pid] != nil
		k.mu.Unlock()
		if !known {
			if p := parent; p != nil {
				k.newTask(p, pid)
			} else if _, pp := procTgidPpid(pid); pp > 0 {
				if pt := k.task(pp); pt != nil {
					k.newTask(pt, pid)
				} else {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		k.debugf("released a stray tracee %d", pid)
		k.ratchetChild(pid)
		unix.PtraceDetach(pid)
	}
}

// closeGuestFD closes the plan's fd in the caller, which is stopped, where the call leaves it
// open (every path but a successful execve, which closes it on exec).
func (d *traceRun) closeGuestFD() {
	if d.plan == nil || d.plan.gfd < 0 {
		return
	}
	if _, err := inject(d.tid, shimAddr+shimSyscallOff, unix.SYS_CLOSE, uint64(d.plan.gfd)); err != nil {
		d.k.debugf("%s by %d: closing fd %d: %v", sysName(d.nr), d.k.guestPid(d.tid), d.plan.gfd, err)
		if err != errGone && err != unix.ESRCH {
			// The guest took its shim away (another thread unmapped it): the fd, which may
			// read a file the caller may only execute, must not stay with it, and without
			// its shim the process cannot make another call anyway.
			unix.Kill(d.tid, unix.SIGKILL)
		}
	}
	d.plan.gfd = -1
}

func (d *traceRun) run() {
	k, t := d.k, d.t
	defer func() {
		if !d.detached {
			k.clearPending(t) // the task died in the call
		}
		if d.forks() && !d.forkSeen {
			// The caller may have died between making its child and reporting it: the
			// child is attached to this thread all the same, and would wait in its first
			// stop for a tracer that has gone back to the thread pool.
			k.releaseStrays(t, 100*time.Millisecond)
		}
	}()
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // ECHILD: the tracee is gone
		}
		if wpid != d.tid {
			if ws.Stopped() && int(ws>>16) == unix.PTRACE_EVENT_EXEC {
				// a non-leader thread called execve: it now has the leader's tid
				k.retid(t, wpid)
				d.tid = wpid
			} else {
				d.child(wpid, ws)
				if d.over && len(d.children) == 0 {
					return
				}
				continue
			}
		}
		if ws.Exited() || ws.Signaled() {
			d.over = true
			d.ended, d.endStatus = true, ws
		} else if !ws.Stopped() {
			continue
		} else if k.dying.Load() {
			unix.Kill(d.tid, unix.SIGKILL)
			d.detach(0)
			d.over = true
		} else if d.stopped(ws) {
			d.over = true
		}
		if d.over && len(d.children) == 0 {
			return
		}
	}
}

// child handles a stop or the end of a task other than the caller: the new child of a fork,
// auto-attached and stopped before its first instruction. It is recorded and let go.
func (d *traceRun) child(pid int, ws unix.WaitStatus) {
	if traceDebug {
		d.k.debugf("trace %s tid %d: child %d status %#x", sysName(d.nr), d.tid, pid, uint32(ws))
	}
	delete(d.children, pid)
	if !ws.Stopped() {
		return
	}
	if !d.forks() {
		// no child of this call: a tracee an earlier trace on this thread left behind
		d.k.mu.Lock()
		known := d.k.tasks[pid] != nil
		d.k.mu.Unlock()
		if !known {
			unix.Kill(pid, unix.SIGKILL) // nothing says what its credentials are
		}
		unix.PtraceDetach(pid)
		return
	}
	if d.seen == nil {
		d.seen = map[int]bool{}
	}
	d.seen[pid] = true
	d.k.newTask(d.t, pid)
	d.k.ratchetChild(pid)
	unix.PtraceDetach(pid)
}

// stopped handles a stop of the caller; it reports whether the call is over (detached).
func (d *traceRun) stopped(ws unix.WaitStatus) bool {
	k, t, tid := d.k, d.t, d.tid
	sig := ws.StopSignal()
	event := int(ws >> 16)
	if traceDebug {
		k.debugf("trace %s tid %d phase %d: sig %d event %d", sysName(d.nr), tid, d.phase, sig, event)
	}
	switch {
	case d.phase == 0 && event == unix.PTRACE_EVENT_STOP && sig == unix.SIGTRAP:
		// our interrupt: the call has not run (it returned ERESTARTNOINTR)
		return d.interrupted()
	case d.phase == 1 && sig == unix.SIGTRAP|0x80:
		// The restarted call entered; its notification is let through once. Only now:
		// the task makes no other call until its exit stop, where this is undone again.
		k.mu.Lock()
		t.contNr, t.contArg0 = d.contNr, d.contArg0
		k.mu.Unlock()
		d.phase = 2
		unix.PtraceSyscall(tid, 0)
	case d.phase < 2:
		// A group stop, or a signal to deliver, before the call re-entered: undo and let go.
		// The host restarts the original call after the signal (ERESTARTNOINTR).
		if d.phase == 1 {
			unix.PtraceSetRegs(tid, &d.saved)
		}
		d.closeGuestFD()
		deliver := 0
		if event == 0 && sig != unix.SIGTRAP {
			deliver = int(sig)
		}
		d.detach(deliver)
		return true
	case sig == unix.SIGTRAP|0x80:
		// the syscall-exit stop: the call is over
		return d.exited()
	case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
		d.forkSeen = true
		if msg, err := unix.PtraceGetEventMsg(tid); err == nil {
			k.newTask(t, int(msg))
			if !d.seen[int(msg)] {
				if d.children == nil {
					d.children = map[int]bool{}
				}
				d.children[int(msg)] = true
			}
		}
		unix.PtraceSyscall(tid, 0)
	case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_EXEC:
		d.execed = d.hooks.newImage(k, t)
		unix.PtraceSyscall(tid, 0)
	case event == unix.PTRACE_EVENT_STOP:
		// a group stop inside the call: it keeps the caller stopped; the call is over for us
		if !d.execed {
			d.closeGuestFD()
		}
		d.detach(0)
		return true
	default:
		// a signal arrived during the call: deliver it
		unix.PtraceSyscall(tid, int(sig))
	}
	return false
}

// interrupted handles the stop of the kernel's interrupt: the call has not run yet. It is
// rewritten (exec and chdir to their fd, a new process made a copy) and restarted under
// ptrace; true when the run is over.
func (d *traceRun) interrupted() bool {
	k, t, tid := d.k, d.t, d.tid
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &regs); err != nil {
		return true
	}
	if int(regs.Orig_rax) != d.nr || int64(regs.Rax) != -int64(errRestartNoIntr) {
		d.closeGuestFD()
		d.detach(0)
		return true
	}
	d.saved = regs
	if d.hooks.atStop != nil {
		if err := d.hooks.atStop(k, t); err != nil {
			d.failAtStop(&regs, err)
			return true
		}
		d.detach(0) // the host restarts the call (ERESTARTNOINTR), which traps anew
		return true
	}
	var err error
	if d.hooks.rewrite != nil {
		err = d.hooks.rewrite(k, t, d.plan, &regs, scratchSP(tid, &regs))
	}
	if err != nil {
		d.failAtStop(&regs, err)
		return true
	}
	if err := unix.PtraceSetRegs(tid, &regs); err != nil {
		d.closeGuestFD()
		d.detach(0)
		return true
	}
	d.contNr, d.contArg0 = int(regs.Orig_rax), regs.Rdi
	d.phase = 1
	unix.PtraceSyscall(tid, 0)
	return false
}

// failAtStop fails the call at the interrupt stop without running it (no restart).
func (d *traceRun) failAtStop(regs *unix.PtraceRegs, err error) {
	d.k.debugf("%s by %d: %v", sysName(d.nr), d.k.guestPid(d.tid), err)
	e, ok := err.(unix.Errno)
	switch {
	case err == errGone:
		e = unix.ESRCH
	case !ok:
		e = unix.EIO
	}
	d.closeGuestFD()
	regs.Orig_rax = ^uint64(0)
	regs.Rax = uint64(-int64(e))
	unix.PtraceSetRegs(d.tid, regs)
	d.detach(0)
}

// exited handles the syscall-exit stop of the traced call and ends the run.
func (d *traceRun) exited() bool {
	k, t, tid := d.k, d.t, d.tid
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(tid, &regs) == nil && isRestart(int64(regs.Rax)) {
		// A signal cut the notification short: the host restarts the call (or the
		// shim retries it), which must be the caller's own, not the rewritten one.
		r := d.saved
		r.Rax = regs.Rax
		unix.PtraceSetRegs(tid, &r)
		d.closeGuestFD()
		d.detach(0)
		return true
	}
	switch {
	case d.execed:
		// the new image, about to run its first instruction, gets the shim and its name;
		// the program's fd went with the old image (close-on-exec)
		d.plan.gfd = -1
		if d.hooks.done != nil {
			if err := d.hooks.done(k, t, d.plan); err != nil {
				k.debugf("%s by %d: finishing: %v", sysName(d.nr), k.guestPid(tid), err)
				unix.Kill(tid, unix.SIGKILL)
			}
		}
	default:
		d.closeGuestFD()
	}
	d.detach(0)
	return true
}

// scratchSP returns the stack pointer below which a traced call's rewritten arguments may
// be written (sys_exec.go). A call made by the shim runs in its SIGSYS handler: on the
// guest's own stack, just below the signal frame (which must survive a failed call), or on
// the guest's alternate signal stack, which may be small: then below the guest's own stack
// pointer, saved in the frame (the shim keeps the ucontext's address in r12).
func scratchSP(tid int, regs *unix.PtraceRegs) uint64 {
	if regs.Rip != shimAddr+shimG2RetOff {
		return regs.Rsp
	}
	var b [8]byte
	if readMem(tid, regs.R12+ucRSP, b[:]) != nil {
		return regs.Rsp
	}
	guest := binary.LittleEndian.Uint64(b[:])
	if regs.Rsp < guest && guest-regs.Rsp < 1<<20 {
		return regs.Rsp
	}
	return guest
}

// isRestart reports whether v is one of Linux's restart codes (ERESTARTSYS and co.).
func isRestart(v int64) bool { return v == -512 || v == -513 || v == -514 || v == -516 }

// ucRSP is the offset of the saved rsp in an x86-64 ucontext (uc_mcontext.gregs[REG_RSP]).
const ucRSP = 160

var traceDebug = os.Getenv("GOUML_TRACE_DEBUG") == "1"

// detach lets the caller go (delivering sig). The let-through is withdrawn first: if the
// restarted call's notification was cut short by a signal before the kernel received it,
// the shim's retry is a new call and must be traced again.
//
// The call's pending state goes first as well: once detached, the task may already be in
// its next traced call, whose state must not be cleared by this one.
//
// A stop signal the trace caught (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) is stale when a
// SIGCONT came after it: Linux drops a pending stop at a SIGCONT, but this one was held
// by the tracer, out of the queue, and delivered at the detach it would stop the task
// after its SIGCONT, for ever (seen under load: kill -STOP then kill -CONT of a child in
// a traced call). A traced task keeps even an ignored SIGCONT pending, so it shows.
func (d *traceRun) detach(sig int) {
	d.k.clearPending(d.t)
	d.detached = true
	d.k.mu.Lock()
	d.t.contNr = -1
	tgid := d.t.Proc.Tgid
	d.k.mu.Unlock()
	stop := isStopSignal(sig)
	if stop && sigcontPending(d.tid) {
		sig = 0
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(d.tid), 0, uintptr(sig), 0, 0); e == unix.ESRCH {
		settle(d.tid)
		return
	}
	if stop && sig != 0 && sigcontPending(d.tid) {
		// the SIGCONT came between the look and the detach: its wake-up went by while the
		// task was traced, so give it again (it merges with the pending one)
		unix.Kill(tgid, unix.SIGCONT)
	}
}

// settle waits for a tracee that could not be detached because it was not in a stop: a
// SIGKILL woke it, so it is on its way out, and its end must be collected by this thread
// (its tracer) before its parent can see it. A thread of the pool that left it would
// hold it as a zombie until its next trace. A stop it makes meanwhile is detached.
func settle(tid int) {
	for {
		var ws unix.WaitStatus
		if _, err := wait4Tid(tid, &ws); err != nil || ws.Exited() || ws.Signaled() {
			return
		}
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, 0, 0, 0); e == 0 {
			return
		}
	}
}

// newTask records a task created by a traced fork/vfork/clone of parent (before it runs).
// Whatever the kernel knew under that tid before belonged to a task that is gone.
func (k *Kernel) newTask(parent *Task, tid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := k.tasks[tid]; old != nil && old.born == parent {
		return // the fork event and the child's first stop both report it
	}
	// Always a new process: a new thread (CLONE_THREAD) is created natively, never under
	// ptrace, and a traced task makes no other call while it is traced.
	p := &Process{Tgid: tid, Cred: parent.Proc.Cred.clone(), Root: parent.Proc.Root, Loaded: parent.Proc.Loaded,
		ratcheted: parent.forkRatcheted}
	k.procs[tid] = p
	k.watchProcess(p)
	t := &Task{Tid: tid, Proc: p, contNr: -1, born: parent}
	k.tasks[tid] = t
	k.watchTask(t)
}

// retid follows a task whose tid changed: a non-leader thread that called execve takes the
// leader's tid, and the other threads are gone.
func (k *Kernel) retid(t *Task, tid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, o := range k.tasks {
		if o.Proc == t.Proc && o != t {
			delete(k.tasks, id)
		}
	}
	delete(k.tasks, t.Tid)
	t.Tid, t.vtid = tid, 0
	k.tasks[tid] = t
	k.watchTask(t)
}

// initLoop serves init's traced calls and waits for init to end. Linux reports a child's
// ptrace stops to any waiting thread of its real parent's thread group: the thread that
// forked init is therefore the only one that traces it or waits for it (a traced call on
// another thread would lose its stops to the wait for init's end).
func (k *Kernel) initLoop(initPid int) {
	defer close(k.loopDone)
	pidfd, err := unix.PidfdOpen(initPid, 0)
	if err != nil {
		k.panicf("pidfd_open of init: %v", err)
		return
	}
	defer unix.Close(pidfd)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		k.panicf("epoll: %v", err)
		return
	}
	defer unix.Close(ep)
	unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, pidfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(pidfd)})
	unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, k.initWake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.initWake)})
	evs := make([]unix.EpollEvent, 2)
	for {
		n, err := unix.EpollWait(ep, evs, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == k.initWake {
				var b [8]byte
				unix.Read(k.initWake, b[:])
				for more := true; more; {
					select {
					case c := <-k.initCalls:
						if ws, ended := k.traceCallHere(c, nil); ended {
							k.initEnded(ws)
							return
						}
					default:
						more = false
					}
				}
				continue
			}
			var ws unix.WaitStatus
			for {
				_, err := unix.Wait4(initPid, &ws, unix.WALL, nil)
				if err != unix.EINTR {
					break
				}
			}
			k.initEnded(ws)
			return
		}
	}
}

func (k *Kernel) initEnded(ws unix.WaitStatus) {
	if !k.dying.Load() {
		k.initDied(ws)
	}
}

func (k *Kernel) initDied(ws unix.WaitStatus) {
	if ws.Exited() && ws.ExitStatus() == stubNoInit {
		k.halt(134, false) // "No working init found" panic, already printed by the launcher
		return
	}
	code := 0
	if ws.Exited() {
		code = ws.ExitStatus() << 8
	} else {
		code = int(ws.Signal())
	}
	k.panicf("Attempted to kill init! exitcode=0x%08x", code)
}

// panicf ends the machine like a kernel panic of the real UML (exit status 134).
func (k *Kernel) panicf(format string, a ...any) {
	k.once.Do(func() {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(k.cfg.Stderr, "Kernel panic - not syncing: %s\n", msg)
		if k.cfg.mc != nil && k.cfg.mc.srv != nil {
			k.cfg.mc.srv.NotifyPanic(msg)
		}
		k.shutdown <- shutdownReq{status: 134}
	})
}
