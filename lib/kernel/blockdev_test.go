package kernel_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestBlockDevices: ubdN= images appear as /dev/ubdX block devices (98:unit*16) that the
// guest reads and writes natively, with the block ioctls and /proc/partitions answered; a
// COW device leaves its base untouched and the real uml_moo merges what the guest wrote;
// the r flag makes a device read-only; a missing file is reported and left out.
func TestBlockDevices(t *testing.T) {
	moo := testenv.Tool(t, "uml_moo")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nls -l /dev/ubdb /dev/ubdc | awk '{print $1, $5, $6}'\ncat /proc/partitions\n" +
			"blockdev --getsize64 /dev/ubdb\nblockdev --getss /dev/ubdc\nblockdev --getro /dev/ubdd\n" +
			"echo raw-data | dd of=/dev/ubdb bs=512 seek=3 conv=notrunc 2>/dev/null\n" +
			"dd if=/dev/ubdb bs=512 skip=3 count=1 2>/dev/null | head -c 8; echo\n" +
			"echo cow-data | dd of=/dev/ubdc bs=512 seek=5 conv=notrunc 2>/dev/null\n" +
			"dd if=/dev/ubdc bs=512 skip=7 count=1 2>/dev/null | head -c 9; echo\n" +
			"echo x | dd of=/dev/ubdd 2>/dev/null || echo ro-refused\n" +
			"swapon /dev/ubdb 2>/dev/null || echo no-signature\nmkswap /dev/ubdb >/dev/null && swapon /dev/ubdb && cat /proc/swaps\n" +
			"swapoff /dev/ubdb && wc -l < /proc/swaps\n" +
			"sync\n/bin/busybox poweroff -f\n",
	})
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	base := filepath.Join(dir, "base.img")
	cowf := filepath.Join(dir, "disk.cow")
	ro := filepath.Join(dir, "ro.img")
	os.WriteFile(raw, make([]byte, 4<<20), 0o644)
	baseData := make([]byte, 2<<20)
	copy(baseData[7*512:], "base-data")
	os.WriteFile(base, baseData, 0o644)
	os.WriteFile(ro, make([]byte, 1<<20), 0o644)
	out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "init=/t.sh",
		"ubd1=" + raw, "ubd2=" + cowf + "," + base, "ubd3r=" + ro, "ubd4=" + filepath.Join(dir, "missing.img"), "uml_dir=" + t.TempDir()}}.do(t)
	want := "brw-rw---- 98, 16\nbrw-rw---- 98, 32\n" +
		"major minor  #blocks  name\n\n  98       16       4096 ubdb\n  98       32       2048 ubdc\n  98       48       1024 ubdd\n" +
		"4194304\n512\n1\nraw-data\nbase-data\nro-refused\n" +
		"no-signature\nFilename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" +
		"/dev/ubdb                               partition\t4092\t\t0\t\t-2\n1\n"
	// the COW file's creation is announced on the console first, as UML does
	if status != 0 || !bytes.HasSuffix([]byte(out), []byte(want)) {
		t.Fatalf("status %d\ngot:\n%s\nwant (suffix):\n%s\nstderr:\n%s", status, out, want, errs)
	}
	// a device that cannot be opened is left out, with UML's message, and the machine boots on
	if !bytes.Contains([]byte(out), []byte("Failed to initialize ubd device 4 :Couldn't determine size of device's file\n")) {
		t.Errorf("no message for the missing ubd4 file:\n%s", out)
	}
	img, _ := os.ReadFile(raw)
	if !bytes.Equal(img[4086:4096], []byte("SWAPSPACE2")) {
		t.Errorf("mkswap's signature is not in the raw image")
	}
	if b, _ := os.ReadFile(base); !bytes.Equal(b, baseData) {
		t.Error("the COW device's base changed")
	}
	merged := filepath.Join(dir, "merged.img")
	if b, err := exec.Command(moo, cowf, merged).CombinedOutput(); err != nil {
		t.Fatalf("real uml_moo: %v\n%s", err, b)
	}
	m, _ := os.ReadFile(merged)
	wantM := append([]byte(nil), baseData...)
	copy(wantM[5*512:], "cow-data\n")
	if !bytes.Equal(m, wantM) {
		t.Errorf("real uml_moo's merge of our COW file differs from base + the guest's write")
	}
	if b, _ := os.ReadFile(ro); !bytes.Equal(b, make([]byte, 1<<20)) {
		t.Error("the read-only device was written")
	}
}

// withHostProgram copies a dynamic host program and its libraries (ldd) into a guest root.
func withHostProgram(t *testing.T, root, prog, as string) {
	t.Helper()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(prog, filepath.Join(root, as))
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", prog, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "/") {
				copyFile(f, filepath.Join(root, f))
			}
		}
	}
}

// TestMkfsAndMountInGuest: inside the guest, the real mkfs.ext4 (e2fsprogs, a dynamic
// program run with the guest's own ld.so) makes a file system on /dev/ubdb, mount puts it
// on /mnt, files written there survive umount and a remount, /proc/mounts shows it, and
// the host's e2fsck accepts the image afterwards and debugfs sees the files.
func TestMkfsAndMountInGuest(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	e2fsck := testenv.Tool(t, "e2fsck")
	debugfs := testenv.Tool(t, "debugfs")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmkdir -p /mnt /etc\n: > /etc/mtab\n" +
			"/sbin/mkfs.ext4 -q -F /dev/ubdb && echo mkfs-ok\n" +
			"mount /dev/ubdb /mnt && echo mount-ok\ngrep ubdb /proc/mounts\n" +
			"mkdir /mnt/dir && echo inside > /mnt/dir/file && ln -s dir/file /mnt/link\n" +
			"ln /mnt/dir/file /tmp/x 2>/dev/null || echo cross-device-refused\n" +
			"umount /mnt && echo umount-ok\n[ -e /mnt/dir ] || echo gone-after-umount\n" +
			"mount -t ext4 -o ro /dev/ubdb /mnt && cat /mnt/link\n" +
			"touch /mnt/ro-file 2>/dev/null || echo read-only\ngrep ubdb /proc/mounts\n" +
			"mount -o remount,rw /mnt && echo rw-again > /mnt/rw-file && grep ubdb /proc/mounts\n" +
			"sync\n/bin/busybox poweroff -f\n",
	})
	withHostProgram(t, root, mkfs, "/sbin/mkfs.ext4")
	img := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 64<<20)
	out, errs, status := run{timeout: 2 * time.Minute, args: []string{"ubd0=" + root, "rw", "init=/t.sh",
		"ubd1=" + img, "uml_dir=" + t.TempDir()}}.do(t)
	want := "mkfs-ok\nmount-ok\n/dev/ubdb /mnt ext4 rw,relatime 0 0\ncross-device-refused\numount-ok\ngone-after-umount\ninside\n" +
		"read-only\n/dev/ubdb /mnt ext4 ro,relatime 0 0\n/dev/ubdb /mnt ext4 rw,relatime 0 0\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
	if b, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, b)
	}
	if b, _ := exec.Command(debugfs, "-R", "cat /dir/file", img).Output(); string(b) != "inside\n" {
		t.Errorf("debugfs cat /dir/file: %q", b)
	}
	if b, _ := exec.Command(debugfs, "-R", "cat /rw-file", img).Output(); string(b) != "rw-again\n" {
		t.Errorf("debugfs cat /rw-file (written after remount,rw): %q", b)
	}
}

// TestPartitionsInGuest: a disk partitioned with sfdisk on the host shows /dev/ubdb1 and
// /dev/ubdb2 in the guest; busybox mke2fs makes a file system on the first, which mount
// and umount use; data written to the second with dd lands at the partition's offset.
func TestPartitionsInGuest(t *testing.T) {
	sfdisk := testenv.Tool(t, "sfdisk")
	e2fsck := testenv.Tool(t, "e2fsck")
	debugfs := testenv.Tool(t, "debugfs")
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmkdir -p /mnt\nls -l /dev/ubdb1 /dev/ubdb2 | awk '{print $1, $5, $6}'\n" +
			"grep ubdb /proc/partitions | awk '{print $1, $2, $3, $4}'\nblockdev --getsize64 /dev/ubdb2\n" +
			"mke2fs /dev/ubdb1 >/dev/null && mount /dev/ubdb1 /mnt && echo in-part1 > /mnt/f && umount /mnt && echo part1-ok\n" +
			"echo part2-data | dd of=/dev/ubdb2 bs=512 seek=1 conv=notrunc 2>/dev/null\nsync\n/bin/busybox poweroff -f\n",
	})
	img := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 32<<20)
	cmd := exec.Command(sfdisk, "-q", img)
	cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=40960, type=83\nstart=43008, size=16384, type=83\n")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, b)
	}
	out, errs, status := run{timeout: 2 * time.Minute, args: []string{"ubd0=" + root, "rw", "init=/t.sh",
		"ubd1=" + img, "uml_dir=" + t.TempDir()}}.do(t)
	want := "brw-rw---- 98, 17\nbrw-rw---- 98, 18\n98 16 32768 ubdb\n98 17 20480 ubdb1\n98 18 8192 ubdb2\n8388608\npart1-ok\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
	data, _ := os.ReadFile(img)
	if got := data[43008*512+512 : 43008*512+512+11]; string(got) != "part2-data\n" {
		t.Errorf("partition 2 at sector 1: %q", got)
	}
	part1 := filepath.Join(t.TempDir(), "part1.img")
	os.WriteFile(part1, data[2048*512:(2048+40960)*512], 0o644)
	if b, err := exec.Command(e2fsck, "-fn", part1).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn of partition 1: %v\n%s", err, b)
	}
	if b, _ := exec.Command(debugfs, "-R", "cat /f", part1).Output(); string(b) != "in-part1\n" {
		t.Errorf("debugfs cat /f on partition 1: %q", b)
	}
}
