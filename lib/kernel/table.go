package kernel

import (
	"sort"

	"golang.org/x/sys/unix"
)

// Disposition says how a system call is handled; the seccomp filter, the dispatcher and the
// reports (linux --showconfig, the man page) are all derived from it.
type Disposition uint8

const (
	// Unlisted system calls fail with ENOSYS (under `debug`, each is logged once).
	Unlisted Disposition = iota
	// Passthrough calls run natively in the guest process, untrapped.
	Passthrough
	// Notify calls trap to the kernel through seccomp user notification.
	Notify
	// Trace calls trap through seccomp user notification and are served with ptrace attached
	// for the length of the call (ptrace.go): for what a notification cannot do, i.e. change
	// the caller's registers (execve, chdir) or see the child of a fork before it runs.
	Trace
	// Errno calls fail with a fixed error, decided in the filter.
	Errno
	// ArgRule calls run natively or fail in the filter depending on an argument.
	ArgRule
	// InGuest calls are answered in the caller's own process by the shim (shim.go), through
	// SIGSYS, without a round trip to the kernel.
	InGuest
)

func (d Disposition) String() string {
	return [...]string{"enosys", "passthrough", "trapped", "trapped(ptrace)", "error", "filtered", "in-guest"}[d]
}

// argRule is a decision the BPF filter makes on an argument.
type argRule uint8

const (
	ruleNone       argRule = iota
	ruleIoctl              // deny ioctls that reach beyond the guest's own objects (TIOCSTI …)
	ruleClone              // deny namespace flags
	ruleSelfArg0           // allow when args[0] == 0 (this process), else EPERM
	ruleTrapArg0           // allow when args[0] == 0 (this process), else trap to the handler
	ruleTrapArgs01         // allow when args[0] == 0 and args[1] == 0 (PRIO_PROCESS, this process), else trap
	ruleMemSize            // allow when args[1] (a length) is at most the machine's memory, else trap
	ruleShimNative         // the shim's own call (from its first syscall site) runs natively; others go to the shim
	ruleShimRoute          // from the shim's second syscall site to the kernel, from elsewhere to the shim
	// A wait with a temporary signal mask: natively when the mask argument (args[3], [4]
	// or [5]) is NULL or the call comes from the shim's first site, else to the shim,
	// which takes SIGSYS out of the mask.
	ruleShimMask3
	ruleShimMask4
	ruleShimMask5
	// The stat path of the shim (shimstat.go). Without it on the machine (fastStatHost)
	// all four trap as ordinary rows.
	ruleShimFstat   // fstat: natively from the first site, to the kernel from the second, else to the shim
	ruleShimFstatat // newfstatat with AT_EMPTY_PATH to the shim (not from the second site), else trapped
	ruleShimStatx   // statx with a NULL path natively from the first site, else trapped
	ruleShimXattr   // fgetxattr of the shim's attribute names natively from the first site, else trapped
	// getxattrat of the shim's attribute names natively from the first site (path stats:
	// pathStats), else trapped
	ruleShimXattrAt
)

// shimStatRule reports whether r is one of the stat path's rules.
func shimStatRule(r argRule) bool { return r >= ruleShimFstat && r <= ruleShimXattrAt }

// Syscall is one row of the table.
type Syscall struct {
	Nr      int
	Disp    Disposition
	Handler handler    // Notify: the handler, in the family's file (sys_*.go)
	Errno   unix.Errno // Errno: the error
	Rule    argRule    // ArgRule; on a Notify row only ruleShimRoute (trapRetried)
	Note    string     // what is partial or why it is refused
}

// traceHooks are a Trace row's own part; ptrace.go knows only the mechanism. prepare
// resolves what the call names while the caller still waits in its notification (a call
// that fails there is answered without ptrace) and returns the plan the other hooks get;
// rewrite changes the call's registers at the stop before it is restarted (sp: where
// arguments may be written below the stack). image, at the exec event of the call, checks
// the new image and reports whether it may run; done finishes a call whose image may run,
// stopped at the exit of the call. A row without image arranges no exec. atStop, when set,
// replaces the rest: it works on the caller at the stop, and the call then restarts as the
// caller made it, untraced (ratchet.go); an error fails the call there.
type traceHooks struct {
	atStop  func(k *Kernel, t *Task) error
	prepare func(k *Kernel, c *Call) (*tracePlan, error)
	rewrite func(k *Kernel, t *Task, plan *tracePlan, regs *unix.PtraceRegs, sp uint64) error
	image   func(k *Kernel, t *Task) bool
	done    func(k *Kernel, t *Task, plan *tracePlan) error
}

// newImage is the row's answer to an exec event during its call. An exec the row did not
// arrange (the call was rewritten into something else, or another thread's exec) runs
// nothing the kernel checked: the caller is killed.
func (h *traceHooks) newImage(k *Kernel, t *Task) bool {
	if h.image == nil {
		k.debugf("%d: an exec the kernel did not arrange: killed", k.guestPid(t.Tid))
		unix.Kill(t.Tid, unix.SIGKILL)
		return false
	}
	return h.image(k, t)
}

// The Trace rows' hooks.
var (
	execHooks = &traceHooks{prepare: (*Kernel).prepareExec, rewrite: (*Kernel).rewrite, image: (*Kernel).execEvent,
		done: func(k *Kernel, t *Task, plan *tracePlan) error { return k.execDone(t, plan.comm, plan.execfn) }}
	chdirHooks = &traceHooks{prepare: (*Kernel).prepareChdir, rewrite: (*Kernel).rewrite}
	// The call comes from the shim, inside a signal handler on the caller's stack: a child
	// sharing that stack would return through the handler's frame and wreck it for the
	// parent. Every new process is a copy (vfork is a fork, as POSIX allows), and the child
	// is the kernel's to see before it runs, CLONE_UNTRACED or not.
	vforkHooks = &traceHooks{rewrite: func(k *Kernel, t *Task, _ *tracePlan, regs *unix.PtraceRegs, _ uint64) error {
		regs.Orig_rax = unix.SYS_FORK
		return nil
	}}
	cloneHooks = &traceHooks{rewrite: func(k *Kernel, t *Task, _ *tracePlan, regs *unix.PtraceRegs, _ uint64) error {
		regs.Rdi &^= unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_SIGHAND | unix.CLONE_UNTRACED
		return nil
	}}
)

// Name returns the system call's name.
func (s *Syscall) Name() string { return sysName(s.Nr) }

func sysName(nr int) string {
	if nr >= 0 && nr < len(sysNames) && sysNames[nr] != "" {
		return sysNames[nr]
	}
	return "syscall_" + itoa(nr)
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func pass(nr int) Syscall            { return Syscall{Nr: nr, Disp: Passthrough} }
func trap(nr int, h handler) Syscall { return Syscall{Nr: nr, Disp: Notify, Handler: h} }

// trapRetried is a Notify row whose calls reach the kernel through the shim (ruleShimRoute),
// which makes them again when a signal interrupted them before the kernel received them.
func trapRetried(nr int, h handler) Syscall {
	return Syscall{Nr: nr, Disp: Notify, Handler: h, Rule: ruleShimRoute, Note: retriedNote}
}

// traced is a Trace row: h is what the call does around the ptrace mechanics of ptrace.go,
// which knows only the mechanics (nil: the call runs as the guest made it, e.g. fork).
func traced(nr int, h *traceHooks) Syscall {
	return Syscall{Nr: nr, Disp: Trace, Handler: tracedBy(h)}
}
func deny(nr int, e unix.Errno, n string) Syscall {
	return Syscall{Nr: nr, Disp: Errno, Errno: e, Note: n}
}
func inGuest(nr int) Syscall { return Syscall{Nr: nr, Disp: InGuest} }

// inGuestWrap rows are served by the shim, which makes the call itself (adjusted) from its
// own syscall site, where the filter lets it run.
func inGuestWrap(nr int, n string) Syscall {
	return Syscall{Nr: nr, Disp: InGuest, Rule: ruleShimNative, Note: n}
}

// inGuestMask rows are waits with a temporary signal mask (rule says which argument).
func inGuestMask(nr int, r argRule) Syscall {
	return Syscall{Nr: nr, Disp: InGuest, Rule: r, Note: "with a signal mask: SIGSYS is taken out of it by the shim"}
}

func rule(nr int, r argRule, n string) Syscall {
	return Syscall{Nr: nr, Disp: ArgRule, Rule: r, Note: n}
}

// ruleTrap is an ArgRule row whose rule can also trap to a handler.
func ruleTrap(nr int, r argRule, h handler, n string) Syscall {
	return Syscall{Nr: nr, Disp: ArgRule, Rule: r, Handler: h, Note: n}
}

const otherNote = "of another process: the guest's permission between its users is checked"

const fstatNote = "answered by the shim for the guest's own files of the root tree (shimstat.go); others trapped"

const sigNote = "the guest's permission to signal another user's process is checked"

const retriedNote = "through the shim, which retries it when a signal interrupts it before the kernel receives it"

// table is THE system call table (x86-64). To add a system call: one row here, one handler in
// its family's file. Rows are grouped by family; order does not matter.
var table = []Syscall{
	// Memory, time, scheduling, signals within a process: the host is already right.
	ruleTrap(unix.SYS_MMAP, ruleMemSize, sysMmap, "a mapping longer than mem= traps: Linux's overcommit heuristic (mem.go)"), pass(unix.SYS_MPROTECT), pass(unix.SYS_MUNMAP), ruleTrap(unix.SYS_BRK, ruleTrapArg0, sysBrk, "growing the heap past mem= fails (memlimit.go)"),
	pass(unix.SYS_MREMAP), pass(unix.SYS_MSYNC), pass(unix.SYS_MINCORE), pass(unix.SYS_MADVISE),
	pass(unix.SYS_MLOCK), pass(unix.SYS_MUNLOCK), pass(unix.SYS_MLOCKALL), pass(unix.SYS_MUNLOCKALL),
	pass(unix.SYS_MLOCK2), pass(unix.SYS_MEMBARRIER), pass(unix.SYS_MEMFD_CREATE),
	pass(unix.SYS_PKEY_MPROTECT), pass(unix.SYS_PKEY_ALLOC), pass(unix.SYS_PKEY_FREE), pass(unix.SYS_MSEAL),
	pass(unix.SYS_MAP_SHADOW_STACK), pass(unix.SYS_MODIFY_LDT),
	inGuestWrap(unix.SYS_RT_SIGACTION, "SIGSYS is the shim's: the guest's own SIGSYS action is kept by the shim, and no mask includes SIGSYS"),
	inGuestWrap(unix.SYS_RT_SIGPROCMASK, "SIGSYS is never blocked (a trap would kill the caller)"),
	pass(unix.SYS_RT_SIGRETURN),
	pass(unix.SYS_RT_SIGPENDING), pass(unix.SYS_RT_SIGTIMEDWAIT), inGuestWrap(unix.SYS_RT_SIGSUSPEND, "SIGSYS is taken out of the mask"),
	pass(unix.SYS_SIGALTSTACK), pass(unix.SYS_PAUSE), pass(unix.SYS_ALARM),
	pass(unix.SYS_GETITIMER), pass(unix.SYS_SETITIMER), pass(unix.SYS_NANOSLEEP),
	pass(unix.SYS_CLOCK_GETTIME), pass(unix.SYS_CLOCK_GETRES), pass(unix.SYS_CLOCK_NANOSLEEP),
	pass(unix.SYS_GETTIMEOFDAY), pass(unix.SYS_TIME), pass(unix.SYS_TIMES),
	pass(unix.SYS_TIMER_CREATE), pass(unix.SYS_TIMER_SETTIME), pass(unix.SYS_TIMER_GETTIME),
	pass(unix.SYS_TIMER_GETOVERRUN), pass(unix.SYS_TIMER_DELETE),
	deny(unix.SYS_SETTIMEOFDAY, unix.EPERM, "the guest cannot set the host clock"),
	deny(unix.SYS_CLOCK_SETTIME, unix.EPERM, "the guest cannot set the host clock"),
	deny(unix.SYS_CLOCK_ADJTIME, unix.EPERM, "the guest cannot set the host clock"),
	deny(unix.SYS_ADJTIMEX, unix.EPERM, "the guest cannot set the host clock"),
	pass(unix.SYS_SCHED_YIELD), pass(unix.SYS_SCHED_GET_PRIORITY_MAX), pass(unix.SYS_SCHED_GET_PRIORITY_MIN),
	ruleTrap(unix.SYS_SCHED_SETAFFINITY, ruleTrapArg0, sysSchedSet, otherNote),
	pass(unix.SYS_SCHED_GETAFFINITY), pass(unix.SYS_SCHED_GETPARAM), pass(unix.SYS_SCHED_GETSCHEDULER),
	pass(unix.SYS_SCHED_RR_GET_INTERVAL), pass(unix.SYS_SCHED_GETATTR),
	ruleTrap(unix.SYS_SCHED_SETPARAM, ruleTrapArg0, sysSchedSet, otherNote),
	ruleTrap(unix.SYS_SCHED_SETSCHEDULER, ruleTrapArg0, sysSchedSet, otherNote),
	ruleTrap(unix.SYS_SCHED_SETATTR, ruleTrapArg0, sysSchedSet, otherNote),
	ruleTrap(unix.SYS_GETPRIORITY, ruleTrapArgs01, sysGetpriority, "of a guest user: answered by the kernel"),
	ruleTrap(unix.SYS_SETPRIORITY, ruleTrapArgs01, sysSetpriority, otherNote),
	ruleTrap(unix.SYS_PRLIMIT64, ruleTrapArg0, sysPrlimit, otherNote),
	rule(unix.SYS_GET_ROBUST_LIST, ruleSelfArg0, "own process only"),
	pass(unix.SYS_GETRLIMIT), pass(unix.SYS_SETRLIMIT), pass(unix.SYS_GETRUSAGE), pass(unix.SYS_GETCPU),
	pass(unix.SYS_FUTEX), pass(unix.SYS_FUTEX_WAITV), pass(unix.SYS_SET_ROBUST_LIST), pass(unix.SYS_SET_TID_ADDRESS),
	pass(unix.SYS_RSEQ), pass(unix.SYS_ARCH_PRCTL), pass(unix.SYS_PRCTL), pass(unix.SYS_PERSONALITY),
	pass(unix.SYS_RESTART_SYSCALL), pass(unix.SYS_EXIT), pass(unix.SYS_EXIT_GROUP),
	pass(unix.SYS_SECCOMP), pass(unix.SYS_GETRANDOM), pass(unix.SYS_UMASK),

	// I/O on file descriptors the guest already holds: every guest fd is a real host fd.
	pass(unix.SYS_READ), pass(unix.SYS_WRITE), pass(unix.SYS_CLOSE), pass(unix.SYS_CLOSE_RANGE),
	pass(unix.SYS_PREAD64), pass(unix.SYS_PWRITE64), pass(unix.SYS_READV), pass(unix.SYS_WRITEV),
	pass(unix.SYS_PREADV), pass(unix.SYS_PWRITEV), pass(unix.SYS_PREADV2), pass(unix.SYS_PWRITEV2),
	pass(unix.SYS_LSEEK), pass(unix.SYS_DUP), pass(unix.SYS_DUP2), pass(unix.SYS_DUP3),
	pass(unix.SYS_PIPE), pass(unix.SYS_PIPE2), pass(unix.SYS_FCNTL), pass(unix.SYS_FLOCK),
	trap(unix.SYS_FSYNC, sysFsync), trap(unix.SYS_FDATASYNC, sysFsync), trap(unix.SYS_SYNC, sysSync), trap(unix.SYS_SYNCFS, sysSync),
	pass(unix.SYS_SYNC_FILE_RANGE), pass(unix.SYS_FTRUNCATE), pass(unix.SYS_FALLOCATE), pass(unix.SYS_FADVISE64),
	pass(unix.SYS_READAHEAD), pass(unix.SYS_GETDENTS), pass(unix.SYS_GETDENTS64), pass(unix.SYS_FCHDIR),
	trap(unix.SYS_FCHMOD, sysFchmod), trap(unix.SYS_FSTATFS, sysFstatfs), pass(unix.SYS_SENDFILE), pass(unix.SYS_SPLICE),
	pass(unix.SYS_TEE), pass(unix.SYS_VMSPLICE), pass(unix.SYS_COPY_FILE_RANGE),
	pass(unix.SYS_POLL), inGuestMask(unix.SYS_PPOLL, ruleShimMask3), pass(unix.SYS_SELECT), inGuestMask(unix.SYS_PSELECT6, ruleShimMask5),
	pass(unix.SYS_EPOLL_CREATE), pass(unix.SYS_EPOLL_CREATE1), pass(unix.SYS_EPOLL_CTL),
	pass(unix.SYS_EPOLL_WAIT), inGuestMask(unix.SYS_EPOLL_PWAIT, ruleShimMask4), inGuestMask(unix.SYS_EPOLL_PWAIT2, ruleShimMask4),
	pass(unix.SYS_EVENTFD), pass(unix.SYS_EVENTFD2), pass(unix.SYS_SIGNALFD), pass(unix.SYS_SIGNALFD4),
	pass(unix.SYS_TIMERFD_CREATE), pass(unix.SYS_TIMERFD_SETTIME), pass(unix.SYS_TIMERFD_GETTIME),
	pass(unix.SYS_INOTIFY_INIT), pass(unix.SYS_INOTIFY_INIT1), pass(unix.SYS_INOTIFY_RM_WATCH),
	pass(unix.SYS_IO_SETUP), pass(unix.SYS_IO_DESTROY), pass(unix.SYS_IO_GETEVENTS), pass(unix.SYS_IO_SUBMIT),
	pass(unix.SYS_IO_CANCEL), pass(unix.SYS_IO_PGETEVENTS),
	ruleTrap(unix.SYS_IOCTL, ruleIoctl, sysIoctl, "TIOCSTI, TIOCLINUX, TIOCCONS and TIOCSETD are refused (they reach the host terminal); block-device requests are trapped"),
	deny(unix.SYS_IO_URING_SETUP, unix.ENOSYS, "io_uring would open paths behind the filter's back"),
	deny(unix.SYS_IO_URING_ENTER, unix.ENOSYS, "io_uring"), deny(unix.SYS_IO_URING_REGISTER, unix.ENOSYS, "io_uring"),
	deny(unix.SYS_NAME_TO_HANDLE_AT, unix.EOPNOTSUPP, "file handles are host-global"),
	deny(unix.SYS_OPEN_BY_HANDLE_AT, unix.EPERM, "file handles are host-global"),

	// Sockets: a socket is a host fd; only what names an address is checked.
	trap(unix.SYS_SOCKET, sysSocket), pass(unix.SYS_SOCKETPAIR),
	trap(unix.SYS_BIND, sysBindConnect), trap(unix.SYS_CONNECT, sysBindConnect),
	trap(unix.SYS_SENDTO, sysSendto), trap(unix.SYS_SENDMSG, sysSendmsg),
	trap(unix.SYS_SENDMMSG, sysSendmmsg),
	pass(unix.SYS_RECVFROM), pass(unix.SYS_RECVMSG), pass(unix.SYS_RECVMMSG), pass(unix.SYS_LISTEN),
	pass(unix.SYS_ACCEPT), pass(unix.SYS_ACCEPT4), pass(unix.SYS_SHUTDOWN), trap(unix.SYS_GETSOCKNAME, sysGetsockname),
	trap(unix.SYS_GETPEERNAME, sysGetpeername), pass(unix.SYS_SETSOCKOPT), pass(unix.SYS_GETSOCKOPT),

	// Paths: resolved by the kernel inside the guest root (sys_file.go). The opens go through
	// the shim, which retries one a signal interrupted before the kernel received it: Linux
	// never fails the open of a file with EINTR (a shell's redirection would), while one that
	// waits (a FIFO's) the kernel interrupts itself, and that EINTR reaches the guest.
	trapRetried(unix.SYS_OPEN, sysOpen), trapRetried(unix.SYS_OPENAT, sysOpenat),
	trapRetried(unix.SYS_OPENAT2, sysOpenat2), trapRetried(unix.SYS_CREAT, sysCreat),
	trapRetried(unix.SYS_STAT, sysStat), trapRetried(unix.SYS_LSTAT, sysLstat),
	{Nr: unix.SYS_FSTAT, Disp: InGuest, Rule: ruleShimFstat, Handler: sysFstat, Note: fstatNote},
	ruleTrap(unix.SYS_NEWFSTATAT, ruleShimFstatat, sysNewfstatat, "with AT_EMPTY_PATH (fstat), and by path for guest root without chroot: "+fstatNote),
	ruleTrap(unix.SYS_STATX, ruleShimStatx, sysStatx, "the shim's own (from its site; by path for guest root alone: ratchet.go) run natively"),
	ruleTrap(sysGetxattrat, ruleShimXattrAt, sysGetxattratCall, "not supported yet (ENOSYS); the shim's own (its attribute names, from its site) run natively"),
	trapRetried(unix.SYS_ACCESS, sysAccess), trapRetried(unix.SYS_FACCESSAT, sysFaccessat), trapRetried(unix.SYS_FACCESSAT2, sysFaccessat2),
	trapRetried(unix.SYS_READLINK, sysReadlink), trapRetried(unix.SYS_READLINKAT, sysReadlinkat),
	trapRetried(unix.SYS_MKDIR, sysMkdir), trapRetried(unix.SYS_MKDIRAT, sysMkdirat),
	trapRetried(unix.SYS_RMDIR, sysRmdir), trapRetried(unix.SYS_UNLINK, sysUnlink), trapRetried(unix.SYS_UNLINKAT, sysUnlinkat),
	trapRetried(unix.SYS_RENAME, sysRename), trapRetried(unix.SYS_RENAMEAT, sysRenameat), trapRetried(unix.SYS_RENAMEAT2, sysRenameat2),
	trapRetried(unix.SYS_LINK, sysLink), trapRetried(unix.SYS_LINKAT, sysLinkat),
	trapRetried(unix.SYS_SYMLINK, sysSymlink), trapRetried(unix.SYS_SYMLINKAT, sysSymlinkat),
	trapRetried(unix.SYS_CHMOD, sysChmod), trapRetried(unix.SYS_FCHMODAT, sysFchmodat), trapRetried(unix.SYS_FCHMODAT2, sysFchmodat2),
	trapRetried(unix.SYS_CHOWN, sysChown), trapRetried(unix.SYS_LCHOWN, sysLchown), trapRetried(unix.SYS_FCHOWN, sysFchown),
	trapRetried(unix.SYS_FCHOWNAT, sysFchownat),
	trapRetried(unix.SYS_UTIME, sysUtime), trapRetried(unix.SYS_UTIMES, sysUtimes), trapRetried(unix.SYS_FUTIMESAT, sysFutimesat),
	trapRetried(unix.SYS_UTIMENSAT, sysUtimensat),
	trapRetried(unix.SYS_TRUNCATE, sysTruncate), trapRetried(unix.SYS_MKNOD, sysMknod), trapRetried(unix.SYS_MKNODAT, sysMknodat),
	trapRetried(unix.SYS_GETCWD, sysGetcwd), trapRetried(unix.SYS_STATFS, sysStatfs),
	trap(unix.SYS_INOTIFY_ADD_WATCH, sysInotifyAddWatch),
	traced(unix.SYS_CHDIR, chdirHooks), traced(unix.SYS_EXECVE, execHooks), traced(unix.SYS_EXECVEAT, execHooks),
	trap(unix.SYS_CHROOT, sysChroot), trap(unix.SYS_MOUNT, sysMount), trap(unix.SYS_UMOUNT2, sysUmount),
	trapRetried(unix.SYS_SETXATTR, sysSetxattr), trapRetried(unix.SYS_LSETXATTR, sysLsetxattr), trapRetried(unix.SYS_FSETXATTR, sysFsetxattr),
	trapRetried(unix.SYS_GETXATTR, sysGetxattr), trapRetried(unix.SYS_LGETXATTR, sysLgetxattr), ruleTrap(unix.SYS_FGETXATTR, ruleShimXattr, sysFgetxattr, "the shim's own (its attribute names, from its site) run natively"),
	trapRetried(unix.SYS_LISTXATTR, sysListxattr), trapRetried(unix.SYS_LLISTXATTR, sysLlistxattr), trapRetried(unix.SYS_FLISTXATTR, sysFlistxattr),
	trapRetried(unix.SYS_REMOVEXATTR, sysRemovexattr), trapRetried(unix.SYS_LREMOVEXATTR, sysLremovexattr), trapRetried(unix.SYS_FREMOVEXATTR, sysFremovexattr),
	trap(unix.SYS_SWAPON, sysSwapon), trap(unix.SYS_SWAPOFF, sysSwapoff),
	deny(unix.SYS_PIVOT_ROOT, unix.EPERM, "not supported yet"), deny(unix.SYS_ACCT, unix.EPERM, "not supported yet"),
	deny(unix.SYS_FANOTIFY_INIT, unix.EPERM, "not supported"),

	// Processes (sys_proc.go). The guest has its own PID namespace: numbers and signals are native.
	{Nr: unix.SYS_CLONE, Disp: ArgRule, Rule: ruleClone, Handler: forkHandler(cloneHooks),
		Note: "namespace flags are refused; a copy by a single-threaded process runs natively (forkfast.go), others are created under ptrace"},
	deny(unix.SYS_CLONE3, unix.ENOSYS, "its flags are in memory the filter cannot read; libc falls back to clone"),
	{Nr: unix.SYS_FORK, Disp: Trace, Handler: forkHandler(nil), Note: "natively from a single-threaded process (forkfast.go), else under ptrace"},
	traced(unix.SYS_VFORK, vforkHooks), pass(unix.SYS_WAIT4), pass(unix.SYS_WAITID),
	pass(unix.SYS_GETPID), pass(unix.SYS_GETPPID), pass(unix.SYS_GETTID),
	pass(unix.SYS_GETPGID), pass(unix.SYS_GETPGRP), pass(unix.SYS_GETSID),
	trap(unix.SYS_SETSID, sysSetsid), pass(unix.SYS_SETPGID),
	// Signals between guest users are checked (sys_signal.go; root's are CONTINUEd). They go
	// through the shim, which retries a notification a signal interrupted: Linux never fails
	// them with EINTR, and a shell whose kill -CONT failed would wait for a stopped job forever.
	ruleTrap(unix.SYS_KILL, ruleShimRoute, sysKill, sigNote), ruleTrap(unix.SYS_TKILL, ruleShimRoute, sysTkill, sigNote),
	ruleTrap(unix.SYS_TGKILL, ruleShimRoute, sysTgkill, sigNote),
	ruleTrap(unix.SYS_RT_SIGQUEUEINFO, ruleShimRoute, sysRtSigqueueinfo, sigNote),
	ruleTrap(unix.SYS_RT_TGSIGQUEUEINFO, ruleShimRoute, sysRtTgsigqueueinfo, sigNote),
	pass(unix.SYS_PIDFD_OPEN), ruleTrap(unix.SYS_PIDFD_SEND_SIGNAL, ruleShimRoute, sysPidfdSendSignal, sigNote),
	deny(unix.SYS_PIDFD_GETFD, unix.ENOSYS, "not supported yet"),
	deny(unix.SYS_PTRACE, unix.EPERM, "not supported yet"), deny(unix.SYS_PROCESS_VM_READV, unix.EPERM, "not supported yet"),
	deny(unix.SYS_PROCESS_VM_WRITEV, unix.EPERM, "not supported yet"), deny(unix.SYS_KCMP, unix.EPERM, "not supported yet"),
	deny(unix.SYS_PROCESS_MADVISE, unix.EPERM, "not supported yet"), deny(unix.SYS_PROCESS_MRELEASE, unix.EPERM, "not supported yet"),
	deny(unix.SYS_UNSHARE, unix.EPERM, "namespaces are not supported yet"), deny(unix.SYS_SETNS, unix.EPERM, "namespaces are not supported yet"),
	deny(unix.SYS_MIGRATE_PAGES, unix.EPERM, "not supported"), deny(unix.SYS_MOVE_PAGES, unix.EPERM, "not supported"),

	// Credentials (sys_cred.go): the guest has its own users, root included.
	inGuest(unix.SYS_GETUID), inGuest(unix.SYS_GETEUID), inGuest(unix.SYS_GETGID), inGuest(unix.SYS_GETEGID), trap(unix.SYS_GETRESUID, sysGetresuid), trap(unix.SYS_GETRESGID, sysGetresgid),
	trap(unix.SYS_SETUID, sysSetuid), trap(unix.SYS_SETGID, sysSetgid), trap(unix.SYS_SETREUID, sysSetreuid),
	trap(unix.SYS_SETREGID, sysSetregid), trap(unix.SYS_SETRESUID, sysSetresuid), trap(unix.SYS_SETRESGID, sysSetresgid),
	trap(unix.SYS_SETFSUID, sysSetfsuid), trap(unix.SYS_SETFSGID, sysSetfsgid),
	trap(unix.SYS_GETGROUPS, sysGetgroups), trap(unix.SYS_SETGROUPS, sysSetgroups),
	trap(unix.SYS_CAPGET, sysCapget), trap(unix.SYS_CAPSET, sysCapset),

	// The machine (sys_misc.go).
	trap(unix.SYS_UNAME, sysUname), trap(unix.SYS_SETHOSTNAME, sysSethostname),
	trap(unix.SYS_SETDOMAINNAME, sysSetdomainname), trap(unix.SYS_SYSINFO, sysSysinfo),
	trap(unix.SYS_REBOOT, sysReboot),
	trap(unix.SYS_SYSLOG, sysSyslog),
	deny(unix.SYS_KEXEC_LOAD, unix.EPERM, "not supported"), deny(unix.SYS_KEXEC_FILE_LOAD, unix.EPERM, "not supported"),
	deny(unix.SYS_INIT_MODULE, unix.EPERM, "no modules"), deny(unix.SYS_FINIT_MODULE, unix.EPERM, "no modules"),
	deny(unix.SYS_DELETE_MODULE, unix.EPERM, "no modules"), deny(unix.SYS_BPF, unix.EPERM, "not supported"),
	deny(unix.SYS_PERF_EVENT_OPEN, unix.EPERM, "not supported"), deny(unix.SYS_USERFAULTFD, unix.EPERM, "not supported"),
	deny(unix.SYS_VHANGUP, unix.EPERM, "not supported yet"),
	// SysV IPC and POSIX message queues live in the guest's own IPC namespace.
	pass(unix.SYS_SHMGET), pass(unix.SYS_SHMAT), pass(unix.SYS_SHMDT), pass(unix.SYS_SHMCTL),
	pass(unix.SYS_SEMGET), pass(unix.SYS_SEMOP), pass(unix.SYS_SEMTIMEDOP), pass(unix.SYS_SEMCTL),
	pass(unix.SYS_MSGGET), pass(unix.SYS_MSGSND), pass(unix.SYS_MSGRCV), pass(unix.SYS_MSGCTL),
	trap(unix.SYS_MQ_OPEN, sysMqOpen), trap(unix.SYS_MQ_UNLINK, sysMqUnlink), pass(unix.SYS_MQ_TIMEDSEND), pass(unix.SYS_MQ_TIMEDRECEIVE),
	pass(unix.SYS_MQ_NOTIFY), pass(unix.SYS_MQ_GETSETATTR),
	deny(unix.SYS_ADD_KEY, unix.ENOSYS, "keyrings are host-global"), deny(unix.SYS_REQUEST_KEY, unix.ENOSYS, "keyrings are host-global"),
	deny(unix.SYS_KEYCTL, unix.ENOSYS, "keyrings are host-global"),
}

// byNr is the table indexed by number.
var byNr = func() map[int]*Syscall {
	m := make(map[int]*Syscall, len(table))
	for i := range table {
		s := &table[i]
		if _, dup := m[s.Nr]; dup {
			panic("kernel: duplicate syscall table row " + s.Name())
		}
		if (s.Disp == Notify || s.Disp == Trace) != (s.Handler != nil) && s.Disp != ArgRule && s.Disp != InGuest {
			panic("kernel: syscall table row without handler " + s.Name())
		}
		m[s.Nr] = s
	}
	return m
}()

// Table returns the rows sorted by number (for reports).
func Table() []Syscall {
	out := append([]Syscall(nil), table...)
	sort.Slice(out, func(i, j int) bool { return out[i].Nr < out[j].Nr })
	return out
}
