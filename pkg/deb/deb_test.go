package deb

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// required: make deb-test (GOUML_DEB_TEST=1), which builds the packages before the test.
func required() bool { return os.Getenv("GOUML_DEB_TEST") == "1" }

// TestPackages installs the packages make deb built (build/deb) into scratch Debian bookworm
// trees, in new mount and PID namespaces, and runs testdata/inside.sh there: on a system
// without user-mode-linux and uml-utilities (install, the acceptance checks, remove, purge)
// and on one that has them (ours replace them, then serve a real linux.uml guest and our
// kernel: testdata/guest.sh), and under systemd as PID 1 of a third tree (systemd_test.go).
// It needs root, the tree that scripts/fresh-machine.sh caches, and the package registry
// from inside the tree (for adduser's and man-db's dependencies, the real packages,
// busybox-static and systemd). It runs only under make deb-test (GOUML_DEB_TEST=1), which
// builds the packages first, so that it never tests packages older than the code. About
// 2 minutes on the 2-core development machine, plus 1-2 minutes for make deb. Without root,
// the cached tree or the registry it skips, saying which.
func TestPackages(t *testing.T) {
	if !required() {
		t.Skip("the package acceptance test runs under make deb-test (GOUML_DEB_TEST=1)")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root (a scratch Debian tree, mounts, dpkg)")
	}
	tarball := testenv.FreshDebianTarball()
	if _, err := os.Stat(tarball); err != nil {
		t.Skip("no cached Debian bookworm tree " + tarball + ": scripts/fresh-machine.sh makes it (with debootstrap)")
	}
	for _, tool := range []string{"unshare", "chroot", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not found")
		}
	}
	root := testenv.ModuleRoot(t)
	debs, _ := filepath.Glob(filepath.Join(root, "build", "deb", "*.deb"))
	if len(debs) != 2 {
		t.Fatal("build/deb has no packages: make deb-test builds them first")
	}
	for _, scenario := range []string{"fresh", "replace"} {
		t.Run(scenario, func(t *testing.T) {
			tree := unpackTree(t, tarball, debs)
			runInside(t, chrootCommand(t, tree, scenario), scenario)
		})
	}
	t.Run("systemd", func(t *testing.T) { runSystemd(t, tarball, debs) })
}

// unpackTree unpacks the cached tree into a fresh directory (removed when the test ends) and
// puts the packages into /root/debs and the scripts of testdata into /root.
func unpackTree(t *testing.T, tarball string, debs []string) string {
	// /var/tmp, not $TMPDIR: the tree is half a gigabyte, and /tmp is often a small tmpfs.
	tree, err := os.MkdirTemp("/var/tmp", "gouml-deb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tree) })
	if out, err := exec.Command("tar", "-C", tree, "--numeric-owner", "--xattrs", "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking the tree: %v\n%s", err, out)
	}
	if err := os.Chmod(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree, "root", "debs"), 0o755); err != nil {
		t.Fatal(err)
	}
	testdata := filepath.Join(testenv.ModuleRoot(t), "pkg", "deb", "testdata")
	for _, d := range append(debs, filepath.Join(testdata, "inside.sh"), filepath.Join(testdata, "guest.sh")) {
		dst := filepath.Join(tree, "root", "debs", filepath.Base(d))
		if filepath.Ext(d) == ".sh" {
			dst = filepath.Join(tree, "root", filepath.Base(d))
		}
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// treeMounts is the shell of both ways into the tree: $T is the tree. The tree becomes the
// root of the mount namespace by pivot_root, not by chroot alone: a chrooted process may not
// make user namespaces, which our linux does for its guests.
const treeMounts = `mount --bind "$T" "$T"
mount -t proc proc "$T/proc"
mount --rbind /dev "$T/dev"
mount -t tmpfs -o mode=1777 tmpfs "$T/tmp"
mount -t tmpfs -o mode=755 tmpfs "$T/run"
mount --bind "$RESOLV" "$T/etc/resolv.conf"
`

// chrootCommand runs inside.sh SCENARIO in the tree, as root, in new mount and PID
// namespaces: the mount namespace keeps the tree's mounts off the host and drops them all
// when it ends; the PID namespace (--kill-child) ends every daemon the packages started.
func chrootCommand(t *testing.T, tree, scenario string) *exec.Cmd {
	setup := `set -e; T=$1; shift
` + treeMounts + `mount -t sysfs sysfs "$T/sys"
cd "$T"
pivot_root . mnt
exec chroot . /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} /bin/sh -c 'umount -l /mnt && exec /bin/sh /root/inside.sh "$@"' sh "$@"`
	cmd := exec.Command("timeout", "-k", "10", "900", "unshare", "--mount", "--pid", "--fork", "--kill-child",
		"--propagation", "private", "sh", "-c", setup, "sh", tree, scenario)
	cmd.Env = append(os.Environ(), "RESOLV="+resolvConf(t))
	return cmd
}

func resolvConf(t *testing.T) string {
	resolv, err := filepath.EvalSymlinks("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	return resolv
}

// runInside runs cmd (inside.sh in a tree), logs its lines, fails the test on its FAIL lines,
// and requires its ALL PASSED line; its exit status 3 (no package registry) skips the test.
func runInside(t *testing.T, cmd *exec.Cmd, scenario string) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var all bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			all.WriteString(line + "\n")
			if strings.HasPrefix(line, "FAIL: ") {
				t.Error(line)
			} else {
				t.Log(line)
			}
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Skip("the tree cannot reach the package registry (apt-get update failed there)")
	}
	if err != nil {
		t.Errorf("%s: %v", scenario, err)
	}
	if !strings.Contains(all.String(), "ALL PASSED") {
		t.Fatalf("%s: not every check passed", scenario)
	}
}
