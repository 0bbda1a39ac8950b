package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestGuestPtys: the guest's own pseudo-terminals, used the ways programs use them, by an
// unprivileged host user (when the test runs as root): Debian's devpts mount with its
// options, openpty + fork + a shell on the slave as its controlling terminal (a C program),
// and busybox telnetd over loopback with busybox telnet, whose shell has job control. The
// guest's ptys are numbered from 0 whatever the host's devpts holds, and TIOCSTI stays
// refused on them.
func TestGuestPtys(t *testing.T) {
	testenv.Tool(t, "gcc")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"/etc/group":  "root:x:0:\ntty:x:5:\n",
		"/t.sh": `#!/bin/sh
mount -t devpts -o noexec,nosuid,gid=5,mode=620 devpts /dev/pts && echo devpts-mounted
grep devpts /proc/mounts
stat -c 'ptmx %F %t:%T %a' /dev/ptmx
/bin/ptyshell /bin/sh 'echo sum-$((6*7)) $(tty); stat -c "slave %u:%g %a" $(tty); exit 3
'
ip link set lo up
telnetd -p 2323 -l /bin/sh
# telnetd goes to the background before it listens: wait for the socket (port 2323 is 0913)
i=0
while ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ':0913 0*:0000 0A' && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkfifo /tmp/in
telnet 127.0.0.1 2323 </tmp/in >/tmp/tn.out 2>&1 &
exec 3>/tmp/in
echo 'echo tn-$((1+2)) $(tty); sleep 5 & jobs' >&3
i=0
while ! grep -q 'Running' /tmp/tn.out && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo exit >&3
exec 3>&-
wait
cat /tmp/tn.out
if [ -x /usr/bin/script ]; then
	/usr/bin/script -q -c 'echo script-tty $(tty); stty -a | head -1' /dev/null
fi
/bin/busybox poweroff -f
`,
	})
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-static", "-o", filepath.Join(root, "bin/ptyshell"),
		"testdata/pty/ptyshell.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	// util-linux's script, when the host has it: a dynamic program, with its libraries
	script := copyHostDynamic(t, root, "/usr/bin/script")
	r := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh"}, timeout: 60 * time.Second}
	if os.Geteuid() == 0 {
		r.asUser = true
		r.args = append(r.args, "uml_dir="+unprivileged(t, root))
	} else {
		r.args = append(r.args, "uml_dir="+t.TempDir())
	}
	out, errs, status := r.do(t)
	if status != 0 {
		t.Fatalf("linux exited %d\n%s\nstderr:\n%s", status, out, errs)
	}
	for _, want := range []string{
		"devpts-mounted\n",
		"devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0\n",
		"ptmx character special file 5:2 666\n",
		"openpty: /dev/pts/0\n", // the guest's numbering
		"TIOCSTI: refused\n",    // nothing typed into any terminal
		"sum-42 /dev/pts/0",     // the shell's terminal is the pty
		"slave 0:5 620",         // owner: the opener; group and mode: the mount's options
		"shell exit: 3\n",       // the shell ended by its own exit
		"tn-3 /dev/pts/",        // telnetd's shell on a pty of the guest's
		"[1]+  Running",         // with job control: the pty is its controlling terminal
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the guest's output:\n%s\nstderr:\n%s", want, out, errs)
		}
	}
	if script && (!strings.Contains(out, "script-tty /dev/pts/") || !strings.Contains(out, "speed 38400 baud")) {
		t.Errorf("script -c 'tty; stty -a' did not run on a pty:\n%s", out)
	}
	if strings.Contains(out, "job control turned off") || strings.Contains(out, "can't access tty") {
		t.Errorf("a shell on a pty has no controlling terminal:\n%s", out)
	}
}

// copyHostDynamic copies a host program and the libraries ldd names for it into a guest root
// at the same paths; false when the host has no such program.
func copyHostDynamic(t *testing.T, root, prog string) bool {
	t.Helper()
	if _, err := os.Stat(prog); err != nil {
		return false
	}
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		return false
	}
	files := []string{prog}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			files = append(files, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			files = append(files, f[0])
		}
	}
	for _, f := range files {
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
	return true
}
