package kernel_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestImageRootCOW: `linux ubd0=cow,base.img root=/dev/ubda` boots a busybox image made by
// mkfs.ext4 -d, creates and removes 10 000 files and writes a 1 GiB file, halts; the base is
// unchanged, the real uml_moo's merge of our COW file passes e2fsck -fn and holds what the
// guest made, and the real linux.uml boots our COW file and sees the same files.
func TestImageRootCOW(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	e2fsck := testenv.Tool(t, "e2fsck")
	debugfs := testenv.Tool(t, "debugfs")
	moo := testenv.Tool(t, "uml_moo")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmkdir /many /gone\n" +
			"i=0; while [ $i -lt 10000 ]; do : > /many/f$i; : > /gone/g$i; i=$((i+1)); done\n" +
			"rm -r /gone\ndd if=/dev/zero of=/big bs=1M count=1024 2>/dev/null\necho tail >> /big\n" +
			"echo guest-wrote-this > /note\nls /many | wc -l\nsync\n" +
			"printf '#!/bin/sh\\nls /many | wc -l\\nwc -c < /big\\ncat /note\\n[ -e /gone ] || echo no-gone\\n/bin/busybox poweroff -f\\n' > /check.sh\n" +
			"chmod +x /check.sh\n/bin/busybox poweroff -f\n",
	})
	dir := t.TempDir()
	base := filepath.Join(dir, "base.img")
	if b, err := exec.Command(mkfs, "-q", "-N", "30000", "-d", root, base, "2G").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, b)
	}
	before := fileSum(t, base)
	cowf := filepath.Join(dir, "root.cow")
	out, errs, status := run{timeout: 10 * time.Minute, args: []string{"ubd0=" + cowf + "," + base, "root=/dev/ubda", "rw",
		"init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 || !strings.Contains(out, "10000\n") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	if fileSum(t, base) != before {
		t.Error("the base image changed")
	}
	merged := filepath.Join(dir, "merged.img")
	if b, err := exec.Command(moo, cowf, merged).CombinedOutput(); err != nil {
		t.Fatalf("real uml_moo: %v\n%s", err, b)
	}
	if b, err := exec.Command(e2fsck, "-fn", merged).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn of the merged image: %v\n%s", err, b)
	}
	b, _ := exec.Command(debugfs, "-R", "cat /note", merged).Output()
	if string(b) != "guest-wrote-this\n" {
		t.Errorf("debugfs cat /note: %q", b)
	}
	b, _ = exec.Command(debugfs, "-R", "stat /big", merged).Output()
	if !bytes.Contains(b, []byte("Size: 1073741829")) {
		t.Errorf("debugfs stat /big:\n%s", b)
	}
	os.Remove(merged)

	// the real kernel on our COW file
	out2 := (&testenv.UML{Root: t.TempDir(), Init: "/check.sh", Timeout: 5 * time.Minute,
		Args: []string{"ubd0=" + cowf + "," + base, "root=/dev/ubda", "rootfstype=ext4"}}).Run(t)
	for _, want := range []string{"10000\n", "1073741829\n", "guest-wrote-this\n", "no-gone\n"} {
		if !strings.Contains(strings.ReplaceAll(out2, "\r\n", "\n"), want) {
			t.Errorf("the real linux.uml on our COW file: no %q in\n%s", want, out2)
		}
	}
}

// TestImageRootKill9: linux is killed with SIGKILL at random moments while the guest writes
// files into an image root and fsyncs each one; after every kill e2fsck repairs the image
// and every file whose fsync returned (the guest said so on the console) is intact.
func TestImageRootKill9(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	e2fsck := testenv.Tool(t, "e2fsck")
	debugfs := testenv.Tool(t, "debugfs")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmkdir -p /w\ni=0\nwhile :; do\n" +
			"  head -c $((4096 + i * 517)) /dev/urandom > /w/tmp; n=$(md5sum < /w/tmp | cut -d' ' -f1)\n" +
			"  dd if=/w/tmp of=/w/f$i conv=fsync 2>/dev/null && echo \"synced f$i $n\"\n  i=$((i+1))\ndone\n",
	})
	img := filepath.Join(t.TempDir(), "root.img")
	if b, err := exec.Command(mkfs, "-q", "-d", root, img, "256M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, b)
	}
	bin := testenv.Program(t, "linux")
	umlDir := t.TempDir()
	checked := 0
	for round := 0; round < 20; round++ {
		cmd := exec.Command(bin, "ubd0="+img, "rw", "init=/t.sh", "uml_dir="+umlDir)
		var out testenv.SafeBuffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// let it get going, then kill it at a moment that differs from round to round
		testenv.WaitFor(30*time.Second, func() bool { return strings.Count(out.String(), "synced") >= 2 })
		time.Sleep(time.Duration(round*37%300) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if b, err := exec.Command(e2fsck, "-fy", img).CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
				t.Fatalf("round %d: e2fsck -fy could not repair the image: %v\n%s", round, err, b)
			}
		}
		for _, l := range strings.Split(strings.ReplaceAll(out.String(), "\r\n", "\n"), "\n") {
			f := strings.Fields(l)
			if len(f) != 3 || f[0] != "synced" {
				continue
			}
			data, _ := exec.Command(debugfs, "-R", "cat /w/"+f[1], img).Output()
			if got := md5hex(data); got != f[2] {
				t.Fatalf("round %d: /w/%s was fsynced but reads back with md5 %s, want %s (%d bytes)", round, f[1], got, f[2], len(data))
			}
			checked++
		}
	}
	if b, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn at the end: %v\n%s", err, b)
	}
	if checked < 40 {
		t.Fatalf("only %d fsynced files were checked", checked)
	}
	t.Logf("%d fsynced files intact over 20 kills", checked)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestImageRootMountTable: an image root is in the mount table by its ext kind (as Linux
// shows it, and df and Debian's checkroot read it), and the remounts of Debian's boot
// (mount-functions.sh: the kernel's file systems with their fstab options) succeed.
func TestImageRootMountTable(t *testing.T) {
	script := "#!/bin/sh\ngrep ' / ' /proc/mounts\ngrep ' / / ' /proc/self/mountinfo | cut -d' ' -f7-\n" +
		"mount -o remount -o nodev,noexec,nosuid -o defaults /proc && echo proc=remounted\n" +
		"mount -o remount -o nodev,noexec,nosuid /sys && echo sys=remounted\n" +
		"mount -o remount,noexec,nosuid,gid=5,mode=620 /dev/pts && grep -c 'gid=5,mode=620' /proc/mounts\n" +
		"stat -c '%n %h %t:%T %A %u:%g' /dev/ubda\n" +
		"/bin/busybox poweroff -f\n"
	for _, kind := range []string{"ext2", "ext3", "ext4"} {
		t.Run(kind, func(t *testing.T) {
			mkfs := testenv.Tool(t, "mkfs."+kind)
			root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": script})
			img := filepath.Join(t.TempDir(), "root.img")
			if b, err := exec.Command(mkfs, "-q", "-d", root, img, "64M").CombinedOutput(); err != nil {
				t.Fatalf("mkfs: %v\n%s", err, b)
			}
			out, errs, status := run{args: []string{"ubd0=" + img, "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
			want := "/dev/root / " + kind + " ro,relatime 0 0\n- " + kind + " /dev/root ro\n" +
				"proc=remounted\nsys=remounted\n1\n/dev/ubda 1 62:0 brw-rw---- 0:6\n"
			if status != 0 || out != want {
				t.Errorf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
			}
		})
	}
}

// TestImageRootFsck: Debian's checkroot.sh in small. The guest opens its own root device,
// which reads while the root is read-write and refuses writers (the kernel's driver has
// the image); remounted read-only, the image is clean and e2fsck -p of /dev/ubda passes;
// read-write again, the guest's writes reach the image, which e2fsck on the host finds
// clean after the machine stops. Files of the root show the device's number as st_dev,
// and the mounted root is found by libmount's way (stat of / against /sys/dev/block).
func TestImageRootFsck(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	e2fsck := testenv.Tool(t, "e2fsck")
	debugfs := testenv.Tool(t, "debugfs")
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\n" +
		"mount -t sysfs sysfs /sys\n" +
		"grep -c ' ubda$' /proc/partitions\n" +
		"readlink /sys/dev/block/$(stat -c '%t:%T' /dev/ubda | sed 's/^62:/98:/')\n" +
		"stat -c 'root-dev=%D' /\n" +
		"dd if=/dev/ubda bs=1024 skip=1 count=1 2>/dev/null | od -A n -t x1 -j 56 -N 2\n" +
		"{ echo x > /dev/ubda; } 2>/dev/null || echo write-while-rw=refused\n" +
		"mount -o remount,ro / && " + e2fsck + " -p /dev/ubda; echo fsck=$?\n" +
		"mount -o remount,rw / && echo after-fsck > /note && sync && cat /note\n" +
		"/bin/busybox poweroff -f\n"})
	if !copyHostDynamic(t, root, e2fsck) {
		t.Skip("no " + e2fsck + " to copy into the guest")
	}
	img := filepath.Join(t.TempDir(), "root.img")
	if b, err := exec.Command(mkfs, "-q", "-d", root, img, "128M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v\n%s", err, b)
	}
	out, errs, status := run{args: []string{"ubd0=" + img, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := "1\n../../devices/platform/uml-blkdev.0/block/ubda\nroot-dev=6200\n 53 ef\n" +
		"write-while-rw=refused\n/dev/ubda: clean, \nfsck=0\nafter-fsck\n"
	got := strings.ReplaceAll(out, "\r", "")
	if i := strings.Index(got, "/dev/ubda: clean, "); i >= 0 {
		if j := strings.IndexByte(got[i:], '\n'); j > 0 {
			got = got[:i+len("/dev/ubda: clean, ")] + got[i+j:] // e2fsck's counts depend on mkfs
		}
	}
	if status != 0 || !strings.HasSuffix(got, want) {
		t.Errorf("status %d\ngot:\n%s\nwant (at the end):\n%s\nstderr:\n%s", status, out, want, errs)
	}
	if b, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
		t.Errorf("e2fsck of the image after the run: %v\n%s", err, b)
	}
	if b, _ := exec.Command(debugfs, "-R", "cat /note", img).Output(); string(b) != "after-fsck\n" {
		t.Errorf("/note in the image: %q", b)
	}
}
