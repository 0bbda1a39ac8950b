package kernel_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// TestShimStat runs testdata/shimstat.c in a guest: fstat and newfstatat(fd, "",
// AT_EMPTY_PATH), which the shim answers for files of the root tree (shimstat.go), give
// byte for byte what stat by path (the kernel) gives, for files with every form of
// lib/hostmeta's attributes, well-formed or not; the kernel's own objects keep the kernel's
// stat; errors are Linux's. A second boot counts, with the `debug` option's call counts,
// that 5000 fstats of a file of the root reach the kernel only a few times.
func TestShimStat(t *testing.T) { shimStat(t, "") }

// TestEscapesShimStat is testdata/shimstat.c's hostile part: what a guest tries against the
// stat path (rewriting the sealed page of attribute names, other attributes and paths from
// the shim's syscall site as another guest user, a path or an fd swapped by another thread,
// forged data in its own page) gets it nothing it could not have.
func TestEscapesShimStat(t *testing.T) { shimStat(t, "escapes") }

func shimStat(t *testing.T, mode string) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n/shimstat " + map[string]string{"": "/st/* /st/private /", "escapes": "escapes"}[mode] +
			"\necho \"shimstat: $?\"\nls -ln /st/ownedlink\n/bin/busybox poweroff -f\n",
		"/l.sh": "#!/bin/sh\n/shimstat loop /st/plain\n/bin/busybox poweroff -f\n",
	})
	gcc := testenv.Tool(t, "gcc")
	args := []string{"-O2", "-static", "-pthread", "-mno-red-zone", "-Wall", "-o", filepath.Join(root, "shimstat"),
		fmt.Sprintf("-DG1=%#xUL", shim.Addr+shim.SyscallOff), fmt.Sprintf("-DSHIM_ADDR=%#xUL", shim.Addr),
		fmt.Sprintf("-DXNAMES=%#x", shim.XNamesOff), fmt.Sprintf("-DSTATOFF=%#x", shim.StatOff), "testdata/shimstat.c"}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	makeStatTree(t, filepath.Join(root, "st"))

	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "rw", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || !strings.Contains(out, "shimstat: 0 failures\n") || !strings.Contains(out, "shimstat: 0\n") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	if mode == "" && !regexp.MustCompile(`lrwxrwxrwx +1 +1000 +50 `).MatchString(out) {
		t.Errorf("lstat of a link owned by 1000:50 in the guest:\n%s", out)
	}

	if mode == "" {
		shimStatLoop(t, root)
	}

	// the same as an ordinary host user (the tree becomes that user's)
	if os.Geteuid() == 0 {
		umlDir := unprivileged(t, root)
		out, errs, status = run{asUser: true, timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "rw", "quiet", "uml_dir=" + umlDir}}.do(t)
		if status != 0 || !strings.Contains(out, "shimstat: 0 failures\n") {
			t.Fatalf("as a user: status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
		}
	}
}

// shimStatLoop boots with `debug` and counts the fstats that reached the kernel.
func shimStatLoop(t *testing.T, root string) {
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/l.sh", "debug", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || !strings.Contains(out, "loop done") {
		t.Fatalf("loop: status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	m := regexp.MustCompile(`(?m)^linux:\s+(newfstatat|fstat)\s+(\d+)`).FindAllStringSubmatch(errs, -1)
	n := 0
	for _, x := range m {
		v, _ := strconv.Atoi(x[2])
		n += v
	}
	if !strings.Contains(errs, "linux: trapped calls:") || n > 500 {
		t.Fatalf("5000 fstats of a file of the root: %d reached the kernel\nstderr:\n%s", n, errs)
	}
}

// makeStatTree makes the files TestShimStat and TestShimPathStat stat: every form of
// lib/hostmeta's attributes, links, a FIFO, a private directory.
func makeStatTree(t *testing.T, st string) {
	mk := func(name, content string, attrs map[string]string) {
		t.Helper()
		p := filepath.Join(st, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		for k, v := range attrs {
			if err := unix.Setxattr(p, k, []byte(v), 0); err != nil {
				t.Skipf("user xattrs on %s: %v", st, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(st, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	mk("plain", "x", nil)
	mk("empty", "", nil)
	mk("owned", "x", map[string]string{"user.gouml.uid": "1000", "user.gouml.gid": "50"})
	mk("setuid", "x", map[string]string{"user.gouml.mode": "104755", "user.gouml.uid": "0"})
	mk("legacyowner", "x", map[string]string{"user.gouml.owner": "12:34"})
	mk("bothowners", "x", map[string]string{"user.gouml.owner": "12:34", "user.gouml.uid": "56"})
	mk("badowner", "x", map[string]string{"user.gouml.owner": "12:34:5", "user.gouml.gid": "4294967295"})
	mk("baduid", "x", map[string]string{"user.gouml.uid": "12a", "user.gouml.gid": "4294967296"})
	mk("signeduid", "x", map[string]string{"user.gouml.uid": "+7", "user.gouml.gid": ""})
	mk("spaceuid", "x", map[string]string{"user.gouml.uid": " 7", "user.gouml.gid": "007"})
	mk("longuid", "x", map[string]string{"user.gouml.uid": strings.Repeat("1", 70)})
	mk("badmode", "x", map[string]string{"user.gouml.mode": "0789"})
	mk("modetype", "x", map[string]string{"user.gouml.mode": "020600"}) // not a placeholder: the type is the host's
	mk("chr", "", map[string]string{"user.gouml.mode": "020620", "user.gouml.rdev": "4:5", "user.gouml.gid": "5"})
	mk("blk", "", map[string]string{"user.gouml.mode": "060660", "user.gouml.rdev": "4095:1048575"})
	mk("bigdev", "", map[string]string{"user.gouml.mode": "020600", "user.gouml.rdev": "1048575:16777215"})
	mk("badrdev", "", map[string]string{"user.gouml.mode": "020600", "user.gouml.rdev": "4:5:6"})
	mk("nordev", "", map[string]string{"user.gouml.mode": "020600"})
	mk("fifo", "", map[string]string{"user.gouml.mode": "010644"})
	mk("sock", "", map[string]string{"user.gouml.mode": "0140755"})
	mk("dirtype", "", map[string]string{"user.gouml.mode": "040755"})
	mk("legacydev", "", map[string]string{"user.gouml.dev": "c:1:3"})
	mk("legacyblk", "", map[string]string{"user.gouml.dev": "b:7:0", "user.gouml.mode": "0600"})
	mk("legacybad", "", map[string]string{"user.gouml.dev": "x:1:3"})
	mk("legacyfull", "data", map[string]string{"user.gouml.dev": "c:1:3"}) // not a placeholder
	mk("rdevfull", "data", map[string]string{"user.gouml.rdev": "1:3"})
	mk("guestattrs", "x", map[string]string{"user.a": "1", "user.gouml.x.trusted.t": "2", "user.gouml.uid": "9"})
	many := map[string]string{"user.gouml.uid": "77", "user.gouml.mode": "0640"}
	for i := 0; i < 40; i++ { // more names than lib/hostmeta's listing holds
		many[fmt.Sprintf("user.guest-attribute-with-a-long-name-%02d", i)] = "v"
	}
	mk("manyattrs", "x", many)
	mk("private/secret", "s", map[string]string{"user.gouml.uid": "0"})
	if err := os.Mkdir(filepath.Join(st, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	unix.Setxattr(filepath.Join(st, "dir"), "user.gouml.uid", []byte("1000"), 0)
	unix.Setxattr(filepath.Join(st, "dir"), "user.gouml.mode", []byte("041777"), 0)
	if err := os.Symlink("plain", filepath.Join(st, "link")); err != nil {
		t.Fatal(err)
	}
	// a link's owner is kept by its directory (lib/hostmeta): the shim's fstat of an
	// O_PATH fd of it must show what lstat shows
	if err := os.Symlink("plain", filepath.Join(st, "ownedlink")); err != nil {
		t.Fatal(err)
	}
	if err := hostmeta.SetLinkOwner(st, "ownedlink", 1000, 50); err != nil {
		t.Skipf("user xattrs on %s: %v", st, err)
	}
	if err := unix.Mkfifo(filepath.Join(st, "realfifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// an owner the guest's user namespace cannot show: the shim leaves it to the kernel
		mk("hostowner", "x", nil)
		if err := os.Chown(filepath.Join(st, "hostowner"), 1234, 1235); err != nil {
			t.Fatal(err)
		}
		mk("hostownerattr", "x", map[string]string{"user.gouml.uid": "3", "user.gouml.gid": "4"})
		os.Chown(filepath.Join(st, "hostownerattr"), 1234, 1235)
	}

}
