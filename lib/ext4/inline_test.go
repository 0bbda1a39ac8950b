package ext4

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInlineData reads files and directories mke2fs stored inline (-O inline_data), then
// modifies them (which moves them into blocks) and checks e2fsck and debugfs agree.
func TestInlineData(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "idir"), 0o755))
	must(t, os.MkdirAll(filepath.Join(src, "idir2"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "tiny"), []byte("tiny inline file"), 0o644))
	mid := bytes.Repeat([]byte("m"), 100) // 60 bytes in i_block, the rest in system.data
	must(t, os.WriteFile(filepath.Join(src, "mid"), mid, 0o644))
	must(t, os.WriteFile(filepath.Join(src, "idir", "a"), []byte("a"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "idir2", "b"), []byte("b"), 0o644))
	img := mkfs(t, "ext4", 32<<20, src, "-O", "inline_data")
	if st := debugfs(t, img, "stat /mid"); !strings.Contains(st, "Size of inline data: ") {
		t.Fatalf("mke2fs did not inline /mid:\n%s", st)
	}
	if st := debugfs(t, img, "stat /idir"); !strings.Contains(st, "Flags: 0x10000000") {
		t.Fatalf("mke2fs did not inline /idir:\n%s", st)
	}
	fs, dev := mount(t, img, true)
	compareTree(t, fs, src, false)
	unmount(t, fs, dev)

	fs, dev = mount(t, img, false)
	root := fs.Root()
	tiny := mustIno(t)(fs.Lookup(root, "tiny"))
	big := bytes.Repeat([]byte("B"), 10000)
	_, err := fs.WriteAt(tiny, big, 16)
	must(t, err)
	m := mustIno(t)(fs.Lookup(root, "mid"))
	_, err = fs.Setattr(m, SetAttr{Valid: SetSize, Size: 70})
	must(t, err)
	idir := mustIno(t)(fs.Lookup(root, "idir"))
	for _, n := range []string{"new1", "new2", strings.Repeat("long", 40)} {
		writeFile(t, fs, idir, n, []byte(n))
	}
	idir2 := mustIno(t)(fs.Lookup(root, "idir2"))
	must(t, fs.Unlink(idir2, "b"))
	unmount(t, fs, dev)
	fsckClean(t, img)
	want := append([]byte("tiny inline file"), big...)
	if got := debugfs(t, img, "cat /tiny"); !strings.Contains(got, string(want)) {
		t.Fatalf("debugfs cat /tiny: %d bytes, differs", len(got))
	}
	if got := debugfs(t, img, "cat /mid"); !strings.Contains(got, strings.Repeat("m", 70)) || strings.Contains(got, strings.Repeat("m", 71)) {
		t.Fatalf("debugfs cat /mid: %q", got)
	}
	ls := debugfs(t, img, "ls /idir")
	for _, n := range []string{" a ", "new1", "new2", "longlong"} {
		if !strings.Contains(ls+" ", n) {
			t.Fatalf("debugfs ls /idir lacks %q:\n%s", n, ls)
		}
	}
	if ls := debugfs(t, img, "ls /idir2"); strings.Contains(ls, " b ") {
		t.Fatalf("debugfs ls /idir2 still has b:\n%s", ls)
	}
}
