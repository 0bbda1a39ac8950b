package ubd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gouml/gouml/lib/cow"
	"golang.org/x/sys/unix"
)

// FuzzCOWOpen opens an arbitrary file as a COW device over a fixed backing file, with and
// without the backing file named: Open must succeed or fail with an errno, never panic; a
// device that opens must read and write without failing.
func FuzzCOWOpen(f *testing.F) {
	dir := f.TempDir()
	back := filepath.Join(dir, "back.img")
	if err := os.WriteFile(back, bytes.Repeat([]byte("b"), 64*512+100), 0o644); err != nil {
		f.Fatal(err)
	}
	if _, err := cow.Create(filepath.Join(dir, "seed.cow"), back, false); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(filepath.Join(dir, "seed.cow"))
	f.Add(seed[:4200])
	f.Add([]byte("MOOO"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "x.cow")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, word := range []string{"ubd0=" + name + "," + back, "ubd0=" + name} {
			d, err := Open(spec(t, word), false, nil)
			if err != nil {
				var en unix.Errno
				if !errors.As(err, &en) {
					t.Fatalf("%s: error without errno: %v", word, err)
				}
				continue
			}
			buf := make([]byte, 4096)
			if _, err := d.ReadAt(buf, 0); err != nil && d.Size() >= 4096 {
				t.Fatalf("%s: read: %v", word, err)
			}
			if d.Size() >= 1024 {
				if _, err := d.WriteAt(buf[:700], 300); err != nil {
					t.Fatalf("%s: write: %v", word, err)
				}
			}
			d.Close()
		}
	})
}
