package shadow

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// memDev is an image in memory, kept as the 1 KiB pieces that are not zero.
type memDev struct {
	size   int64
	pieces map[int64][]byte
}

func (d *memDev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= d.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off < d.size {
		k, o := off>>10, off&1023
		c := min(int64(len(p)-n), 1024-o, d.size-off)
		if b := d.pieces[k]; b != nil {
			copy(p[n:n+int(c)], b[o:])
		} else {
			clear(p[n : n+int(c)])
		}
		n += int(c)
		off += c
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (d *memDev) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, syscall.EIO
	}
	for n := 0; n < len(p); {
		k, o := off>>10, off&1023
		b := d.pieces[k]
		if b == nil {
			b = make([]byte, 1024)
			d.pieces[k] = b
		}
		c := copy(b[o:], p[n:])
		n += c
		off += int64(c)
	}
	return len(p), nil
}

func (d *memDev) Size() int64 { return d.size }
func (d *memDev) Sync() error { return nil }

// The fuzz input is an image, compactly: le32 size in KiB (64..4096), then for each KiB
// that is not all zero: le32 its index, le16 how many of its bytes follow (trailing zeros
// are left out), the bytes.
func encodeImage(img []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(img)>>10))
	for k := 0; k+1024 <= len(img); k += 1024 {
		piece := img[k : k+1024]
		n := 1024
		for n > 0 && piece[n-1] == 0 {
			n--
		}
		if n > 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(k>>10))
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
			out = append(out, piece[:n]...)
		}
	}
	return out
}

func decodeImage(data []byte) *memDev {
	if len(data) < 4 {
		return nil
	}
	kib := int64(binary.LittleEndian.Uint32(data))
	if kib < 64 || kib > 4096 {
		return nil
	}
	d := &memDev{size: kib << 10, pieces: map[int64][]byte{}}
	for p := data[4:]; len(p) >= 6; {
		k := int64(binary.LittleEndian.Uint32(p))
		n := min(int(binary.LittleEndian.Uint16(p[4:])), 1024, len(p)-6)
		if k < kib {
			b := make([]byte, 1024)
			copy(b, p[6:6+n])
			d.pieces[k] = b
		}
		p = p[6+n:]
	}
	return d
}

// FuzzUnpack unpacks a mutated image into a directory deep inside a parent full of decoys,
// changes the tree the way a guest might (a new file, a link to a decoy) and writes it
// back. Errors are fine; a panic, a hang, anything changed outside the target directory,
// or a device node or set-id file made on the host are not.
func FuzzUnpack(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dev := decodeImage(data)
		if dev == nil {
			return
		}
		fs, err := ext4.Mount(dev, ext4.Options{CacheBlocks: 64})
		if err != nil {
			return
		}
		defer fs.Unmount()
		s := newScene(t)
		done := make(chan error, 1)
		go func() {
			tree, err := Unpack(fs, s.target)
			if err == nil {
				os.WriteFile(filepath.Join(s.target, "fuzz-new"), []byte("new"), 0o644)
				os.Symlink(filepath.Join(s.parent, "decoy"), filepath.Join(s.target, "fuzz-link"))
				err = tree.WriteBack()
			}
			done <- err
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			panic("unpacking a mutated image hangs")
		}
		s.check(t)
		checkUnpacked(t, s.target)
	})
}

// TestGenerateUnpackSeeds writes FuzzUnpack's seed corpus when GOUML_SHADOW_GEN_SEEDS=1:
// valid ext2 and ext4 images of a tree with every kind of file (mkfs -d), and the hostile
// images of TestUnpackHostileImages and TestUnpackOddButValid.
func TestGenerateUnpackSeeds(t *testing.T) {
	if os.Getenv("GOUML_SHADOW_GEN_SEEDS") != "1" {
		t.Skip("set GOUML_SHADOW_GEN_SEEDS=1 to regenerate testdata/fuzz/FuzzUnpack")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzUnpack")
	must(t, os.MkdirAll(dir, 0o755))
	write := func(name, img string) {
		raw, err := os.ReadFile(img)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encodeImage(raw))), 0o644))
	}
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "etc", "deep", "er"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "etc", "deep", "er", "f"), []byte(strings.Repeat("data ", 500)), 0o600))
	must(t, os.Link(filepath.Join(src, "etc", "passwd"), filepath.Join(src, "hard")))
	must(t, os.Symlink("etc/passwd", filepath.Join(src, "rel")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(src, "abs")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	sp, err := os.Create(filepath.Join(src, "sparse"))
	must(t, err)
	sp.WriteAt([]byte("end"), 300<<10)
	sp.Close()
	if os.Geteuid() == 0 {
		must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(t, os.Chown(filepath.Join(src, "etc", "deep"), 1000, 100))
		must(t, unix.Chmod(filepath.Join(src, "hard"), 0o4755))
	}
	for _, kind := range []string{"ext2", "ext4"} {
		img := newImage(t, kind, 1<<20, 64)
		mkfs := testenv.Tool(t, "mkfs.ext4")
		args := []string{"-q", "-F", "-t", kind, "-b", "1024", "-N", "64", "-E", "root_owner=0:0", "-d", src}
		if kind == "ext4" {
			args = append(args, "-O", "^metadata_csum,^has_journal,^resize_inode")
		}
		if out, err := exec.Command(mkfs, append(args, img)...).CombinedOutput(); err != nil {
			t.Fatalf("mkfs: %v\n%s", err, out)
		}
		write(kind+"-tree", img)
	}
	for _, name := range []string{"parent-path", "parent-path-ext2", "slash", "dotdot-dir", "cycle", "root-link",
		"hard-linked-dir", "dir-after-symlink", "reserved-inode"} {
		write(name, hostileImage(t, name))
	}
	write("odd-but-valid", oddImage(t))
}

// TestFuzzUnpackSeeds: the valid seeds unpack to what mkfs was given, the hostile ones
// are refused, so the corpus starts where it should.
func TestFuzzUnpackSeeds(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzUnpack", "*"))
	if len(files) == 0 {
		t.Fatal("no FuzzUnpack corpus")
	}
	for _, file := range files {
		name := filepath.Base(file)
		raw, err := os.ReadFile(file)
		must(t, err)
		lines := strings.Split(string(raw), "\n")
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		must(t, err)
		dev := decodeImage([]byte(data))
		if dev == nil {
			t.Fatalf("%s does not decode", name)
		}
		fs, err := ext4.Mount(dev, ext4.Options{})
		must(t, err)
		s := newScene(t)
		_, err = Unpack(fs, s.target)
		valid := strings.HasSuffix(name, "-tree") || name == "odd-but-valid"
		if valid != (err == nil) {
			t.Errorf("%s: Unpack: %v", name, err)
		}
		if name == "ext4-tree" && err == nil {
			got := describe(t, s.target)
			for _, want := range []string{"etc/deep/er/f 100600", "rel 120777 0:0 -> etc/passwd", "fifo 10644"} {
				if !strings.Contains(got, want) {
					t.Errorf("%s unpacks to\n%s\nwithout %q", name, got, want)
				}
			}
		}
		s.check(t)
		fs.Unmount()
	}
}
