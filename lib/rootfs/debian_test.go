package rootfs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
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

// debianTarball returns scripts/fresh-machine.sh's cached bookworm tarball, or skips.
func debianTarball(t *testing.T) string {
	t.Helper()
	p := testenv.FreshDebianTarball()
	if _, err := os.Stat(p); err != nil {
		t.Skip("no cached Debian bookworm tarball " + p + ": scripts/fresh-machine.sh makes it (debootstrap, as root)")
	}
	return p
}

// ordinaryUser returns the user to run mkrootfs as so that it runs without root: a test
// user when the test runs as root, else "" (the test's own user already is one).
func ordinaryUser(t *testing.T) string {
	if os.Geteuid() != 0 {
		return ""
	}
	return testUser(t)
}

// bigTempDir is a directory any user may write in, on /var/tmp: a Debian image is a
// gigabyte, and /tmp is often a small tmpfs.
func bigTempDir(t *testing.T) string {
	d, err := os.MkdirTemp("/var/tmp", "gouml-rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return d
}

// specialOwnership lists the members of a tarball that only root could give their owner or
// mode on the host: other owners than root, setuid, setgid and sticky bits.
func specialOwnership(t *testing.T, tarball string) map[string][3]int64 {
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	m := map[string][3]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeLink || h.Typeflag == tar.TypeSymlink {
			continue
		}
		if h.Uid != 0 || h.Gid != 0 || h.Mode&0o7000 != 0 {
			m["/"+strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")] = [3]int64{h.Mode & 0o7777, int64(h.Uid), int64(h.Gid)}
		}
	}
	return m
}

var debugfsOwner = regexp.MustCompile(`Mode:\s+(\d+)[\s\S]*?User:\s+(\d+)\s+Group:\s+(\d+)`)

// imageCat returns a file of an image, read by debugfs.
func imageCat(t *testing.T, img, p string) string {
	t.Helper()
	b, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat "+p, img).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", p, err)
	}
	return string(b)
}

// TestDebianTarballImage builds an ext4 image from the debootstrap tarball as an ordinary
// user with a hostname and a root password, and reads it back with e2fsprogs: e2fsck finds
// it clean; every member that only root could own or mode that way (setuid passwd, the
// shadow group's /etc/shadow and chage, staff's /var/local, ...) has the tarball's owner,
// group and mode; root's hash in /etc/shadow is the one openssl computes for the password
// and salt (an implementation other than ours), the other entries are the tarball's; fstab
// mounts /dev/ubda as the root; hostname and hosts name the machine; and mkrootfs warns that
// the root has no init (minbase has none).
func TestDebianTarballImage(t *testing.T) {
	tarball := debianTarball(t)
	user := ordinaryUser(t)
	openssl := testenv.Tool(t, "openssl")
	img := filepath.Join(bigTempDir(t), "deb.img")
	const pw = "correct horse $1 'staple'"
	out, err := mkrootfs(t, user, "-q", "-o", img, "--hostname", "deb1", "--root-password", pw, tarball)
	if err != nil {
		t.Fatalf("mkrootfs as %q: %v\n%s", user, err, out)
	}
	if !strings.Contains(out, "mkrootfs: warning: the root has no /sbin/init") {
		t.Errorf("no warning about the missing init:\n%s", out)
	}
	fsck(t, img)

	want := specialOwnership(t, tarball)
	if len(want) < 10 || want["/usr/bin/passwd"] != [3]int64{0o4755, 0, 0} || want["/etc/shadow"][2] != 42 {
		t.Fatalf("the tarball is not the expected debootstrap tree: %v", want)
	}
	t.Logf("%d members only root could own or mode so", len(want))
	dbg := testenv.Tool(t, "debugfs")
	for p, w := range want {
		if p == "/etc/shadow" {
			w[0] = 0o640 // rewritten for the password: mode and group kept
		}
		st, err := exec.Command(dbg, "-R", "stat "+p, img).CombinedOutput()
		m := debugfsOwner.FindStringSubmatch(string(st))
		if err != nil || m == nil {
			t.Errorf("debugfs stat %s: %v\n%s", p, err, st)
			continue
		}
		mode, _ := strconv.ParseInt(m[1], 8, 64)
		uid, _ := strconv.ParseInt(m[2], 10, 64)
		gid, _ := strconv.ParseInt(m[3], 10, 64)
		if got := [3]int64{mode, uid, gid}; got != w {
			t.Errorf("%s: mode, uid, gid %o %d %d in the image, %o %d %d in the tarball", p, got[0], got[1], got[2], w[0], w[1], w[2])
		}
	}

	shadow := imageCat(t, img, "/etc/shadow")
	var root string
	var others []string
	for _, l := range strings.Split(strings.TrimSuffix(shadow, "\n"), "\n") {
		if strings.HasPrefix(l, "root:") {
			root = l
		} else {
			others = append(others, l)
		}
	}
	f := strings.Split(root, ":")
	if len(f) != 9 {
		t.Fatalf("root's entry in /etc/shadow: %q", root)
	}
	hf := strings.Split(f[1], "$") // "", "6", salt, hash
	if len(hf) != 4 || hf[1] != "6" {
		t.Fatalf("root's entry in /etc/shadow: %q", root)
	}
	ref, err := exec.Command(openssl, "passwd", "-6", "-salt", hf[2], pw).Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	if strings.TrimSpace(string(ref)) != f[1] {
		t.Errorf("root's hash %q is not openssl's for the password and salt: %q", f[1], ref)
	}
	if len(others) < 10 || !strings.Contains(shadow, "\nnobody:*:") {
		t.Errorf("the other shadow entries were lost:\n%s", shadow)
	}

	if fstab := imageCat(t, img, "/etc/fstab"); !regexp.MustCompile(`(?m)^/dev/ubda\t/\text4\tdefaults\t0 1$`).MatchString(fstab) ||
		strings.Contains(fstab, "UNCONFIGURED") {
		t.Errorf("fstab:\n%s", fstab)
	}
	if h := imageCat(t, img, "/etc/hostname"); h != "deb1\n" {
		t.Errorf("hostname %q", h)
	}
	if h := imageCat(t, img, "/etc/hosts"); !regexp.MustCompile(`(?m)^127\.0\.1\.1\tdeb1$`).MatchString(h) ||
		!regexp.MustCompile(`(?m)^127\.0\.0\.1\s+localhost$`).MatchString(h) || strings.Count(h, "127.0.1.1") != 1 {
		t.Errorf("hosts:\n%s", h)
	}
}

// TestDebianSysvinitBootsToLogin: the debootstrap tree with debianPackages installed
// (sysvTarball), tarred, becomes an ext4 image built by an ordinary user with a hostname
// and a password hash made by openssl; the real linux.uml boots it to a login prompt on its
// console, root logs in with the password, and poweroff ends the kernel; then our linux,
// run by that user, boots the same image the same way with no error line the real kernel
// did not print, root runs a session (users and permissions, sysctl, pidof, df, free,
// mount, dmesg, tmux, and debianPackaging: dpkg, apt and start-stop-daemon), `reboot`
// restarts the machine to a second login (the real kernel re-executes itself; linux boots
// init again in the same process), and Debian's shutdown -h now ends it with status 0. The
// inittab is Debian's with the virtual-terminal gettys commented out and a getty on the
// console.
func TestDebianSysvinitBootsToLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("installs sysvinit-core and boots Debian (1-2 minutes); skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to install sysvinit-core into the tree (chroot)")
	}
	tarred := sysvTarball(t)
	kernel := testenv.Tool(t, "linux.uml")
	openssl := testenv.Tool(t, "openssl")
	user := ordinaryUser(t)
	work := bigTempDir(t)

	const pw = "open sesame"
	hash, err := exec.Command(openssl, "passwd", "-6", pw).Output()
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(work, "deb.img")
	if out, err := mkrootfs(t, user, "-q", "-o", img, "--hostname", "deb2", "--root-password-hash",
		strings.TrimSpace(string(hash)), tarred); err != nil {
		t.Fatalf("mkrootfs as %q: %v\n%s", user, err, out)
	}
	inittab := imageCat(t, img, "/etc/inittab")
	active := activeEntries(inittab)
	if !active[ConsoleGettyLine] || active["1:2345:respawn:/sbin/getty --noclear 38400 tty1"] ||
		!strings.Contains(inittab, "\n#1:2345:respawn:/sbin/getty --noclear 38400 tty1") || !active["id:2:initdefault:"] {
		t.Errorf("inittab:\n%s", inittab)
	}
	if !strings.Contains(imageCat(t, img, "/etc/shadow"), "root:"+strings.TrimSpace(string(hash))+":") {
		t.Errorf("root's hash is not the one given")
	}

	work2 := filepath.Join(work, "run")
	if err := os.Mkdir(work2, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(work2, 0o777); err != nil { // past the umask: the ordinary user's uml_dir
		t.Fatal(err)
	}
	realCon := bootDebian(t, "linux.uml", []string{kernel, "mem=256M", "ubd0=" + img, "root=/dev/ubda", "con0=fd:0,fd:1",
		"con=null", "ssl=null", "uml_dir=" + t.TempDir() + "/", "umid=" + testenv.Umid(t)}, pw, "", false)

	// Our linux, as the ordinary user who made the image, on the same tree: the same boot
	// to the same prompt, no error line the real kernel did not print too, and Debian's
	// own shutdown ends it with status 0.
	ours := testenv.Program(t, "linux")
	argv := []string{ours, "mem=256M", "ubd0=" + img, "con0=fd:0,fd:1", "uml_dir=" + work2 + "/", "umid=" + testenv.Umid(t)}
	if user != "" {
		argv = append([]string{"runuser", "-u", user, "--"}, argv...)
	}
	// After the login, what a user does first on a Debian guest (issue 17), and tmux on the
	// guest's own ptys (issue 16); each marker is typed split ("M""1=") so that the
	// console's echo of the command line never matches.
	session := `useradd -m bob && echo "M""1=useradd"
su bob -c 'cat /etc/shadow' >/dev/null 2>&1 || echo "M""2=shadow-denied"
su bob -c 'ls /root' >/dev/null 2>&1 || echo "M""3=root-denied"
su bob -c 'kill -0 1' 2>/dev/null || echo "M""4=init-denied"
echo 1 > /proc/sys/net/ipv4/ip_forward; echo "M""5=$(cat /proc/sys/net/ipv4/ip_forward)"
pidof login >/dev/null && echo "M""6=pidof"
echo "M""7=$(df / | awk 'NR==2{print $1}')"
echo "M""8=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
echo "M""9=$(mount | grep -c ' on / type ext4 ')"
echo "M""10=$(dmesg | grep -c 'Kernel command line')"
tmux new -d -s x sh; sleep 1; tmux send-keys -t x "echo TM""UX=ok" Enter; sleep 2
echo "M""11=$(tmux capture-pane -p -t x | grep -c '^TMUX=ok')"; tmux kill-server
printf 'Gouml-pw9\nGouml-pw9\n' | passwd bob >/dev/null 2>&1 && grep -q '^bob:[$]' /etc/shadow && echo "M""21=passwd"
echo "M""22=$(su - bob -c 'echo "$(id -un):$(pwd)"')"
sleep 777 & sp=$!; sleep 1; ps aux | grep -q '[s]leep 777' && echo "M""23=ps"; kill $sp
sysctl -w net.ipv4.ip_forward=0 >/dev/null && echo "M""24=$(sysctl -n net.ipv4.ip_forward)"
echo "M""25=$(free -k | awk '/^Mem:/{print $2}')"
` + debianPackaging
	// The session runs from a file: dpkg and apt read what is typed ahead on the console.
	got := bootDebian(t, "linux", argv, pw, "cat > /root/session.sh <<'EOF'\n"+session+"EOF\nsh /root/session.sh", true)
	for _, m := range []string{"M1=useradd", "M2=shadow-denied", "M3=root-denied", "M4=init-denied", "M5=1",
		"M6=pidof", "M7=/dev/root", "M8=262144", "M9=1", "M10=1", "M11=1",
		"M12=built", "M13=dpkg-i", "M14=dpkg-r", "M15=apt", "M16=ssd-start", "M17=/usr/bin/sleep 1000", "M18=ssd-stop",
		"M19=ssd-exec", "M20=rebooted", "M21=passwd", "M22=bob:/home/bob", "M23=ps", "M24=0", "M25=262144"} {
		if !strings.Contains(got, m+"\r\n") && !strings.Contains(got, m+"\n") {
			t.Errorf("the session in our guest did not print %q:\n%s", m, lastLines(got, 40))
		}
	}
	// the boots up to the login prompt (the real kernel has a clock for hwclock at halt)
	boot := func(s string) string { b, _, _ := strings.Cut(s, "deb2 login: "); return b }
	realLines := map[string]bool{}
	for _, l := range strings.Split(boot(realCon), "\n") {
		realLines[strings.TrimSpace(l)] = true
	}
	for _, l := range strings.Split(boot(got), "\n") {
		if l = strings.TrimSpace(l); bootErrorLine.MatchString(l) && !realLines[l] {
			t.Errorf("our boot printed an error line the real kernel's did not: %q", l)
		}
	}
}

// debianPackaging is the part of the Debian session that manages packages and daemons as an
// administrator does: it builds two tiny packages with dpkg-deb (gouml-hello depends on
// gouml-dep), installs and removes one with dpkg, installs the other with apt-get from a
// local file repository (which must pull in its dependency), and starts and stops a daemon
// with start-stop-daemon by pid file and by executable (which find it through /proc/PID/exe
// and /proc/PID/stat). The registry's sources are moved away: the guest has no network.
const debianPackaging = `mkdir -p /tmp/p/hello/DEBIAN /tmp/p/hello/usr/bin /tmp/p/dep/DEBIAN /srv/repo
printf 'Package: gouml-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDepends: gouml-dep\nDescription: test\n' >/tmp/p/hello/DEBIAN/control
printf '#!/bin/sh\necho hello-from-deb\n' >/tmp/p/hello/usr/bin/gouml-hello; chmod 755 /tmp/p/hello/usr/bin/gouml-hello
printf 'Package: gouml-dep\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n' >/tmp/p/dep/DEBIAN/control
dpkg-deb -b --root-owner-group /tmp/p/hello /srv/repo/hello.deb >/dev/null && dpkg-deb -b --root-owner-group /tmp/p/dep /srv/repo/dep.deb >/dev/null && echo "M""12=built"
dpkg -i /srv/repo/dep.deb >/dev/null && dpkg -s gouml-dep | grep -q 'install ok installed' && echo "M""13=dpkg-i"
dpkg -r gouml-dep >/dev/null && ! dpkg -s gouml-dep 2>/dev/null | grep -q 'install ok installed' && echo "M""14=dpkg-r"
cd /srv/repo && for f in *.deb; do dpkg-deb -f $f; echo "Filename: ./$f"; echo "Size: $(stat -c %s $f)"; echo "SHA256: $(sha256sum $f | cut -d' ' -f1)"; echo; done >Packages; cd /
mv /etc/apt/sources.list /etc/apt/sources.list.off; echo 'deb [trusted=yes] file:/srv/repo ./' >/etc/apt/sources.list.d/local.list
apt-get -q update >/dev/null 2>&1 && apt-get -q -y install gouml-hello >/dev/null 2>&1 && [ "$(gouml-hello)" = hello-from-deb ] && dpkg -s gouml-dep | grep -q 'install ok installed' && echo "M""15=apt"
start-stop-daemon --start --background --make-pidfile --pidfile /run/sl.pid --exec /usr/bin/sleep -- 1000 && sleep 1 && start-stop-daemon --status --pidfile /run/sl.pid --exec /usr/bin/sleep && echo "M""16=ssd-start"
echo "M""17=$(tr '\0' ' ' </proc/$(cat /run/sl.pid)/cmdline | sed 's/ $//')"
start-stop-daemon --stop --pidfile /run/sl.pid --exec /usr/bin/sleep --retry 5 && ! start-stop-daemon --status --pidfile /run/sl.pid --exec /usr/bin/sleep && echo "M""18=ssd-stop"
start-stop-daemon --start --background --exec /usr/bin/sleep -- 999 && sleep 1 && start-stop-daemon --stop --exec /usr/bin/sleep --retry 5 >/dev/null && ! pidof sleep >/dev/null && echo "M""19=ssd-exec"
`

// bootErrorLine matches what a sysvinit boot prints when something went wrong.
var bootErrorLine = regexp.MustCompile(`(?i)fail|error|unknown filesystem|not supported|not permitted|cannot|can't|no such`)

// bootDebian boots the image with argv (a kernel's command), logs in as root with pw on the
// console, checks the shell works and types session (its last line ends the command that
// runs it: what is typed ahead of a running command would be its input, and dpkg and apt
// read it), then waits for it to end; then, if reboot, `reboot`, and logs in
// again on the restarted machine (as the real kernel's re-execution of itself does, linux
// restarts init in the same process); then `shutdown -h now`. It returns the console's text
// once the kernel ended with status 0.
func bootDebian(t *testing.T, name string, argv []string, pw, session string, reboot bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	boot := exec.CommandContext(ctx, argv[0], argv[1:]...)
	boot.Dir = "/" // a directory any user of argv may enter
	var con testenv.SafeBuffer
	boot.Stdout, boot.Stderr = &con, &con
	boot.WaitDelay = 5 * time.Second
	in, err := boot.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := boot.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- boot.Wait() }()
	defer func() {
		cancel()
		<-exited
	}()
	// The console is a pipe and a log: wait for the n-th prompt before typing, as a person
	// would.
	step := func(wait string, n int, typ string) {
		t.Helper()
		patience := 4 * time.Minute
		if wait == "SESSION-DONE" {
			patience = 30 * time.Minute // Python's test suites, under a loaded CI
		}
		if !testenv.WaitFor(patience, func() bool { return strings.Count(con.String(), wait) >= n }) {
			t.Fatalf("%s: no %q (%d) on the console after %v:\n%s", name, wait, n, time.Since(start).Round(time.Second), lastLines(con.String(), 40))
		}
		t.Logf("%s: %q (%d) after %v", name, wait, n, time.Since(start).Round(time.Second))
		if _, err := io.WriteString(in, typ); err != nil {
			t.Fatalf("typing: %v", err)
		}
	}
	step("deb2 login: ", 1, "root\n")
	step("Password: ", 1, pw+"\n")
	step("root@deb2:~# ", 1, "echo LOGIN-OK $(id -u)\n")
	if !reboot {
		if session != "" {
			step("LOGIN-OK 0", 1, session+"; echo SESSION-\"\"DONE\n")
			step("SESSION-DONE", 1, "poweroff\n")
		} else {
			step("LOGIN-OK 0", 1, "poweroff\n")
		}
	} else {
		step("LOGIN-OK 0", 1, session+"; echo SESSION-\"\"DONE; reboot\n")
		step("SESSION-DONE", 1, "")
		step("deb2 login: ", 2, "root\n")
		step("Password: ", 2, pw+"\n")
		// typed ahead while login starts the shell, which reads it
		step("ABSOLUTELY NO WARRANTY", 2, "echo M\"\"20=rebooted; echo LOGIN-OK $(id -u)\n")
		step("LOGIN-OK 0", 2, "shutdown -h now\n")
	}
	select {
	case err := <-exited:
		exited <- err
		if !testenv.HaltedCleanly(t, err, con.String()) {
			t.Errorf("%s after the halt: %v\n%s", name, err, lastLines(con.String(), 30))
		}
	case <-time.After(3 * time.Minute):
		t.Errorf("%s: the halt did not end the kernel:\n%s", name, lastLines(con.String(), 30))
	}
	t.Logf("%s: ended after %v", name, time.Since(start).Round(time.Second))
	if strings.Contains(con.String(), "respawning too fast") {
		t.Errorf("%s: init disabled an inittab entry:\n%s", name, con.String())
	}
	return con.String()
}

// debianPackages are what the Debian guest tests install into the debootstrap tree: an init
// that boots to a login, procps (ps, sysctl, free), tmux (the guest's own ptys), and Python
// with its own test suite (TestDebianPythonSuites).
var debianPackages = []string{"sysvinit-core", "procps", "tmux", "python3", "libpython3.11-testsuite"}

// sysvTarball returns a tar of the cached debootstrap tree with debianPackages installed
// (with apt in a chroot, as root, from the configured package registry; the test skips
// without one). It is built once and cached beside the debootstrap tarball (rebuilt when
// that is newer), readable by the ordinary user who makes images of it.
func sysvTarball(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to install packages into the Debian tree (chroot)")
	}
	tarball := debianTarball(t)
	cache := filepath.Join(filepath.Dir(tarball), "bookworm-minbase+"+strings.Join(debianPackages, "+")+".tar")
	if st, err := os.Stat(cache); err == nil {
		if base, err := os.Stat(tarball); err == nil && st.ModTime().After(base.ModTime()) {
			return cache
		}
	}
	t0 := time.Now()
	work := bigTempDir(t)
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("tar", "-C", tree, "--numeric-owner", "--xattrs", "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking: %v\n%s", err, b)
	}
	resolv, err := filepath.EvalSymlinks("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	// chroot, so that sysvinit's postinst sees one (ischroot) and does not ask an init to
	// re-exec (it would wait for it a minute): so the shell, PID 1 of the new PID namespace,
	// stays outside the tree (no exec). The mount namespace keeps the mounts off the host.
	install := `set -e; T=$1; shift
mount -t proc proc "$T/proc"
mount --rbind /dev "$T/dev"
mount -t tmpfs tmpfs "$T/run"
mount --bind "$RESOLV" "$T/etc/resolv.conf"
chroot "$T" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get -q update || exit 3
chroot "$T" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends "$@"
chroot "$T" apt-get clean`
	cmd := exec.Command("timeout", append([]string{"900", "unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
		"sh", "-c", install, "sh", tree}, debianPackages...)...)
	cmd.Env = append(os.Environ(), "RESOLV="+resolv)
	if b, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
			t.Skip("the tree cannot reach the package registry (apt-get update failed):\n" + lastLines(string(b), 5))
		}
		t.Fatalf("installing %v: %v\n%s", debianPackages, err, lastLines(string(b), 20))
	}
	t.Logf("%v installed after %v", debianPackages, time.Since(t0).Round(time.Second))
	tarred := filepath.Join(work, "sysv.tar")
	tarOf(t, tree, tarred)
	if err := os.Chmod(tarred, 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(tree)
	if err := os.Rename(tarred, cache); err != nil {
		t.Logf("not cached (%v): using the tar of this run", err)
		return tarred
	}
	return cache
}
