package ext4

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// buildTree makes a host directory exercising everything the driver must read back.
func buildTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "tree")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, data []byte) string {
		p := filepath.Join(root, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, data, 0o644))
		return p
	}
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 3<<20+123)
	rng.Read(big)
	write("empty", nil)
	write("small.txt", []byte("hello, ext4\n"))
	write("big.bin", big)
	// a sparse file larger than 4 GiB: a few data chunks among holes
	sp := write("sparse", nil)
	f, err := os.OpenFile(sp, os.O_RDWR, 0)
	must(err)
	for _, off := range []int64{0, 1 << 30, 4<<30 + 4096*3 + 17, 5 << 30} {
		_, err := f.WriteAt(big[:9000], off)
		must(err)
	}
	must(f.Truncate(5<<30 + 1<<20 + 5))
	f.Close()
	// many names in one directory (htree after e2fsck -D)
	for i := 0; i < 3000; i++ {
		write(fmt.Sprintf("many/file-%04d-%s", i, strings.Repeat("x", i%40)), []byte(fmt.Sprint(i)))
	}
	deep := "deep"
	for i := 0; i < 20; i++ {
		deep += fmt.Sprintf("/d%d", i)
	}
	write(deep+"/leaf", []byte("deep leaf"))
	must(os.Symlink("small.txt", filepath.Join(root, "fastlink")))
	must(os.Symlink(strings.Repeat("long/", 40)+"target", filepath.Join(root, "slowlink")))
	hl := write("hard1", []byte("linked"))
	must(os.Link(hl, filepath.Join(root, "hard2")))
	must(os.Link(hl, filepath.Join(root, "many/hard3")))
	for rel, mode := range map[string]os.FileMode{"setuid": 0o4755 | os.ModeSetuid, "setgid": 0o2711, "none": 0} {
		p := write(rel, []byte(rel))
		must(unix.Chmod(p, uint32(mode.Perm())|map[string]uint32{"setuid": unix.S_ISUID, "setgid": unix.S_ISGID, "none": 0}[rel]))
	}
	must(os.Mkdir(filepath.Join(root, "sticky"), 0o755))
	must(unix.Chmod(filepath.Join(root, "sticky"), 0o1777))
	owned := write("owned", []byte("owned"))
	if os.Geteuid() == 0 {
		must(os.Lchown(owned, 1234, 5678))
		must(unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(unix.Mknod(filepath.Join(root, "sda1"), unix.S_IFBLK|0o660, int(unix.Mkdev(8, 1))))
		must(unix.Mknod(filepath.Join(root, "bigdev"), unix.S_IFCHR|0o600, int(unix.Mkdev(300, 70000))))
		must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
		l, err := net.Listen("unix", filepath.Join(root, "sock"))
		must(err)
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		must(unix.Lsetxattr(owned, "security.capability",
			[]byte{0, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0))
		must(unix.Lsetxattr(owned, "trusted.t", []byte("trusted value"), 0))
	}
	must(unix.Lsetxattr(owned, "user.small", []byte("v"), 0))
	must(unix.Lsetxattr(filepath.Join(root, "small.txt"), "user.big", []byte(strings.Repeat("B", 900)), 0))
	must(unix.Lsetxattr(filepath.Join(root, "small.txt"), "user.empty", nil, 0))
	// a POSIX ACL (user 1000 rw-, mask rw-), in the xattr format; skipped if the host fs lacks ACLs
	acl := []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 6, 0, 0xe8, 3, 0, 0,
		4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff}
	if err := unix.Lsetxattr(filepath.Join(root, "hard1"), "system.posix_acl_access", acl, 0); err != nil {
		t.Logf("no POSIX ACL in the tree: %v", err)
	}
	// timestamps with nanoseconds, (mke2fs -d stores whole seconds and no epoch bits, so ≤ 2038 here)
	must(os.Chtimes(owned, time.Unix(1e9, 123456789), time.Unix(1234567890, 987654321)))
	must(os.Chtimes(filepath.Join(root, "small.txt"), time.Unix(2100000000, 5), time.Unix(2000000000, 999999999)))
	return root
}

func TestReadMkfsImages(t *testing.T) {
	tree := buildTree(t)
	for _, c := range []struct{ kind, bs string }{{"ext2", "1024"}, {"ext3", "4096"}, {"ext4", "1024"}, {"ext4", "4096"}} {
		kind := c.kind
		t.Run(kind+"-"+c.bs, func(t *testing.T) {
			img := mkfs(t, kind, 256<<20, tree, "-b", c.bs)
			// index the big directory
			if code, out := fsck(t, img, "-fyD"); code > 1 {
				t.Fatalf("e2fsck -fyD: %d %s", code, out)
			}
			if out := debugfs(t, img, "htree /many"); !strings.Contains(out, "Root node dump") {
				t.Fatalf("mkfs/e2fsck did not index /many:\n%.500s", out)
			}
			fs, dev := mount(t, img, true)
			n := compareTree(t, fs, tree, true)
			if n < 3000 {
				t.Fatalf("compared only %d files", n)
			}
			if _, err := fs.Lookup(fs.Root(), "nonexistent"); err != syscall.ENOENT {
				t.Fatalf("lookup of a missing name: %v", err)
			}
			st, err := fs.Statfs()
			if err != nil || st.Blocks == 0 || st.Bfree > st.Blocks || st.Ffree >= st.Files {
				t.Fatalf("statfs %+v %v", st, err)
			}
			unmount(t, fs, dev)
		})
	}
}
