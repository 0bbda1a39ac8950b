package shadow

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// describe lists a directory tree as the guest sees it (lib/hostmeta), one line per name:
// type and mode, owner, size, device, link target, a digest of the data, and which names
// share an inode.
func describe(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	inodes := map[uint64]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return nil
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		g := st
		hostmeta.Apply(p, &g, uint32(os.Getuid()), uint32(os.Getgid()))
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			hostmeta.ApplyLink(filepath.Dir(p), filepath.Base(p), &g, uint32(os.Getuid()), uint32(os.Getgid()))
		}
		rel, _ := filepath.Rel(dir, p)
		l := fmt.Sprintf("%s %o %d:%d", rel, g.Mode, g.Uid, g.Gid)
		switch g.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			l += fmt.Sprintf(" size=%d sum=%x", len(b), sum(b))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					l += " link=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			l += " -> " + target
		case unix.S_IFCHR, unix.S_IFBLK:
			l += fmt.Sprintf(" dev=%d,%d", unix.Major(g.Rdev), unix.Minor(g.Rdev))
		}
		lines = append(lines, l)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func sum(b []byte) uint64 {
	var h uint64 = 1469598103934665603
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

func mount(t *testing.T, img string) (*ext4.FS, *ext4.FileDevice) {
	t.Helper()
	dev, err := ext4.OpenFile(img, false)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := ext4.Mount(dev, ext4.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs, dev
}

// TestUnpackAndWriteBack: an image made by mkfs.ext4 -d unpacks to the same tree; changes of
// every kind made in the directory come back into the image, which e2fsck accepts and which
// unpacks again to exactly the changed tree.
func TestUnpackAndWriteBack(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	e2fsck := testenv.Tool(t, "e2fsck")
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the source tree owners and device nodes")
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "etc/sub"), 0o755)
	os.WriteFile(filepath.Join(src, "etc/passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(src, "etc/sub/big"), bytes.Repeat([]byte("data"), 300000), 0o600)
	os.Chown(filepath.Join(src, "etc/sub/big"), 1000, 100)
	os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/sh\n"), 0o755)
	unix.Chmod(filepath.Join(src, "suid"), 0o4755)
	os.Symlink("etc/passwd", filepath.Join(src, "link"))
	// links of other owners (mkfs.ext4 -d makes a hard link of a link two links)
	os.Symlink("etc/passwd", filepath.Join(src, "etc/ownedlink"))
	os.Lchown(filepath.Join(src, "etc/ownedlink"), 1000, 100)
	os.Symlink("passwd", filepath.Join(src, "etc/hardlinked"))
	os.Lchown(filepath.Join(src, "etc/hardlinked"), 7, 8)
	os.Link(filepath.Join(src, "etc/hardlinked"), filepath.Join(src, "hardlinked2"))
	os.Symlink("etc", filepath.Join(src, "movinglink"))
	os.Lchown(filepath.Join(src, "movinglink"), 3, 4)
	os.Link(filepath.Join(src, "etc/passwd"), filepath.Join(src, "hard"))
	unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	unix.Mkfifo(filepath.Join(src, "fifo"), 0o644)
	f, _ := os.Create(filepath.Join(src, "sparse"))
	f.WriteAt([]byte("end"), 50<<20)
	f.Close()
	img := filepath.Join(t.TempDir(), "fs.img")
	if b, err := exec.Command(mkfs, "-q", "-F", "-d", src, img, "256M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, b)
	}

	fs, dev := mount(t, img)
	dir := t.TempDir()
	if _, err := Unpack(fs, filepath.Join(dir, "r")); err == nil {
		t.Fatal("Unpack into a missing directory must fail")
	}
	os.Mkdir(filepath.Join(dir, "r"), 0o755)
	tree, err := Unpack(fs, filepath.Join(dir, "r"))
	if err != nil {
		t.Fatal(err)
	}
	r := tree.Dir
	want := describe(t, src)
	if !strings.Contains(want, "etc/ownedlink 120777 1000:100 ") || !strings.Contains(want, "hardlinked2 120777 7:8 ") {
		t.Fatalf("the source tree's link owners:\n%s", want)
	}
	got := describe(t, r)
	// mkfs -d adds lost+found
	got = strings.Join(filterOut(strings.Split(got, "\n"), "lost+found"), "\n")
	if got != want {
		t.Fatalf("unpacked tree differs:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(filepath.Join(r, "suid")); st.Mode()&os.ModeSetuid != 0 {
		t.Error("a setuid host file was made")
	}

	// every kind of change
	os.WriteFile(filepath.Join(r, "etc/passwd"), []byte("changed\n"), 0o644)    // data (shared by "hard")
	os.Rename(filepath.Join(r, "etc/sub/big"), filepath.Join(r, "moved"))       // rename across dirs
	os.RemoveAll(filepath.Join(r, "etc/sub"))                                   // rmdir
	os.Remove(filepath.Join(r, "link"))                                         // unlink
	os.Symlink("/elsewhere", filepath.Join(r, "link"))                          // new target
	os.MkdirAll(filepath.Join(r, "new/deep"), 0o750)                            // new dirs
	os.WriteFile(filepath.Join(r, "new/deep/file"), []byte("new file"), 0o640)  // new file
	os.Link(filepath.Join(r, "new/deep/file"), filepath.Join(r, "new/hardnew")) // new hard link
	hostmeta.SetOwner(filepath.Join(r, "new/deep/file"), 1234, 5678)            // chown
	hostmeta.SetLinkOwner(filepath.Join(r, "etc"), "ownedlink", 5, 6)           // lchown
	os.Rename(filepath.Join(r, "movinglink"), filepath.Join(r, "new/moved"))    // a link moved
	hostmeta.SetLinkOwner(filepath.Join(r, "new"), "moved", 3, 4)               // with its owner
	hostmeta.RemoveLinkOwner(r, "movinglink")
	os.Symlink("x", filepath.Join(r, "new/userlink"))                        // a new link
	hostmeta.SetLinkOwner(filepath.Join(r, "new"), "userlink", 1000, 1000)   // of a user
	os.Link(filepath.Join(r, "new/userlink"), filepath.Join(r, "userlink2")) // its hard link
	hostmeta.SetLinkOwner(r, "userlink2", 1000, 1000)
	os.Chmod(filepath.Join(r, "fifo"), 0o600)          // chmod
	os.WriteFile(filepath.Join(r, "null"), nil, 0o600) // still a device
	for i := 0; i < 300; i++ {                         // many files
		os.WriteFile(filepath.Join(r, "new", fmt.Sprintf("f%03d", i)), []byte{byte(i)}, 0o644)
	}
	g, _ := os.OpenFile(filepath.Join(r, "sparse"), os.O_WRONLY, 0)
	g.WriteAt([]byte("middle"), 10<<20)
	g.Close()
	if err := tree.WriteBack(); err != nil {
		t.Fatal(err)
	}
	// a second write-back with nothing changed changes nothing
	if err := tree.WriteBack(); err != nil {
		t.Fatal(err)
	}
	changed := strings.Join(filterOut(strings.Split(describe(t, r), "\n"), "lost+found"), "\n")
	if !strings.Contains(changed, "suid 104755 ") {
		t.Errorf("the setuid bit did not survive:\n%s", changed)
	}
	for _, l := range []string{"etc/ownedlink 120777 5:6 ", "new/moved 120777 3:4 ", "new/userlink 120777 1000:1000 ", "hardlinked2 120777 7:8 "} {
		if !strings.Contains(changed, l) {
			t.Errorf("no %q after the changes:\n%s", l, changed)
		}
	}
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	dev.Close()
	if b, err := exec.Command(e2fsck, "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck after write-back: %v\n%s", err, b)
	}
	fs2, dev2 := mount(t, img)
	defer dev2.Close()
	dir2 := filepath.Join(t.TempDir(), "r2")
	os.Mkdir(dir2, 0o755)
	if _, err := Unpack(fs2, dir2); err != nil {
		t.Fatal(err)
	}
	again := strings.Join(filterOut(strings.Split(describe(t, dir2), "\n"), "lost+found"), "\n")
	if again != changed {
		t.Fatalf("image after write-back unpacks to:\n%s\nwant:\n%s", again, changed)
	}
	var a, b unix.Stat_t
	if unix.Lstat(filepath.Join(dir2, "new/userlink"), &a) != nil || unix.Lstat(filepath.Join(dir2, "userlink2"), &b) != nil ||
		a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("the hard link of a link is not one inode after write-back and unpack (%d/%d, nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
}

func filterOut(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}
