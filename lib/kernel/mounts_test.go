package kernel_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// mountScript mounts tmpfs and hostfs file systems the way Debian's init scripts and
// Netkit's labs do, and prints what Linux would.
const mountScript = `#!/bin/sh
mkdir -p /mnt/t /mnt/h /mnt/s /mnt/x
mount -t tmpfs -o size=1m,mode=0750 tmpfs /mnt/t && echo tmpfs=mounted
grep ' /mnt/t ' /proc/mounts
stat -c 'mode=%a' /mnt/t
echo hello > /mnt/t/f && cat /mnt/t/f
dd if=/dev/zero of=/mnt/t/big bs=64k count=32 2>/dev/null || echo tmpfs=full
ln -s /etc/hostname /mnt/t/abs
cat /mnt/t/abs
ln -s /mnt/t/f /tlink
cat /tlink
cd /mnt/t && umount /mnt/t 2>/dev/null || echo umount=busy
cd /
umount /mnt/t && echo umount=ok
ls -A /mnt/t | wc -l
mount -t tmpfs tmpfs /mnt/t && ls -A /mnt/t | wc -l && umount /mnt/t
mount -t hostfs none /mnt/h -o "$hostlab" && echo hostfs=mounted
grep ' /mnt/h ' /proc/mounts | sed "s#$hostlab#LAB#"
cat /mnt/h/lab.txt
stat -c 'owner=%u' /mnt/h/lab.txt
chown 0 /mnt/h/lab.txt 2>/dev/null || echo chown=EPERM
echo guest > /mnt/h/new.txt
cat /mnt/h/esc/hostname
cat /mnt/h/up/secret.txt 2>/dev/null || echo up=ENOENT
mount -t hostfs none /mnt/s -o "$hostlab/sub" && cat /mnt/s/s.txt
ls /mnt/s/.. | grep -c '^[hstx]$'
cat /mnt/s/../h/lab.txt
mount -t hostfs none /mnt/x -o /etc 2>/dev/null || echo etc=EACCES
mount -t hostfs none /mnt/x -o "$hostlab/../secret" 2>/dev/null || echo dotdot=EACCES
mount --bind /mnt/h /mnt/x && cat /mnt/x/lab.txt
cat /mnt/x/up/secret.txt 2>/dev/null || echo bindup=ENOENT
umount /mnt/x
{ echo pwned > /mnt/h/up/../../pwned; echo pwned > /mnt/s/../../pwned2; } 2>/dev/null
cat /pwned /pwned2
ln -s /etc/hostname /mnt/h/lnk && cat /mnt/h/lnk
mount -o remount,ro /mnt/h && { { echo no > /mnt/h/ro.txt; } 2>/dev/null || echo ro=EROFS; }
umount /mnt/s && umount /mnt/h && echo hostfs=unmounted
/bin/busybox poweroff -f
`

// TestTmpfsAndHostfsMounts: tmpfs mounts honour size= and start empty; hostfs mounts reach
// the directories the command line names and nothing beside or above them, show host
// owners, and follow symlinks as Linux does (an absolute one from the guest's root).
func TestTmpfsAndHostfsMounts(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	if err := os.Rename(testenv.BusyboxRoot(t, map[string]string{"/t.sh": mountScript, "/etc/hostname": "guesthost\n"}), root); err != nil {
		t.Fatal(err)
	}
	lab := filepath.Join(dir, "lab")
	os.MkdirAll(filepath.Join(lab, "sub"), 0o755)
	os.WriteFile(filepath.Join(lab, "lab.txt"), []byte("lab file\n"), 0o644)
	os.WriteFile(filepath.Join(lab, "sub", "s.txt"), []byte("sub file\n"), 0o644)
	os.Symlink("/etc", filepath.Join(lab, "esc"))
	os.Symlink("../..", filepath.Join(lab, "up"))
	os.Mkdir(filepath.Join(dir, "secret"), 0o755)
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("SECRET\n"), 0o644)
	r := run{args: []string{"ubd0=" + root, "rw", "mem=64M", "init=/t.sh", "hostlab=" + lab}}
	// hostfs shows the host owner: the user running linux
	owner := strconv.Itoa(os.Geteuid())
	if os.Geteuid() == 0 {
		r.args = append(r.args, "uml_dir="+unprivileged(t, root))
		unprivileged(t, lab)
		r.asUser = true
		u, err := user.Lookup(testUser)
		if err != nil {
			t.Fatal(err)
		}
		owner = u.Uid
	} else {
		r.args = append(r.args, "uml_dir="+t.TempDir())
	}
	out, errs, status := r.do(t)
	want := []string{
		"tmpfs=mounted", "tmpfs /mnt/t tmpfs rw,relatime,size=1024k,mode=750 0 0", "mode=750", "hello",
		"tmpfs=full", "guesthost", "hello", "umount=busy", "umount=ok", "0", "0",
		"hostfs=mounted", "none /mnt/h hostfs rw,relatime,LAB 0 0", "lab file", "owner=" + owner,
		"chown=EPERM", "guesthost", "up=ENOENT", "sub file", "4", "lab file", "etc=EACCES", "dotdot=EACCES",
		"lab file", "bindup=ENOENT", "pwned", "pwned", "guesthost", "ro=EROFS", "hostfs=unmounted",
	}
	if status != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
	if b, err := os.ReadFile(filepath.Join(lab, "new.txt")); err != nil || string(b) != "guest\n" {
		t.Errorf("a file the guest wrote on hostfs: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(lab, "ro.txt")); err == nil {
		t.Error("a read-only hostfs mount was written")
	}
	// nothing beside or above the lab directory changed: the decoys and the listing
	if b, err := os.ReadFile(filepath.Join(dir, "secret.txt")); err != nil || string(b) != "SECRET\n" {
		t.Errorf("decoy secret.txt: %q, %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "lab root secret secret.txt uml" && got != "lab root secret secret.txt" {
		t.Errorf("beside the lab directory: %s", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "secret")); len(ents) != 0 {
		t.Errorf("the decoy directory beside the lab got %d entries", len(ents))
	}
}

// bindScript exercises bind mounts inside the guest: of a directory of the root, of a tmpfs
// mount, read-only remounts of the bind alone, umount's EBUSY while a bind shows a mount,
// and what /proc/mounts and mountinfo show.
const bindScript = `#!/bin/sh
mkdir -p /tmp/src/sub /mnt/b /mnt/c /mnt/t
echo hello > /tmp/src/f
mount --bind /tmp/src /mnt/b && echo bind=ok
cat /mnt/b/f
echo new > /mnt/b/g && cat /tmp/src/g
grep ' /mnt/b ' /proc/mounts
grep ' /mnt/b ' /proc/self/mountinfo | cut -d' ' -f4-
mount -o remount,bind,ro /mnt/b && echo remount=ro
{ echo x > /mnt/b/h; } 2>/dev/null || echo write=EROFS
echo y > /tmp/src/h && echo source=rw
cd /mnt/b/sub && pwd && cd /
mount -t tmpfs tmpfs /mnt/t && echo tt > /mnt/t/tf && mount --bind /mnt/t /mnt/c && cat /mnt/c/tf
umount /mnt/t 2>/dev/null || echo umount-bound=EBUSY
umount /mnt/c && umount /mnt/t && echo unmounted=both
umount /mnt/b && ls /mnt/b | wc -l
mount --bind /proc /mnt/b 2>/dev/null || echo bind-proc=EINVAL
mount --bind /nonexistent /mnt/b 2>/dev/null || echo bind-missing=ENOENT
/bin/busybox poweroff -f
`

// TestBindMounts: mount --bind inside the guest.
func TestBindMounts(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": bindScript})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := []string{"bind=ok", "hello", "new",
		"/dev/root /mnt/b hostfs rw,relatime 0 0",
		"/tmp/src /mnt/b rw,relatime - hostfs /dev/root rw",
		"remount=ro", "write=EROFS", "source=rw", "/mnt/b/sub", "tt", "umount-bound=EBUSY", "unmounted=both",
		"0", "bind-proc=EINVAL", "bind-missing=ENOENT"}
	if status != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
}

// mqueueScript uses the guest's mqueue file system: queues made with mq_open listed and read
// as files, a file created there is a queue, rm unlinks one, and it mounts on /dev/mqueue
// only.
const mqueueScript = `#!/bin/sh
mkdir -p /dev/mqueue
mount -t mqueue mqueue /dev/mqueue && echo mqueue=mounted
grep mqueue /proc/mounts
mq make /q1 && ls /dev/mqueue
cat /dev/mqueue/q1
touch /dev/mqueue/q2 && mq has /q2
stat -c '%F %a' /dev/mqueue/q1
rm /dev/mqueue/q1 && mq has /q1
ls /dev/mqueue
mkdir /dev/mqueue/d 2>/dev/null || echo mkdir=refused
umount /dev/mqueue && echo unmounted
ls /dev/mqueue | wc -l
mount -t mqueue mqueue /mnt 2>/dev/null || echo elsewhere=ENODEV
/bin/busybox poweroff -f
`

// TestMqueueMount: the guest's POSIX message queues as the mqueue file system shows them.
func TestMqueueMount(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": mqueueScript})
	buildStatic(t, "testdata/mqueue/mq.c", filepath.Join(root, "bin/mq"))
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := []string{"mqueue=mounted", "mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime 0 0", "q1",
		"QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     ", "/q2: present", "regular file 600",
		"/q1: absent", "q2", "mkdir=refused", "unmounted", "0", "elsewhere=ENODEV"}
	if status != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
}

// kernelFSScript mounts and unmounts the kernel's own file systems: they are entries of
// the one table (/proc/mounts and mountinfo agree, in mount order), /dev is busy while
// devpts is mounted below it, an unmounted /sys, /dev/pts or /proc shows the root's own
// directory (the busybox root has no /dev/pts: it is made to mount devpts again) until it
// is mounted again, with the flags of that mount or of a remount, and procfs mounted at
// another directory shows the same files there.
const kernelFSScript = `#!/bin/sh
cut -d' ' -f1-4 /proc/mounts
cut -d' ' -f1,2,5,6,8- /proc/self/mountinfo
umount /dev 2>/dev/null || echo umount-dev=EBUSY
umount /sys && echo sys=unmounted
ls /sys | wc -l
grep -c ' /sys ' /proc/mounts
mount -t sysfs sysfs /sys && ls -d /sys/class/net && echo sys=back
mount -o remount,nosuid,nodev /sys && grep ' /sys ' /proc/mounts
umount /dev/pts && echo pts=unmounted
ls /dev/pts 2>/dev/null | wc -l
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts && ls /dev/pts/ptmx && echo pts=back
mkdir -p /srv/c/proc
mount -t proc proc /srv/c/proc && cat /srv/c/proc/sys/kernel/ostype
grep ' /srv/c/proc ' /proc/mounts
umount /srv/c/proc && ls /srv/c/proc | wc -l
umount /proc && echo proc=unmounted
ls /proc | wc -l
cat /proc/self/status 2>/dev/null || echo self=ENOENT
mount -t proc proc /proc && grep -c '^Pid:' /proc/self/status
tail -n 1 /proc/mounts | cut -d' ' -f1-4
/bin/busybox poweroff -f
`

// TestKernelFSMounts: the kernel's file systems in the mount table (kernelfs.go).
func TestKernelFSMounts(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": kernelFSScript})
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := []string{
		"/dev/root / hostfs rw,relatime",
		"proc /proc proc rw,nosuid,nodev,noexec,relatime",
		"devtmpfs /dev devtmpfs rw,relatime",
		"devpts /dev/pts devpts rw,nosuid,noexec,relatime,mode=600,ptmxmode=000",
		"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime",
		"1 0 / rw,relatime hostfs /dev/root rw",
		"2 1 /proc rw,nosuid,nodev,noexec,relatime proc proc rw",
		"3 1 /dev rw,relatime devtmpfs devtmpfs rw",
		"4 3 /dev/pts rw,nosuid,noexec,relatime devpts devpts rw,mode=600,ptmxmode=000",
		"5 1 /sys rw,nosuid,nodev,noexec,relatime sysfs sysfs rw",
		"umount-dev=EBUSY", "sys=unmounted", "0", "0", "/sys/class/net", "sys=back", "sysfs /sys sysfs rw,nosuid,nodev,relatime 0 0",
		"pts=unmounted", "0", "/dev/pts/ptmx", "pts=back",
		"Linux", "proc /srv/c/proc proc rw,relatime 0 0", "0",
		"proc=unmounted", "0", "self=ENOENT", "1", "proc /proc proc rw,relatime",
	}
	if status != 0 || strings.TrimRight(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, strings.Join(want, "\n"), errs)
	}
}
