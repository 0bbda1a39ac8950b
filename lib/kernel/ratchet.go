package kernel

import (
	"encoding/binary"
	"sync"

	"github.com/gouml/gouml/lib/kernel/internal/seccomp"
	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"golang.org/x/sys/unix"
)

// The ratchet (issue 18, the shim's path stats). A native path lookup from the shim's first
// syscall site (G1) is checked by the host only as the host sees the caller: every guest
// process is root of the guest's user namespace, so the host's search-permission checks
// pass for every guest user. Such a lookup is therefore fit only for a caller whose lookups
// Linux would not check either: guest FSUID 0 (with its capabilities, which the kernel does
// not take away: capset is a no-op for root) and not chrooted (the kernel's chroot is its
// own; the host would resolve from the machine's root). The guest filter may let G1 make
// path lookups only because every process that stops being such a caller gets a second
// filter first, which turns exactly those calls from G1 into EACCES (the shim then asks the
// kernel), for all its threads at once (TSYNC), before the kernel commits the change.
// Filters stack and are never removed, so the ratchet only turns one way: a ratcheted
// process that becomes root again (a set-user-ID program) stays on the kernel's path, and
// its children inherit the filter at fork (native or traced) and keep it over exec.
//
// When a process is ratcheted, by the row that changes it:
//   - setuid, setreuid, setresuid, setfsuid (withCred: the new ids are worked out on a copy
//     first; if FSUID would not be 0 the call is traced, the filter injected at the stop,
//     and the call restarted, which then commits);
//   - chroot (sysChroot, the same way);
//   - execve of a set-user-ID program that leaves FSUID non-zero (execDone, injected with
//     the shim, before the new image runs: exec has killed the other threads);
//   - a child whose credentials, from a parent ratcheted after the child was made (a traced
//     fork racing another thread's setuid), need it (ptrace.go's child: injected at its
//     first stop, before it runs).
// Capabilities are not modelled (capset changes nothing), unshare and setns are refused in
// the filter, and credentials are per process, so no other way out of "root without
// chroot" exists in the kernel's model. A ratchet that fails (another filter installed by
// the guest on one thread only makes TSYNC fail) fails the call with EAGAIN, which setuid
// may return on Linux too: the credentials never change without the filter.

// ratchetOff is where the ratchet's struct sock_fprog lies in page 0 (sealed with it: a
// guest thread cannot rewrite the program while another thread's call is being ratcheted);
// its instructions follow.
const ratchetOff = shim.XNamesOff + 6*shim.XNameSize

// ratchetDenied are the calls the ratchet takes from G1: the native path lookups the stat
// path may make from there (statx only with a path: a NULL path is the fd's own stat).
var ratchetDenied = []uint32{unix.SYS_NEWFSTATAT, unix.SYS_GETXATTR, unix.SYS_LGETXATTR, sysGetxattrat}

// sysGetxattrat is getxattrat(2) (Linux 6.13).
const sysGetxattrat = 464

// getxattratHost reports whether the host has getxattrat (Linux 6.13), which the shim's
// path stats read the attributes with: without it they would always end at the kernel, one
// SIGSYS later, so the shim is not told to try (page 1's Paths).
var getxattratHost = sync.OnceValue(func() bool {
	_, _, e := unix.RawSyscall6(sysGetxattrat, ^uintptr(0), 0, 0, 0, 0, 0) // fd -1
	return e != unix.ENOSYS
})

// sysGetxattratCall answers the guest's own getxattrat: not supported yet, as before it had a
// row; only the shim's run natively (ruleShimXattrAt).
func sysGetxattratCall(c *Call) result { return errno(unix.ENOSYS) }

// ratchetProg is the ratchet's BPF program.
func ratchetProg() []unix.SockFilter {
	var p seccomp.Prog
	g1 := uint64(shimAddr + shimG1RetOff)
	ld := func(off uint32) { p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }
	// jeq jumps to the instruction at index to when equal, else falls through
	jeq := func(k uint32, to int) {
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, k, uint8(to-len(p.Ins)-1), 0)
	}
	jne := func(k uint32, to int) {
		p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, k, 0, uint8(to-len(p.Ins)-1))
	}
	n := len(ratchetDenied)
	// layout: 0 arch, 1 jne, 2 ip hi, 3 jne, 4 ip lo, 5 jne, 6 nr, 7 statx, 8.. denied,
	// then allow, the statx path test (5: two halves, then allow), deny
	allow := 8 + n
	statx := allow + 1
	deny := statx + 5
	ld(offArch)
	jne(unix.AUDIT_ARCH_X86_64, allow)
	ld(offIP + 4)
	jne(uint32(g1>>32), allow)
	ld(offIP)
	jne(uint32(g1), allow)
	ld(offNr)
	jeq(unix.SYS_STATX, statx)
	for _, nr := range ratchetDenied {
		jeq(nr, deny)
	}
	p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow)
	ld(offArg0 + 8)
	jne(0, deny)
	ld(offArg0 + 12)
	jne(0, deny)
	p.Stmt(unix.BPF_RET|unix.BPF_K, retAllow) // a NULL path: the fd's own stat
	p.Stmt(unix.BPF_RET|unix.BPF_K, retErrno(unix.EACCES))
	return p.Ins
}

// ratchetPage0 writes the ratchet (a struct sock_fprog, then its program) into page 0.
func ratchetPage0(page []byte) {
	prog := ratchetProg()
	if ratchetOff+16+8*len(prog) > shimPageSize {
		panic("the ratchet does not fit page 0")
	}
	le := binary.LittleEndian
	le.PutUint16(page[ratchetOff:], uint16(len(prog)))
	le.PutUint64(page[ratchetOff+8:], shimAddr+ratchetOff+16)
	for i, in := range prog {
		b := page[ratchetOff+16+8*i:]
		le.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		le.PutUint32(b[4:], in.K)
	}
}

// rootUnchrooted reports whether a process with these credentials may make native path
// lookups from G1: guest FSUID 0, not chrooted.
func rootUnchrooted(cr *Cred, chrooted bool) bool { return cr.FSUID == 0 && !chrooted }

// ratchetOn reports whether processes are ratcheted at all: only where the shim's stat path
// is on (page 0 sealed, so the program injected from it is the kernel's); elsewhere G1 makes
// no path lookup and there is nothing to revoke. Not with k.mu held (statData takes it).
func (k *Kernel) ratchetOn() bool { return pathStats && k.statData().RootMnt != 0 }

// needsRatchetLocked reports whether p must be ratcheted before it may take these
// credentials and root (k.mu held; on is ratchetOn's answer).
func needsRatchetLocked(on bool, p *Process, cr *Cred, chrooted bool) bool {
	return on && !p.ratcheted && !rootUnchrooted(cr, chrooted)
}

// ratchetFirst is a handler's answer when the call must wait for the ratchet: the call is
// traced, the filter injected at the stop, and the call restarted (ratchetHooks).
func (c *Call) ratchetFirst() result {
	c.trace = ratchetHooks
	return result{fd: -1, answered: true, trace: true}
}

// ratchetHooks are the hooks of a call traced for the ratchet alone: at the interrupt stop
// the filter goes in, and the call then restarts as it was (trapped again, it finds the
// process ratcheted and commits).
var ratchetHooks = &traceHooks{atStop: (*Kernel).ratchetTask}

// ratchetTask injects the ratchet into task t, stopped under ptrace, and records it.
func (k *Kernel) ratchetTask(t *Task) error {
	r, err := inject(t.Tid, shimAddr+shimSyscallOff, unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, shimAddr+ratchetOff)
	if err != nil {
		return err
	}
	if r != 0 {
		k.debugf("%d: the ratchet: %d", k.guestPid(t.Tid), r)
		return unix.EAGAIN // the call fails as setuid may on Linux
	}
	k.mu.Lock()
	t.Proc.ratcheted = true
	k.mu.Unlock()
	// the shim's hint goes too (only a hint: the filter is the wall)
	var zero [8]byte
	writeMem(t.Tid, shimAddr+shimPage1Off+shim.StatOff+shim.StatPathsOff, zero[:])
	return nil
}

// ratchetChild ratchets a new child stopped at its first stop, before it runs, when its
// credentials need the filter and it did not inherit it: its parent was ratcheted by
// another thread after the host made the child, whose credentials came from the parent
// after that (newTask). A child that cannot be ratcheted is killed: it has not run.
func (k *Kernel) ratchetChild(tid int) {
	if !k.ratchetOn() {
		return
	}
	k.mu.Lock()
	t := k.tasks[tid]
	need := t != nil && needsRatchetLocked(true, t.Proc, t.Proc.Cred, t.Proc.Root != nil)
	k.mu.Unlock()
	if need && k.ratchetTask(t) != nil {
		unix.Kill(tid, unix.SIGKILL)
	}
}
