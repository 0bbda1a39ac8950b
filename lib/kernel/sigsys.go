package kernel

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"golang.org/x/sys/unix"
)

// The shim (internal/shim, its src/shim.S) is mapped into every guest process at shimAddr: by the
// launcher into itself before it execs init, and by the kernel into every new image at the
// end of a traced execve, before the image runs an instruction. Fork copies it and threads
// share it. It answers get[e]uid/get[e]gid from its data page, which the kernel rewrites
// when a process's ids change, keeps SIGSYS out of every signal mask, keeps the guest's own
// SIGSYS action, and makes the Trace calls from its own syscall site so that they can be
// retried when a signal interrupts them (ptrace.go).

// publishCred writes the ids the shim answers with into a process's shim page.
func publishCred(tid int, cr *Cred) error {
	return writeMem(tid, shimAddr+shimPage1Off, shimValues(cr.UID, cr.EUID, cr.GID, cr.EGID))
}

// execDone is what follows a successful exec once the new image is checked: the shim is
// mapped into it and it gets its name (the task is stopped at the exit of execve).
func (k *Kernel) execDone(t *Task, comm, execfn string) error {
	k.mu.Lock()
	cr := *t.Proc.Cred
	k.mu.Unlock()
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(t.Tid, &regs); err != nil {
		return err
	}
	sd := k.statData()
	// a set-user-ID program that leaves guest FSUID 0 is ratcheted before it runs; exec
	// has ended the other threads (ratchet.go). The shim's path stats are for the others.
	on := k.ratchetOn()
	k.mu.Lock()
	need := needsRatchetLocked(on, t.Proc, t.Proc.Cred, t.Proc.Root != nil)
	sd.Paths = on && getxattratHost() && !k.placeholdFailed.Load() && !t.Proc.ratcheted && rootUnchrooted(t.Proc.Cred, t.Proc.Root != nil)
	k.mu.Unlock()
	if err := injectShim(t.Tid, &cr, comm, sd); err != nil {
		return err
	}
	if need {
		if err := k.ratchetTask(t); err != nil {
			return err
		}
	}
	fixExecfn(t.Tid, regs.Rsp, execfn)
	return nil
}

// inject makes one system call in a traced task stopped at any ptrace stop, from the
// syscall instruction at site, and puts the task's registers back. Signals that come while
// the task is single-stepped are sent again afterwards.
func inject(tid int, site uint64, nr uint64, args ...uint64) (int64, error) {
	var saved unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &saved); err != nil {
		return 0, err
	}
	var lost []unix.Signal
	defer func() {
		unix.PtraceSetRegs(tid, &saved)
		resend(tid, lost)
	}()
	return injectOne(tid, &saved, &lost, site, nr, args...)
}

// resend sends again the signals an injection took from task tid, in their order. A stop
// signal is left out when a SIGCONT is pending now: it came after the stop, and Linux
// drops a stop at a SIGCONT (sent again, the stop would flush the SIGCONT and stop the
// task for good; ptrace.go's detach has the same rule).
func resend(tid int, lost []unix.Signal) {
	for _, s := range lost {
		if isStopSignal(int(s)) && sigcontPending(tid) {
			continue
		}
		unix.Tgkill(tid, tid, s)
	}
}

// maxInjectStops bounds the signal stops one injected call may collect before it is given up.
const maxInjectStops = 64

// errInjectFault says an injected call could not be made: its instruction faulted.
var errInjectFault = errors.New("the injected system call faulted (shim unmapped?)")

// stepFault reports whether the signal a single-stepped task stopped with was raised by the
// instruction it ran (a fault, si_code > 0), not sent by someone (si_code <= 0).
func stepFault(tid int, sig unix.Signal) bool {
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGSYS, unix.SIGTRAP:
	default:
		return false
	}
	var si [128]byte
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(&si[0])), 0, 0); e != 0 {
		return true // cannot tell: giving up is the safe side
	}
	return int32(binary.LittleEndian.Uint32(si[8:])) > 0 // si_code
}

// injectOne makes one call from site with registers based on saved (not restored here).
func injectOne(tid int, saved *unix.PtraceRegs, lost *[]unix.Signal, site uint64, nr uint64, args ...uint64) (int64, error) {
	var a [6]uint64
	copy(a[:], args)
	r := *saved
	r.Rip, r.Rax, r.Orig_rax = site, nr, ^uint64(0)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := unix.PtraceSetRegs(tid, &r); err != nil {
		return 0, err
	}
	for stops := 0; ; stops++ {
		if stops == maxInjectStops {
			return 0, errInjectFault // a storm of signals: the step never completes
		}
		if err := unix.PtraceSingleStep(tid); err != nil {
			return 0, err
		}
		var ws unix.WaitStatus
		if _, err := wait4Tid(tid, &ws); err != nil {
			return 0, err
		}
		if ws.Exited() || ws.Signaled() {
			return 0, errGone
		}
		if ws.Stopped() && ws.StopSignal() == unix.SIGTRAP && ws>>16 == 0 {
			break
		}
		if ws.Stopped() && ws>>16 == 0 {
			if stepFault(tid, ws.StopSignal()) {
				// The instruction at site faulted: another thread of the guest unmapped or
				// replaced the shim. Stepping again would fault again, for ever.
				return 0, errInjectFault
			}
			*lost = append(*lost, ws.StopSignal())
		}
	}
	if err := unix.PtraceGetRegs(tid, &r); err != nil {
		return 0, err
	}
	return int64(r.Rax), nil
}

// injectShim maps the shim into a traced task stopped at a syscall-exit stop, with the
// task's own hands: mmap and mprotect borrow two bytes at the task's instruction pointer for
// a syscall instruction; rt_sigaction is made from the shim's own syscall site, the only
// place the filter lets the shim's SIGSYS action be installed from. Then the process gets
// its name (comm, unless empty), as Linux names it after the path given to execve, where
// the host named it after the file (execveat of an fd: sys_exec.go). Page 0 is sealed when
// the stat path is on (sd.RootMnt != 0): the filter trusts the attribute names in it
// (shimstat.go).
func injectShim(tid int, cr *Cred, comm string, sd shim.StatData) error {
	var saved unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &saved); err != nil {
		return err
	}
	var lost []unix.Signal
	defer func() {
		unix.PtraceSetRegs(tid, &saved)
		resend(tid, lost) // tgkill needs the tgid: after exec the task is its leader
	}()
	call := func(at uint64, nr, a0, a1, a2, a3, a4, a5 uint64) (int64, error) {
		return injectOne(tid, &saved, &lost, at, nr, a0, a1, a2, a3, a4, a5)
	}
	var word [8]byte
	if _, err := unix.PtracePeekData(tid, uintptr(saved.Rip), word[:]); err != nil {
		return err
	}
	patched := word
	patched[0], patched[1] = 0x0f, 0x05 // syscall
	if _, err := unix.PtracePokeData(tid, uintptr(saved.Rip), patched[:]); err != nil {
		return err
	}
	defer unix.PtracePokeData(tid, uintptr(saved.Rip), word[:])
	addr, err := call(saved.Rip, unix.SYS_MMAP, shimAddr, 2*shimPageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
	if err != nil {
		return err
	}
	if addr != shimAddr {
		return unix.EEXIST
	}
	page := append(shimPage0(), shimPage1(cr.UID, cr.EUID, cr.GID, cr.EGID, sd)...)
	if comm != "" {
		n := copy(page[shimPage1Off+shimCommOff:shimPage1Off+shimCommOff+15], comm)
		page[shimPage1Off+shimCommOff+n] = 0
	}
	if err := writeMem(tid, shimAddr, page); err != nil {
		return err
	}
	// still from the borrowed instruction: the shim's page is not executable yet
	if r, err := call(saved.Rip, unix.SYS_MPROTECT, shimAddr, shimPageSize, unix.PROT_READ|unix.PROT_EXEC, 0, 0, 0); err != nil || r != 0 {
		return errOr(err, r)
	}
	if sd.RootMnt != 0 {
		if r, err := call(saved.Rip, unix.SYS_MSEAL, shimAddr, shimPageSize, 0, 0, 0, 0); err != nil || r != 0 {
			return errOr(err, r)
		}
	}
	site := uint64(shimAddr + shimSyscallOff)
	if r, err := call(site, unix.SYS_RT_SIGACTION, uint64(unix.SIGSYS), shimAddr+shimSigactionOff, 0, 8, 0, 0); err != nil || r != 0 {
		return errOr(err, r)
	}
	if comm != "" {
		if r, err := call(site, unix.SYS_PRCTL, unix.PR_SET_NAME, shimAddr+shimPage1Off+shimCommOff, 0, 0, 0, 0); err != nil || r != 0 {
			return errOr(err, r)
		}
	}
	return nil
}

func errOr(err error, r int64) error {
	if err != nil {
		return err
	}
	return unix.Errno(-r)
}

func wait4Tid(tid int, ws *unix.WaitStatus) (int, error) {
	for {
		pid, err := unix.Wait4(tid, ws, unix.WALL|unix.WNOTHREAD, nil)
		if err != unix.EINTR {
			return pid, err
		}
	}
}

// mapShimSelf maps the shim into the calling process and installs its SIGSYS handler, with
// SIGSYS unblocked: the launcher does it before it installs the filter.
func mapShimSelf() error {
	addr, _, e := unix.RawSyscall6(unix.SYS_MMAP, shimAddr, 2*shimPageSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uintptr(0), 0)
	if e != 0 {
		return e
	}
	if addr != shimAddr {
		return unix.EEXIST
	}
	// no stat path for the launcher (a zero shim.StatData): init gets its own page at exec
	if err := writeMem(unix.Getpid(), shimAddr, append(shimPage0(), shimPage1(0, 0, 0, 0, shim.StatData{})...)); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_MPROTECT, shimAddr, shimPageSize, unix.PROT_READ|unix.PROT_EXEC); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSYS), shimAddr+shimSigactionOff, 0, 8, 0, 0); e != 0 {
		return e
	}
	var set [8]byte
	binary.LittleEndian.PutUint64(set[:], 1<<(unix.SIGSYS-1))
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, uintptr(unsafe.Pointer(&set[0])), 0, 8, 0, 0); e != 0 {
		return e
	}
	return nil
}
