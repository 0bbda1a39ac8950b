package kernel

import "encoding/binary"

// The shim page is the in-guest fast path for the few emulated system calls that only
// read state the supervisor already knows (get[e]uid, get[e]gid). The seccomp filter
// answers them with SECCOMP_RET_TRAP|shimTrapData instead of a user notification; the
// kernel then delivers SIGSYS to the guest thread, and the handler in this page (see
// shimsrc/shim.S) writes the answer from the page's data area into the saved rax. That
// skips the round trip through the supervisor.
//
// The page is mapped at the fixed address shimAddr (PROT_READ|PROT_EXEC, private,
// anonymous) because the code reaches its data with absolute addresses.
//
// Layout:
//
//	0x000-0x7ff  code (shimCode): shim_handler at 0, shim_restorer, shim_syscall
//	0x800        struct kernel_sigaction installing shim_handler for SIGSYS
//	0x820        struct kernel_sigaction for SIG_DFL (all zero), used by the handler
//	0x840        u64 guest SIGSYS disposition: 0 SIG_DFL, 1 SIG_IGN, else handler address
//	0x848        u64 reserved (0)
//	0x850        int64 values[7]: return value of syscall 102+i
const (
	shimAddr     = 0x6ffff0000000
	shimPageSize = 4096

	// shimSigactionOff is what to pass to rt_sigaction(SIGSYS, shimAddr+shimSigactionOff, NULL, 8).
	shimSigactionOff   = 0x800
	shimSigdflOff      = 0x820
	shimGuestSigsysOff = 0x840
	shimReservedOff    = 0x848
	shimValuesOff      = 0x850

	// shimDataOff..shimDataEnd is the part of the page that changes while a guest runs
	// (its SIGSYS disposition and its ids); shimData returns exactly those bytes.
	shimDataOff = shimGuestSigsysOff
	shimDataEnd = shimValuesOff + 8*shimNValues

	// shimFirstNR is the syscall number of values[0]; the handler answers the
	// shimNValues numbers from there and gives -ENOSYS to any other it is sent.
	shimFirstNR = 102 // getuid
	shimNValues = 7   // getuid .. getegid

	// shimTrapData is the SECCOMP_RET_DATA the filter must put in SECCOMP_RET_TRAP
	// for calls the handler answers; the kernel passes it to it in si_errno.
	shimTrapData = 0x5547

	// Dispositions for shimGuestSigsysOff besides a handler address.
	shimSigDfl = 0
	shimSigIgn = 1

	// Kernel ABI values for the sigaction at shimSigactionOff.
	shimSASiginfo  = 0x4
	shimSAOnstack  = 0x08000000
	shimSARestorer = 0x04000000
	shimSAFlags    = shimSASiginfo | shimSAOnstack | shimSARestorer

	shimENOSYS = 38
)

// shim.S is assembled with its own copy of the layout; these fail to compile
// (constant overflow) when the two disagree, rather than corrupting guests.
const (
	_ = uint64(shimAddr-shimAsmAddr) + uint64(shimAsmAddr-shimAddr)
	_ = uint64(shimSigdflOff-shimAsmSigdflOff) + uint64(shimAsmSigdflOff-shimSigdflOff)
	_ = uint64(shimGuestSigsysOff-shimAsmGuestOff) + uint64(shimAsmGuestOff-shimGuestSigsysOff)
	_ = uint64(shimValuesOff-shimAsmValuesOff) + uint64(shimAsmValuesOff-shimValuesOff)
	_ = uint64(shimFirstNR-shimAsmFirstNR) + uint64(shimAsmFirstNR-shimFirstNR)
	_ = uint64(shimNValues-shimAsmNValues) + uint64(shimAsmNValues-shimNValues)
	_ = uint64(shimTrapData-shimAsmTrapData) + uint64(shimAsmTrapData-shimTrapData)
	_ = uint64(-shimHandlerOff) // shim_handler must be at offset 0
)

// shimValues is the values[] array of the page: what each syscall 102..108 returns.
// Ids are returned as the kernel does, zero-extended (uid 4294967295 stays positive).
func shimValues(uid, euid, gid, egid uint32) [shimNValues]int64 {
	var v [shimNValues]int64
	for i := range v {
		v[i] = -shimENOSYS
	}
	v[102-shimFirstNR] = int64(uid)  // getuid
	v[104-shimFirstNR] = int64(gid)  // getgid
	v[107-shimFirstNR] = int64(euid) // geteuid
	v[108-shimFirstNR] = int64(egid) // getegid
	return v
}

// shimData returns the bytes of the page from shimDataOff to shimDataEnd, so the
// supervisor can update a running guest's page with one write at shimAddr+shimDataOff.
// guestSigsys is the guest's own SIGSYS disposition (shimSigDfl, shimSigIgn or the
// address of its handler), which the shim applies to SIGSYS that is not its own.
func shimData(guestSigsys uint64, uid, euid, gid, egid uint32) []byte {
	b := make([]byte, shimDataEnd-shimDataOff)
	le := binary.LittleEndian
	le.PutUint64(b[shimGuestSigsysOff-shimDataOff:], guestSigsys)
	le.PutUint64(b[shimReservedOff-shimDataOff:], 0)
	for i, v := range shimValues(uid, euid, gid, egid) {
		le.PutUint64(b[shimValuesOff-shimDataOff+8*i:], uint64(v))
	}
	return b
}

// shimPage returns the complete contents of the shim page for a guest process.
func shimPage(guestSigsys uint64, uid, euid, gid, egid uint32) []byte {
	p := make([]byte, shimPageSize)
	copy(p, shimCode)
	le := binary.LittleEndian
	// struct kernel_sigaction { handler, flags, restorer, mask } (x86-64).
	le.PutUint64(p[shimSigactionOff:], shimAddr+shimHandlerOff)
	le.PutUint64(p[shimSigactionOff+8:], shimSAFlags)
	le.PutUint64(p[shimSigactionOff+16:], shimAddr+shimRestorerOff)
	le.PutUint64(p[shimSigactionOff+24:], 0)
	// shimSigdflOff stays all zero: SIG_DFL.
	copy(p[shimDataOff:], shimData(guestSigsys, uid, euid, gid, egid))
	return p
}
