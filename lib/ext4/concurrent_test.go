package ext4

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentUse runs creators, writers and readers in parallel goroutines (run with
// -race); the result must be consistent for e2fsck and for us.
func TestConcurrentUse(t *testing.T) {
	img := mkfs(t, "ext4", 64<<20, "")
	fs, dev := mount(t, img, false)
	root := fs.Root()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			d, err := fs.Mkdir(root, fmt.Sprintf("w%d", w), 0o755, 0, 0)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 200; i++ {
				ino, err := fs.Create(d, fmt.Sprintf("f%d", i), 0o644, 0, 0, 0)
				if err != nil {
					errs <- err
					return
				}
				data := bytes.Repeat([]byte{byte(w), byte(i)}, 1000+i*10)
				if _, err := fs.WriteAt(ino, data, 0); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(data))
				if _, err := fs.ReadAt(ino, got, 0); err != nil || !bytes.Equal(got, data) {
					errs <- fmt.Errorf("w%d/f%d reads back wrong: %v", w, i, err)
					return
				}
				if i%3 == 0 {
					if err := fs.Unlink(d, fmt.Sprintf("f%d", i)); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	unmount(t, fs, dev)
	fsckClean(t, img)
}
