// Package shim is the code and data the kernel maps into every guest process: a SIGSYS
// handler that answers some system calls inside the process and keeps SIGSYS unblocked,
// and its data page (see below). Mechanism only: it knows nothing of files or credentials
// beyond the four ids the kernel writes into the data page.
package shim

import "encoding/binary"

// The shim is the in-guest fast path for emulated system calls that need no round
// trip through the supervisor, and the guard that keeps guests from ever blocking
// SIGSYS. The seccomp filter answers the calls it handles with
// SECCOMP_RET_TRAP|TrapData; the kernel then delivers SIGSYS to the guest thread,
// and the handler (shimsrc/shim.S) works out the result and writes it into the saved
// rax:
//
//   - get[e]uid, get[e]gid (102..108): answered from page 1's values.
//   - rt_sigprocmask: done on the saved mask that rt_sigreturn restores, without
//     SIGSYS (a seccomp trap while SIGSYS is blocked kills the process).
//   - rt_sigaction: made through G1 with SIGSYS taken out of sa_mask; SIGSYS's own
//     disposition is only recorded in page 1 and applied to SIGSYS that is not ours.
//   - rt_sigsuspend, ppoll, pselect6, epoll_pwait, epoll_pwait2: made through G1 with
//     SIGSYS taken out of the temporary mask, which handlers run under while they wait
//     (the filter should send them here only when their mask argument is not NULL).
//   - fork, vfork, clone, execve, execveat, chdir: remade at G2, from where the filter
//     sends them to the supervisor, and retried when a signal interrupts them.
//
// Two pages sit at the fixed address Addr, because the code reaches its data with
// absolute addresses. Page 0 is PROT_READ|PROT_EXEC, page 1 PROT_READ|PROT_WRITE (the
// handler writes the guest's SIGSYS disposition there), both private and anonymous.
//
// Layout:
//
//	page 0 0x000-0xbff  code (Code): shim_handler at 0, shim_restorer, G1, G2
//	page 0 0xc00        struct kernel_sigaction installing shim_handler for SIGSYS
//	page 0 0xc20        struct kernel_sigaction for SIG_DFL (all zero), used by the handler
//	page 0 0xc40        the lib/hostmeta attribute names the stat path reads (XNames), 0x20
//	                    apart; the filter lets fgetxattr run natively from G1 with these
//	                    addresses only, so the kernel seals page 0 (mseal)
//	page 0 0xd00        the kernel's ratchet filter (struct sock_fprog, then its program:
//	                    lib/kernel/ratchet.go), sealed with the rest
//	page 1 0x000        int64 values[7]: return value of syscall 102+i
//	page 1 0x040        the guest's own SIGSYS struct kernel_sigaction (handler 0
//	                    SIG_DFL, 1 SIG_IGN), written by the handler; zero at first
//	page 1 0x080        the stat path's data (StatData): the mount id of the machine's root
//	                    tree copy (0: no fast path), the image root's host st_dev and the
//	                    guest's, the number of excluded inodes and up to NExcl of them,
//	                    then whether path stats are on for this process (Paths)
//	page 1 0x100        the process name the kernel gives a new image (16 bytes; the
//	                    handler never reads it)
//	page 1 0x110        the fork token (16 bytes): written by the kernel before a fork it
//	                    lets run natively, read by it from the child (lib/kernel/forkfast.go;
//	                    never read here)
//	page 1 0x200        the new image's AT_EXECFN string, which the kernel points the
//	                    auxiliary vector at (lib/kernel/loader.go; never read here)
const (
	Addr     = 0x6ffff0000000
	PageSize = 4096
	// SigactionOff is what to pass to rt_sigaction(SIGSYS, Addr+SigactionOff, NULL, 8).
	SigactionOff = 0xc00
	SigdflOff    = 0xc20
	// XNamesOff is where the attribute names (XNames) are, XNameSize apart.
	XNamesOff = 0xc40
	XNameSize = 0x20

	// Page1Off is where page 1 starts; the other offsets below are within it.
	Page1Off = 0x1000
	// ValuesOff is where Values goes: rewrite it there to change a running guest's ids.
	ValuesOff = 0x0
	// GuestSigsysOff holds the guest's SIGSYS sigaction (32 bytes).
	GuestSigsysOff = 0x40
	// TokenOff holds the fork token, TokenLen bytes (lib/kernel/forkfast.go).
	TokenOff = 0x110
	TokenLen = 16
	// CommOff holds the name prctl(PR_SET_NAME) gives a new image (sigsys.go).
	CommOff = 0x100
	// StatOff holds StatData: rewrite it there to change what the stat path knows.
	StatOff = 0x80
	// NExcl is how many inodes StatData can exclude from the stat path.
	NExcl = 11
	// StatPathsOff is where in StatData the Paths hint lies (8 bytes, nonzero: on).
	StatPathsOff = 32 + 8*NExcl

	// FirstNR is the syscall number of values[0]; the handler answers the
	// NValues numbers from there.
	FirstNR = 102 // getuid
	NValues = 7   // getuid .. getegid

	// TrapData is the SECCOMP_RET_DATA the filter must put in SECCOMP_RET_TRAP
	// for calls the handler answers; the kernel passes it to it in si_errno.
	TrapData = 0x5547

	// Kernel ABI values for the sigaction at SigactionOff. SA_NODEFER keeps
	// SIGSYS unblocked in the handler, so a trap in a guest SIGSYS handler it jumps
	// to, or in anything nested, is still delivered.
	shimSASiginfo  = 0x4
	shimSAOnstack  = 0x08000000
	shimSARestorer = 0x04000000
	shimSANodefer  = 0x40000000
	shimSAFlags    = shimSASiginfo | shimSAOnstack | shimSARestorer | shimSANodefer

	shimENOSYS = 38
)

// shim.S is assembled with its own copy of the layout; these fail to compile
// (constant overflow) when the two disagree, rather than corrupting guests.
const (
	_ = uint64(Addr-shimAsmAddr) + uint64(shimAsmAddr-Addr)
	_ = uint64(SigactionOff-shimAsmSigactionOff) + uint64(shimAsmSigactionOff-SigactionOff)
	_ = uint64(SigdflOff-shimAsmSigdflOff) + uint64(shimAsmSigdflOff-SigdflOff)
	_ = uint64(Page1Off-shimAsmPage1Off) + uint64(shimAsmPage1Off-Page1Off)
	_ = uint64(ValuesOff-shimAsmValuesOff) + uint64(shimAsmValuesOff-ValuesOff)
	_ = uint64(GuestSigsysOff-shimAsmGuestOff) + uint64(shimAsmGuestOff-GuestSigsysOff)
	_ = uint64(FirstNR-shimAsmFirstNR) + uint64(shimAsmFirstNR-FirstNR)
	_ = uint64(NValues-shimAsmNValues) + uint64(shimAsmNValues-NValues)
	_ = uint64(TrapData-shimAsmTrapData) + uint64(shimAsmTrapData-TrapData)
	_ = uint64(XNamesOff-shimAsmXNamesOff) + uint64(shimAsmXNamesOff-XNamesOff)
	_ = uint64(XNameSize-shimAsmXNameSize) + uint64(shimAsmXNameSize-XNameSize)
	_ = uint64(StatOff-shimAsmStatOff) + uint64(shimAsmStatOff-StatOff)
	_ = uint64(NExcl-shimAsmNExcl) + uint64(shimAsmNExcl-NExcl)
	_ = uint64(-HandlerOff) // shim_handler must be at offset 0
	// The instructions after G1 and G2 are the syscall instruction (2 bytes) later.
	_ = uint64(G1RetOff-SyscallOff-2) + uint64(SyscallOff+2-G1RetOff)
	_ = uint64(G2RetOff-G2Off-2) + uint64(G2Off+2-G2RetOff)
	// The code must end before the sigactions, the values before the guest's sigaction.
	_ = uint64(SigactionOff - G1RetOff - 1)
	_ = uint64(GuestSigsysOff - ValuesOff - 8*NValues)
	// StatData between the guest's sigaction and the process name; the names fit page 0.
	_ = uint64(StatOff - GuestSigsysOff - 32)
	_ = uint64(CommOff - StatOff - 40 - 8*NExcl)
	_ = uint64(32+8*NExcl-shimAsmPaths) + uint64(shimAsmPaths-32-8*NExcl)
	_ = uint64(PageSize - XNamesOff - 6*XNameSize)
	// the token after the process name, before AT_EXECFN's string
	_ = uint64(TokenOff - CommOff - 16)
	_ = uint64(0x200 - TokenOff - TokenLen)
)

// XNames are the attribute names the stat path reads, in the order shim.S numbers them
// (lib/hostmeta's names: UID, GID, Mode, Rdev, LegacyOwner, LegacyDev).
var XNames = [6]string{"user.gouml.uid", "user.gouml.gid", "user.gouml.mode", "user.gouml.rdev",
	"user.gouml.owner", "user.gouml.dev"}

// StatData is what the stat path needs from the kernel (page 1 at StatOff). A zero RootMnt
// turns the path off: every fstat goes to the kernel.
type StatData struct {
	RootMnt        uint64   // mount id of the machine's root tree copy
	DevFrom, DevTo uint64   // st_dev DevFrom is shown as DevTo (the image root's device)
	Excl           []uint64 // inodes of the root tree whose stat the kernel rewrites
	// Paths: path stats too (newfstatat by path), for a process the kernel knows to be
	// guest root without chroot. Only a hint, per process: the filter lets the shim's
	// native path lookups run only for such a process (lib/kernel/ratchet.go).
	Paths bool
}

// Bytes returns StatData as page 1 holds it; more than NExcl inodes turn the path off.
func (d StatData) Bytes() []byte {
	b := make([]byte, 40+8*NExcl)
	if len(d.Excl) > NExcl {
		return b
	}
	if d.Paths {
		binary.LittleEndian.PutUint64(b[32+8*NExcl:], 1)
	}
	le := binary.LittleEndian
	le.PutUint64(b[0:], d.RootMnt)
	le.PutUint64(b[8:], d.DevFrom)
	le.PutUint64(b[16:], d.DevTo)
	le.PutUint64(b[24:], uint64(len(d.Excl)))
	for i, ino := range d.Excl {
		le.PutUint64(b[32+8*i:], ino)
	}
	return b
}

// Values returns the values[] array of page 1: what each syscall 102..108 returns,
// little endian; write it at Addr+Page1Off+ValuesOff to update a running
// guest. Ids are returned as the kernel does, zero-extended (uid 4294967295 stays
// positive); the other numbers in the range get -ENOSYS.
func Values(uid, euid, gid, egid uint32) []byte {
	var v [NValues]int64
	for i := range v {
		v[i] = -shimENOSYS
	}
	v[102-FirstNR] = int64(uid)  // getuid
	v[104-FirstNR] = int64(gid)  // getgid
	v[107-FirstNR] = int64(euid) // geteuid
	v[108-FirstNR] = int64(egid) // getegid
	b := make([]byte, 8*NValues)
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// Page0 returns the contents of page 0 (code and sigactions), the same for every guest.
func Page0() []byte {
	p := make([]byte, PageSize)
	copy(p, Code)
	le := binary.LittleEndian
	// struct kernel_sigaction { handler, flags, restorer, mask } (x86-64).
	le.PutUint64(p[SigactionOff:], Addr+HandlerOff)
	le.PutUint64(p[SigactionOff+8:], shimSAFlags)
	le.PutUint64(p[SigactionOff+16:], Addr+RestorerOff)
	le.PutUint64(p[SigactionOff+24:], 0)
	// SigdflOff stays all zero: SIG_DFL.
	for i, n := range XNames {
		copy(p[XNamesOff+i*XNameSize:], n) // NUL-terminated by the zeros after it
	}
	return p
}

// Page1 returns the contents of page 1 for a guest process with these ids and stat data.
// The guest's SIGSYS disposition starts as SIG_DFL (zero), as after execve.
func Page1(uid, euid, gid, egid uint32, sd StatData) []byte {
	p := make([]byte, PageSize)
	copy(p[ValuesOff:], Values(uid, euid, gid, egid))
	copy(p[StatOff:], sd.Bytes())
	return p
}
