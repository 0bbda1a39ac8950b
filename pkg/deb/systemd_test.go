package deb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runSystemd is TestPackages/systemd: systemd (installed into a scratch tree from the
// registry) runs as PID 1 of the tree in new mount, PID, UTS, IPC and cgroup namespaces, as a
// container manager would start it, and testdata/inside.sh's systemd checks run in there:
// our packages install, their units start, stop and verify under the real systemd. The tree
// gets a cgroup2 subtree of this process's own cgroup (removed at the end), mounted as its
// /sys/fs/cgroup, so systemd runs in unified mode and creates nothing outside it. Its
// /dev/console is /dev/null (the host's console is no place for its messages); its journal
// is shown when the test fails.
func runSystemd(t *testing.T, tarball string, debs []string) {
	for _, tool := range []string{"nsenter", "pivot_root"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not found")
		}
	}
	cg, err := treeCgroup()
	if err != nil {
		t.Skip("no cgroup for systemd as PID 1 of the tree: " + err.Error())
	}
	t.Cleanup(func() { removeCgroup(t, cg) })
	tree := unpackTree(t, tarball, debs)
	runInside(t, chrootCommand(t, tree, "systemd-prepare"), "systemd-prepare")
	// The outer shell moves itself into the tree's cgroup before it makes the cgroup
	// namespace, so that the namespace's root is that cgroup. pivot_root as in chrootCommand:
	// systemd must see the tree as the root of its mount namespace.
	inner := `set -e; T=$1
` + treeMounts + `mount -t sysfs sysfs "$T/sys"
mount -t cgroup2 cgroup2 "$T/sys/fs/cgroup"
mount --bind /dev/null "$T/dev/console"
cd "$T"
pivot_root . mnt
exec chroot . /bin/sh -c 'umount -l /mnt && exec /usr/bin/env -i container=gouml-deb-test /lib/systemd/systemd --log-target=journal'`
	boot := exec.Command("unshare", "--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child",
		"--propagation", "private", "sh", "-c",
		`set -e; echo $$ > "$2/cgroup.procs"; exec unshare --cgroup sh -c "$INNER" sh "$1"`, "sh", tree, cg)
	boot.Env = append(os.Environ(), "RESOLV="+resolvConf(t), "INNER="+inner)
	var bootOut strings.Builder
	boot.Stdout, boot.Stderr = &bootOut, &bootOut
	if err := boot.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	t.Cleanup(func() {
		if t.Failed() && pid != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			b, _ := enterTree(ctx, pid, "journalctl", "-b", "--no-pager", "-n", "100").CombinedOutput()
			t.Logf("--- the tree's journal ---\n%s", b)
		}
		// Killing PID 1 of the namespace ends every process in it, and with them its mounts.
		if pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = boot.Process.Kill()
		_ = boot.Wait()
		if t.Failed() {
			t.Logf("--- unshare ---\n%s", bootOut.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		pid = systemdChild(boot.Process.Pid)
		if pid == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if pid == 0 {
		t.Fatalf("systemd did not start in the tree:\n%s", bootOut.String())
	}
	// systemctl can talk to systemd once its private socket is there, and says "offline"
	// until systemd has made /run/systemd/system; --wait then waits for the boot to finish.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state := ""
	for ctx.Err() == nil {
		b, _ := enterTree(ctx, pid, "systemctl", "is-system-running", "--wait").CombinedOutput()
		if state = strings.TrimSpace(string(b)); !strings.Contains(state, "Failed to connect") && state != "offline" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("systemd in the tree (pid %d here): %s", pid, state)
	if state != "running" && state != "degraded" {
		t.Fatalf("systemd did not come up: %q", state)
	}
	cmd := enterTree(context.Background(), pid, "timeout", "-k", "10", "600", "/bin/sh", "/root/inside.sh", "systemd")
	runInside(t, cmd, "systemd")
}

// enterTree runs a command in the tree where systemd (pid, as seen here) is PID 1: in its
// mount and PID namespaces, at its root, with a clean environment.
func enterTree(ctx context.Context, pid int, args ...string) *exec.Cmd {
	env := []string{"HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"http_proxy", "https_proxy"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	a := append([]string{"-t", strconv.Itoa(pid), "-m", "-p", "-r", "-w", "/usr/bin/env", "-i"}, env...)
	return exec.CommandContext(ctx, "nsenter", append(a, args...)...)
}

// systemdChild returns the pid of parent's child once that child runs systemd, else 0.
func systemdChild(parent int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		comm, err := os.ReadFile("/proc/" + f + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
			pid, _ := strconv.Atoi(f)
			return pid
		}
	}
	return 0
}

// treeCgroup makes a new cgroup2 directory below this process's own cgroup.
func treeCgroup() (string, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	mnt := ""
	sc := bufio.NewScanner(strings.NewReader(string(mi)))
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		f := strings.Fields(sc.Text())
		for i, w := range f {
			if w == "-" && i+1 < len(f) && f[i+1] == "cgroup2" && f[3] == "/" {
				mnt = f[4]
			}
		}
		if mnt != "" {
			break
		}
	}
	if mnt == "" {
		return "", fmt.Errorf("no cgroup2 file system mounted here")
	}
	own := ""
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			own = p
		}
	}
	dir := filepath.Join(mnt, own, fmt.Sprintf("gouml-deb-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// removeCgroup removes the tree's cgroup and what systemd made in it, deepest first, once
// the killed processes have left them.
func removeCgroup(t *testing.T, cg string) {
	var last error
	for i := 0; i < 100; i++ {
		var dirs []string
		_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		if len(dirs) == 0 {
			return
		}
		sort.Slice(dirs, func(a, b int) bool { return len(dirs[a]) > len(dirs[b]) })
		last = nil
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && last == nil {
				last = err
			}
		}
		if last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("removing the tree's cgroup %s: %v", cg, last)
}
