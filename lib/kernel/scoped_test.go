package kernel_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestLookupsBesideHostRenames: the host refuses a scoped lookup (openat2 RESOLVE_IN_ROOT)
// through ".." with EAGAIN when any rename happens anywhere on the host meanwhile; the
// kernel must retry it, never hand it to the guest. The guest opens, stats and lists
// through symlinks whose targets climb with ".." (its own, and sysfs's /sys/block/X),
// thousands of times, while the test
// renames files on the host as fast as it can (CI saw "Resource temporarily unavailable"
// from ls /sys/block/ubdb/size beside parallel tests).
func TestLookupsBesideHostRenames(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\n" +
		"mkdir -p /a/b && ln -s ../../bin /a/b/up && ln -s ../a/b/up/busybox /etc/bb\n" +
		"mount -t sysfs sysfs /sys 2>/dev/null\n" +
		"i=0; bad=0\nwhile [ $i -lt 500 ]; do\n" +
		"  [ -e /etc/bb ] || { bad=$((bad+1)); echo \"stat $i\"; }\n" +
		"  head -c 1 /etc/bb > /dev/null || { bad=$((bad+1)); echo \"open $i\"; }\n" +
		"  read s < /sys/block/ubdb/size || { bad=$((bad+1)); echo \"sysfs $i\"; }\n" +
		"  i=$((i+1))\ndone\necho \"bad=$bad\"\n/bin/busybox poweroff -f\n"})
	churn := t.TempDir()
	var stop atomic.Bool
	done := make(chan int)
	go func() {
		n := 0
		a, b := filepath.Join(churn, "a"), filepath.Join(churn, "b")
		os.WriteFile(a, nil, 0o644)
		for !stop.Load() {
			os.Rename(a, b)
			os.Rename(b, a)
			n += 2
		}
		done <- n
	}()
	img := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, status := run{timeout: 300 * time.Second, args: []string{"ubd0=" + root, "ubd1=" + img, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	stop.Store(true)
	renames := <-done
	t.Logf("%d host renames meanwhile", renames)
	if status != 0 || !strings.HasSuffix(out, "bad=0\n") {
		lines := strings.Split(out, "\n")
		if len(lines) > 20 {
			lines = append(lines[:10], "… "+strconv.Itoa(len(lines)-20)+" more …", strings.Join(lines[len(lines)-10:], "\n"))
		}
		t.Errorf("status %d, guest:\n%s\nstderr:\n%s", status, strings.Join(lines, "\n"), errs)
	}
}
