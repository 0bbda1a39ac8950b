package ext4

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// TestImagesAgainstRealUMLKernel hands an image written by our driver to the real Linux
// kernel (linux.uml, ubdb), which must mount it, read what we wrote and write itself; then
// our driver reads what the kernel wrote. A second boot leaves the kernel's journal dirty
// (no umount) and our replay must match e2fsck's.
func TestImagesAgainstRealUMLKernel(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	img := mkfs(t, "ext4", 64<<20, "")
	fs, dev := mount(t, img, false)
	root := fs.Root()
	want := map[string][]byte{}
	d := mustIno(t)(fs.Mkdir(root, "ours", 0o755, 0, 0))
	for i := 0; i < 50; i++ {
		data := bytes.Repeat([]byte(fmt.Sprintf("line %d\n", i)), i*97)
		writeFile(t, fs, d, fmt.Sprintf("f%d", i), data)
		want[fmt.Sprintf("f%d", i)] = data
	}
	frag := writeFile(t, fs, d, "frag", nil)
	fragData := make([]byte, 2*39*4096+4096)
	for i := 0; i < 40; i++ {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, 4096)
		_, err := fs.WriteAt(frag, b, int64(2*i*4096))
		must(t, err)
		writeFile(t, fs, d, fmt.Sprintf("gap%d", i), []byte("g"))
		want[fmt.Sprintf("gap%d", i)] = []byte("g")
		copy(fragData[2*i*4096:], b)
	}
	want["frag"] = fragData
	mustIno(t)(fs.Symlink(d, "link", "f1", 0, 0))
	must(t, fs.Unmount())
	dev.Close()
	fsckClean(t, img)

	script := `#!/bin/sh
mount -t proc proc /proc
mount -t ext4 /dev/ubdb /mnt || { echo MOUNT-FAILED; /bin/busybox poweroff -f; }
cd /mnt/ours && md5sum * | sed 's/^/SUM /'
echo "LINK $(readlink /mnt/ours/link)"
mkdir /mnt/kernel
seq 1 30000 > /mnt/kernel/seq
echo hello > /mnt/kernel/hello
rm /mnt/ours/f3
mv /mnt/ours/f4 /mnt/kernel/f4
cd /
umount /mnt && echo UMOUNT-OK
/bin/busybox poweroff -f
`
	u := &testenv.UML{Root: testenv.BusyboxRoot(t, map[string]string{"/t.sh": script}), Init: "/t.sh",
		Args: []string{"ubdb=" + img}}
	out := u.Run(t)
	if strings.Contains(out, "MOUNT-FAILED") || !strings.Contains(out, "UMOUNT-OK") {
		t.Fatalf("the kernel could not use our image:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "EXT4-fs") && !strings.Contains(l, "mounted filesystem") && !strings.Contains(l, "unmounting filesystem") {
			t.Fatalf("the kernel complains about our image: %s\n%s", l, out)
		}
	}
	for name, data := range want {
		line := fmt.Sprintf("SUM %x  %s", md5.Sum(data), name)
		if !strings.Contains(out, line) {
			t.Fatalf("kernel's md5sum of %s differs (want %q):\n%s", name, line, out)
		}
	}
	if !strings.Contains(out, "LINK f1") {
		t.Fatalf("kernel reads the symlink differently:\n%s", out)
	}
	fsckClean(t, img)
	var seq bytes.Buffer
	for i := 1; i <= 30000; i++ {
		fmt.Fprintf(&seq, "%d\n", i)
	}
	fs, dev = mount(t, img, true)
	for p, w := range map[string][]byte{"kernel/seq": seq.Bytes(), "kernel/hello": []byte("hello\n"), "kernel/f4": want["f4"], "ours/f5": want["f5"]} {
		ino, err := walkPath(fs, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := readAll(t, fs, ino); !bytes.Equal(got, w) {
			t.Fatalf("%s: we read %d bytes, differing from what the kernel wrote", p, len(got))
		}
	}
	if _, err := walkPath(fs, "ours/f3"); err == nil {
		t.Fatal("ours/f3 removed by the kernel is still there")
	}
	unmount(t, fs, dev)

	// the kernel writes and dies without unmounting: its journal needs recovery
	script2 := `#!/bin/sh
mount -t ext4 -o commit=1 /dev/ubdb /mnt || { echo MOUNT-FAILED; /bin/busybox poweroff -f; }
mkdir /mnt/dirty
for i in 1 2 3 4 5 6 7 8 9 10; do seq $i 5000 > /mnt/dirty/s$i; done
rm /mnt/kernel/hello
sync
echo SYNCED
/bin/busybox poweroff -f
`
	u2 := &testenv.UML{Root: testenv.BusyboxRoot(t, map[string]string{"/t.sh": script2}), Init: "/t.sh",
		Args: []string{"ubdb=" + img}}
	out = u2.Run(t)
	if !strings.Contains(out, "SYNCED") {
		t.Fatalf("second boot:\n%s", out)
	}
	if st := debugfs(t, img, "stats"); !strings.Contains(st, "needs_recovery") {
		t.Skip("the kernel checkpointed its journal before dying; no replay to compare")
	}
	ref := img + ".e2fsck"
	copyFile(t, img, ref)
	if code, o := fsck(t, ref, "-fy"); code > 1 {
		t.Fatalf("e2fsck -fy: %d\n%s", code, o)
	}
	fs, dev = mount(t, img, false)
	for i := 1; i <= 10; i++ {
		ino, err := walkPath(fs, fmt.Sprintf("dirty/s%d", i))
		if err != nil {
			t.Fatalf("dirty/s%d after our replay: %v", i, err)
		}
		var w bytes.Buffer
		for j := i; j <= 5000; j++ {
			fmt.Fprintf(&w, "%d\n", j)
		}
		if got := readAll(t, fs, ino); !bytes.Equal(got, w.Bytes()) {
			t.Fatalf("dirty/s%d differs after our replay", i)
		}
	}
	unmount(t, fs, dev)
	fsckClean(t, img)
	ours := debugfs(t, img, "ls -l /dirty")
	theirs := debugfs(t, ref, "ls -l /dirty")
	if ours != theirs {
		t.Fatalf("after replay, debugfs ls -l /dirty differs:\nours:\n%s\ne2fsck's:\n%s", ours, theirs)
	}
}
