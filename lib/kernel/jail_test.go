package kernel_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// decoys are host files beside and above a guest root that no guest may read or change:
// their snapshot before a run must equal the one after.
type decoys struct {
	dir   string            // the directory holding the root and the decoys
	skip  map[string]bool   // entries of dir that are not decoys (the root, uml_dir, TMPDIR)
	files map[string]string // path -> description (mode, owner, size, content hash, xattrs)
}

// hostDevices are host files a confused kernel once changed (fchmod of /dev/null as root).
var hostDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}

// plantDecoys makes decoy files in dir, owned by uid:gid (and some by root when the test
// runs as root), and snapshots them.
func plantDecoys(t *testing.T, dir string, uid, gid int, skip ...string) *decoys {
	t.Helper()
	d := &decoys{dir: dir, skip: map[string]bool{}}
	for _, s := range skip {
		d.skip[s] = true
	}
	write := func(name string, data string, mode os.FileMode, root bool) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		if !root {
			os.Lchown(p, uid, gid)
		}
	}
	write("secret", "SECRET\n", 0o600, false)
	write("hostonly-marker", "marker\n", 0o644, false)
	write("hostdir/a", "decoy a\n", 0o644, false)
	write("hostdir/b", "decoy b\n", 0o755, false)
	write("hostdir/sub/c", "decoy c\n", 0o600, false)
	os.Lchown(filepath.Join(dir, "hostdir"), uid, gid)
	os.Lchown(filepath.Join(dir, "hostdir/sub"), uid, gid)
	os.Symlink("secret", filepath.Join(dir, "link"))
	os.Lchown(filepath.Join(dir, "link"), uid, gid)
	if os.Geteuid() == 0 {
		write("rootdir/owned-by-root", "root's\n", 0o644, true)
		write("rootdir/private", "SECRET root\n", 0o600, true)
		write("rootdir/prog", "#!/bin/sh\nexit 0\n", 0o755, true)
	}
	d.files = d.snapshot(t)
	return d
}

func (d *decoys) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(d.dir, p)
		if first, _, _ := strings.Cut(rel, "/"); d.skip[first] {
			return filepath.SkipDir
		}
		out[p] = describe(p)
		return nil
	})
	for _, p := range hostDevices {
		out[p] = describe(p)
	}
	return out
}

func describe(p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "missing"
	}
	s := fmt.Sprintf("mode %o uid %d gid %d", st.Mode, st.Uid, st.Gid)
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		b, _ := os.ReadFile(p)
		s += fmt.Sprintf(" size %d sha %x", len(b), sha256.Sum256(b))
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		l, _ := os.Readlink(p)
		s += " -> " + l
	}
	var names [1024]byte
	if n, err := unix.Llistxattr(p, names[:]); err == nil && n > 0 {
		s += " xattrs " + strings.ReplaceAll(string(names[:n]), "\x00", ",")
	}
	return s
}

// check compares the decoys with their snapshot.
func (d *decoys) check(t *testing.T) {
	t.Helper()
	for _, b := range changedFiles(d.files, d.snapshot(t)) {
		t.Errorf("host file changed: %s", b)
	}
}

// changedFiles lists, sorted, how two snapshots (path -> description) differ: the paths
// whose description changed or that went, and the new ones.
func changedFiles(was, now map[string]string) []string {
	var bad []string
	for p, w := range was {
		if now[p] != w {
			bad = append(bad, fmt.Sprintf("%s: was %q, now %q", p, w, now[p]))
		}
	}
	for p := range now {
		if _, ok := was[p]; !ok {
			bad = append(bad, fmt.Sprintf("%s: new, %s", p, now[p]))
		}
	}
	sort.Strings(bad)
	return bad
}

// noSetidBelow fails the test for every host file below root with a set-user-ID or
// set-group-ID bit (directories may keep set-group-ID: it hands no privilege).
func noSetidBelow(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && st.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Errorf("host file %s has mode %o", p, st.Mode&0o7777)
		}
		return nil
	})
}

// evilImage makes a small ext2 image one of whose directory entries is named ../../../xx.
func evilImage(t *testing.T, path string) {
	t.Helper()
	mkfs := testenv.Tool(t, "mkfs.ext4")
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "AAAAAAAAAAA"), []byte("ESCAPED\n"), 0o644)
	if out, err := exec.Command(mkfs, "-q", "-t", "ext2", "-d", src, path, "2M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("AAAAAAAAAAA")) == 0 {
		t.Fatal("the name is not in the image")
	}
	b = bytes.ReplaceAll(b, []byte("AAAAAAAAAAA"), []byte("../../../xx"))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJail runs testdata/jail.c, the security review's findings as attacks, with linux run
// by the user running the tests (root on CI).
func TestJail(t *testing.T) { jail(t, false) }

// TestJailUnprivileged runs the same attacks with linux run by an ordinary user who owns
// the decoys.
func TestJailUnprivileged(t *testing.T) { jail(t, true) }

func jail(t *testing.T, asUser bool) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	if err := os.Rename(testenv.BusyboxRoot(t, nil), root); err != nil {
		t.Fatal(err)
	}
	buildStatic(t, "testdata/jail.c", filepath.Join(root, "jail"))
	os.WriteFile(filepath.Join(root, "etc/passwd-ro"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	evilImage(t, filepath.Join(root, "evil.img"))
	blank := filepath.Join(dir, "blank.img")
	os.WriteFile(blank, make([]byte, 2<<20), 0o644)
	ro := filepath.Join(dir, "ro.img")
	roData := bytes.Repeat([]byte("READONLY"), 64<<10)
	os.WriteFile(ro, roData, 0o644)
	tmpdir := filepath.Join(dir, "tmpdir")
	os.Mkdir(tmpdir, 0o777)
	umlDir := filepath.Join(dir, "uml")
	os.Mkdir(umlDir, 0o755)
	uid, gid := os.Getuid(), os.Getgid()
	if asUser {
		unprivileged(t, root)
		u, _ := user.Lookup(testUser)
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		for _, f := range []string{dir, blank, ro, umlDir, tmpdir} {
			os.Chown(f, uid, gid)
		}
	}
	d := plantDecoys(t, dir, uid, gid, "root", "uml", "tmpdir", "blank.img")
	args := []string{"ubd0=" + root, "rw", "ubd1=" + blank, "ubd2r=" + ro, "init=/jail",
		"HOSTDIR=" + dir, "HOSTPID=" + strconv.Itoa(os.Getpid()), "uml_dir=" + umlDir}
	out, errs, status := run{asUser: asUser, timeout: 120 * time.Second, env: []string{"TMPDIR=" + tmpdir}, args: args}.do(t)
	if status != 0 || !strings.Contains(out, "done\n") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	cases := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": ESCAPE") || strings.HasPrefix(l, "  ") {
			t.Errorf("%s", l)
		}
		if strings.HasSuffix(l, ": OK") || strings.Contains(l, ": ESCAPE") {
			cases++
		}
	}
	if cases < 25 {
		t.Errorf("only %d cases ran:\n%s", cases, out)
	}
	if strings.Contains(errs, "BUG") || strings.Contains(errs, "panic") {
		t.Errorf("the kernel reported a bug:\n%s", errs)
	}
	d.check(t)
	noSetidBelow(t, root)
	if b, _ := os.ReadFile(ro); !bytes.Equal(b, roData) {
		t.Error("the read-only ubd image changed")
	}
	// nothing left in TMPDIR (the work directory is gone) and nothing escaped into it
	if ents, _ := os.ReadDir(tmpdir); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in TMPDIR: %v", names)
	}
	if ents, _ := os.ReadDir(umlDir); len(ents) > 0 {
		t.Errorf("umid directory left behind: %v", ents)
	}
}

// TestKernelConfined: the inner linux process runs with a seccomp filter and no_new_privs,
// and a deliberately broken handler (built with -tags gouml_brokenhandler: acct(2) opens
// its argument as a host path, as a confused-deputy bug would) cannot open host files
// outside what the kernel serves: Landlock refuses.
func TestKernelConfined(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "linux-broken")
	cmd := exec.Command("go", "build", "-tags", "gouml_brokenhandler", "-o", bin, "./cmd/linux")
	cmd.Dir = testenv.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	os.Chmod(filepath.Dir(bin), 0o755)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	if err := os.Rename(testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n/broken /etc/passwd r\n/broken /etc/shadow r\n/broken " + dir + "/secret r\n" +
			"/broken " + dir + "/secret w\n/broken " + dir + "/root/t.sh r\n" +
			"sleep 1000 &\necho ready\nread x\n/bin/busybox poweroff -f\n",
	}), root); err != nil {
		t.Fatal(err)
	}
	buildStatic(t, "testdata/broken.c", filepath.Join(root, "broken"))
	os.WriteFile(filepath.Join(dir, "secret"), []byte("SECRET\n"), 0o644)
	umlDir := t.TempDir()
	l := exec.Command(bin, "ubd0="+root, "init=/t.sh", "uml_dir="+umlDir, "umid=confined")
	var out, errb bytes.Buffer
	l.Stdout, l.Stderr = &out, &errb
	in, _ := l.StdinPipe()
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "ready") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	kpid := kernelPid(t, l.Process.Pid)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", kpid))
	for _, want := range []string{"Seccomp:\t2", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("the kernel process's status lacks %q:\n%s", want, status)
		}
	}
	if os.Geteuid() == 0 {
		// started by root: neither the kernel nor any guest process has root's identity
		for _, p := range append([]int{kpid}, descendants(kpid)...) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
					for _, id := range f[1:] {
						if id == "0" {
							t.Errorf("process %d runs as host root: %s", p, l)
						}
					}
				}
			}
		}
	}
	in.Write([]byte("\n"))
	l.Wait()
	got := strings.ReplaceAll(out.String(), "\r\n", "\n")
	for _, want := range []string{
		"/etc/passwd r: Permission denied", "/etc/shadow r: Permission denied",
		dir + "/secret r: Permission denied", dir + "/secret w: Permission denied",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q\nstdout:\n%s\nstderr:\n%s", want, got, errb.String())
		}
	}
	// what the kernel does serve, it may open: the guest's own root
	if !strings.Contains(got, root+"/t.sh r: opened") {
		t.Errorf("the broken handler could not open the root's own file:\n%s", got)
	}
	_ = syscall.SIGKILL
}

// TestSIGTERMEndsAStuckKernel: SIGTERM ends linux whatever state its kernel process is in
// (here stopped, so it cannot act on the signal itself): the outer process kills it after
// its grace time, removes the umid and work directories, and no guest process lives on.
func TestSIGTERMEndsAStuckKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s grace")
	}
	umlDir := t.TempDir()
	tmpdir := t.TempDir()
	cmd, cpid := guestWithChild(t, umlDir, "stuck", "TMPDIR="+tmpdir)
	defer cmd.Process.Kill()
	kpid := kernelPid(t, cmd.Process.Pid)
	syscall.Kill(kpid, syscall.SIGSTOP)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("linux did not end within 30 s of SIGTERM")
	}
	t.Logf("ended %v after SIGTERM", time.Since(start).Round(100*time.Millisecond))
	if _, err := os.Stat(filepath.Join(umlDir, "stuck")); !os.IsNotExist(err) {
		t.Errorf("umid directory left behind: %v", err)
	}
	if ents, _ := os.ReadDir(tmpdir); len(ents) > 0 {
		t.Errorf("work directory left behind: %v", ents)
	}
	if cpid <= 1 || !testenv.WaitFor(5*time.Second, func() bool { return !alive(cpid) }) {
		t.Errorf("guest process %d outlived linux", cpid)
	}
}

// kernelPid returns the kernel process of a running linux: the outer process's child that
// is no helper.
func kernelPid(t *testing.T, outer int) int {
	t.Helper()
	parent, _ := procTable()
	for p, pp := range parent {
		if pp != outer {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline"); strings.HasPrefix(string(cmd), "[gouml-") {
			continue
		}
		return p
	}
	t.Fatalf("no kernel process below %d", outer)
	return 0
}

// descendants returns every process below pid.
func descendants(pid int) []int {
	parent, _ := procTable()
	var out []int
	for p := range parent {
		for q, i := parent[p], 0; q > 1 && i < 64; q, i = parent[q], i+1 {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// TestFuzzFindings runs what the syscall fuzzer found in the rewritten jail as fixed cases
// (testdata/fuzzfound.c): a restart code leaking out of an interrupted FIFO open, kill(1,
// SIGSYS) ending the machine, a FIFO in the root's /dev stopping every trapped call, and a
// symlink an image cannot hold breaking its write-back.
func TestFuzzFindings(t *testing.T) {
	root := testenv.BusyboxRoot(t, nil)
	buildStatic(t, "testdata/fuzzfound.c", filepath.Join(root, "fuzzfound"))
	img := filepath.Join(t.TempDir(), "img")
	mkfs := testenv.Tool(t, "mkfs.ext4")
	if out, err := exec.Command(mkfs, "-q", "-b", "1024", img, "4M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	out, errs, status := run{timeout: 90 * time.Second, args: []string{"ubd0=" + root, "rw", "ubd1=" + img,
		"init=/fuzzfound", "uml_dir=" + t.TempDir()}}.do(t)
	want := "fifo-open-restart-code: OK\nsigsys-to-init: OK\ndev-fifo: OK\nlong-symlink: OK\ndone\n"
	if status != 0 || out != want {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
	if e2fsck, err := exec.LookPath("e2fsck"); err == nil {
		if out, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
			t.Errorf("e2fsck after the guest: %v\n%s", err, out)
		}
	}
}
