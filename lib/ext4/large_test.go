package ext4

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestLargeSparseWrite writes across the 4 GiB boundary and at 6 GiB on block-mapped and
// extent-mapped file systems; e2fsck must accept it and debugfs must see the size.
func TestLargeSparseWrite(t *testing.T) {
	for _, kind := range []string{"ext2", "ext4"} {
		t.Run(kind, func(t *testing.T) {
			img := mkfs(t, kind, 64<<20, "")
			fs, dev := mount(t, img, false)
			ino := writeFile(t, fs, fs.Root(), "huge", []byte("head"))
			chunk := bytes.Repeat([]byte("4G"), 5000)
			_, err := fs.WriteAt(ino, chunk, 4<<30-5000)
			must(t, err)
			_, err = fs.WriteAt(ino, []byte("tail"), 6<<30)
			must(t, err)
			unmount(t, fs, dev)
			fsckClean(t, img)
			if st := debugfs(t, img, "stat /huge"); !strings.Contains(st, fmt.Sprintf("Size: %d", 6<<30+4)) {
				t.Fatalf("debugfs stat /huge:\n%s", st)
			}
			fs, dev = mount(t, img, true)
			got := make([]byte, len(chunk)+10)
			n, err := fs.ReadAt(ino, got, 4<<30-5005)
			if err != nil || n != len(got) {
				t.Fatalf("read: %d %v", n, err)
			}
			if !bytes.Equal(got[5:5+len(chunk)], chunk) || got[0] != 0 {
				t.Fatal("data across 4 GiB differs")
			}
			tail := make([]byte, 10)
			n, err = fs.ReadAt(ino, tail, 6<<30)
			if n != 4 || err != io.EOF || string(tail[:4]) != "tail" {
				t.Fatalf("tail: %q %v", tail[:n], err)
			}
			if d, _ := fs.SeekData(ino, 4096, false); d != 4<<30-5000 && d != (4<<30-5000)/4096*4096 && d != (4<<30-5000)/1024*1024 {
				t.Fatalf("SEEK_DATA from 4096 gives %d", d)
			}
			unmount(t, fs, dev)
		})
	}
}

func benchFS(b *testing.B) (*FS, *FileDevice) {
	img := mkfs(b, "ext4", 1<<30, "", "-b", "4096")
	dev, err := OpenFile(img, false)
	if err != nil {
		b.Fatal(err)
	}
	fs, err := Mount(dev, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Unmount(); dev.Close() })
	return fs, dev
}

func BenchmarkSequentialWrite(b *testing.B) {
	fs, _ := benchFS(b)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	ino, err := fs.Create(fs.Root(), "seq", 0o644, 0, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		off := int64(i%512) << 20
		if _, err := fs.WriteAt(ino, buf, off); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSequentialRead(b *testing.B) {
	fs, _ := benchFS(b)
	buf := make([]byte, 1<<20)
	ino, _ := fs.Create(fs.Root(), "seq", 0o644, 0, 0, 0)
	for i := 0; i < 64; i++ {
		fs.WriteAt(ino, buf, int64(i)<<20)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fs.ReadAt(ino, buf, int64(i%64)<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreate10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fs, _ := benchFS(b)
		b.StartTimer()
		d, _ := fs.Mkdir(fs.Root(), "d", 0o755, 0, 0)
		for j := 0; j < 10000; j++ {
			if _, err := fs.Create(d, fmt.Sprintf("file%d", j), 0o644, 0, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkSequentialRead4k(b *testing.B) {
	fs, _ := benchFS(b)
	buf := make([]byte, 1<<20)
	ino, _ := fs.Create(fs.Root(), "seq", 0o644, 0, 0, 0)
	for i := 0; i < 64; i++ {
		fs.WriteAt(ino, buf, int64(i)<<20)
	}
	small := make([]byte, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fs.ReadAt(ino, small, int64(i%(64*256))*4096); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadAheadSeesWrites reads sequentially in small pieces (served from the read-ahead
// window) while the file is overwritten, truncated and extended.
func TestReadAheadSeesWrites(t *testing.T) {
	img := mkfs(t, "ext4", 32<<20, "")
	fs, dev := mount(t, img, false)
	model := make([]byte, 1<<20)
	for i := range model {
		model[i] = byte(i / 4096)
	}
	ino := writeFile(t, fs, fs.Root(), "f", model)
	buf := make([]byte, 3000)
	for off := 0; off < len(model); off += len(buf) {
		switch off / len(buf) % 50 {
		case 10:
			p := bytes.Repeat([]byte{0xEE}, 5000)
			_, err := fs.WriteAt(ino, p, int64(off+1000))
			must(t, err)
			copy(model[off+1000:], p)
		case 30:
			_, err := fs.Setattr(ino, SetAttr{Valid: SetSize, Size: uint64(off + 2000)})
			must(t, err)
			_, err = fs.Setattr(ino, SetAttr{Valid: SetSize, Size: uint64(len(model))})
			must(t, err)
			clear(model[off+2000:])
		}
		n, err := fs.ReadAt(ino, buf, int64(off))
		want := model[off:min(off+len(buf), len(model))]
		if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], want) {
			t.Fatalf("read at %d: %d bytes, %v; differs from what was written", off, n, err)
		}
	}
	unmount(t, fs, dev)
}
