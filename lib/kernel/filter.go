package kernel

import (
	"unsafe"

	"github.com/gouml/gouml/lib/kernel/internal/seccomp"
	"golang.org/x/sys/unix"
)

// The seccomp filter is generated from the table: runs of consecutive system call numbers
// with the same action become leaves of a binary search on the number, so a passthrough call
// costs ~log2(runs) comparisons (about 8), not a walk of the table.

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retNotify = unix.SECCOMP_RET_USER_NOTIF
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
	// retShim sends the call to the shim in the caller's own process (shim.go): SIGSYS, with
	// shimTrapData in si_errno to tell it from a SIGSYS of the guest's own.
	retShim = unix.SECCOMP_RET_TRAP | shimTrapData
)

// ioctlRefused are ioctl requests refused to every guest fd: they type into, or take over,
// the host's terminal (the console is a host pty).
var ioctlRefused = []uint32{unix.TIOCSTI, unix.TIOCLINUX, unix.TIOCCONS, unix.TIOCSETD}

// ioctlRule emits the ioctl row's program: refused requests fail with EPERM, the requests
// of the device classes trap, everything else is allowed.
func ioctlRule(p *seccomp.Prog, refused []uint32, classes []devClass) {
	var exact, types []uint32
	for _, c := range classes {
		exact = append(exact, c.ioctls...)
		types = append(types, c.ioctlTyp...)
	}
	// layout: LD; JEQ refused…; JEQ exact…; AND; JEQ type…; RET allow; RET EPERM; RET notify
	n := 1 + len(refused) + len(exact) + 1 + len(types)
	eperm, notify := n+1, n+2 // RET allow is at n, reached by falling through
	at := 1
	jump := func(k uint32, to int) {
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, k, uint8(to-at-1), 0)
		at++
	}
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0+8)
	for _, r := range refused {
		jump(r, eperm)
	}
	for _, r := range exact {
		jump(r, notify)
	}
	p.Stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, 0xff00)
	at++
	for _, t := range types {
		jump(t<<8, notify)
	}
	p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
	p.Stmt(unix.BPF_RET|unix.BPF_K, retErrno(unix.EPERM))
	p.Stmt(unix.BPF_RET|unix.BPF_K, retNotify)
}

// hdioGetgeo is HDIO_GETGEO, the disk-geometry ioctl fdisk asks block devices.
const hdioGetgeo = 0x0301

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA }

// offsets in struct seccomp_data
const (
	offNr   = 0
	offArch = 4
	offIP   = 8  // instruction_pointer: the address after the syscall instruction
	offArg0 = 16 // args[i] at 16 + 8*i; the low 32 bits come first (little endian)
)

// leaf is what the filter does for one run of numbers.
type leaf struct {
	ret  uint32
	rule argRule
	mem  uint64 // ruleMemSize: the machine's memory
}

func leafFor(nr int, debug bool, mem uint64, fastStat bool) leaf {
	s := byNr[nr]
	if s != nil && shimStatRule(s.Rule) && !fastStat {
		return leaf{ret: retNotify}
	}
	if s == nil {
		if debug {
			return leaf{ret: retNotify} // logged once, then ENOSYS, by the dispatcher
		}
		return leaf{ret: retErrno(unix.ENOSYS)}
	}
	switch s.Disp {
	case Passthrough:
		return leaf{ret: retAllow}
	case Notify:
		if s.Rule == ruleShimRoute {
			return leaf{rule: ruleShimRoute} // through the shim (table.go: trapRetried)
		}
		return leaf{ret: retNotify}
	case Trace:
		// From the shim's second syscall site the call goes to the kernel, which serves it
		// with ptrace attached (ptrace.go); from anywhere else it goes to the shim, which
		// makes it from there and retries it when a signal interrupts the notification.
		return leaf{rule: ruleShimRoute}
	case InGuest:
		if s.Rule != ruleNone {
			return leaf{rule: s.Rule}
		}
		return leaf{ret: retShim}
	case Errno:
		return leaf{ret: retErrno(s.Errno)}
	case ArgRule:
		if s.Rule == ruleMemSize {
			if mem == 0 {
				return leaf{ret: retAllow}
			}
			return leaf{rule: s.Rule, mem: mem}
		}
		return leaf{rule: s.Rule}
	}
	return leaf{ret: retErrno(unix.ENOSYS)}
}

// maxNr bounds the numbers the filter distinguishes; anything above is ENOSYS.
const maxNr = 512

// buildFilter returns the BPF program of a machine of mem bytes (0: no limit); fastStat
// sends fstat to the shim's stat path (shimstat.go).
func buildFilter(debug bool, mem uint64, fastStat bool) []unix.SockFilter {
	var runs []seccomp.Run[leaf]
	for nr := 0; nr < maxNr; nr++ {
		l := leafFor(nr, debug, mem, fastStat)
		if len(runs) > 0 && runs[len(runs)-1].Leaf == l {
			continue
		}
		runs = append(runs, seccomp.Run[leaf]{Lo: uint32(nr), Leaf: l})
	}
	high := leafFor(-1, debug, mem, fastStat) // numbers >= maxNr (and x32's, which have bit 30 set)
	var p seccomp.Prog
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, unix.AUDIT_ARCH_X86_64, 1, 0)
	p.Stmt(unix.BPF_RET|unix.BPF_K, retKill) // i386/x32 entry points would bypass the table
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
	// numbers >= maxNr
	p.Jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, maxNr, 0, 1)
	p.Stmt(unix.BPF_RET|unix.BPF_K, high.ret)
	seccomp.Tree(&p, runs, emitLeaf)
	return p.Ins
}

// fromSite returns yes when the call comes from the shim's syscall site at offset off (the
// instruction pointer is the address after its syscall instruction), no otherwise. Anyone
// may jump to that site; what it allows is what the shim itself may do, never more than
// the caller could do to itself.
func fromSite(p *seccomp.Prog, off uint32, yes, no uint32) {
	ip := uint64(shimAddr) + uint64(off)
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offIP)
	p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(ip), 0, 3)
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offIP+4)
	p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(ip>>32), 0, 1)
	p.Stmt(unix.BPF_RET|unix.BPF_K, yes)
	p.Stmt(unix.BPF_RET|unix.BPF_K, no)
}

func emitLeaf(p *seccomp.Prog, l leaf) {
	switch l.rule {
	case ruleNone:
		p.Stmt(unix.BPF_RET|unix.BPF_K, l.ret)
	case ruleIoctl:
		// The request is an unsigned int: compare the low 32 bits of args[1]. Requests
		// that reach the host's terminal are refused; those the kernel's devices answer
		// themselves trap (devices.go: devClasses); the rest run natively on the fd.
		ioctlRule(p, ioctlRefused, devClasses)
	case ruleClone:
		const ns = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
		// A new thread runs natively; a new process is the kernel's to decide: a fast fork
		// (forkfast.go) or a fork under ptrace (ptrace.go).
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0)
		p.Jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, ns, 0, 1)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retErrno(unix.EPERM))
		p.Jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, unix.CLONE_THREAD, 0, 1)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
		fromSite(p, shimG2RetOff, retNotify, retShim)
	case ruleShimRoute:
		fromSite(p, shimG2RetOff, retNotify, retShim)
	case ruleShimNative:
		fromSite(p, shimG1RetOff, retAllow, retShim)
	case ruleShimFstat, ruleShimFstatat, ruleShimStatx, ruleShimXattr, ruleShimXattrAt:
		emitShimStat(p, l.rule)
	case ruleShimMask3, ruleShimMask4, ruleShimMask5:
		off := uint32(offArg0) + 8*uint32(3+l.rule-ruleShimMask3)
		// both halves of the mask pointer zero: no mask, run natively
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, 3)
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off+4)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, 1)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
		fromSite(p, shimG1RetOff, retAllow, retShim)
	case ruleMemSize:
		// args[1] > mem, compared as 64-bit numbers: high halves, then low halves
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0+12)
		p.Jump(unix.BPF_JMP|unix.BPF_JGT|unix.BPF_K, uint32(l.mem>>32), 4, 0)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(l.mem>>32), 0, 2)
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0+8)
		p.Jump(unix.BPF_JMP|unix.BPF_JGT|unix.BPF_K, uint32(l.mem), 1, 0)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retNotify)
	case ruleTrapArg0:
		// both halves zero: the caller itself, natively
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, 2)
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0+4)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, 0)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retNotify)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
	case ruleTrapArgs01:
		// args[0] and args[1] zero (four halves): natively; anything else traps
		for i := uint32(0); i < 4; i++ {
			p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0+4*i)
			p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, uint8(7-2*i)) // to RET notify
		}
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retNotify)
	case ruleSelfArg0:
		off := uint32(offArg0)
		// both halves must be zero
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 0, 2)
		p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off+4)
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, 0)
		p.Stmt(unix.BPF_RET|unix.BPF_K, retErrno(unix.EPERM))
		p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
	}
}

// kernelNeeds are the Errno rows of the table whose calls the kernel process makes itself:
// its own filter (below) must let them through.
var kernelNeeds = map[int]bool{
	unix.SYS_PTRACE: true, unix.SYS_PROCESS_VM_READV: true, unix.SYS_PROCESS_VM_WRITEV: true,
	unix.SYS_PIDFD_GETFD: true, unix.SYS_UNSHARE: true, unix.SYS_SETNS: true, unix.SYS_CLONE3: true,
	unix.SYS_PIVOT_ROOT: true, // not used, but the launcher must stay able to
	unix.SYS_SETXATTR:   true, unix.SYS_LSETXATTR: true, unix.SYS_FSETXATTR: true,
	unix.SYS_GETXATTR: true, unix.SYS_LGETXATTR: true, unix.SYS_FGETXATTR: true,
	unix.SYS_LISTXATTR: true, unix.SYS_LLISTXATTR: true, unix.SYS_FLISTXATTR: true,
	unix.SYS_REMOVEXATTR: true, unix.SYS_LREMOVEXATTR: true, unix.SYS_FREMOVEXATTR: true,
}

// buildKernelFilter returns the kernel process's own filter: every call the guest table
// refuses with a fixed error (modules, kexec, bpf, keyrings, io_uring, file handles, the
// host clock …) that the kernel never needs either is refused to the kernel too, with the
// same error. Guests inherit this filter under their own; as it refuses only what theirs
// refuses in the same way, they see no difference. A confused-deputy bug in a handler then
// cannot make the kernel load a module or open a file by handle.
func buildKernelFilter() []unix.SockFilter {
	leafOf := func(nr int) leaf {
		if s := byNr[nr]; s != nil && s.Disp == Errno && !kernelNeeds[nr] {
			return leaf{ret: retErrno(s.Errno)}
		}
		return leaf{ret: retAllow}
	}
	var runs []seccomp.Run[leaf]
	for nr := 0; nr < maxNr; nr++ {
		l := leafOf(nr)
		if len(runs) > 0 && runs[len(runs)-1].Leaf == l {
			continue
		}
		runs = append(runs, seccomp.Run[leaf]{Lo: uint32(nr), Leaf: l})
	}
	var p seccomp.Prog
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, unix.AUDIT_ARCH_X86_64, 1, 0)
	p.Stmt(unix.BPF_RET|unix.BPF_K, retKill)
	p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
	seccomp.Tree(&p, runs, emitLeaf)
	return p.Ins
}

// installKernelFilter loads the kernel's own filter on the calling thread (stage 1 then
// re-executes: jail.go), with no_new_privs.
func installKernelFilter() error {
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return e
	}
	prog := buildKernelFilter()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return e
	}
	return nil
}
