package ext4

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// TestFillUpAndEmpty writes until the file system is full (blocks, then inodes), checks
// that e2fsck accepts the full image, removes everything and checks that the free counts
// return to where they started.
func TestFillUpAndEmpty(t *testing.T) {
	for _, c := range writeCases[:4] {
		t.Run(c.kind+fmt.Sprint(c.args), func(t *testing.T) {
			img := mkfs(t, c.kind, 8<<20, "", append([]string{"-N", "600"}, c.args...)...)
			fs, dev := mount(t, img, false)
			before, err := fs.Statfs()
			must(t, err)
			root := fs.Root()
			buf := make([]byte, 100<<10)
			var names []string
			full := false
			for i := 0; i < 10000 && !full; i++ {
				name := fmt.Sprintf("f%d", i)
				ino, err := fs.Create(root, name, 0o644, 0, 0, 0)
				if errors.Is(err, syscall.ENOSPC) {
					full = true
					break
				}
				must(t, err)
				names = append(names, name)
				if _, err := fs.WriteAt(ino, buf, 0); errors.Is(err, syscall.ENOSPC) {
					full = true
				} else {
					must(t, err)
				}
			}
			if !full {
				t.Fatal("never ran out of space")
			}
			// now run out of inodes with empty files
			for i := 0; ; i++ {
				name := fmt.Sprintf("e%d", i)
				_, err := fs.Create(root, name, 0o644, 0, 0, 0)
				if errors.Is(err, syscall.ENOSPC) {
					break
				}
				must(t, err)
				names = append(names, name)
				if i > 2000 {
					t.Fatal("never ran out of inodes")
				}
			}
			must(t, fs.Sync())
			unmount(t, fs, dev)
			fsckClean(t, img)
			fs, dev = mount(t, img, false)
			for _, n := range names {
				must(t, fs.Unlink(root, n))
			}
			after, err := fs.Statfs()
			must(t, err)
			// freed blocks are reused only once the frees are durable; with everything
			// else full, writing again must get them (by syncing first)
			re := writeFile(t, fs, root, "refill", make([]byte, 2<<20))
			must(t, fs.Unlink(root, "refill"))
			_ = re
			unmount(t, fs, dev)
			fsckClean(t, img)
			// the root directory grew by some blocks; everything else is free again
			if after.Ffree != before.Ffree || before.Bfree-after.Bfree > 64 {
				t.Fatalf("free counts before %d blocks %d inodes, after %d, %d", before.Bfree, before.Ffree, after.Bfree, after.Ffree)
			}
		})
	}
}
