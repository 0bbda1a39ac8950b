package kernel_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestSignalsDuringTrappedOpen: a signal that interrupts a trapped open after the kernel
// installed the new fd (NOTIF_ADDFD) but before the answer (NOTIF_SEND) must not leave that
// fd behind: the restarted open must get the same number. ash's background children do
// close(0); open("/dev/null") and insist on fd 0, so a parent that signals them at once
// (SIGCONT alone, or SIGSTOP then SIGCONT) hits the window often.
//
// Known bug, so this stress test runs only with GOUML_STRESS_TESTS=1: about one run in three,
// ash reports "can't open '/dev/null': No child processes" — its open did not return fd 0
// (ash then prints a stale errno), so an interrupted open still leaves a stray fd in some
// path the stray-fd reuse in notify.go does not cover. Reproduce with
// GOUML_STRESS_TESTS=1 go test -count=5 -run TestSignalsDuringTrappedOpen ./lib/kernel/.
func TestSignalsDuringTrappedOpen(t *testing.T) {
	if os.Getenv("GOUML_STRESS_TESTS") != "1" {
		t.Skip("known bug under signal stress (see the comment); set GOUML_STRESS_TESTS=1 to run")
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nfor i in $(seq 150); do sleep 0.01 & p=$!; kill -CONT $p; wait $p || echo \"cont: fail $?\"; done\n" +
			"for i in $(seq 150); do sleep 0.01 & p=$!; kill -STOP $p; kill -CONT $p; wait $p || echo \"stop: fail $?\"; done\n" +
			"echo done\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
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
