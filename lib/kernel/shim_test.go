package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestShimBlobUpToDate checks that shim_blob.go is what shimsrc/gen.sh makes of shim.S.
func TestShimBlobUpToDate(t *testing.T) {
	for _, tool := range []string{"sh", "as", "objcopy", "nm", "od", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH (binutils needed to regenerate shim_blob.go)", tool)
		}
	}
	out := filepath.Join(t.TempDir(), "shim_blob.go")
	if b, err := exec.Command("sh", "shimsrc/gen.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("shimsrc/gen.sh: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("shim_blob.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("shim_blob.go is stale: run lib/kernel/shimsrc/gen.sh\nfresh output:\n%s", want)
	}
}

// TestShimPageLayout checks the page bytes the supervisor and the handler rely on.
func TestShimPageLayout(t *testing.T) {
	p := shimPage(0x401234, 1001, 1002, 2001, 2002)
	if len(p) != shimPageSize {
		t.Fatalf("page is %d bytes, want %d", len(p), shimPageSize)
	}
	if len(shimCode) > shimSigactionOff {
		t.Fatalf("shimCode is %d bytes, overlaps the data at %#x", len(shimCode), shimSigactionOff)
	}
	if !bytes.Equal(p[:len(shimCode)], shimCode) {
		t.Error("page does not start with shimCode")
	}
	if !bytes.Equal(p[len(shimCode):shimSigactionOff], make([]byte, shimSigactionOff-len(shimCode))) {
		t.Error("bytes after the code are not zero")
	}
	// The restorer must be exactly rt_sigreturn, the syscall gadget syscall+int3.
	if got, want := p[shimRestorerOff:shimRestorerOff+7], []byte{0xb8, 15, 0, 0, 0, 0x0f, 0x05}; !bytes.Equal(got, want) {
		t.Errorf("restorer bytes % x, want % x (mov $15,%%eax; syscall)", got, want)
	}
	if got, want := p[shimSyscallOff:shimSyscallOff+3], []byte{0x0f, 0x05, 0xcc}; !bytes.Equal(got, want) {
		t.Errorf("syscall gadget bytes % x, want % x (syscall; int3)", got, want)
	}
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(p[off:]) }
	for _, c := range []struct {
		name string
		off  int
		want uint64
	}{
		{"sigaction.handler", shimSigactionOff, shimAddr},
		{"sigaction.flags", shimSigactionOff + 8, 0x0c000004}, // SA_SIGINFO|SA_ONSTACK|SA_RESTORER
		{"sigaction.restorer", shimSigactionOff + 16, shimAddr + shimRestorerOff},
		{"sigaction.mask", shimSigactionOff + 24, 0},
		{"sigdfl.handler", 0x820, 0},
		{"sigdfl.flags", 0x828, 0},
		{"sigdfl.restorer", 0x830, 0},
		{"sigdfl.mask", 0x838, 0},
		{"guest SIGSYS", 0x840, 0x401234},
		{"reserved", 0x848, 0},
		{"getuid", 0x850, 1001},
		{"syslog", 0x858, 1<<64 - 38},
		{"getgid", 0x860, 2001},
		{"setuid", 0x868, 1<<64 - 38},
		{"setgid", 0x870, 1<<64 - 38},
		{"geteuid", 0x878, 1002},
		{"getegid", 0x880, 2002},
	} {
		if got := u64(c.off); got != c.want {
			t.Errorf("%s at %#x = %#x, want %#x", c.name, c.off, got, c.want)
		}
	}
	if !bytes.Equal(p[shimDataEnd:], make([]byte, shimPageSize-shimDataEnd)) {
		t.Error("bytes after the data are not zero")
	}
	d := shimData(0x401234, 1001, 1002, 2001, 2002)
	if shimDataOff+len(d) != shimDataEnd || !bytes.Equal(d, p[shimDataOff:shimDataEnd]) {
		t.Errorf("shimData does not match page[%#x:%#x]", shimDataOff, shimDataEnd)
	}
	// Ids are unsigned: uid -1 (4294967295) must not become a negative errno.
	if v := shimValues(0xffffffff, 0, 0, 0)[0]; v != 0xffffffff {
		t.Errorf("getuid value for uid 4294967295 is %d", v)
	}
}

// shimHarness builds testdata/shimharness.c, which maps a shim page and traps like gouml.
func shimHarness(t *testing.T) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	exe := filepath.Join(t.TempDir(), "shimharness")
	if b, err := exec.Command(gcc, "-O2", "-static", "-o", exe, "testdata/shimharness.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return exe
}

// runShim runs the harness in mode on page (plus extra args) and returns its stdout and
// how it ended.
func runShim(t *testing.T, exe, mode string, page []byte, extra ...string) (string, *os.ProcessState) {
	t.Helper()
	dir := t.TempDir()
	pf := filepath.Join(dir, "page")
	if err := os.WriteFile(pf, page, 0o644); err != nil {
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
	case <-time.After(10 * time.Second):
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

// TestShimHandler runs the shim's handler for real: a process with the page mapped at
// shimAddr and a filter trapping like gouml's must see the page's ids from get[e]uid and
// get[e]gid, and SIGSYS that is not the filter's must get the guest's disposition.
func TestShimHandler(t *testing.T) {
	exe := shimHarness(t)
	ids := idsLine(1001, 1002, 2001, 2002)

	t.Run("ids", func(t *testing.T) {
		out, st := runShim(t, exe, "ids", shimPage(shimSigDfl, 1001, 1002, 2001, 2002))
		exitedOK(t, "ids", out, st)
		if out != ids {
			t.Errorf("got:\n%swant:\n%s", out, ids)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		out, st := runShim(t, exe, "ids", shimPage(shimSigDfl, 0, 0xffffffff, 65534, 0xfffffffe))
		exitedOK(t, "ids", out, st)
		if want := idsLine(0, 0xffffffff, 65534, 0xfffffffe); out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	t.Run("update", func(t *testing.T) {
		df := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(df, shimData(shimSigDfl, 3001, 3002, 4001, 4002), 0o644); err != nil {
			t.Fatal(err)
		}
		out, st := runShim(t, exe, "update", shimPage(shimSigDfl, 1001, 1002, 2001, 2002), df, fmt.Sprint(shimDataOff))
		exitedOK(t, "update", out, st)
		if want := ids + idsLine(3001, 3002, 4001, 4002); out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	t.Run("foreign-ign", func(t *testing.T) {
		out, st := runShim(t, exe, "foreign-ign", shimPage(shimSigIgn, 1001, 1002, 2001, 2002))
		exitedOK(t, "foreign-ign", out, st)
		if want := "survived\n" + ids; out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	t.Run("foreign-handler", func(t *testing.T) {
		// The harness patches its own handler's address in at shimGuestSigsysOff.
		out, st := runShim(t, exe, "foreign-handler", shimPage(shimSigDfl, 1001, 1002, 2001, 2002))
		exitedOK(t, "foreign-handler", out, st)
		want := "kill: signo=31 code=0 pid-ok=1 uc-ok=1\n" +
			"queue: ret=0 signo=31 code=-1 errno=0x5547\n" +
			"trap: signo=31 code=1 errno=0x1234 syscall=79 ret=4242\n" + ids
		if out != want {
			t.Errorf("got:\n%swant:\n%s", out, want)
		}
	})

	// "blocked" pins down a kernel rule the supervisor has to design around, not a
	// shim feature: a seccomp trap while the thread blocks SIGSYS (sigprocmask, a
	// handler's sa_mask, the forwarded guest handler itself) is not delivered; the
	// kernel resets SIGSYS to SIG_DFL and the process dies.
	for _, mode := range []string{"foreign-dfl", "foreign-dfl-trap", "blocked"} {
		t.Run(mode, func(t *testing.T) {
			out, st := runShim(t, exe, mode, shimPage(shimSigDfl, 1001, 1002, 2001, 2002))
			ws, ok := st.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Errorf("harness ended with %v, want killed by SIGSYS; stdout:\n%s", st, out)
			}
			if out != "" {
				t.Errorf("harness printed %q before dying, want nothing", out)
			}
		})
	}

	t.Run("bench", func(t *testing.T) {
		if testing.Short() {
			t.Skip("timing only, ~4 s")
		}
		out, st := runShim(t, exe, "bench", shimPage(shimSigDfl, 1001, 1002, 2001, 2002))
		exitedOK(t, "bench", out, st)
		t.Log(strings.TrimSpace(out))
	})
}
