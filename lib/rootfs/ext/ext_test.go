package ext

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/rootfs/fstree"
	"github.com/gouml/gouml/lib/testenv"
)

var epoch = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func file(mode uint32, uid, gid uint32, data []byte) *fstree.Inode {
	return &fstree.Inode{Mode: fstree.TypeReg | mode, UID: uid, GID: gid, Size: int64(len(data)),
		Data: fstree.Bytes(data), Mtime: epoch, Atime: epoch, Ctime: epoch}
}

// sampleTree holds one of everything the writer must store.
func sampleTree(t testing.TB) *fstree.Tree {
	tr := fstree.New(epoch)
	put := func(p string, in *fstree.Inode) {
		t.Helper()
		if _, err := tr.Put(p, in); err != nil {
			t.Fatal(err)
		}
	}
	dir := func(mode, uid, gid uint32) *fstree.Inode {
		return &fstree.Inode{Mode: fstree.TypeDir | mode, UID: uid, GID: gid, Mtime: epoch}
	}
	put("/etc", dir(0o755, 0, 0))
	put("/home/user", dir(0o750, 1000, 1000))
	put("/etc/hostname", file(0o644, 0, 0, []byte("guest\n")))
	put("/usr/bin/passwd", file(0o4755, 0, 0, bytes.Repeat([]byte("ELF!"), 20000)))
	put("/usr/bin/big", file(0o755, 0, 0, bytes.Repeat([]byte{1, 2, 3}, 3<<20)))
	sparse := make([]byte, 300*4096)
	sparse[5] = 1
	sparse[len(sparse)-1] = 2
	put("/var/sparse", file(0o600, 5, 6, sparse))
	put("/empty", file(0o644, 70000, 70001, nil))
	if err := tr.Link("/usr/bin/chfn", "/usr/bin/passwd"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Link("/usr/bin/chsh", "/usr/bin/passwd"); err != nil {
		t.Fatal(err)
	}
	put("/dev/null", &fstree.Inode{Mode: fstree.TypeChr | 0o666, Major: 1, Minor: 3, Mtime: epoch})
	put("/dev/sda", &fstree.Inode{Mode: fstree.TypeBlk | 0o660, GID: 6, Major: 8, Minor: 0, Mtime: epoch})
	put("/dev/big", &fstree.Inode{Mode: fstree.TypeChr | 0o600, Major: 300, Minor: 70000, Mtime: epoch})
	put("/dev/fifo", &fstree.Inode{Mode: fstree.TypeFifo | 0o644, Mtime: epoch})
	put("/run/sock", &fstree.Inode{Mode: fstree.TypeSock | 0o755, Mtime: epoch})
	put("/bin/sh", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: "busybox", Mtime: epoch})
	put("/bin/long", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: "/" + strings.Repeat("x/", 60) + "end", Mtime: epoch})
	capIn := file(0o755, 0, 0, []byte("#!/bin/sh\n"))
	capIn.Xattrs = map[string][]byte{"security.capability": {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"user.comment": []byte("hello"), "trusted.x": nil}
	put("/usr/bin/ping", capIn)
	for i := 0; i < 700; i++ { // a directory spanning several blocks
		put(fmt.Sprintf("/many/file-with-a-longish-name-%04d", i), file(0o644, 0, 0, []byte{byte(i)}))
	}
	return tr
}

func writeImage(t testing.TB, tr *fstree.Tree, o Options) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Write(f, tr, o); err != nil {
		t.Fatal(err)
	}
	return img
}

func fsck(t testing.TB, img string) {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "e2fsck"), "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
}

func debugfs(t testing.TB, img, cmd string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", cmd, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs %s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func TestImageCleanForE2fsck(t *testing.T) {
	for _, ext4 := range []bool{false, true} {
		t.Run(fmt.Sprint("ext4=", ext4), func(t *testing.T) {
			img := writeImage(t, sampleTree(t), Options{Ext4: ext4, Journal: true, Now: epoch})
			fsck(t, img)
			t.Log(debugfs(t, img, "stat /usr/bin/passwd"))
			t.Log(debugfs(t, img, "stat /dev/big"))
			t.Log(debugfs(t, img, "ea_list /usr/bin/ping"))
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type zeroContent struct{}

func (zeroContent) Open() (io.ReadCloser, error) { return io.NopCloser(zeros{}), nil }

// TestLargeFileAcrossGroups: a file larger than 4 GiB spans many block groups, so ext2 needs
// triple indirect blocks and ext4 an extent index block; i_size needs its high word.
func TestLargeFileAcrossGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 5 GiB sparse image")
	}
	const size = 4<<30 + 123456789
	for _, ext4 := range []bool{false, true} {
		t.Run(fmt.Sprint("ext4=", ext4), func(t *testing.T) {
			tr := fstree.New(epoch)
			tail := []byte("the end")
			if _, err := tr.Put("/big", &fstree.Inode{Mode: fstree.TypeReg | 0o644, Size: size, Data: zeroContent{}, Mtime: epoch}); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Put("/after", file(0o644, 0, 0, tail)); err != nil {
				t.Fatal(err)
			}
			img := writeImage(t, tr, Options{Ext4: ext4, Now: epoch})
			fsck(t, img)
			st := debugfs(t, img, "stat /big")
			if !strings.Contains(st, fmt.Sprintf("Size: %d", size)) {
				t.Errorf("size lost:\n%s", st)
			}
			want := "(TIND)"
			if ext4 {
				want = "(ETB0)"
			}
			if !strings.Contains(st, want) {
				t.Errorf("no %s in the block map:\n%.2000s", want, st)
			}
			if got := debugfs(t, img, "cat /after"); !strings.Contains(got, "the end") {
				t.Errorf("file after the big one: %q", got)
			}
			var fst os.FileInfo
			fst, _ = os.Stat(img)
			if du := diskUsage(t, img); du > 64<<20 {
				t.Errorf("image of %d bytes takes %d bytes on disk: not sparse", fst.Size(), du)
			}
		})
	}
}

func diskUsage(t *testing.T, p string) int64 {
	out, err := exec.Command("du", "-B1", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	fmt.Sscan(string(out), &n)
	return n
}

// TestTooSmall: content that does not fit is an error naming the cause, not a broken image.
func TestTooSmall(t *testing.T) {
	tr := sampleTree(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Write(f, tr, Options{Ext4: true, Size: 4 << 20})
	if !errors.Is(err, ErrTooSmall) {
		t.Fatalf("got %v, want ErrTooSmall", err)
	}
}

// TestStreamMatchesFile: WriteStream, which emits the image front to back for a pipe, gives
// the same bytes as Write does into a file (with the holes read back as zeros), for both
// formats and with indirect blocks, extent leaves and attribute blocks in the mix.
func TestStreamMatchesFile(t *testing.T) {
	for _, ext4 := range []bool{false, true} {
		t.Run(fmt.Sprint("ext4=", ext4), func(t *testing.T) {
			tr := sampleTree(t)
			// a fragmented file: runs interrupted by group metadata need extent leaves
			// (ext4) or double indirect blocks (ext2)
			if _, err := tr.Put("/var/huge", &fstree.Inode{Mode: fstree.TypeReg | 0o644, Size: 600 << 20,
				Data: zeroContent{}, Mtime: epoch}); err != nil {
				t.Fatal(err)
			}
			o := Options{Ext4: ext4, Journal: true, Now: epoch, UUID: [16]byte{1, 2, 3}}
			f, err := os.Open(writeImage(t, tr, o))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := sha256.New()
			wantN, err := io.Copy(want, f)
			if err != nil {
				t.Fatal(err)
			}
			got := sha256.New()
			cw := &counter{w: got}
			res, err := WriteStream(cw, tr, o)
			if err != nil {
				t.Fatal(err)
			}
			if cw.n != res.Size || cw.n != wantN {
				t.Fatalf("stream of %d bytes, result says %d, file image %d", cw.n, res.Size, wantN)
			}
			if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
				t.Fatalf("the stream's bytes differ from the file image's")
			}
		})
	}
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.w.Write(p) }
