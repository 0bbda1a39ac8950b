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

// TestShimPathStat runs testdata/pathstat.c in a guest: stat and lstat by path, which the
// shim answers for guest root without chroot (shim.S statpath, ratchet.go, placeholder.go),
// give byte for byte what the kernel gives, errors included, over every form of the
// attributes and over paths into /proc, /dev, /sys, a ubd image, a tmpfs, a bind mount, ".." across
// them, links, and relative paths from directory fds; as a chrooted root and as guest user
// 1000 (EACCES below an unsearchable directory, in a thread, a child and after exec), and
// while a thread renames a directory of the path. A second boot counts, with `debug`, that
// 10000 path stats of files of the root reach the kernel only a few times. As root and as an
// ordinary host user.
func TestShimPathStat(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t tmpfs none /mnt && touch /mnt/x\nmount --bind /st /b\nmount /dev/ubdb /u && cat /u/uf && echo\n" +
			"ln -sf x /dev/mylink && chown -h 1000:50 /dev/mylink && ls -ln /dev/mylink\n" +
			"/pathstat /st/*\necho \"pathstat: $?\"\n/bin/busybox poweroff -f\n",
		"/l.sh": "#!/bin/sh\n/pathstat loop\n/bin/busybox poweroff -f\n",
	})
	gcc := testenv.Tool(t, "gcc")
	if b, err := exec.Command(gcc, "-O2", "-static", "-pthread", "-Wall", "-o", filepath.Join(root, "pathstat"),
		"testdata/pathstat.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	st := filepath.Join(root, "st")
	makeStatTree(t, st)
	os.Chmod(st, 0o755) // searchable by guest user 1000 (private is not)
	for _, d := range []string{"mnt", "b", "u", "proc", "sys", "dev", "st/ra", "st/rb"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// under the tmpfs: the root's own file, which the guest must not see there
	if err := os.WriteFile(filepath.Join(root, "mnt", "under"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "u", "under"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// a ubd image with one file, mounted at /u (its file in the root is an excluded inode)
	ubd := filepath.Join(t.TempDir(), "ubd")
	if err := os.MkdirAll(filepath.Join(ubd, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ubd, "src", "uf"), []byte("on the image"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(root, "u.img") // in the root: the user's too after unprivileged()
	if b, err := exec.Command(testenv.Tool(t, "mkfs.ext4"), "-q", "-d", filepath.Join(ubd, "src"), img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, b)
	}
	if err := os.WriteFile(filepath.Join(st, "ra", "f"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st, "rb", "f"), []byte("bb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dir", filepath.Join(st, "dirlink")); err != nil {
		t.Fatal(err)
	}
	boot := func(asUser bool, umlDir string) {
		t.Helper()
		out, errs, status := run{asUser: asUser, timeout: 180 * time.Second,
			args: []string{"ubd0=" + root, "ubd1=" + img, "init=/t.sh", "rw", "quiet", "uml_dir=" + umlDir}}.do(t)
		if status != 0 || !strings.Contains(out, " 0 failures\n") || strings.Contains(out, "FAIL") ||
			!strings.Contains(out, "on the image\n") ||
			// a link's guest owner below /dev's placeholder
			!regexp.MustCompile(`lrwxrwxrwx +1 +1000 +50 .*/dev/mylink`).MatchString(out) ||
			!strings.Contains(out, "pathstat: 0\n") {
			t.Fatalf("as user %v: status %d\nstdout:\n%s\nstderr:\n%s", asUser, status, out, errs)
		}
	}
	boot(false, t.TempDir())

	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/l.sh", "debug", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || !strings.Contains(out, "loop done") {
		t.Fatalf("loop: status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	m := regexp.MustCompile(`(?m)^linux:\s+(newfstatat|lstat|stat)\s+(\d+)`).FindAllStringSubmatch(errs, -1)
	n := 0
	for _, x := range m {
		v, _ := strconv.Atoi(x[2])
		n += v
	}
	if !strings.Contains(errs, "linux: trapped calls:") || n > 500 {
		t.Fatalf("10000 path stats of files of the root: %d reached the kernel\nstderr:\n%s", n, errs)
	}

	if os.Geteuid() == 0 {
		boot(true, unprivileged(t, root))
	}
}
