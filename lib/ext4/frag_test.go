package ext4

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestFragmentedFiles writes every other block of a file, which needs thousands of extents
// (a depth-2 tree with 1 KiB blocks) or deep indirect blocks, then truncates it in steps;
// e2fsck must accept every stage and debugfs must read the same bytes.
func TestFragmentedFiles(t *testing.T) {
	for _, kind := range []string{"ext4", "ext2"} {
		t.Run(kind, func(t *testing.T) {
			img := mkfs(t, kind, 64<<20, "", "-b", "1024")
			fs, dev := mount(t, img, false)
			ino := writeFile(t, fs, fs.Root(), "frag", nil)
			const blocks = 3000
			model := make([]byte, 2*blocks*1024)
			for i := 0; i < blocks; i++ {
				b := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 512)
				off := 2 * i * 1024
				if _, err := fs.WriteAt(ino, b, int64(off)); err != nil {
					t.Fatal(err)
				}
				copy(model[off:], b)
				if i%2 == 0 { // interleave other files' blocks
					writeFile(t, fs, fs.Root(), fmt.Sprintf("o%d", i), []byte("x"))
				}
			}
			// far away, for triple indirect blocks on ext2
			_, err := fs.WriteAt(ino, []byte("far"), 5<<30)
			must(t, err)
			must(t, fs.Sync())
			for _, size := range []uint64{5<<30 + 3, uint64(len(model)), 4000 * 1024, 1000*1024 + 17, 3000, 0} {
				_, err := fs.Setattr(ino, SetAttr{Valid: SetSize, Size: size})
				must(t, err)
				must(t, fs.Sync())
				if code, out := fsck(t, img, "-fn"); code != 0 {
					t.Fatalf("size %d: e2fsck -fn: %d\n%s", size, code, out)
				}
				if size <= uint64(len(model)) && size > 0 {
					got := debugfs(t, img, "cat /frag")
					got = got[strings.Index(got, ")\n")+2:] // skip debugfs's version line
					if len(got) != int(size) || got != string(model[:size]) {
						t.Fatalf("size %d: debugfs reads %d bytes, differing", size, len(got))
					}
				}
			}
			if st := debugfs(t, img, "stat /frag"); kind == "ext4" && !strings.Contains(st, "EXTENTS:") {
				t.Fatalf("stat:\n%s", st)
			}
			unmount(t, fs, dev)
			fsckClean(t, img)
		})
	}
}
