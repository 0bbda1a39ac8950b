// Package testenv is what the interop tests share: finding the real Debian tools (and skipping
// or failing when they are missing), building our own programs once per test binary, making a
// busybox root directory, and running the real UML kernel on it.
//
// When scripts/test.sh finds every real tool it sets GOUML_INTEROP=require; a missing tool is
// then a test failure, so CI can never go green by skipping the tests that prove compatibility.
package testenv

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// packages maps a real tool to the Debian package that ships it, for skip messages.
var packages = map[string]string{
	"linux.uml":    "user-mode-linux",
	"uml_moo":      "uml-utilities",
	"uml_mkcow":    "uml-utilities",
	"uml_switch":   "uml-utilities",
	"uml_mconsole": "uml-utilities",
	"uml_net":      "uml-utilities",
	"tunctl":       "uml-utilities",
	"uml_watchdog": "uml-utilities",
	"port-helper":  "uml-utilities",
	"mkfs.ext4":    "e2fsprogs",
	"e2fsck":       "e2fsprogs",
	"debugfs":      "e2fsprogs",
	"busybox":      "busybox-static",
	"sfdisk":       "fdisk",
	"sgdisk":       "gdisk",
	"vde_switch":   "vde2",
	"slirp":        "slirp",
	"gcc":          "gcc",
	"ifconfig":     "net-tools", // the next four: run by the real uml_net
	"route":        "net-tools",
	"arp":          "net-tools",
	"modprobe":     "kmod",
	"ip":           "iproute2",
	"unshare":      "util-linux",
	"nsenter":      "util-linux",
	"bzip2":        "bzip2",
	"tcpdump":      "tcpdump",
	"cpio":         "cpio",
	"xz":           "xz-utils",
}

// FreshDebianTarball is the path of the Debian bookworm tree that scripts/fresh-machine.sh
// makes with debootstrap and caches (minbase plus ca-certificates, git, make, gcc and
// libc6-dev, tarred with owners and xattrs): in /var/cache/gouml-fresh, or $GOUML_FRESH_CACHE.
// It may not exist; tests that use it skip without it, saying so.
func FreshDebianTarball() string {
	dir := "/var/cache/gouml-fresh"
	if d := os.Getenv("GOUML_FRESH_CACHE"); d != "" {
		dir = d
	}
	return filepath.Join(dir, "bookworm-minbase-ca-certificates+git+make+gcc+libc6-dev.tar.gz")
}

// Required reports whether missing real tools must fail the tests instead of skipping them.
func Required() bool { return os.Getenv("GOUML_INTEROP") == "require" }

// Tool returns the path of a real host tool, or skips the test (fails it under
// GOUML_INTEROP=require) naming the Debian package to install.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := lookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: apt-get install %s", name, packageOf(name))
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// packageOf names the Debian package that ships a tool.
func packageOf(name string) string {
	if pkg := packages[name]; pkg != "" {
		return pkg
	}
	return name
}

// OptionalTool is Tool for a real tool that only adds a cross-check to a test that stands
// without it: when it is missing the test goes on without the check (it logs the package to
// install), except under GOUML_INTEROP=require, where the test fails.
func OptionalTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := lookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found, check left out: apt-get install %s", name, packageOf(name))
	if Required() {
		t.Fatal(msg)
	}
	t.Log(msg)
	return ""
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/bin", "/usr/sbin", "/sbin", "/bin", "/usr/lib/uml"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{}
)

// ensureBuildDir makes the directory programs are built into; buildMu is held.
func ensureBuildDir(t testing.TB) string {
	if buildDir == "" {
		d, err := os.MkdirTemp("", "gouml-bin-")
		if err != nil {
			t.Fatal(err)
		}
		// World-readable so tests that drop privileges (runuser) can still run the binaries.
		_ = os.Chmod(d, 0o755)
		buildDir = d
	}
	return buildDir
}

// Program builds ./cmd/<name> once per test binary and returns the executable's path.
func Program(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	out := filepath.Join(ensureBuildDir(t), name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// Helper builds the package in dir (relative to the module root; a testdata directory is
// fine) once per test binary as a program called name, beside Program's, and returns its
// path.
func Helper(t testing.TB, dir, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := "helper:" + dir
	if p, ok := built[key]; ok {
		return p
	}
	out := filepath.Join(ensureBuildDir(t), name)
	cmd := exec.Command("go", "build", "-o", out, "./"+dir)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", dir, err, b)
	}
	built[key] = out
	return out
}

// BinDir returns the directory Program builds into (for putting our tools first in PATH).
// It builds the named programs first.
func BinDir(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		Program(t, n)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	return buildDir
}

// BusyboxRoot makes a fresh guest root directory holding the static busybox with every applet
// linked into /bin, and empty /proc /sys /dev /tmp /etc /root /mnt. Files in extra (guest
// path → content) are written too; paths ending in ".sh" or starting with "bin/" get mode 0755.
func BusyboxRoot(t testing.TB, extra map[string]string) string {
	t.Helper()
	bb := Tool(t, "busybox")
	if f, err := elf.Open(bb); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				f.Close()
				msg := bb + " is dynamically linked: apt-get install busybox-static"
				if Required() {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
		f.Close()
	}
	root := t.TempDir()
	_ = os.Chmod(root, 0o755)
	for _, d := range []string{"bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "root", "mnt", "usr/bin", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" {
			continue
		}
		_ = os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	for p, content := range extra {
		full := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") || strings.HasPrefix(strings.TrimPrefix(p, "/"), "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// UML describes one run of the real UML kernel on a hostfs root.
type UML struct {
	Root    string        // guest root directory (hostfs)
	UmlDir  string        // uml_dir; default: a fresh temporary directory
	Umid    string        // umid; default: derived from the test name
	Init    string        // init= value, e.g. "/t.sh"
	Args    []string      // extra command-line words (ubdN=, ethN=, key=value for init's env …)
	Env     []string      // extra host environment (e.g. PATH with our uml_net first)
	Timeout time.Duration // default 120s
	Dir     string        // working directory of linux.uml; default: a temporary directory
	// Credential, when set, runs the kernel as that host user (tests of unprivileged use);
	// Root, UmlDir and Dir must then be reachable by it.
	Credential *syscall.Credential
}

// CommandLine returns linux.uml's argv (without the program name).
func (u *UML) CommandLine() []string {
	args := []string{"mem=64M", "root=/dev/root", "rootfstype=hostfs", "hostfs=" + u.Root, "rw",
		"con0=fd:0,fd:1", "con=null", "ssl=null", "uml_dir=" + u.UmlDir + "/", "umid=" + u.Umid}
	if u.Init != "" {
		args = append(args, "init="+u.Init)
	}
	return append(args, u.Args...)
}

func (u *UML) defaults(t testing.TB) {
	if u.UmlDir == "" {
		// Short on purpose: the mconsole socket path must fit in 107 bytes.
		d, err := os.MkdirTemp("", "uml")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		u.UmlDir = d
	}
	if u.Umid == "" {
		u.Umid = Umid(t)
	}
	if u.Timeout == 0 {
		// Generous: a boot takes ~2 s, but CI machines can be loaded many times over.
		u.Timeout = 120 * time.Second
	}
	if u.Dir == "" {
		u.Dir = t.TempDir()
	}
}

// Umid derives a short, valid umid from the test's name.
func Umid(t testing.TB) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	// The kernel keeps the umid directory path in a small buffer ("umid_file_name : buffer
	// too short"), so keep names short.
	if len(n) > 20 {
		n = n[len(n)-20:]
	}
	return fmt.Sprintf("%s-%d", n, os.Getpid())
}

// Start starts linux.uml in the background; stdin is /dev/null, stdout+stderr go to the
// returned buffer. The kernel is killed when the test ends.
func (u *UML) Start(t testing.TB) (*exec.Cmd, *SafeBuffer) {
	t.Helper()
	kernel := Tool(t, "linux.uml")
	u.defaults(t)
	ctx, cancel := context.WithTimeout(context.Background(), u.Timeout)
	cmd := exec.CommandContext(ctx, kernel, u.CommandLine()...)
	cmd.Dir = u.Dir
	cmd.Env = append(os.Environ(), u.Env...)
	// a process group of its own: the real kernel's helper processes (its userspace
	// process, a port line's) outlive a kill of the kernel alone, and were left behind
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: u.Credential}
	out := &SafeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting linux.uml: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if cmd.ProcessState == nil {
			_ = cmd.Wait()
		}
		killCommandLines("uml_dir=" + u.UmlDir + "/")
	})
	return cmd, out
}

// killCommandLines kills every process whose command line has the word w: the real
// kernel's helper processes that made sessions of their own (a port line's), which no
// group kill reaches. w is a test's own temporary directory, so nothing else has it.
func killCommandLines(w string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == w {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// Run boots linux.uml to completion (the init script must power off) and returns its output.
// A timeout or a non-zero exit fails the test with the console log.
func (u *UML) Run(t testing.TB) string {
	t.Helper()
	cmd, out := u.Start(t)
	err := cmd.Wait()
	// UML's helper processes may hold the output pipe a moment after the kernel exited; on a
	// loaded machine that can outlast WaitDelay. The kernel's own status is what counts.
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		err = nil
	}
	if !HaltedCleanly(t, err, out.String()) {
		t.Fatalf("linux.uml %s: %v\n--- console ---\n%s", strings.Join(u.CommandLine(), " "), err, out.String())
	}
	return out.String()
}

// HaltedCleanly reports whether a real linux.uml run that ended with err (from Wait) counts
// as a clean halt. Besides exit status 0 that includes dying of SIGABRT after the console
// said the machine halted or powered down: the real 6.1 kernel does that now and then on a
// loaded machine while it tears down its host-side helpers, whatever the guest did, so a test
// of a guest or a tool must not fail on it. The occurrence is logged.
func HaltedCleanly(t testing.TB, err error, console string) bool {
	t.Helper()
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
		return false
	}
	if strings.Contains(console, "reboot: System halted") || strings.Contains(console, "reboot: Power down") {
		t.Logf("the real kernel aborted after halting (its known teardown abort); counted as a clean halt")
		return true
	}
	return false
}

// SafeBuffer is a bytes.Buffer safe for concurrent writers and readers.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls until cond holds or the timeout passes; it reports whether cond held.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// Listening reports whether a Unix stream socket is bound at path and listening. The socket
// file appears at bind, before listen: a client that connects in between is refused (the
// real uml_switch binds and listens in two steps), so waiting for the file is not enough.
func Listening(path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(line)
		if len(f) < 8 || f[7] != path {
			continue
		}
		var flags uint64
		if _, err := fmt.Sscanf(f[3], "%x", &flags); err == nil && flags&0x10000 != 0 { // __SO_ACCEPTCON
			return true
		}
	}
	return false
}
