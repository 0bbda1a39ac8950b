package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestOpenCont runs testdata/opencont.c in a guest booted with `debug`: guest root's
// read-only opens of its own files (mode 0600 included) and directories are let through to
// the host (opencont.go: CONTINUE, which the call counts show), and read what they must;
// after setuid(1000) the same opens are the kernel's, which refuses the private file and the
// closed directory. As host root, files the host gives other owners (a Debian tree's) are
// read by guest root whether the host's own lookup may pass or not. The second boot does the
// same as an unprivileged host user, whose tree the guest sees as root's.
func TestOpenCont(t *testing.T) {
	const n = 200
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n",
		"/t.sh":       "#!/bin/sh\n/opencont " + strconv.Itoa(n) + "\necho \"opencont exit: $?\"\n/bin/busybox poweroff -f\n",
	})
	gcc := testenv.Tool(t, "gcc")
	if b, err := exec.Command(gcc, "-O2", "-static", "-Wall", "-o", filepath.Join(root, "opencont"), "testdata/opencont.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	oc := filepath.Join(root, "oc")
	for _, e := range []struct {
		path, content string
		mode          os.FileMode
	}{{"public", "public\n", 0o644}, {"private", "private\n", 0o600}, {"closed/f", "f\n", 0o644}} {
		p := filepath.Join(oc, e.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(e.content), e.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, e.mode)
	}
	os.Chmod(filepath.Join(oc, "closed"), 0o700)
	// owners of the host's (a Debian tree's /home, /var/mail): the guest's namespace maps
	// root only, so the host judges its own lookups there by the modes alone
	owned := []struct {
		path, content string
		mode          os.FileMode
		uid, gid      int
	}{
		{"home", "", 0o700 | os.ModeDir, 1000, 1000},
		{"home/secret", "user's\n", 0o600, 1000, 1000},
		{"home/roots", "root's\n", 0o600, 0, 0},
		{"grp", "grp\n", 0o040, 0, 1000},
		{"shut", "", 0o000 | os.ModeDir, 0, 0},
		{"shut/f", "shut\n", 0o644, 0, 0},
		{"zero", "zero\n", 0o000, 0, 0},
	}
	if os.Geteuid() == 0 {
		for _, e := range owned {
			p := filepath.Join(oc, e.path)
			var err error
			if e.mode.IsDir() {
				err = os.Mkdir(p, 0o755)
			} else {
				err = os.WriteFile(p, []byte(e.content), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			os.Chown(p, e.uid, e.gid)
		}
		for i := len(owned) - 1; i >= 0; i-- { // a directory's mode after what lies in it
			os.Chmod(filepath.Join(oc, owned[i].path), owned[i].mode.Perm())
		}
	}

	check := func(t *testing.T, out, errs string, status int) {
		t.Helper()
		if status != 0 || !strings.Contains(out, "opencont: 0 failures") || !strings.Contains(out, "opencont exit: 0") {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
		}
		m := regexp.MustCompile(`(?m)^linux:\s+(open|openat)\s+(\d+).*?(?:, (\d+) let through)?$`).FindAllStringSubmatch(errs, -1)
		total, through := 0, 0
		for _, x := range m {
			v, _ := strconv.Atoi(x[2])
			c, _ := strconv.Atoi(x[3])
			total += v
			through += c
		}
		// root's 3n opens natively; none of the user's 3n; a few of the shell's either way
		if total < 6*n || through < 3*n || through >= 3*n+100 {
			t.Errorf("opens: %d trapped, %d let through; want at least %d, and %d to %d let through\n%s", total, through, 6*n, 3*n, 3*n+99, errs)
		}
	}
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "debug", "uml_dir=" + t.TempDir()}}.do(t)
	check(t, out, errs, status)
	if os.Geteuid() == 0 {
		t.Run("unprivileged", func(t *testing.T) {
			for _, e := range owned {
				os.RemoveAll(filepath.Join(oc, e.path)) // their owners would be the host user's
			}
			umlDir := unprivileged(t, root)
			out, errs, status := run{asUser: true, timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "debug", "uml_dir=" + umlDir}}.do(t)
			check(t, out, errs, status)
		})
	}
}
