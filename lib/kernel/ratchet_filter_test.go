package kernel

import (
	"testing"

	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"golang.org/x/sys/unix"
)

// TestRatchetFilter runs the ratchet's program (ratchet.go) over the calls it must take
// from the shim's first site and over what it must leave to the guest filter.
func TestRatchetFilter(t *testing.T) {
	prog := ratchetProg()
	g1, g2 := uint64(shimAddr+shimG1RetOff), uint64(shimAddr+shimG2RetOff)
	name := uint64(shimAddr + shim.XNamesOff)
	deny := retErrno(unix.EACCES)
	for _, tc := range []struct {
		name string
		nr   int
		arch uint32
		ip   uint64
		args []uint64
		want uint32
	}{
		{"statx a path from G1", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0x4000, 0, 0x7ff, 0x7ffd0000}, deny},
		{"statx a path high half from G1", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 1 << 32}, deny},
		{"statx NULL path from G1", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0, unix.AT_EMPTY_PATH}, retAllow},
		{"newfstatat from G1", unix.SYS_NEWFSTATAT, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0x4000, 0x7ffd0000, 0}, deny},
		{"newfstatat empty path from G1", unix.SYS_NEWFSTATAT, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0x4000, 0x7ffd0000, unix.AT_EMPTY_PATH}, deny},
		{"getxattr from G1", unix.SYS_GETXATTR, unix.AUDIT_ARCH_X86_64, g1, []uint64{0x4000, name}, deny},
		{"lgetxattr from G1", unix.SYS_LGETXATTR, unix.AUDIT_ARCH_X86_64, g1, []uint64{0x4000, name}, deny},
		{"getxattrat from G1", sysGetxattrat, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0x4000, 0, name}, deny},
		// the shim's fd calls, and everything else, are the guest filter's to decide
		{"fstat from G1", unix.SYS_FSTAT, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, 0x7ffd0000}, retAllow},
		{"fgetxattr from G1", unix.SYS_FGETXATTR, unix.AUDIT_ARCH_X86_64, g1, []uint64{3, name}, retAllow},
		{"rt_sigprocmask from G1", unix.SYS_RT_SIGPROCMASK, unix.AUDIT_ARCH_X86_64, g1, nil, retAllow},
		{"statx a path from G2", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g2, []uint64{3, 0x4000}, retAllow},
		{"newfstatat anywhere", unix.SYS_NEWFSTATAT, unix.AUDIT_ARCH_X86_64, 0x401000, []uint64{3, 0x4000}, retAllow},
		{"statx G1 low half only", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g1&0xffffffff | 0x5500000000, []uint64{3, 0x4000}, retAllow},
		{"statx G1 high half only", unix.SYS_STATX, unix.AUDIT_ARCH_X86_64, g1 + 0x10, []uint64{3, 0x4000}, retAllow},
		{"another arch", unix.SYS_STATX, unix.AUDIT_ARCH_I386, g1, []uint64{3, 0x4000}, retAllow},
	} {
		if got := runBPF(t, prog, seccompInputAt(tc.nr, tc.arch, tc.ip, tc.args...)); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}
