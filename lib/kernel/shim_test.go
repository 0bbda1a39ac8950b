package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"github.com/gouml/gouml/lib/testenv"
)

// TestShimBlobUpToDate checks that internal/shim/blob.go is what its src/gen.sh makes of
// shim.S.
func TestShimBlobUpToDate(t *testing.T) {
	for _, tool := range []string{"sh", "as", "objcopy", "nm", "od", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH (binutils needed to regenerate internal/shim/blob.go)", tool)
		}
	}
	out := filepath.Join(t.TempDir(), "blob.go")
	if b, err := exec.Command("sh", "internal/shim/src/gen.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("internal/shim/src/gen.sh: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("internal/shim/blob.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("internal/shim/blob.go is stale: run lib/kernel/internal/shim/src/gen.sh\nfresh output:\n%s", want)
	}
}

// TestShimPageLayout checks the page bytes the supervisor and the handler rely on.
func TestShimPageLayout(t *testing.T) {
	p0, p1 := shimPage0(), shimPage1(1001, 1002, 2001, 2002, shim.StatData{})
	if len(p0) != shimPageSize || len(p1) != shimPageSize {
		t.Fatalf("pages are %d and %d bytes, want %d", len(p0), len(p1), shimPageSize)
	}
	if len(shimCode) > shimSigactionOff {
		t.Fatalf("shimCode is %d bytes, overlaps the sigaction at %#x", len(shimCode), shimSigactionOff)
	}
	if !bytes.Equal(p0[:len(shimCode)], shimCode) {
		t.Error("page 0 does not start with shimCode")
	}
	if !bytes.Equal(p0[len(shimCode):shimSigactionOff], make([]byte, shimSigactionOff-len(shimCode))) {
		t.Error("bytes after the code are not zero")
	}
	// The restorer must be exactly rt_sigreturn, G1 syscall+ret, G2 a syscall.
	if got, want := p0[shimRestorerOff:shimRestorerOff+7], []byte{0xb8, 15, 0, 0, 0, 0x0f, 0x05}; !bytes.Equal(got, want) {
		t.Errorf("restorer bytes % x, want % x (mov $15,%%eax; syscall)", got, want)
	}
	if got, want := p0[shimSyscallOff:shimSyscallOff+3], []byte{0x0f, 0x05, 0xc3}; !bytes.Equal(got, want) {
		t.Errorf("G1 bytes % x, want % x (syscall; ret)", got, want)
	}
	if shimG1RetOff != shimSyscallOff+2 {
		t.Errorf("shimG1RetOff %#x, want shimSyscallOff+2 = %#x", shimG1RetOff, shimSyscallOff+2)
	}
	if got, want := p0[shimG2RetOff-2:shimG2RetOff], []byte{0x0f, 0x05}; !bytes.Equal(got, want) {
		t.Errorf("bytes before shimG2RetOff % x, want % x (syscall)", got, want)
	}
	u64 := func(p []byte, off int) uint64 { return binary.LittleEndian.Uint64(p[off:]) }
	for _, c := range []struct {
		name string
		p    []byte
		off  int
		want uint64
	}{
		{"sigaction.handler", p0, shimSigactionOff, shimAddr},
		{"sigaction.flags", p0, shimSigactionOff + 8, 0x4c000004}, // SA_SIGINFO|SA_ONSTACK|SA_RESTORER|SA_NODEFER
		{"sigaction.restorer", p0, shimSigactionOff + 16, shimAddr + shimRestorerOff},
		{"sigaction.mask", p0, shimSigactionOff + 24, 0},
		{"getuid", p1, 0x00, 1001},
		{"syslog", p1, 0x08, 1<<64 - 38},
		{"getgid", p1, 0x10, 2001},
		{"setuid", p1, 0x18, 1<<64 - 38},
		{"setgid", p1, 0x20, 1<<64 - 38},
		{"geteuid", p1, 0x28, 1002},
		{"getegid", p1, 0x30, 2002},
	} {
		if got := u64(c.p, c.off); got != c.want {
			t.Errorf("%s at %#x = %#x, want %#x", c.name, c.off, got, c.want)
		}
	}
	// Page 0 ends with the SIG_DFL sigaction (zero) and nothing else; page 1 has only the
	// values: the guest's SIGSYS sigaction at shimGuestSigsysOff starts as SIG_DFL.
	if !bytes.Equal(p0[shimSigdflOff:shim.XNamesOff], make([]byte, shim.XNamesOff-shimSigdflOff)) {
		t.Error("page 0 from the SIG_DFL sigaction to the attribute names is not zero")
	}
	for i, n := range shim.XNames {
		off := shim.XNamesOff + i*shim.XNameSize
		if got := string(bytes.TrimRight(p0[off:off+shim.XNameSize], "\x00")); got != n {
			t.Errorf("attribute name %d at %#x: %q, want %q", i, off, got, n)
		}
	}
	// then the ratchet's struct sock_fprog and program (ratchet.go), then nothing
	if end := shim.XNamesOff + len(shim.XNames)*shim.XNameSize; end != ratchetOff {
		t.Errorf("the ratchet at %#x, the names end at %#x", ratchetOff, end)
	}
	prog := ratchetProg()
	if n, at := binary.LittleEndian.Uint16(p0[ratchetOff:]), binary.LittleEndian.Uint64(p0[ratchetOff+8:]); int(n) != len(prog) || at != shimAddr+ratchetOff+16 {
		t.Errorf("the ratchet's sock_fprog: %d instructions at %#x", n, at)
	}
	for i, in := range prog {
		b := p0[ratchetOff+16+8*i:]
		if binary.LittleEndian.Uint16(b) != in.Code || b[2] != in.Jt || b[3] != in.Jf || binary.LittleEndian.Uint32(b[4:]) != in.K {
			t.Errorf("the ratchet's instruction %d in page 0 is not the program's", i)
		}
	}
	if end := ratchetOff + 16 + 8*len(prog); !bytes.Equal(p0[end:], make([]byte, shimPageSize-end)) {
		t.Error("page 0 after the ratchet is not zero")
	}
	if want := []string{hostmeta.UID, hostmeta.GID, hostmeta.Mode, hostmeta.Rdev, hostmeta.LegacyOwner, hostmeta.LegacyDev}; strings.Join(shim.XNames[:], " ") != strings.Join(want, " ") {
		t.Errorf("shim.XNames %q, want lib/hostmeta's %q in shim.S's order", shim.XNames, want)
	}
	if shimPage1Off != shimPageSize || shimGuestSigsysOff != 0x40 {
		t.Errorf("page 1 at %#x, guest sigaction at %#x", shimPage1Off, shimGuestSigsysOff)
	}
	if !bytes.Equal(p1[8*shimNValues:], make([]byte, shimPageSize-8*shimNValues)) {
		t.Error("page 1 after the values is not zero")
	}
	v := shimValues(1001, 1002, 2001, 2002)
	if !bytes.Equal(v, p1[shimValuesOff:shimValuesOff+8*shimNValues]) {
		t.Errorf("shimValues does not match page 1 at %#x", shimValuesOff)
	}
	// Ids are unsigned: uid -1 (4294967295) must not become a negative errno.
	if v := u64(shimValues(0xffffffff, 0, 0, 0), 0); v != 0xffffffff {
		t.Errorf("getuid value for uid 4294967295 is %d", v)
	}
}

// shimHarness builds testdata/shimharness.c, which maps the shim pages and traps like
// gouml. The offsets come from this package, so the harness follows internal/shim/blob.go.
func shimHarness(t *testing.T) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	exe := filepath.Join(t.TempDir(), "shimharness")
	args := []string{"-O2", "-static", "-Wall", "-o", exe}
	for _, d := range []struct {
		name string
		v    uint64
	}{
		{"SHIM_ADDR", shimAddr},
		{"SHIM_SIGACTION", shimSigactionOff},
		{"SHIM_PAGE1", shimPage1Off},
		{"SHIM_GUEST", shimGuestSigsysOff},
		{"SHIM_SYSCALL", shimSyscallOff},
		{"SHIM_G1_RET", shimG1RetOff},
		{"SHIM_G2_RET", shimG2RetOff},
		{"SHIM_TRAP_DATA", shimTrapData},
	} {
		args = append(args, fmt.Sprintf("-D%s=%#xUL", d.name, d.v))
	}
	args = append(args, "testdata/shimharness.c")
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return exe
}

// shimPages is what the supervisor maps at shimAddr for a guest with these ids.
func shimPages(uid, euid, gid, egid uint32) []byte {
	return append(shimPage0(), shimPage1(uid, euid, gid, egid, shim.StatData{})...)
}

// runShim runs the harness in mode on pages (plus extra args) and returns its stdout
// and how it ended.
func runShim(t *testing.T, exe, mode string, pages []byte, extra ...string) (string, *os.ProcessState) {
	t.Helper()
	dir := t.TempDir()
	pf := filepath.Join(dir, "pages")
	if err := os.WriteFile(pf, pages, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{mode, pf}, extra...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", mode, err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: harness hung; stdout:\n%s\nstderr:\n%s", mode, &stdout, &stderr)
	}
	if s := stderr.String(); s != "" {
		t.Logf("%s: %s", mode, strings.TrimSpace(s))
	}
	return stdout.String(), cmd.ProcessState
}

func exitedOK(t *testing.T, mode, out string, st *os.ProcessState) {
	t.Helper()
	if !st.Success() {
		t.Fatalf("%s: harness ended with %v; stdout:\n%s", mode, st, out)
	}
}

func idsLine(uid, euid, gid, egid uint32) string {
	return fmt.Sprintf("getuid=%d geteuid=%d getgid=%d getegid=%d syslog=-38 ptrace=-38 setpgid=-38\nsigsys-blocked=0\n",
		uid, euid, gid, egid)
}

// TestShimHandler runs the shim's handler for real: a process with the pages mapped at
// shimAddr and a filter routing calls like gouml's must see the page's ids from
// get[e]uid and get[e]gid, never get SIGSYS blocked through rt_sigprocmask or
// rt_sigaction, keep its own SIGSYS disposition apart from ours, and be able to fork,
// clone, execve and chdir through G2.
func TestShimHandler(t *testing.T) {
	exe := shimHarness(t)
	ids := idsLine(1001, 1002, 2001, 2002)
	pages := shimPages(1001, 1002, 2001, 2002)

	// Each mode's complete stdout on a clean exit.
	for _, c := range []struct{ mode, want string }{
		{"ids", ids},
		{"foreign-ign", "survived\n" + ids},
		{"foreign-handler", "kill: signo=31 code=0 pid-ok=1 uc-ok=1 uid=1001 sigsys-blocked=0\n" +
			"queue: ret=0 signo=31 code=-1 errno=0x5547\n" +
			// A trap of our filter inside the guest's SIGSYS handler works (SA_NODEFER).
			"trap: signo=31 code=1 errno=0x1234 syscall=79 ret=4242 uid=1001 calls=3\n" + ids},
		// Blocking everything leaves SIGSYS out (0x...bffbfeff: no SIGKILL, SIGSTOP,
		// SIGSYS), and the mask really applies after the handler returns.
		{"mask", "block: ret=0 uid=1001 mask=0xffffffffbffbfeff sigsys-blocked=0 usr1-blocked=1\n" +
			"usr1: survived pending=1\n" +
			"einval: size=-22 how=-22\n" +
			"setmask: ret=0 old=0xffffffffbffbfeff now=0xa00\n" +
			"unblock: ret=0 now=0 usr1-delivered=1 signo=10\n"},
		{"sigaction-sigsys", "sigaction: set=0 get=0 handler-ok=1 siginfo=1 usr2-in-mask=1\n" +
			"kernel: ours=1\n" +
			// The guest's sa_mask applies in its handler, but never to SIGSYS.
			"kill: calls=1 signo=31 pid-ok=1 usr2-blocked=1 sigsys-blocked=0 after: usr2-blocked=0\n" + ids +
			"kept: rets=0,0,0,0 same=1 mask-sigsys=0\n" +
			"swap: ret=0 old-ok=1\n" +
			"ignored: calls=1 einval=-22\n" +
			"resethand: rets=0,0 calls=2 now-dfl=1\n"},
		{"sigaction-mask", "usr1: set=0 calls=1 signo=10 uid=1001 sigsys-blocked=0 usr2-blocked=1\n" +
			"sa_mask: get=0 handler-ok=1 sigsys=0 usr2=1\n" +
			"einval: -22\n"},
		{"fork", "fork: status=7\n"},
		{"vfork", "vfork: status=7\n"},
		{"clone", "clone: status=9\n"},
		{"execve", "missing: -2\nexecd\n"},
		{"chdir", "chdir: missing=-2 tmp=0 cwd=/tmp\n"},
		// A handler that runs during a wait with a temporary mask gets that mask
		// (SIGUSR2 blocked) but never SIGSYS; the wait ends with EINTR and the mask
		// is back to SIGUSR1 only.
		{"waits", "rt_sigsuspend: ret=-4 handled=1 uid=1001 sigsys-blocked=0 usr2-blocked=1 after=0x200\n" +
			"ppoll: ret=-4 handled=1 uid=1001 sigsys-blocked=0 usr2-blocked=1 after=0x200\n" +
			"pselect6: ret=-4 handled=1 uid=1001 sigsys-blocked=0 usr2-blocked=1 after=0x200\n" +
			"epoll_pwait: ret=-4 handled=1 uid=1001 sigsys-blocked=0 usr2-blocked=1 after=0x200\n" +
			"epoll_pwait2: ret=-4 handled=1 uid=1001 sigsys-blocked=0 usr2-blocked=1 after=0x200\n" +
			"no mask: ppoll=0 pselect6=0,0 epoll_pwait=0 epoll_pwait2=0\n"},
		// EINTR and the four restart codes from the "supervisor" never reach the guest.
		{"retry", "retry: ret=0 notifications=6 cwd=/tmp\n"},
		// An EINTR the supervisor marked as its own (a call it ended because of a signal)
		// reaches the guest; an unmarked one (before the supervisor received the call) does
		// not.
		{"marked", "marked: first=-4 second=0 notifications=3 cwd=/tmp\n"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			out, st := runShim(t, exe, c.mode, pages)
			exitedOK(t, c.mode, out, st)
			if out != c.want {
				t.Errorf("got:\n%swant:\n%s", out, c.want)
			}
		})
	}

	t.Run("unsigned", func(t *testing.T) {
		out, st := runShim(t, exe, "ids", shimPages(0, 0xffffffff, 65534, 0xfffffffe))
		exitedOK(t, "ids", out, st)
		if want := idsLine(0, 0xffffffff, 65534, 0xfffffffe); out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	t.Run("update", func(t *testing.T) {
		df := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(df, shimValues(3001, 3002, 4001, 4002), 0o644); err != nil {
			t.Fatal(err)
		}
		out, st := runShim(t, exe, "update", pages, df, fmt.Sprint(shimPage1Off+shimValuesOff))
		exitedOK(t, "update", out, st)
		if want := ids + idsLine(3001, 3002, 4001, 4002); out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	// "blocked" pins down the kernel rule the shim exists to design around: a seccomp
	// trap while the thread blocks SIGSYS (here blocked natively, past the shim) is not
	// delivered; the kernel resets SIGSYS to SIG_DFL and the process dies.
	for _, mode := range []string{"foreign-dfl", "foreign-dfl-trap", "foreign-ign-trap", "blocked"} {
		t.Run(mode, func(t *testing.T) {
			out, st := runShim(t, exe, mode, pages)
			ws, ok := st.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Errorf("harness ended with %v, want killed by SIGSYS; stdout:\n%s", st, out)
			}
			if out != "" {
				t.Errorf("harness printed %q before dying, want nothing", out)
			}
		})
	}

}

// TestShimDispatchMatchesTable: the system calls the shim's handler dispatches (internal/shim/src/
// shim.S) are exactly those the table sends to the shim (Trace rows and the clone rule,
// which the shim forwards from its second site, and the in-guest rows with a rule, which it
// wraps), and the numbers shim.S uses are the table's.
func TestShimDispatchMatchesTable(t *testing.T) {
	src, err := os.ReadFile("internal/shim/src/shim.S")
	if err != nil {
		t.Fatal(err)
	}
	nums := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\.set\s+SYS_(\w+),\s*(\d+)`).FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[2])
		nums[m[1]] = n
	}
	dispatched := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\S*\s*cmp\s+\$SYS_(\w+),\s*%eax`).FindAllStringSubmatch(string(src), -1) {
		dispatched[m[1]] = true
	}
	if len(dispatched) == 0 {
		t.Fatal("no dispatch found in shim.S: has its form changed?")
	}
	// the list of calls forwarded for the retry (shim.S: routed), numbers up to 0xffff
	routed := map[string]bool{}
	list := regexp.MustCompile(`(?s)\nrouted:\n(.*?)\.short\s+0xffff`).FindStringSubmatch(string(src))
	if list == nil {
		t.Fatal("no routed list in shim.S: has its form changed?")
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*\.short\s+([0-9, ]+)`).FindAllStringSubmatch(list[1], -1) {
		for _, f := range strings.Split(m[1], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("shim.S routed: %q", m[1])
			}
			if dispatched[sysName(n)] {
				t.Errorf("shim.S dispatches %s twice", sysName(n))
			}
			dispatched[sysName(n)], routed[sysName(n)] = true, true
		}
	}
	for name := range dispatched {
		n, ok := nums[name]
		if routed[name] {
			continue // named by its number
		}
		if !ok {
			t.Errorf("shim.S dispatches SYS_%s without a number", name)
			continue
		}
		if sysName(n) != name {
			t.Errorf("shim.S: SYS_%s is %d, which is %s", name, n, sysName(n))
		}
	}
	want := map[string]bool{}
	for _, s := range table {
		if s.Disp == Trace || s.Rule == ruleClone || s.Rule == ruleShimRoute || s.Disp == InGuest && s.Rule != ruleNone ||
			s.Rule == ruleShimFstatat {
			want[s.Name()] = true
		}
	}
	for name := range want {
		if !dispatched[name] {
			t.Errorf("the table sends %s to the shim, which does not dispatch it (ENOSYS)", name)
		}
	}
	for name := range dispatched {
		if !want[name] {
			t.Errorf("shim.S dispatches %s, which the table never sends it", name)
		}
	}
}
