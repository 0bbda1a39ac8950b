package kernel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// scripted runs `bash -c script` with $LINUX set to our linux and $ROOT to root, and returns
// its exit status and standard error; the script redirects the console where it likes.
func scripted(t *testing.T, root, script string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(), "LINUX="+testenv.Program(t, "linux"), "ROOT="+root, "UMLDIR="+t.TempDir())
	cmd.Dir = t.TempDir()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s: still running after 2 minutes\nstderr:\n%s", script, errb.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

// consoleLines splits console output into lines (the tty ends them in "\r\n").
func consoleLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// inOrder checks that each of want is a whole line of out, each after the one before.
func inOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := consoleLines(out)
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			t.Errorf("line %q missing, or out of order, in the console output:\n%s", w, out)
			return
		}
		i++
	}
}

// TestShellDrivenThroughAPipe: `printf 'cmd\n...\npoweroff -f\n' | linux ... init=/bin/sh >
// log` runs every command in order, the log (a regular file) holds every line of output in
// order, and linux exits 0.
func TestShellDrivenThroughAPipe(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/srv/marker-file": "x"})
	log := filepath.Join(t.TempDir(), "log")
	status, errs := scripted(t, root, `printf 'echo first\nls /srv\necho $((6 * 7))\nfor i in 1 2 3; do echo line$i; done\n`+
		`cd /tmp && echo made > f && cat f\necho last\npoweroff -f\n' | "$LINUX" ubd0="$ROOT" rw init=/bin/sh uml_dir="$UMLDIR" > `+log)
	out, _ := os.ReadFile(log)
	if status != 0 {
		t.Fatalf("linux exited %d\nstderr:\n%s\nconsole:\n%s", status, errs, out)
	}
	inOrder(t, string(out), "first", "marker-file", "42", "line1", "line2", "line3", "made", "last")
	if strings.Contains(errs, "panic") {
		t.Errorf("stderr: %s", errs)
	}
}

// TestConsoleInputEnds: the guest reads piped input to its end and gets end of file: cat
// returns (also after a last line without a newline, and after 200 KB, more than the tty
// holds at once), and a shell reading a here-document without poweroff exits at its end,
// which ends the machine as init's exit does (status 134), instead of waiting forever.
func TestConsoleInputEnds(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/cat.sh":   "#!/bin/sh\ncat\necho CAT-ENDED\n/bin/busybox poweroff -f\n",
		"/count.sh": "#!/bin/sh\nstty -echo\ncat > /tmp/in\necho COUNT=$(wc -l < /tmp/in) LAST=$(tail -n 1 /tmp/in)\n/bin/busybox poweroff -f\n",
	})
	t.Run("cat", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		status, errs := scripted(t, root, `printf 'alpha\nbeta\ngamma' | "$LINUX" ubd0="$ROOT" init=/cat.sh uml_dir="$UMLDIR" > `+out)
		b, _ := os.ReadFile(out)
		if status != 0 {
			t.Fatalf("linux exited %d\nstderr:\n%s\nconsole:\n%s", status, errs, b)
		}
		// the tty echoes the input, then cat prints it; "gamma" has no newline of its own
		if !strings.Contains(string(b), "alpha\r\nbeta\r\ngamma") || !strings.HasSuffix(strings.TrimRight(string(b), "\r\n"), "gammaCAT-ENDED") {
			t.Errorf("console:\n%q", b)
		}
	})
	t.Run("large", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		status, errs := scripted(t, root, `seq 1 30000 | "$LINUX" ubd0="$ROOT" rw init=/count.sh uml_dir="$UMLDIR" > `+out)
		b, _ := os.ReadFile(out)
		if status != 0 || !strings.Contains(string(b), "COUNT=30000 LAST=30000") {
			t.Errorf("linux exited %d\nstderr:\n%s\nconsole (end):\n%s", status, errs, b[max(0, len(b)-2000):])
		}
	})
	t.Run("heredoc", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		status, errs := scripted(t, root, `"$LINUX" ubd0="$ROOT" init=/bin/sh uml_dir="$UMLDIR" > `+out+` <<'EOF'
echo from-a-here-document
EOF`)
		b, _ := os.ReadFile(out)
		if status != 134 || !strings.Contains(errs, "Attempted to kill init") {
			t.Errorf("linux exited %d, want 134 (init exited at the end of its input)\nstderr:\n%s\nconsole:\n%s", status, errs, b)
		}
		inOrder(t, string(b), "from-a-here-document")
	})
}

// TestConsoleOutputToASlowReader: everything the guest printed reaches, in order, a reader
// that takes the output slowly (a pipe into a slow consumer), up to the last line printed
// just before poweroff.
func TestConsoleOutputToASlowReader(t *testing.T) {
	const n = 10000
	root := testenv.BusyboxRoot(t, map[string]string{
		"/many.sh": fmt.Sprintf("#!/bin/sh\nseq 1 %d | sed 's/^/output line /'\necho ALL-PRINTED\n/bin/busybox poweroff -f\n", n),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Program(t, "linux"), "ubd0="+root, "init=/many.sh", "uml_dir="+t.TempDir())
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 1024)
	for {
		k, err := r.Read(buf)
		got.Write(buf[:k])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// A slow consumer, about 50 KB/s: what the pipe and the pty still hold at poweroff
		// takes it seconds to read.
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("linux: %v\n%s", err, errb.String())
	}
	want := make([]string, 0, n+1)
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("output line %d", i))
	}
	want = append(want, "ALL-PRINTED")
	lines := consoleLines(got.String())
	if len(lines) < n+1 || strings.Join(lines[:n+1], "\n") != strings.Join(want, "\n") {
		t.Errorf("%d lines reached the reader, want every one of %d in order; the last:\n%s", len(lines), n+1,
			strings.Join(lines[max(0, len(lines)-5):], "\n"))
	}
}
