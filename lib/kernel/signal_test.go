package kernel_test

import (
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
		"/t.sh": "#!/bin/sh\nfor i in $(seq 150); do sleep 0.01 & p=$!; kill -CONT $p; wait $p || echo \"cont: fail $?\"; done\n" +
			"for i in $(seq 150); do sleep 0.01 & p=$!; kill -STOP $p; kill -CONT $p; wait $p || echo \"stop: fail $?\"; done\n" +
			"echo done\n/bin/busybox poweroff -f\n",
	})
	// 300 rounds of fork, exec and signals: ~5 s alone, over a minute on a loaded machine
	out, errs, status := run{timeout: 240 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
	// A child that already exited makes kill fail ("can't kill pid N"): on a loaded machine
	// that is a missed window, not a failure. (Not silenced with 2>/dev/null in the script:
	// that open can be interrupted by SIGCHLD, a known limitation noted in lib/kernel/doc.go.)
	var kept []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.Contains(l, "can't kill pid") {
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
