package kernel_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// testUser is the unprivileged host user the tests run `linux` as when they run as root.
const testUser = "gouml-test"

// run boots our linux with args and returns stdout, stderr and the exit status.
type run struct {
	args    []string
	asUser  bool // run as an unprivileged host user
	timeout time.Duration
	raw     bool     // keep the console's \r\n
	env     []string // extra environment of linux
}

func (r run) do(t *testing.T) (string, string, int) {
	t.Helper()
	bin := testenv.Program(t, "linux")
	if r.timeout == 0 {
		r.timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	argv := append([]string{bin}, r.args...)
	if len(r.env) > 0 {
		argv = append(append([]string{"env"}, r.env...), argv...)
	}
	if r.asUser {
		argv = append([]string{"runuser", "-u", testUser, "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Dir = os.TempDir()
	cmd.WaitDelay = 3 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("linux %q timed out\nstdout:\n%s\nstderr:\n%s", r.args, out.String(), errb.String())
	}
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if r.raw {
		return out.String(), errb.String(), status
	}
	// The console is a tty: lines end in \r\n, as with the real UML (TestConsoleIsATty).
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), errb.String(), status
}

// unprivileged prepares root (and returns a uml_dir) for the unprivileged test user; it skips
// when the tests do not run as root (they then already run unprivileged).
func unprivileged(t *testing.T, root string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: the other tests cover it")
	}
	if _, err := user.Lookup(testUser); err != nil {
		if out, err := exec.Command("useradd", "-M", "-s", "/bin/false", testUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v %s", err, out)
		}
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for d := filepath.Dir(root); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, uid, gid)
		}
		return nil
	})
	umlDir := filepath.Join(filepath.Dir(root), "uml")
	os.Mkdir(umlDir, 0o755)
	os.Chown(umlDir, uid, gid)
	return umlDir
}

const shellScript = `#!/bin/sh
echo "pid=$$ ppid=$PPID"
echo "uid=$(id -u) gid=$(id -g) user=$(id -un)"
echo "uname=$(uname -s) $(uname -r) $(uname -m)"
echo "childppid=$(sh -c 'echo $PPID')"
echo "pipe=$(printf 'c\nb\na\n' | sort | tr '\n' ' ')"
(exit 7); echo "subshell=$?"
x=$(echo inner; exit 0); echo "subst=$x"
echo one > /tmp/f; echo two >> /tmp/f; echo "redir=$(wc -l < /tmp/f) $(cat /tmp/f | tail -1)"
ls /nonexistent 2>/tmp/err; echo "stderr=$? $(grep -c nonexistent /tmp/err)"
sleep 0.2 & bg=$!; wait $bg; echo "bg=$?"
(sleep 0.1; exit 5) & wait $!; echo "bgstatus=$?"
sleep 5 & kill $!; wait $!; echo "killed=$?"
trap 'echo trapped' USR1; kill -USR1 $$
mkdir -p /tmp/d/sub; touch /tmp/d/a /tmp/d/sub/b; ln -s ../a /tmp/d/sub/l
echo "find=$(cd /tmp/d && find . | sort | tr '\n' ' ')"
cd /tmp && tar cf t.tar d && mkdir x && cd x && tar xf ../t.tar && echo "tar=$(find d | sort | tr '\n' ' ')link=$(readlink d/sub/l)"
cd /tmp/d/sub && echo "cwd=$(pwd) $(/bin/pwd) $(cd .. && pwd)"
mv /tmp/d/a /tmp/d/c; echo "mv=$(ls /tmp/d | tr '\n' ' ')"
rm -r /tmp/d; [ -e /tmp/d ] || echo "rm=ok"
echo "owner=$(ls -ln /t.sh | awk '{print $3 ":" $4}')"
touch /tmp/own; chown 123:45 /tmp/own; echo "chown=$(stat -c %u:%g /tmp/own)"
echo "devnull=$(echo x > /dev/null; cat /dev/null | wc -c) zero=$(head -c 5 /dev/zero | wc -c)"
echo "meminfo=$(grep MemTotal /proc/meminfo | tr -s ' ')"
echo "self=$(readlink /proc/self)"
/bin/busybox poweroff -f
echo "not reached"
`

var shellWant = []string{
	"pid=1 ppid=0",
	"uid=0 gid=0 user=root",
	"uname=Linux 6.1.176-gouml x86_64",
	"childppid=1",
	"pipe=a b c ",
	"subshell=7",
	"subst=inner",
	"redir=2 two",
	"stderr=1 1",
	"bg=0",
	"bgstatus=5",
	"killed=143",
	"trapped",
	"find=. ./a ./sub ./sub/b ./sub/l ",
	"tar=d d/a d/sub d/sub/b d/sub/l link=../a",
	"cwd=/tmp/d/sub /tmp/d/sub /tmp/d",
	"mv=c sub ",
	"rm=ok",
	"owner=0:0",
	"chown=123:45",
	"devnull=0 zero=5",
	"meminfo=MemTotal: 131072 kB",
}

func shellRoot(t *testing.T) string {
	return testenv.BusyboxRoot(t, map[string]string{
		"/t.sh":       shellScript,
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"/etc/group":  "root:x:0:\n",
	})
}

func checkShell(t *testing.T, out, errs string, status int) {
	t.Helper()
	if status != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	// ash reports the killed background job ("Terminated", on stderr, which is the console
	// too) only when it reaps the job before `wait` asks for it: a race of ash's own
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "Terminated" {
			lines = append(lines, l)
		}
	}
	want := append(append([]string{}, shellWant...), "self=") // self= is checked below
	for i, w := range want {
		if i >= len(lines) {
			t.Fatalf("output ends before %q\nstdout:\n%s\nstderr:\n%s", w, out, errs)
		}
		if w == "self=" {
			if !strings.HasPrefix(lines[i], "self=") || lines[i] == "self=" {
				t.Errorf("line %d: %q, want self=<pid>", i, lines[i])
			}
			continue
		}
		if lines[i] != w {
			t.Errorf("line %d: got %q, want %q", i, lines[i], w)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d:\n%s\nstderr:\n%s", len(lines), len(want), out, errs)
	}
}

// TestShellScript boots a busybox root given as ubd0=DIR and runs a script exercising
// processes, pipes, redirections, job control, signals and the file system.
func TestShellScript(t *testing.T) {
	root := shellRoot(t)
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "mem=128M", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	checkShell(t, out, errs, status)
}

// TestShellScriptHostfsUnprivileged: the same as an unprivileged host user, with the
// root=/dev/root rootfstype=hostfs spelling; files the guest chowned keep their guest owner
// in an xattr while the host sees them owned by the host user.
func TestShellScriptHostfsUnprivileged(t *testing.T) {
	root := shellRoot(t)
	umlDir := unprivileged(t, root)
	out, errs, status := run{asUser: true, args: []string{"root=/dev/root", "rootfstype=hostfs", "hostfs=" + root,
		"rw", "mem=128M", "init=/t.sh", "uml_dir=" + umlDir}}.do(t)
	checkShell(t, out, errs, status)
	st, err := os.Stat(filepath.Join(root, "tmp/own"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := user.Lookup(testUser)
	if uid := st.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid {
		t.Errorf("host owner of a guest-chowned file: %d, want %s", uid, u.Uid)
	}
}

// TestChownSurvivesReboot: ownership set inside the guest is still there at the next boot.
func TestChownSurvivesReboot(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nif [ -e /tmp/f ]; then stat -c 'second %u:%g %a' /tmp/f; /bin/busybox poweroff -f; fi\n" +
			"echo x > /tmp/f; chown 1000:100 /tmp/f; chmod 640 /tmp/f; stat -c 'first %u:%g %a' /tmp/f; reboot -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "first 1000:100 640\nsecond 1000:100 640\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

func TestNoreboot(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\necho boot\nreboot -f\n"})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "noreboot", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "boot\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestInitExitPanics: like Linux, init exiting is a kernel panic (the real UML exits 134).
func TestInitExitPanics(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\nexit 3\n"})
	_, errs, status := run{args: []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 134 || !strings.Contains(errs, "Attempted to kill init! exitcode=0x00000300") {
		t.Fatalf("status %d stderr %q", status, errs)
	}
	// printed by init's launcher, on the console
	out, errs, status := run{args: []string{"ubd0=" + root, "init=/nope", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 134 || !strings.Contains(out+errs, "Requested init /nope failed (error -2)") {
		t.Fatalf("status %d stderr %q", status, errs)
	}
}

// TestInitEnvAndArgs: unknown words reach init as the real kernel passes them.
func TestInitEnvAndArgs(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\necho \"args=$*\"\necho \"FOO=$FOO HOME=$HOME TERM=$TERM\"\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "init=/t.sh", "FOO=bar", "honeypot", "quiet", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "args=honeypot\nFOO=bar HOME=/ TERM=linux\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestReadOnlyRoot: without rw the root is read-only, and remounting makes it writable.
func TestReadOnlyRoot(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\ntouch /tmp/x 2>/dev/null; echo \"ro=$?\"\nmount -o remount,rw /\ntouch /tmp/x; echo \"rw=$?\"\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "ro=1\nrw=0\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// TestUmidDirAndSIGTERM: the umid directory holds the pid file while the machine runs; SIGTERM
// ends the machine with status 1, kills the guest and removes the directory.
func TestUmidDirAndSIGTERM(t *testing.T) {
	umlDir := t.TempDir()
	cmd, cpid := guestWithChild(t, umlDir, "termtest")
	defer cmd.Process.Kill()
	b, err := os.ReadFile(filepath.Join(umlDir, "termtest", "pid"))
	if err != nil || string(b) != strconv.Itoa(cmd.Process.Pid)+"\n" {
		t.Fatalf("pid file %q %v", b, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if _, err := os.Stat(filepath.Join(umlDir, "termtest")); !os.IsNotExist(err) {
		t.Errorf("umid directory left behind: %v", err)
	}
	// (a killed process may stay a zombie for a moment until the host reaps it)
	if cpid <= 1 || !testenv.WaitFor(5*time.Second, func() bool { return !alive(cpid) }) {
		t.Errorf("guest process %d outlived linux", cpid)
	}
}

// guestWithChild boots a guest (umid name, extra environment for linux) whose init waits
// for a background child, and returns the running linux and the child's host pid.
func guestWithChild(t *testing.T, umlDir, name string, env ...string) (*exec.Cmd, int) {
	t.Helper()
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nsleep 100 &\necho $! > /tmp/child\necho up\nwait\n",
	})
	cmd := exec.Command(testenv.Program(t, "linux"), "ubd0="+root, "rw", "init=/t.sh", "uml_dir="+umlDir, "umid="+name)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(root, "tmp/child"))
		return err == nil
	}) {
		cmd.Process.Kill()
		t.Fatal("guest did not start")
	}
	time.Sleep(100 * time.Millisecond)
	child, _ := os.ReadFile(filepath.Join(root, "tmp/child"))
	gpid, _ := strconv.Atoi(strings.TrimSpace(string(child)))
	return cmd, hostPids(t, cmd.Process.Pid, []int{gpid})[0]
}

// TestNoGuestOutlivesKill9: even SIGKILL of linux takes every guest process with it.
func TestNoGuestOutlivesKill9(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n(sleep 100; echo late) &\necho $! > /tmp/child\nsh -c 'sleep 100' &\necho $! > /tmp/child2\nwait\n",
	})
	bin := testenv.Program(t, "linux")
	cmd := exec.Command(bin, "ubd0="+root, "rw", "init=/t.sh", "uml_dir="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if !testenv.WaitFor(10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(root, "tmp/child2"))
		return err == nil
	}) {
		t.Fatal("guest did not start")
	}
	time.Sleep(100 * time.Millisecond)
	var pids []int
	for _, f := range []string{"tmp/child", "tmp/child2"} {
		b, _ := os.ReadFile(filepath.Join(root, f))
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if p <= 1 {
			t.Fatalf("bad pid in %s: %q", f, b)
		}
		pids = append(pids, p)
	}
	pids = hostPids(t, cmd.Process.Pid, pids)
	cmd.Process.Kill()
	cmd.Wait()
	if !testenv.WaitFor(5*time.Second, func() bool {
		for _, p := range pids {
			if alive(p) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("guest processes %v outlived kill -9 of linux", pids)
	}
}

// hostPids maps guest pids of the machine `linux` (host pid outer) runs to host pids, by
// the innermost NSpid of the host processes below it.
func hostPids(t *testing.T, outer int, guest []int) []int {
	t.Helper()
	parent, inner := procTable()
	below := func(p int) bool {
		for i := 0; i < 64 && p > 1; i++ {
			if p = parent[p]; p == outer {
				return true
			}
		}
		return false
	}
	var out []int
	for _, g := range guest {
		found := 0
		for p, n := range inner {
			if n == g && p != g && below(p) {
				found = p
			}
		}
		if found == 0 {
			t.Fatalf("no host process for guest pid %d below %d", g, outer)
		}
		out = append(out, found)
	}
	return out
}

// alive reports whether a host process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestGuestNamespaces: the guest numbers its processes itself (init 1, children from 2 up,
// as ps and /proc show them), and SysV IPC, abstract Unix sockets and TCP over its loopback
// work between guest processes — in namespaces of its own, so none of it reaches the host's
// (TestEscapes checks that side).
func TestGuestNamespaces(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\necho \"me=$$\"\nsleep 10 &\necho \"child=$!\"\n" +
			"ls /proc > /tmp/l; grep -qx 1 /tmp/l && grep -qx $! /tmp/l && echo listing=ok\n" +
			"ps -o pid,comm | awk '$2 == \"sleep\" {print \"ps-sleep=\" $1}'\n" +
			"cat /proc/$!/stat | cut -d' ' -f1,4\nkill $!\nwait\n/ipc\n/bin/busybox poweroff -f\n",
	})
	buildStatic(t, "testdata/ipc.c", filepath.Join(root, "ipc"))
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if status != 0 || len(lines) < 5 {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	var child string
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "child="); ok {
			child = c
		}
	}
	if n, err := strconv.Atoi(child); err != nil || n < 2 || n > 20 {
		t.Fatalf("background child got pid %q, want a small guest number:\n%s", child, out)
	}
	want := "me=1\nchild=" + child + "\nlisting=ok\nps-sleep=" + child + "\n" + child + " 1\n" +
		"sem=ok\nshm=ok\nmsg=ok\nabstract=ok\ntcp=ok\nposix-mq=ok\n"
	if out != want {
		t.Fatalf("got:\n%s\nwant:\n%s\nstderr:\n%s", out, want, errs)
	}
}

// TestProcAndPs: busybox ps, free, uptime and mount work from the kernel's /proc, and
// processes are named after the program they run.
func TestProcAndPs(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"/t.sh": "#!/bin/sh\nsleep 10 &\nfor i in $(seq 100); do [ \"$(cat /proc/$!/comm)\" = sleep ] && break; sleep 0.05; done\n" +
			"ps -o pid,user,comm > /tmp/ps\ngrep -E '^ *1 ' /tmp/ps\ngrep -E \"^ *$! \" /tmp/ps | sed \"s/$!/SLEEP/\"\n" +
			"[ -d /proc/$! ] && ls /proc | grep -qx $! && echo piddir=ok\n" +
			"free | awk '/Mem:/ {print \"free=\" $2}'\nmount | head -1\ncat /proc/uptime | wc -w\ncat /proc/1/comm\n" +
			"uptime | grep -c 'up '\ntop -b -n 1 | head -1 | cut -d: -f1\n" +
			"cut -d' ' -f4 /proc/loadavg | grep -qE '^1/[0-9]$' && echo loadavg-guest-counts\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "mem=96M", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "    1 root     t.sh\nSLEEP root     sleep\npiddir=ok\nfree=98304\n/dev/root on / type hostfs (rw,relatime)\n2\nt.sh\n1\nMem\nloadavg-guest-counts\n"
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if status != 0 || norm(out) != norm(want) {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}

// TestConsoleIsATty: the guest's console is a terminal of its own even when linux's
// stdin/stdout are pipes, and, like the real UML's, it turns "\n" into "\r\n". Its nodes
// stat as devtmpfs makes them (the host pty behind them is 136:N), and an fd of the console
// stats as /dev/console, which ttyname relies on.
func TestConsoleIsATty(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\n[ -t 0 ] && [ -t 1 ] && echo tty=$(tty)\n" +
			"stat -c '%n %a %u:%g %t:%T' /dev/console /dev/tty /dev/tty0 /dev/null\n" +
			"stat -L -c 'fd0 %a %t:%T' /proc/self/fd/0\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{raw: true, args: []string{"ubd0=" + root, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "tty=/dev/console\r\n/dev/console 600 0:0 5:1\r\n/dev/tty 666 0:0 5:0\r\n/dev/tty0 600 0:0 4:0\r\n" +
		"/dev/null 666 0:0 1:3\r\nfd0 600 5:1\r\n"
	if status != 0 || out != want {
		t.Fatalf("status %d stdout %q, want %q; stderr %q", status, out, want, errs)
	}
}

// TestUnixSockets: Unix socket names live in the guest root: busybox syslogd binds /dev/log
// and logger sends to it.
func TestUnixSockets(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nsyslogd -n -O /tmp/messages &\nfor i in $(seq 100); do [ -S /dev/log ] && break; sleep 0.05; done\n" +
			"logger -t test hello-syslog\nfor i in $(seq 100); do grep -q hello-syslog /tmp/messages 2>/dev/null && break; sleep 0.05; done\n" +
			"grep -o 'test: hello-syslog' /tmp/messages\nls -l /dev/log | cut -c1\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "test: hello-syslog\ns\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	if st, err := os.Lstat(filepath.Join(root, "dev/log")); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("/dev/log is not a socket in the root: %v", err)
	}
}

// TestMknodDevice: device nodes made inside the guest are kept as metadata beside an empty
// host file, look like devices, and open the kernel's device.
func TestMknodDevice(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmknod /tmp/nul c 1 3 && mknod /tmp/zero c 1 5 && mknod -m 600 /tmp/blk b 98 0\n" +
			"echo hidden > /tmp/nul\nstat -c '%F %t:%T %a' /tmp/nul /tmp/blk\necho \"nul=$(cat /tmp/nul | wc -c) zero=$(head -c 3 /tmp/zero | wc -c)\"\n" +
			"cat /tmp/blk 2>/dev/null || echo blk-enxio\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "character special file 1:3 644\nblock special file 62:0 600\nnul=0 zero=3\nblk-enxio\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
	if st, err := os.Stat(filepath.Join(root, "tmp/nul")); err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
		t.Errorf("host side of the node: %v %v", st, err)
	}
}

// TestGuestUsers: a guest root drops to another guest user (su); what that user creates is
// theirs, files it only opens keep their owner.
func TestGuestUsers(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:u:/tmp:/bin/sh\n",
		"/etc/group":  "root:x:0:\nusers:x:100:\n",
		"/t.sh": "#!/bin/sh\necho r > /tmp/rootfile\n" +
			"su user -c 'id; { echo u >> /tmp/rootfile; } 2>/dev/null || echo append-denied; touch /tmp/userfile; mkdir /tmp/userdir; mknod /tmp/n c 1 3 2>/dev/null || echo mknod-denied; chown 0 /tmp/userfile 2>/dev/null || echo chown-denied'\n" +
			"stat -c '%n %u:%g' /tmp/rootfile /tmp/userfile /tmp/userdir\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "uid=1000(user) gid=100(users) groups=100(users)\nappend-denied\nmknod-denied\nchown-denied\n" +
		"/tmp/rootfile 0:0\n/tmp/userfile 1000:100\n/tmp/userdir 1000:100\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}

// TestChroot: a chrooted process resolves every path inside its new root (and its children
// inherit it); ".." cannot climb out, even with the working directory left outside.
func TestChroot(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/jail/etc/where": "jail\n",
		"/etc/where":      "root\n",
		"/t.sh": "#!/bin/sh\nmkdir /jail/bin && cp /bin/busybox /jail/bin/busybox\nln -s busybox /jail/bin/sh\nln -s busybox /jail/bin/cat\n" +
			"chroot /jail /bin/sh -c 'cat /etc/where; cd /; cat ../../etc/where; /bin/sh -c \"cat /etc/where\"'\n" +
			"cat /etc/where\n/bin/busybox poweroff -f\n",
	})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || out != "jail\njail\njail\nroot\n" {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// procTable reads every host process's parent and innermost pid (its NSpid's last number).
func procTable() (parent, inner map[int]int) {
	parent, inner = map[int]int{}, map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				parent[p], _ = strconv.Atoi(strings.TrimSpace(v))
			} else if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
				f := strings.Fields(v)
				inner[p], _ = strconv.Atoi(f[len(f)-1])
			}
		}
	}
	return parent, inner
}
