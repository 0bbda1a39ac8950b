package shadow

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/ext4/ext4test"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// FuzzUnpack unpacks a mutated image into a directory deep inside a parent full of decoys,
// changes the tree the way a guest might (a new file, a link to a decoy) and writes it
// back. Errors are fine; a panic, a hang, anything changed outside the target directory,
// or a device node or set-id file made on the host are not.
func FuzzUnpack(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dev := ext4test.Decode(data)
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
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", ext4test.Encode(raw))), 0o644))
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
		dev := ext4test.Decode([]byte(data))
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
