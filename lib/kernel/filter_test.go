package kernel

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"golang.org/x/sys/unix"
)

// runBPF is a small classic-BPF interpreter for the instructions buildFilter emits.
func runBPF(t *testing.T, prog []unix.SockFilter, data []byte) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if a == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if a >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			if a > in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if a&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("unexpected instruction %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("fell off the end of the filter")
	return 0
}

func seccompInput(nr int, arch uint32, args ...uint64) []byte {
	return seccompInputAt(nr, arch, 0, args...)
}

// seccompInputAt is seccompInput for a call made at instruction pointer ip.
func seccompInputAt(nr int, arch uint32, ip uint64, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint64(b[8:], ip)
	binary.LittleEndian.PutUint32(b[0:], uint32(nr))
	binary.LittleEndian.PutUint32(b[4:], arch)
	for i, v := range args {
		binary.LittleEndian.PutUint64(b[16+8*i:], v)
	}
	return b
}

// TestFilterMatchesTable checks the generated filter against the table for every number.
func TestFilterMatchesTable(t *testing.T) {
	for _, debug := range []bool{false, true} {
		prog := buildFilter(debug, 0, true)
		if len(prog) > 4096 {
			t.Fatalf("filter too long: %d", len(prog))
		}
		for nr := 0; nr < 1024; nr++ {
			got := runBPF(t, prog, seccompInput(nr, unix.AUDIT_ARCH_X86_64))
			var want uint32
			s := byNr[nr]
			switch {
			case s == nil && debug:
				want = retNotify
			case s == nil:
				want = retErrno(unix.ENOSYS)
			case s.Disp == Passthrough:
				want = retAllow
			case s.Disp == Notify && s.Rule == ruleShimRoute:
				want = retShim // an open, not from the shim
			case s.Disp == Notify:
				want = retNotify
			case s.Disp == InGuest && s.Rule >= ruleShimMask3 && s.Rule <= ruleShimMask5:
				want = retAllow // no mask
			case s.Disp == Trace, s.Disp == InGuest:
				want = retShim // from anywhere but the shim's own sites
			case s.Disp == ArgRule && nr == unix.SYS_CLONE:
				want = retShim // a new process (no CLONE_THREAD), not from the shim
			case s.Disp == ArgRule && s.Rule == ruleShimRoute:
				want = retShim // a signal sender, not from the shim
			case s.Disp == ArgRule && s.Rule == ruleShimFstatat && pathStats:
				want = retShim // a path stat, not from the shim: the shim's to answer or forward
			case s.Disp == ArgRule && shimStatRule(s.Rule):
				want = retNotify // not the shim's own call (statx, fgetxattr), no AT_EMPTY_PATH (newfstatat)
			case s.Disp == Errno:
				want = retErrno(s.Errno)
			case s.Disp == ArgRule:
				want = retAllow // with all-zero arguments every rule allows
			}
			if got != want {
				t.Errorf("debug=%v %s (%d): filter says %#x, table %#x", debug, sysName(nr), nr, got, want)
			}
		}
		if got := runBPF(t, prog, seccompInput(unix.SYS_GETPID|0x40000000, unix.AUDIT_ARCH_X86_64)); got == retAllow {
			t.Error("x32 numbers must not pass")
		}
		if got := runBPF(t, prog, seccompInput(20, unix.AUDIT_ARCH_I386)); got != retKill {
			t.Errorf("i386 entry: %#x", got)
		}
	}
}

func TestFilterArgRules(t *testing.T) {
	prog := buildFilter(false, 0, true)
	eperm := retErrno(unix.EPERM)
	for _, tc := range []struct {
		name string
		nr   int
		args []uint64
		want uint32
	}{
		{"ioctl TCGETS", unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, retAllow},
		{"ioctl TIOCSTI", unix.SYS_IOCTL, []uint64{0, unix.TIOCSTI}, eperm},
		{"ioctl TIOCSTI high bits", unix.SYS_IOCTL, []uint64{0, 1<<32 | unix.TIOCSTI}, eperm},
		{"ioctl TIOCLINUX", unix.SYS_IOCTL, []uint64{0, unix.TIOCLINUX}, eperm},
		{"ioctl TIOCSETD", unix.SYS_IOCTL, []uint64{0, unix.TIOCSETD}, eperm},
		{"ioctl TIOCCONS", unix.SYS_IOCTL, []uint64{0, unix.TIOCCONS}, eperm},
		{"ioctl BLKFLSBUF", unix.SYS_IOCTL, []uint64{3, unix.BLKFLSBUF}, retNotify},
		{"ioctl BLKGETSIZE64", unix.SYS_IOCTL, []uint64{3, unix.BLKGETSIZE64}, retNotify},
		{"ioctl BLKSSZGET", unix.SYS_IOCTL, []uint64{3, unix.BLKSSZGET}, retNotify},
		{"ioctl HDIO_GETGEO", unix.SYS_IOCTL, []uint64{3, 0x0301}, retNotify},
		{"ioctl TIOCINQ", unix.SYS_IOCTL, []uint64{3, unix.TIOCINQ}, retAllow},
		{"clone fork", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, retShim},
		{"clone vfork", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)}, retShim},
		{"clone thread", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, retAllow},
		{"clone newuser", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone newnet", unix.SYS_CLONE, []uint64{unix.CLONE_NEWNET | uint64(unix.SIGCHLD)}, eperm},
		{"prlimit self", unix.SYS_PRLIMIT64, []uint64{0}, retAllow},
		{"prlimit other", unix.SYS_PRLIMIT64, []uint64{1}, retNotify},
		{"prlimit other high", unix.SYS_PRLIMIT64, []uint64{1 << 32}, retNotify},
		{"setpriority self", unix.SYS_SETPRIORITY, []uint64{0, 0}, retAllow},
		{"setpriority other", unix.SYS_SETPRIORITY, []uint64{0, 77}, retNotify},
		{"setpriority other high", unix.SYS_SETPRIORITY, []uint64{0, 1 << 32}, retNotify},
		{"setpriority own pgrp", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PGRP, 0}, retNotify},
		{"setpriority own user", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_USER, 0}, retNotify},
		{"setpriority which high", unix.SYS_SETPRIORITY, []uint64{1 << 32, 0}, retNotify},
		{"getpriority self", unix.SYS_GETPRIORITY, []uint64{0, 0}, retAllow},
		{"sched_setaffinity other", unix.SYS_SCHED_SETAFFINITY, []uint64{5}, retNotify},
		{"sched_getaffinity other", unix.SYS_SCHED_GETAFFINITY, []uint64{5}, retAllow},
		{"get_robust_list other", unix.SYS_GET_ROBUST_LIST, []uint64{5}, eperm},
	} {
		if got := runBPF(t, prog, seccompInput(tc.nr, unix.AUDIT_ARCH_X86_64, tc.args...)); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestFilterShimSites: the shim's two syscall sites, and only they, get what the shim needs:
// its own rt_sigaction/rt_sigprocmask run natively from the first, the Trace calls go to the
// kernel from the second; from anywhere else (including the other site, or an address that
// matches in one half only) they go to the shim.
func TestFilterShimSites(t *testing.T) {
	prog := buildFilter(false, 0, true)
	g1, g2 := uint64(shimAddr+shimG1RetOff), uint64(shimAddr+shimG2RetOff)
	for _, tc := range []struct {
		name string
		nr   int
		ip   uint64
		args []uint64
		want uint32
	}{
		{"getuid from G1", unix.SYS_GETUID, g1, nil, retShim},
		{"getegid anywhere", unix.SYS_GETEGID, 0x401000, nil, retShim},
		{"sigprocmask from G1", unix.SYS_RT_SIGPROCMASK, g1, nil, retAllow},
		{"sigprocmask from G2", unix.SYS_RT_SIGPROCMASK, g2, nil, retShim},
		{"sigaction from G1", unix.SYS_RT_SIGACTION, g1, nil, retAllow},
		{"sigaction low half only", unix.SYS_RT_SIGACTION, g1&0xffffffff | 0x5500000000, nil, retShim},
		{"sigaction high half only", unix.SYS_RT_SIGACTION, g1 + 0x10, nil, retShim},
		{"execve from G2", unix.SYS_EXECVE, g2, nil, retNotify},
		{"execve from G1", unix.SYS_EXECVE, g1, nil, retShim},
		{"execveat from G2", unix.SYS_EXECVEAT, g2, nil, retNotify},
		{"chdir from G2", unix.SYS_CHDIR, g2, nil, retNotify},
		{"fork from G2", unix.SYS_FORK, g2, nil, retNotify},
		{"vfork anywhere", unix.SYS_VFORK, 0x401000, nil, retShim},
		{"clone fork from G2", unix.SYS_CLONE, g2, []uint64{uint64(unix.SIGCHLD)}, retNotify},
		{"clone thread anywhere", unix.SYS_CLONE, 0x401000, []uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, retAllow},
		{"clone newpid from G2", unix.SYS_CLONE, g2, []uint64{unix.CLONE_NEWPID}, retErrno(unix.EPERM)},
		{"open from G2", unix.SYS_OPENAT, g2, nil, retNotify},
		{"open from G1", unix.SYS_OPENAT, g1, nil, retShim},
		{"open anywhere", unix.SYS_OPEN, 0x401000, nil, retShim},
		{"creat from G2", unix.SYS_CREAT, g2, nil, retNotify},
		{"openat2 anywhere", unix.SYS_OPENAT2, 0x401000, nil, retShim},
		{"getpid from G1", unix.SYS_GETPID, g1, nil, retAllow},
		{"sigsuspend anywhere", unix.SYS_RT_SIGSUSPEND, 0x401000, []uint64{0x7ffd0000}, retShim},
		{"sigsuspend from G1", unix.SYS_RT_SIGSUSPEND, g1, []uint64{0x7ffd0000}, retAllow},
		{"ppoll no mask", unix.SYS_PPOLL, 0x401000, []uint64{1, 1, 0, 0}, retAllow},
		{"ppoll mask", unix.SYS_PPOLL, 0x401000, []uint64{1, 1, 0, 0x7ffd0000}, retShim},
		{"ppoll mask high half", unix.SYS_PPOLL, 0x401000, []uint64{1, 1, 0, 0x7ffd_0000_0000}, retShim},
		{"ppoll mask from G1", unix.SYS_PPOLL, g1, []uint64{1, 1, 0, 0x7ffd0000}, retAllow},
		{"epoll_pwait mask", unix.SYS_EPOLL_PWAIT, 0x401000, []uint64{3, 0, 1, 0, 0x7ffd0000}, retShim},
		{"epoll_pwait2 no mask", unix.SYS_EPOLL_PWAIT2, 0x401000, []uint64{3, 0, 1, 0, 0}, retAllow},
		{"pselect6 mask", unix.SYS_PSELECT6, 0x401000, []uint64{1, 0, 0, 0, 0, 0x7ffd0000}, retShim},
		{"pselect6 no mask", unix.SYS_PSELECT6, 0x401000, []uint64{1, 0, 0, 0, 0, 0}, retAllow},
		// the stat path (shimstat.go)
		{"fstat anywhere", unix.SYS_FSTAT, 0x401000, []uint64{3, 0x7ffd0000}, retShim},
		{"fstat from G1", unix.SYS_FSTAT, g1, []uint64{3, 0x7ffd0000}, retAllow},
		{"fstat from G2", unix.SYS_FSTAT, g2, []uint64{3, 0x7ffd0000}, retNotify},
		{"fstat G1 low half only", unix.SYS_FSTAT, g1&0xffffffff | 0x5500000000, []uint64{3}, retShim},
		{"newfstatat empty path", unix.SYS_NEWFSTATAT, 0x401000, []uint64{3, 0x4000, 0x7ffd0000, unix.AT_EMPTY_PATH}, retShim},
		{"newfstatat empty path from G2", unix.SYS_NEWFSTATAT, g2, []uint64{3, 0x4000, 0x7ffd0000, unix.AT_EMPTY_PATH}, retNotify},
		// the path stats (pathStats): natively from G1, for guest root alone (the ratchet)
		{"newfstatat empty path from G1", unix.SYS_NEWFSTATAT, g1, []uint64{3, 0x4000, 0x7ffd0000, unix.AT_EMPTY_PATH}, retAllow},
		{"newfstatat a path", unix.SYS_NEWFSTATAT, 0x401000, []uint64{3, 0x4000, 0x7ffd0000, unix.AT_SYMLINK_NOFOLLOW}, retShim},
		{"newfstatat a path from G1", unix.SYS_NEWFSTATAT, g1, []uint64{3, 0x4000, 0x7ffd0000, 0}, retAllow},
		{"newfstatat a path from G2", unix.SYS_NEWFSTATAT, g2, []uint64{3, 0x4000, 0x7ffd0000, 0}, retNotify},
		{"statx NULL path from G1", unix.SYS_STATX, g1, []uint64{3, 0, unix.AT_EMPTY_PATH, 0x7ff, 0x7ffd0000}, retAllow},
		{"statx a path from G1", unix.SYS_STATX, g1, []uint64{3, 0x4000, unix.AT_EMPTY_PATH, 0x7ff, 0x7ffd0000}, retAllow},
		{"statx a path high half from G1", unix.SYS_STATX, g1, []uint64{3, 1 << 32, unix.AT_EMPTY_PATH}, retAllow},
		{"statx a path anywhere", unix.SYS_STATX, 0x401000, []uint64{3, 0x4000, 0}, retNotify},
		{"getxattrat shim name 0 from G1", sysGetxattrat, g1, []uint64{3, 0x4000, 0, shimAddr + shim.XNamesOff, 0x7ffd0000, 16}, retAllow},
		{"getxattrat shim name 5 from G1", sysGetxattrat, g1, []uint64{3, 0x4000, 0, shimAddr + shim.XNamesOff + 5*shim.XNameSize, 0x7ffd0000, 16}, retAllow},
		{"getxattrat past the names from G1", sysGetxattrat, g1, []uint64{3, 0x4000, 0, shimAddr + shim.XNamesOff + 6*shim.XNameSize, 0x7ffd0000, 16}, retNotify},
		{"getxattrat other name from G1", sysGetxattrat, g1, []uint64{3, 0x4000, 0, 0x7ffd0000, 0x7ffd0000, 16}, retNotify},
		{"getxattrat name in args[1] from G1", sysGetxattrat, g1, []uint64{3, shimAddr + shim.XNamesOff, 0, 0x7ffd0000, 0x7ffd0000, 16}, retNotify},
		{"getxattrat shim name anywhere", sysGetxattrat, 0x401000, []uint64{3, 0x4000, 0, shimAddr + shim.XNamesOff, 0x7ffd0000, 16}, retNotify},
		{"statx NULL path anywhere", unix.SYS_STATX, 0x401000, []uint64{3, 0, unix.AT_EMPTY_PATH}, retNotify},
		{"statx NULL path from G2", unix.SYS_STATX, g2, []uint64{3, 0, unix.AT_EMPTY_PATH}, retNotify},
		{"fgetxattr shim name 0 from G1", unix.SYS_FGETXATTR, g1, []uint64{3, shimAddr + shim.XNamesOff, 0x7ffd0000, 64}, retAllow},
		{"fgetxattr shim name 5 from G1", unix.SYS_FGETXATTR, g1, []uint64{3, shimAddr + shim.XNamesOff + 5*shim.XNameSize, 0x7ffd0000, 64}, retAllow},
		{"fgetxattr past the names from G1", unix.SYS_FGETXATTR, g1, []uint64{3, shimAddr + shim.XNamesOff + 6*shim.XNameSize, 0x7ffd0000, 64}, retNotify},
		{"fgetxattr inside a name from G1", unix.SYS_FGETXATTR, g1, []uint64{3, shimAddr + shim.XNamesOff + 5, 0x7ffd0000, 64}, retNotify},
		{"fgetxattr other name from G1", unix.SYS_FGETXATTR, g1, []uint64{3, 0x7ffd0000, 0x7ffd0000, 64}, retNotify},
		{"fgetxattr name low half only from G1", unix.SYS_FGETXATTR, g1, []uint64{3, (shimAddr + shim.XNamesOff) & 0xffffffff, 0x7ffd0000, 64}, retNotify},
		{"fgetxattr shim name anywhere", unix.SYS_FGETXATTR, 0x401000, []uint64{3, shimAddr + shim.XNamesOff, 0x7ffd0000, 64}, retNotify},
		{"fgetxattr shim name from G2", unix.SYS_FGETXATTR, g2, []uint64{3, shimAddr + shim.XNamesOff, 0x7ffd0000, 64}, retNotify},
	} {
		if got := runBPF(t, prog, seccompInputAt(tc.nr, unix.AUDIT_ARCH_X86_64, tc.ip, tc.args...)); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestParseShebang(t *testing.T) {
	for in, want := range map[string][2]string{
		"#!/bin/sh\n":                 {"/bin/sh", ""},
		"#! /bin/sh -e\n":             {"/bin/sh", "-e"},
		"#!/usr/bin/env python3 -u\n": {"/usr/bin/env", "python3 -u"},
		"#!/bin/sh\t-x \n":            {"/bin/sh", "-x"},
	} {
		i, a, err := parseShebang([]byte(in))
		if err != nil || i != want[0] || a != want[1] {
			t.Errorf("%q: %q %q %v", in, i, a, err)
		}
	}
	for _, in := range []string{"#!\n", "#!   \n"} {
		if _, _, err := parseShebang([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// FuzzParseShebang: a guest-controlled #! line never panics, and what it returns has no
// newline or leading blank.
func FuzzParseShebang(f *testing.F) {
	for _, s := range []string{"#!/bin/sh\n", "#! /usr/bin/env  python3 -u\n", "#!/bin/sh\t-x\r\n", "#!", "#!\x00\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		b = append([]byte("#!"), b[2:]...)
		if len(b) > 256 {
			b = b[:256]
		}
		i, a, err := parseShebang(b)
		if err != nil {
			return
		}
		if i == "" || i[0] == ' ' || i[0] == '\t' || containsNL(i) || containsNL(a) {
			t.Fatalf("%q -> %q %q", b, i, a)
		}
	})
}

func containsNL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return true
		}
	}
	return false
}

// elfWithInterp builds an x86-64 ELF header with one PT_INTERP program header.
func elfWithInterp(interp []byte, size uint64) []byte {
	b := make([]byte, 64+56)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)
	le.PutUint16(b[18:], 62)
	le.PutUint64(b[32:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], 1)
	le.PutUint32(b[64:], 3)
	le.PutUint64(b[64+8:], uint64(len(b)))
	le.PutUint64(b[64+32:], size)
	return append(b, interp...)
}

func TestParseInterp(t *testing.T) {
	good := elfWithInterp([]byte("/lib64/ld-linux-x86-64.so.2\x00"), 28)
	if s, err := parseInterp(bytes.NewReader(good)); err != nil || s != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("good: %q %v", s, err)
	}
	for name, b := range map[string][]byte{
		"huge":         elfWithInterp([]byte("/x\x00"), 1<<62),
		"past the end": elfWithInterp([]byte("/x\x00"), 4000),
		"no NUL":       elfWithInterp([]byte("/xy"), 3),
		"tiny":         elfWithInterp([]byte("\x00"), 1),
		"inner NUL":    elfWithInterp([]byte("/a\x00b\x00"), 5),
		"not ELF":      []byte("#!/bin/sh\n"),
	} {
		if s, err := parseInterp(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted as %q", name, s)
		}
	}
	static := elfWithInterp(nil, 0)
	binary.LittleEndian.PutUint32(static[64:], 1) // PT_LOAD
	if s, err := parseInterp(bytes.NewReader(static)); err != nil || s != "" {
		t.Errorf("static: %q %v", s, err)
	}
}

// FuzzParseInterp: a guest's ELF file (the kernel reads PT_INTERP for chrooted processes)
// never panics the parser or makes it allocate beyond its bounds, and an interpreter it
// returns is a plain path.
func FuzzParseInterp(f *testing.F) {
	f.Add(elfWithInterp([]byte("/lib64/ld-linux-x86-64.so.2\x00"), 28))
	f.Add(elfWithInterp([]byte("/x\x00"), 1<<62))
	f.Add(elfWithInterp(nil, 0))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseInterp(bytes.NewReader(b))
		if err == nil && (len(s) > 4095 || strings.IndexByte(s, 0) >= 0) {
			t.Fatalf("returned %q", s)
		}
	})
}

// TestFDTwinsMatchPathCalls: every call that changes a file's mode, owner, times or extended
// attributes through an fd has the same disposition as its path-based twin, so that no fd
// reaches a file's metadata around the rules the path call goes through (fchmod once ran
// natively and put set-id bits on host files).
func TestFDTwinsMatchPathCalls(t *testing.T) {
	for fd, path := range map[int]int{
		unix.SYS_FCHMOD:       unix.SYS_FCHMODAT,
		unix.SYS_FCHOWN:       unix.SYS_FCHOWNAT,
		unix.SYS_FSETXATTR:    unix.SYS_SETXATTR,
		unix.SYS_FGETXATTR:    unix.SYS_GETXATTR,
		unix.SYS_FLISTXATTR:   unix.SYS_LISTXATTR,
		unix.SYS_FREMOVEXATTR: unix.SYS_REMOVEXATTR,
		unix.SYS_FUTIMESAT:    unix.SYS_UTIMENSAT, // futimens is utimensat with a NULL path
		unix.SYS_FSTAT:        unix.SYS_NEWFSTATAT,
		unix.SYS_FSTATFS:      unix.SYS_STATFS,
	} {
		a, b := byNr[fd], byNr[path]
		if a == nil || b == nil {
			t.Errorf("%s or %s has no row", sysName(fd), sysName(path))
			continue
		}
		// the shim's stat path reads only: fstat in the guest, fgetxattr of the shim's own
		// attribute names from its site (security.md, "The shim's stat path"); TestFilterShimSites
		// checks that everything else is trapped like the path twin
		if (fd == unix.SYS_FSTAT || fd == unix.SYS_FGETXATTR) && shimStatRule(a.Rule) {
			continue
		}
		if a.Disp != b.Disp || a.Disp == Errno && a.Errno != b.Errno {
			t.Errorf("%s is %s but %s is %s", sysName(fd), a.Disp, sysName(path), b.Disp)
		}
	}
}

// TestKernelFilterRefusesOnlyWhatGuestsCannot: the kernel process's own filter, which
// guests inherit under theirs, refuses only calls the guest table refuses with the same
// error, and never one the kernel makes itself.
func TestKernelFilterRefusesOnlyWhatGuestsCannot(t *testing.T) {
	prog := buildKernelFilter()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[4:], unix.AUDIT_ARCH_X86_64)
	refused := 0
	for nr := 0; nr < maxNr; nr++ {
		binary.LittleEndian.PutUint32(data[0:], uint32(nr))
		ret := runBPF(t, prog, data)
		if ret == retAllow {
			continue
		}
		refused++
		s := byNr[nr]
		if s == nil || s.Disp != Errno || ret != retErrno(s.Errno) {
			t.Errorf("the kernel's filter refuses %s with %#x; the guest table says %v", sysName(nr), ret, s)
		}
		if kernelNeeds[nr] {
			t.Errorf("the kernel's filter refuses %s, which the kernel needs", sysName(nr))
		}
	}
	for _, nr := range []int{unix.SYS_INIT_MODULE, unix.SYS_KEXEC_LOAD, unix.SYS_BPF, unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_IO_URING_SETUP} {
		binary.LittleEndian.PutUint32(data[0:], uint32(nr))
		if runBPF(t, prog, data) == retAllow {
			t.Errorf("the kernel's filter allows %s", sysName(nr))
		}
	}
	binary.LittleEndian.PutUint32(data[4:], 0x40000003) // i386
	if ret := runBPF(t, prog, data); ret != retKill {
		t.Errorf("another architecture's call gets %#x", ret)
	}
	if refused < 10 {
		t.Errorf("only %d calls refused", refused)
	}
}

// TestDeviceRegistry: every device of the registry is found by its name and by its number,
// and the filter traps exactly the ioctl requests the device classes answer.
func TestDeviceRegistry(t *testing.T) {
	c, err := cmdline.Parse([]string{"con=null", "ssl=null"})
	if err != nil {
		t.Fatal(err)
	}
	k := &Kernel{cfg: Config{Lines: newTTYLines(c, func(string) {}, false)}}
	defer k.cfg.Lines.close()
	for _, d := range charDevices {
		if got := k.deviceByName(d.name); got != d {
			t.Errorf("deviceByName(%q) = %v", d.name, got)
		}
		if got := k.deviceByNum(d.num); got != d {
			t.Errorf("deviceByNum(%v) = %v, want %s", d.num, got, d.name)
		}
		if got := k.kernelDeviceName(unix.S_IFCHR, d.num.rdev()); got != d.name {
			t.Errorf("kernelDeviceName(%v) = %q, want %q", d.num, got, d.name)
		}
		if got := k.kernelDeviceName(unix.S_IFBLK, d.num.rdev()); got != "" {
			t.Errorf("block %v names %q: a character device's number is not a block device's", d.num, got)
		}
	}
	// an unconfigured line has no name in /dev, but its number is still the device (whose
	// open says ENXIO, as the real kernel's)
	if _, code := k.cfg.Lines.line("con", 3).configure("none"); code != 0 {
		t.Fatal("con3=none refused")
	}
	if d := k.deviceByName("tty3"); d != nil {
		t.Errorf("unconfigured tty3 has a name")
	}
	if d := k.deviceByNum(devNum{false, 4, 3}); d == nil || d.name != "tty3" {
		t.Errorf("unconfigured tty3 has no number")
	} else if _, err := d.open(k, nil, unix.O_RDWR); err != unix.ENXIO {
		t.Errorf("open of unconfigured tty3: %v, want ENXIO", err)
	}
	for _, n := range []devNum{{false, 1, 4}, {false, 136, 0}, {true, 98, 0}, {true, 7, 0}} {
		if d := k.deviceByNum(n); d != nil {
			t.Errorf("deviceByNum(%v) = %s, want none (no ubd devices here)", n, d.name)
		}
	}
	prog := buildFilter(false, 0, true)
	for _, c := range devClasses {
		for _, req := range c.ioctls {
			if got := runBPF(t, prog, seccompInput(unix.SYS_IOCTL, unix.AUDIT_ARCH_X86_64, 3, uint64(req))); got != retNotify {
				t.Errorf("%s ioctl %#x: %#x, want the kernel's", c.name, req, got)
			}
		}
		for _, typ := range c.ioctlTyp {
			for _, nr := range []uint32{0, 0x72, 0xff} {
				req := typ<<8 | nr | 2<<30 | 8<<16
				if got := runBPF(t, prog, seccompInput(unix.SYS_IOCTL, unix.AUDIT_ARCH_X86_64, 3, uint64(req))); got != retNotify {
					t.Errorf("%s ioctl %#x: %#x, want the kernel's", c.name, req, got)
				}
			}
		}
	}
}

// TestFilterMemSize: mmap runs natively up to the machine's memory and traps above it (the
// kernel then applies Linux's overcommit heuristic: memlimit.go), comparing all 64 bits of
// the length; without a memory size every mmap runs natively.
func TestFilterMemSize(t *testing.T) {
	for _, tc := range []struct {
		mem, length uint64
		want        uint32
	}{
		{64 << 20, 4096, retAllow},
		{64 << 20, 64 << 20, retAllow},
		{64 << 20, 64<<20 + 1, retNotify},
		{64 << 20, 1 << 32, retNotify},
		{64 << 20, 1<<32 + 4096, retNotify},
		{8 << 30, 4 << 30, retAllow},
		{8 << 30, 8<<30 + 4096, retNotify},
		{8 << 30, 9 << 30, retNotify},
		{8 << 30, 1 << 20, retAllow},
		{0, 1 << 40, retAllow},
	} {
		prog := buildFilter(false, tc.mem, true)
		if got := runBPF(t, prog, seccompInput(unix.SYS_MMAP, unix.AUDIT_ARCH_X86_64, 0, tc.length)); got != tc.want {
			t.Errorf("mem %d, mmap of %d: %#x, want %#x", tc.mem, tc.length, got, tc.want)
		}
	}
}
