package kernel_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestSignalsDuringTrappedOpen: a signal that arrives while the kernel serves a trapped open
// must neither leave a second fd behind nor make the open fail. ash's background children do
// close(0); open("/dev/null") and insist on fd 0, and a parent that signals them at once
// (SIGCONT alone, or SIGSTOP then SIGCONT) hits the window often. (Fixed by
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, seccomp.go; before, about one run in three failed.)
func TestSignalsDuringTrappedOpen(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nfor i in $(seq 150); do sleep 0.01 & p=$!; kill -CONT $p; wait $p || echo \"cont: fail $?\"; [ $((i % 50)) = 0 ] && echo \"progress cont $i\"; done\n" +
			"for i in $(seq 150); do sleep 0.01 & p=$!; kill -STOP $p; kill -CONT $p; wait $p || echo \"stop: fail $?\"; [ $((i % 50)) = 0 ] && echo \"progress stop $i\"; done\n" +
			"echo done\n/bin/busybox poweroff -f\n",
	})
	// Progress marks every 50 rounds, and a listing of the host's processes (states and wait
	// channels) shortly before the bound: a run that hits the bound then tells a hang (where)
	// from slowness.
	dump := time.AfterFunc(220*time.Second, func() {
		ps, _ := exec.Command("ps", "-eLo", "pid,tid,ppid,stat,wchan:32,etime,args").Output()
		t.Logf("host processes at 220 s:\n%s", ps)
	})
	defer dump.Stop()
	// 300 rounds of fork, exec and signals: ~5 s alone, over a minute on a loaded machine
	out, errs, status := run{timeout: 240 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
	// A child that already exited makes kill fail ("can't kill pid N"): on a loaded machine
	// that is a missed window, not a failure. (Not silenced with 2>/dev/null in the script:
	// that open can be interrupted by SIGCHLD, a known limitation noted in lib/kernel/doc.go.)
	var kept []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.Contains(l, "can't kill pid") && !strings.HasPrefix(l, "progress ") {
			kept = append(kept, l)
		}
	}
	out = strings.Join(kept, "")
	if status != 0 || out != "done\n" {
		lines := strings.Split(out, "\n")
		if len(lines) > 20 {
			lines = append(lines[:20], "...")
		}
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, strings.Join(lines, "\n"), errs)
	}
}
