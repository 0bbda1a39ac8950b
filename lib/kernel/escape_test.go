package kernel_test

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// buildStatic compiles a C file from testdata into a static executable.
func buildStatic(t *testing.T, src, out string) {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	if b, err := exec.Command(gcc, "-O2", "-static", "-pthread", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
}

// TestEscapes runs testdata/escape.c as init: some 200 attempts to reach the host from the
// guest (.. walks, symlinks in and out, /proc, dirfds, renames and links across, host
// executables, host pids, host sockets, namespaces, a symlink swapped during opens, mount
// flags), and from a hostfs mount (testdata/escape_hostfs.c: the same ways out of the hostfs=
// directory, openat2's RESOLVE flags, hard links, symlinks the guest and the host swap during
// opens, and every way to write below a read-only hostfs mount). Zero may succeed, and nothing
// outside the root and the hostfs directory, nor below its read-only part, may change.
func TestEscapes(t *testing.T) { escapes(t, false) }

// TestEscapesUnprivileged: the same suite with linux run by an ordinary host user who owns
// everything outside the root (so any escape could read and change it).
func TestEscapesUnprivileged(t *testing.T) { escapes(t, true) }

func escapes(t *testing.T, asUser bool) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	bbroot := testenv.BusyboxRoot(t, nil)
	if err := os.Rename(bbroot, root); err != nil {
		t.Fatal(err)
	}
	buildStatic(t, "testdata/escape.c", filepath.Join(root, "escape"))
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("SECRET\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "hostbin"), []byte("#!/bin/sh\ntouch \""+dir+"/ran\"\nexit 42\n"), 0o755)
	ds, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "dsock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	got := make(chan string, 3)
	// a host abstract socket and a host loopback listener the guest must not reach
	// per test process: two runs of the suite on one host must not meet there
	as, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@gouml-escape-test-" + strconv.Itoa(os.Getpid()), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	for _, c := range []net.PacketConn{ds, as} {
		go func() {
			b := make([]byte, 64)
			n, _, err := c.ReadFrom(b)
			if err == nil {
				got <- string(b[:n])
			}
		}()
	}
	go func() {
		if c, err := tl.Accept(); err == nil {
			got <- "a TCP connection to the host's loopback"
			c.Close()
		}
	}()

	umlDir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	if asUser {
		umlDir = unprivileged(t, root)
		u, _ := user.Lookup(testUser)
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		for _, f := range []string{dir, secret, filepath.Join(dir, "hostbin"), filepath.Join(dir, "dsock"), umlDir} {
			os.Chown(f, uid, gid)
		}
	}
	decoyDir := filepath.Join(dir, "decoys")
	os.Mkdir(decoyDir, 0o755)
	os.Chown(decoyDir, uid, gid)
	d := plantDecoys(t, decoyDir, uid, gid)
	lab := newHostfsLab(t, dir, secret, uid, gid)
	out, errs, status := run{asUser: asUser, timeout: 90 * time.Second, args: append([]string{"ubd0=" + root, "rw", "init=/escape",
		"HOSTDIR=" + dir, "HOSTPID=" + strconv.Itoa(os.Getpid()),
		"HOSTPORT=" + strconv.Itoa(tl.Addr().(*net.TCPAddr).Port), "uml_dir=" + umlDir}, lab.args()...)}.do(t)
	lab.check(t)
	if status != 0 || !strings.HasSuffix(out, "done\n") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	cases := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "done\n"), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, ": OK") {
			t.Errorf("%s", l)
		}
		cases++
	}
	if cases < 150 {
		t.Errorf("only %d cases ran:\n%s", cases, out)
	}
	// Judged from the host: nothing outside the root changed.
	b, err := os.ReadFile(secret)
	if err != nil || string(b) != "SECRET\n" {
		t.Errorf("secret changed: %q %v", b, err)
	}
	if st, err := os.Stat(secret); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret mode changed: %v", st.Mode())
	}
	// no metadata of the kernel's on a host file: it writes lib/hostmeta's attributes
	for _, name := range []string{"user.gouml.uid", "user.gouml.gid", "user.gouml.mode", "user.gouml.rdev", "user.gouml.owner"} {
		if n, _ := unix.Getxattr(secret, name, make([]byte, 32)); n > 0 {
			t.Errorf("secret got the attribute %s", name)
		}
	}
	d.check(t)
	noSetidBelow(t, root)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch e.Name() {
		case "root", "secret", "hostbin", "dsock", "uml", "decoys", "lab":
		default:
			t.Errorf("the guest created %s outside its root", e.Name())
		}
	}
	select {
	case m := <-got:
		t.Errorf("the guest reached a host socket: %q", m)
	default:
	}
}

// TestManyOpens opens a file 100000 times through the trapped open path and checks every fd
// (the ADDFD + SIGURG pitfall: docs/architecture.md, "Mechanisms by cost").
func TestManyOpens(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/f": "k\n",
		"/t.sh":  "#!/bin/sh\n/opens 100000\n/bin/busybox poweroff -f\n",
	})
	buildStatic(t, "testdata/opens.c", filepath.Join(root, "opens"))
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "opens=100000 bad=0\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestGoGuest runs a static Go program in the guest: threads, timers, signals, os/exec.
func TestGoGuest(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\ncd /tmp && /goguest\n/bin/busybox poweroff -f\n",
	})
	cmd := exec.Command("go", "build", "-o", filepath.Join(root, "goguest"), "./testdata/goguest")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "goroutines true\ntimer true\nsignal user defined signal 1\nexec \"exec ok\\n\" <nil>\n" +
		"exit exit status 3\nfile data <nil>\npid true ppid 1 wd /tmp\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}

// TestDynamicExecutable: a dynamically linked program runs with the guest's own ld.so and
// libc (copied from the host into the root here); without an ld.so in the root it fails
// instead of silently using the host's.
func TestDynamicExecutable(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n/hello a b; echo \"status=$?\"\n/bin/busybox poweroff -f\n",
	})
	src := filepath.Join(t.TempDir(), "hello.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(int c, char **v){printf(\"hello %s %s %s\\n\", v[0], v[1], v[2]); return 4;}\n"), 0o644)
	testenv.Tool(t, "gcc")
	exe := filepath.Join(root, "hello")
	if b, err := exec.Command("gcc", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, b)
	}
	args := []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}
	out, errs, status := run{args: args}.do(t)
	if status != 0 || !strings.Contains(out, "status=127") || strings.Contains(out, "hello /hello") {
		t.Fatalf("without a guest ld.so: status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	ldd, err := exec.Command("ldd", exe).Output()
	if err != nil {
		t.Skip("ldd failed: ", err)
	}
	for _, l := range strings.Split(string(ldd), "\n") {
		for _, f := range strings.Fields(l) {
			if !strings.HasPrefix(f, "/") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(root, f)
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.WriteFile(dst, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, errs, status = run{args: args}.do(t)
	if status != 0 || out != "hello /hello a b\nstatus=4\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}
