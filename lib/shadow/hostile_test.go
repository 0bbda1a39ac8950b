package shadow

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// newImage makes an empty image of size bytes with mkfs: kind "ext2" (block maps) or "ext4"
// (extents), both with 1 KiB blocks and no checksums, so that a test can patch its bytes.
func newImage(t testing.TB, kind string, size int64, inodes int) string {
	t.Helper()
	mkfs := testenv.Tool(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), kind+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	args := []string{"-q", "-F", "-t", kind, "-b", "1024", "-N", strconv.Itoa(inodes), "-E", "root_owner=0:0"}
	if kind == "ext4" {
		args = append(args, "-O", "^metadata_csum,^has_journal,^resize_inode")
	}
	if out, err := exec.Command(mkfs, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v\n%s", err, out)
	}
	return img
}

// craft makes a small image and lets build fill it through lib/ext4.
func craft(t testing.TB, kind string, build func(fs *ext4.FS)) string {
	t.Helper()
	return craftSized(t, kind, 4<<20, 128, build)
}

func craftSized(t testing.TB, kind string, size int64, inodes int, build func(fs *ext4.FS)) string {
	t.Helper()
	img := newImage(t, kind, size, inodes)
	dev, err := ext4.OpenFile(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	fs, err := ext4.Mount(dev, ext4.Options{})
	if err != nil {
		t.Fatal(err)
	}
	build(fs)
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	return img
}

func ok[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func writeImageFile(t testing.TB, fs *ext4.FS, dir ext4.Ino, name, data string) ext4.Ino {
	t.Helper()
	ino := ok[ext4.Ino](t)(fs.Create(dir, name, 0o644, 0, 0, 0))
	if _, err := fs.WriteAt(ino, []byte(data), 0); err != nil {
		t.Fatal(err)
	}
	return ino
}

// patchEntry rewrites the directory entry named from (a name that must occur once in the
// image): its name becomes to (no longer than the entry has room for) and, unless zero, its
// inode and file type.
func patchEntry(t testing.TB, img, from, to string, ino uint32, ft byte) {
	t.Helper()
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte(from))
	if i < 8 || bytes.Count(raw, []byte(from)) != 1 || int(raw[i-2]) != len(from) {
		t.Fatalf("no single directory entry %q in the image", from)
	}
	h := raw[i-8 : i]
	if recLen := int(binary.LittleEndian.Uint16(h[4:])); 8+len(to) > recLen {
		t.Fatalf("no room for %q in the entry of %q", to, from)
	}
	clear(raw[i : i+len(from)])
	copy(raw[i:], to)
	h[6] = byte(len(to))
	if ino != 0 {
		binary.LittleEndian.PutUint32(h, ino)
	}
	if ft != 0 {
		h[7] = ft
	}
	if err := os.WriteFile(img, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mountImage(t testing.TB, img string, ro bool) *ext4.FS {
	t.Helper()
	dev, err := ext4.OpenFile(img, ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	fs, err := ext4.Mount(dev, ext4.Options{ReadOnly: ro})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// scene is a directory to unpack into, deep inside a parent full of decoys that nothing
// may touch: a file, a directory, a symbolic link and an attribute a hostile image or
// guest would like to reach.
type scene struct {
	parent, target string
	before         map[string]string
}

func newScene(t testing.TB) *scene {
	t.Helper()
	parent := t.TempDir()
	s := &scene{parent: parent, target: filepath.Join(parent, "a", "b", "c", "target")}
	for _, d := range []string{s.target, filepath.Join(parent, "decoy", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(parent, "victim"), []byte("victim data"), 0o644)
	os.WriteFile(filepath.Join(parent, "decoy", "secret"), []byte("SECRET-DECOY-DATA"), 0o644)
	os.WriteFile(filepath.Join(parent, "decoy", "sub", "f"), []byte("SECRET-DECOY-SUB"), 0o644)
	unix.Setxattr(filepath.Join(parent, "decoy", "secret"), "user.gouml.uid", []byte("4242"), 0)
	os.Symlink("/etc/hostname", filepath.Join(parent, "decoy", "link"))
	t.Cleanup(func() { makeRemovable(s.target) })
	s.before = snapshot(t, parent, s.target)
	return s
}

// check fails the test if anything outside the target directory changed.
func (s *scene) check(t testing.TB) {
	t.Helper()
	after := snapshot(t, s.parent, s.target)
	var diff []string
	for k, v := range after {
		if s.before[k] != v {
			diff = append(diff, fmt.Sprintf("%s: %q, was %q", k, v, s.before[k]))
		}
	}
	for k := range s.before {
		if _, ok := after[k]; !ok {
			diff = append(diff, k+": gone")
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		t.Fatalf("outside the target directory:\n%s", strings.Join(diff, "\n"))
	}
}

// snapshot describes everything under dir except the subtree skip: type, mode, owner,
// size, times, data, link target and attributes.
func snapshot(t testing.TB, dir, skip string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			m[p] = "error " + err.Error()
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			m[p] = "error " + err.Error()
			return nil
		}
		v := fmt.Sprintf("%o %d:%d size=%d mtime=%d.%d ctime=%d.%d", st.Mode, st.Uid, st.Gid, st.Size,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			v += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			v += " -> " + l
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			buf := make([]byte, 4096)
			n, _ := unix.Llistxattr(p, buf)
			v += " xattrs=" + strconv.Quote(string(buf[:max(n, 0)]))
		}
		m[p] = v
		return nil
	})
	return m
}

// makeRemovable lets the test's cleanup remove an unpacked tree whose directories may have
// no write permission (when not run as root).
func makeRemovable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

// checkUnpacked fails the test if the unpacked tree holds what Unpack must never make: a
// device node, a set-id host file, something on another device.
func checkUnpacked(t testing.TB, dir string) {
	t.Helper()
	var top unix.Stat_t
	if err := unix.Lstat(dir, &top); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFCHR || typ == unix.S_IFBLK || st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 || st.Dev != top.Dev {
			t.Errorf("unpacked %s has mode %o on device %d", p, st.Mode, st.Dev)
		}
		return nil
	})
}

// ph is the name a hostile case's entry has before it is patched.
const ph = "placeholder-name-0123456789"

// hostileCases are images a guest could write, each with one thing wrong: build makes it
// with lib/ext4 and says what the entry named ph becomes (name, and inode and file type
// unless zero); want is what Unpack's error must say.
var hostileCases = []struct {
	name  string
	kind  string
	build func(t testing.TB, fs *ext4.FS) (to string, ino uint32, ft byte)
	want  string
}{
	{"parent-path", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "escaped")
		return "../../../victim", 0, 0
	}, `"../../../victim"`},
	{"parent-path-ext2", "ext2", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "escaped")
		return "../../x", 0, 0
	}, `"../../x"`},
	{"slash", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "escaped")
		return "sub/../../../../victim", 0, 0
	}, "invalid name"},
	{"nul", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "escaped")
		return "a\x00b", 0, 0
	}, "invalid name"},
	{"dotdot-dir", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), ph, 0o755, 0, 0))
		writeImageFile(t, fs, d, "planted", "escaped")
		return "..", 0, 0
	}, `stray ".."`},
	{"dot", "ext2", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "escaped")
		return ".", 0, 0
	}, `stray "."`},
	{"cycle", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "d", 0o755, 0, 0))
		ok[ext4.Ino](t)(fs.Mkdir(d, ph, 0o755, 0, 0))
		return "loop", uint32(d), 2
	}, "reached a second time"},
	{"root-link", "ext2", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "d", 0o755, 0, 0))
		writeImageFile(t, fs, d, ph, "x")
		return "root", 2, 2
	}, "reached a second time"},
	{"hard-linked-dir", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "d1", 0o755, 0, 0))
		writeImageFile(t, fs, d, "f", "x")
		writeImageFile(t, fs, fs.Root(), ph, "x")
		return "d2", uint32(d), 2
	}, "reached a second time"},
	{"name-twice", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), "same", "first")
		writeImageFile(t, fs, fs.Root(), ph, "second")
		return "same", 0, 0
	}, `"same" twice`},
	{"dir-after-symlink", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		ok[ext4.Ino](t)(fs.Symlink(fs.Root(), "s", "../../../../decoy", 0, 0))
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), ph, 0o755, 0, 0))
		writeImageFile(t, fs, d, "planted", "escaped")
		return "s", 0, 0
	}, `"s" twice`},
	{"symlink-after-dir", "ext2", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "s", 0o755, 0, 0))
		writeImageFile(t, fs, d, "f", "x")
		ok[ext4.Ino](t)(fs.Symlink(fs.Root(), ph, "../../../../decoy", 0, 0))
		return "s", 0, 0
	}, `"s" twice`},
	{"reserved-inode", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "x")
		return "journal", 8, 1
	}, "reserved"},
	{"inode-out-of-range", "ext4", func(t testing.TB, fs *ext4.FS) (string, uint32, byte) {
		writeImageFile(t, fs, fs.Root(), ph, "x")
		return "far", 1 << 30, 1
	}, "out of range"},
}

// hostileImage makes the image of hostile case name.
func hostileImage(t testing.TB, name string) string {
	t.Helper()
	for _, c := range hostileCases {
		if c.name == name {
			var to string
			var ino uint32
			var ft byte
			img := craft(t, c.kind, func(fs *ext4.FS) { to, ino, ft = c.build(t, fs) })
			patchEntry(t, img, ph, to, ino, ft)
			return img
		}
	}
	t.Fatalf("no hostile case %s", name)
	return ""
}

// TestUnpackHostileImages: images a guest could write, each with one thing wrong. Unpack
// must fail with a one-line error saying what, and leave everything outside the target
// directory as it was.
func TestUnpackHostileImages(t *testing.T) {
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			img := hostileImage(t, c.name)
			s := newScene(t)
			_, err := Unpack(mountImage(t, img, true), s.target)
			if err == nil {
				t.Fatal("Unpack succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line saying %s", msg, c.want)
			}
			t.Log(err)
			s.check(t)
			checkUnpacked(t, s.target)
		})
	}
}

// oddImage makes the image of TestUnpackOddButValid.
func oddImage(t testing.TB) string {
	t.Helper()
	img := craft(t, "ext4", func(fs *ext4.FS) {
		r := fs.Root()
		s := ok[ext4.Ino](t)(fs.Symlink(r, "s", "../../../../decoy/secret", 0, 0))
		must(t, fs.Link(s, r, "s2"))
		ok[ext4.Ino](t)(fs.Symlink(r, "abs", "/etc/passwd", 0, 0))
		ok[ext4.Ino](t)(fs.Create(r, "null", unix.S_IFCHR|0o666, 0, 0, ext4.Mkdev(1, 3)))
		ok[ext4.Ino](t)(fs.Create(r, "sda", unix.S_IFBLK|0o4660, 0, 6, ext4.Mkdev(8, 0)))
		ok[ext4.Ino](t)(fs.Create(r, "fifo", unix.S_IFIFO|0o644, 0, 0, 0))
		ok[ext4.Ino](t)(fs.Create(r, "sock", unix.S_IFSOCK|0o755, 0, 0, 0))
		writeImageFile(t, fs, r, "once", "one inode, two names")
		d := ok[ext4.Ino](t)(fs.Mkdir(r, "d", 0o755, 0, 0))
		writeImageFile(t, fs, d, "placeholder-twice", "x")
	})
	fs := mountImage(t, img, true)
	once := ok[ext4.Ino](t)(fs.Lookup(fs.Root(), "once"))
	fs.Unmount()
	patchEntry(t, img, "placeholder-twice", "twice", uint32(once), 1)
	return img
}

// TestUnpackOddButValid: images that are strange but may be unpacked: hard links to a
// symbolic link that points at the decoy, device nodes, a FIFO, a socket, a file named by
// two entries though its link count is 1. They unpack inside the target and write back.
func TestUnpackOddButValid(t *testing.T) {
	img := oddImage(t)
	s := newScene(t)
	fs := mountImage(t, img, false)
	tree, err := Unpack(fs, s.target)
	if err != nil {
		t.Fatal(err)
	}
	s.check(t)
	checkUnpacked(t, s.target)
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(s.target, "s"), &a)
	unix.Lstat(filepath.Join(s.target, "s2"), &b)
	if a.Mode&unix.S_IFMT != unix.S_IFLNK || a.Ino != b.Ino {
		t.Errorf("s and s2 are not one symbolic link: %o %d %d", a.Mode, a.Ino, b.Ino)
	}
	unix.Lstat(filepath.Join(s.target, "once"), &a)
	unix.Lstat(filepath.Join(s.target, "d", "twice"), &b)
	if a.Ino != b.Ino {
		t.Error("two names for one image inode were unpacked as two files")
	}
	for name, typ := range map[string]uint32{"fifo": unix.S_IFIFO, "sock": unix.S_IFSOCK, "null": unix.S_IFREG} {
		unix.Lstat(filepath.Join(s.target, name), &a)
		if a.Mode&unix.S_IFMT != typ {
			t.Errorf("%s has host mode %o", name, a.Mode)
		}
	}
	if got := describe(t, s.target); !strings.Contains(got, "null 20666 0:0 dev=1,3") || !strings.Contains(got, "sda 64660 0:6 dev=8,0") {
		t.Errorf("device nodes:\n%s", got)
	}
	if err := tree.WriteBack(); err != nil {
		t.Fatal(err)
	}
	s.check(t)
}

// TestUnpackTooDeep: nesting is bounded (each level holds a descriptor).
func TestUnpackTooDeep(t *testing.T) {
	img := craftSized(t, "ext4", 16<<20, 2048, func(fs *ext4.FS) {
		d := fs.Root()
		for i := 0; i <= maxDepth; i++ {
			d = ok[ext4.Ino](t)(fs.Mkdir(d, "d", 0o755, 0, 0))
		}
	})
	s := newScene(t)
	_, err := Unpack(mountImage(t, img, true), s.target)
	if err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("got %v", err)
	}
	s.check(t)
}

// TestUnpackSharedBlocks: a file whose extents all name the same blocks claims far more
// data than the image holds; Unpack stops at what the image has room for instead of
// filling the host.
func TestUnpackSharedBlocks(t *testing.T) {
	debugfs := testenv.Tool(t, "debugfs")
	img := newImage(t, "ext4", 8<<20, 128)
	fs := mountImage(t, img, false)
	writeImageFile(t, fs, fs.Root(), "big", strings.Repeat("shared block ", 1000))
	must(t, fs.Unmount())
	out, err := exec.Command(debugfs, "-R", "imap /big", img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`located at block (\d+), offset 0x([0-9a-f]+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("debugfs imap: %s", out)
	}
	blk, _ := strconv.ParseInt(m[1], 10, 64)
	off, _ := strconv.ParseInt(m[2], 16, 64)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	must(t, err)
	in := make([]byte, 128)
	f.ReadAt(in, blk*1024+off)
	ib := in[0x28:]
	if binary.LittleEndian.Uint16(ib) != 0xF30A || binary.LittleEndian.Uint16(ib[2:]) != 1 {
		t.Fatal("big has no single in-inode extent")
	}
	start := binary.LittleEndian.Uint32(ib[12+8:])
	// four extents of 1000 blocks each, all at the file's own blocks: 4 MB from 13 KB
	binary.LittleEndian.PutUint16(ib[2:], 4)
	for i := 0; i < 4; i++ {
		e := ib[12+12*i:]
		binary.LittleEndian.PutUint32(e, uint32(i*1000))
		binary.LittleEndian.PutUint16(e[4:], 1000)
		binary.LittleEndian.PutUint16(e[6:], 0)
		binary.LittleEndian.PutUint32(e[8:], start)
	}
	binary.LittleEndian.PutUint32(in[4:], 4000*1024)
	f.WriteAt(in, blk*1024+off)
	f.Close()
	// a 2 MiB file system: the 4 MB cannot be there
	out, err = exec.Command(testenv.Tool(t, "debugfs"), "-w", "-R", "ssv blocks_count 2048", img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	s := newScene(t)
	fs = mountImage(t, img, true)
	_, err = Unpack(fs, s.target)
	if err == nil || !strings.Contains(err.Error(), "more data than it has room for") {
		t.Fatalf("got %v", err)
	}
	s.check(t)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// imageHolds reports whether any regular file of the image contains needle, or any name
// is name.
func imageHolds(t testing.TB, fs *ext4.FS, needle []byte, name string) string {
	t.Helper()
	var found string
	var walk func(ino ext4.Ino, p string, depth int)
	walk = func(ino ext4.Ino, p string, depth int) {
		if depth > 50 || found != "" {
			return
		}
		ents, err := fs.ReadDir(ino, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name == "." || e.Name == ".." {
				continue
			}
			if e.Name == name {
				found = p + "/" + e.Name
			}
			a, err := fs.Getattr(e.Ino)
			if err != nil {
				t.Fatal(err)
			}
			switch a.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				walk(e.Ino, p+"/"+e.Name, depth+1)
			case unix.S_IFREG:
				b := make([]byte, a.Size)
				n, err := fs.ReadAt(e.Ino, b, 0)
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if bytes.Contains(b[:n], needle) {
					found = p + "/" + e.Name
				}
			case unix.S_IFLNK:
				l, _ := fs.Readlink(e.Ino)
				if strings.Contains(l, string(needle)) {
					found = p + "/" + e.Name
				}
			}
			if a.UID == 4242 {
				found = p + "/" + e.Name + " (owner from the decoy)"
			}
		}
	}
	walk(fs.Root(), "", 0)
	return found
}

// TestWriteBackRace: while write-back runs, the guest keeps replacing a directory and a
// file by symbolic links to a decoy beside the tree (and putting them back). Write-back
// may store a link, but never anything of the decoy, and nothing outside the tree changes.
func TestWriteBackRace(t *testing.T) {
	img := craft(t, "ext4", func(fs *ext4.FS) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "d", 0o755, 0, 0))
		writeImageFile(t, fs, d, "f", "inside")
		writeImageFile(t, fs, d, "g", "inside too")
		sub := ok[ext4.Ino](t)(fs.Mkdir(d, "sub", 0o755, 0, 0))
		writeImageFile(t, fs, sub, "h", "deeper")
	})
	s := newScene(t)
	fs := mountImage(t, img, false)
	tree, err := Unpack(fs, s.target)
	if err != nil {
		t.Fatal(err)
	}
	decoy := filepath.Join(s.parent, "decoy")
	d := filepath.Join(s.target, "d")
	stop := make(chan bool)
	done := make(chan bool)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.WriteFile(filepath.Join(d, "f"), []byte(fmt.Sprint("inside ", i)), 0o644)
			switch i % 3 {
			case 0: // the directory becomes a link to the decoy for a moment
				if os.Rename(d, d+".away") == nil {
					os.Symlink(decoy, d)
					os.Remove(d)
					os.Rename(d+".away", d)
				}
			case 1: // a file becomes a link to the decoy's secret
				g := filepath.Join(d, "g")
				if os.Rename(g, g+".away") == nil {
					os.Symlink(filepath.Join(decoy, "secret"), g)
					os.Remove(g)
					os.Rename(g+".away", g)
				}
			case 2: // a subdirectory becomes one to the decoy's
				sub := filepath.Join(d, "sub")
				if os.Rename(sub, sub+".away") == nil {
					os.Symlink(filepath.Join(decoy, "sub"), sub)
					os.Remove(sub)
					os.Rename(sub+".away", sub)
				}
			}
		}
	}()
	fails := 0
	for i := 0; i < 300; i++ {
		if err := tree.WriteBack(); err != nil {
			fails++
		}
		if where := imageHolds(t, fs, []byte("SECRET-DECOY"), "secret"); where != "" {
			close(stop)
			<-done
			t.Fatalf("after write-back %d the image has the decoy's %s", i, where)
		}
	}
	close(stop)
	<-done
	t.Logf("%d of 300 write-backs failed under the race", fails)
	// the racer may have stopped half-way through a swap
	for _, p := range []string{d, filepath.Join(d, "g"), filepath.Join(d, "sub")} {
		if _, err := os.Lstat(p + ".away"); err == nil {
			os.Remove(p)
			must(t, os.Rename(p+".away", p))
		}
	}
	if err := tree.WriteBack(); err != nil {
		t.Fatal(err)
	}
	if where := imageHolds(t, fs, []byte("SECRET-DECOY"), "secret"); where != "" {
		t.Fatalf("the image has the decoy's %s", where)
	}
	s.check(t)
	// the image now is exactly the host tree
	dir2 := t.TempDir()
	if _, err := Unpack(fs, dir2); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(t, s.target), describe(t, dir2); a != b {
		t.Fatalf("image after the race unpacks to\n%s\nwant\n%s", b, a)
	}
}

// TestWriteBackFileByDescriptor: the guest renames an open file away and puts a symbolic
// link to a decoy carrying an owner attribute at its name; WriteBackFile reads the file
// it was given, not whatever the name now leads to.
func TestWriteBackFileByDescriptor(t *testing.T) {
	img := craft(t, "ext4", func(fs *ext4.FS) { writeImageFile(t, fs, fs.Root(), "f", "original") })
	s := newScene(t)
	fs := mountImage(t, img, false)
	tree, err := Unpack(fs, s.target)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.target, "f")
	must(t, os.WriteFile(p, []byte("changed"), 0o644))
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	must(t, os.Rename(p, p+".moved"))
	must(t, os.Symlink(filepath.Join(s.parent, "decoy", "secret"), p))
	done, err := tree.WriteBackFile(f)
	if !done || err != nil {
		t.Fatalf("WriteBackFile: %v %v", done, err)
	}
	ino := ok[ext4.Ino](t)(fs.Lookup(fs.Root(), "f"))
	a := ok[ext4.Attr](t)(fs.Getattr(ino))
	b := make([]byte, 100)
	n, _ := fs.ReadAt(ino, b, 0)
	if string(b[:n]) != "changed" || a.UID == 4242 {
		t.Fatalf("image file has %q, owner %d", b[:n], a.UID)
	}
	// a file outside the tree is never one the tree knows
	out, err := os.Open(filepath.Join(s.parent, "decoy", "secret"))
	must(t, err)
	defer out.Close()
	if done, err := tree.WriteBackFile(out); done || err != nil {
		t.Fatalf("WriteBackFile of a file outside the tree: %v %v", done, err)
	}
	s.check(t)
}

// TestOpenBeneath: both ways of finding a directory again stay beneath the root and refuse
// symbolic links and dot names.
func TestOpenBeneath(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.Symlink("..", filepath.Join(root, "a", "up"))
	os.Symlink(root, filepath.Join(root, "a", "abs"))
	rfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer unix.Close(rfd)
	for name, open := range map[string]func(int, []string) (int, error){"openat2": openBeneath, "walk": walkBeneath} {
		fd, err := open(rfd, []string{"a", "b"})
		if err != nil {
			t.Fatalf("%s a/b: %v", name, err)
		}
		unix.Close(fd)
		for _, bad := range [][]string{{"a", "up"}, {"a", "abs"}, {".."}, {"a", "..", ".."}, {"a/b"}} {
			if fd, err := open(rfd, bad); err == nil {
				unix.Close(fd)
				t.Errorf("%s %q: opened", name, bad)
			} else if err != syscall.ELOOP && err != unix.ENOTDIR && !strings.Contains(err.Error(), "not a file name") {
				t.Errorf("%s %q: %v", name, bad, err)
			}
		}
	}
}

// TestUnpackManyOwnedLinks: links of other owners than root are kept by their host
// directory (lib/hostmeta), whose attributes are bounded (4 KiB on ext4): an image with more
// of them in one directory than the host directory can keep unpacks with every owner right,
// or fails with one line that says why; it never unpacks with a wrong owner. A name longer
// than an attribute name can hold keeps its owner too.
func TestUnpackManyOwnedLinks(t *testing.T) {
	long := strings.Repeat("l", 250)
	img := craftSized(t, "ext4", 8<<20, 512, func(fs *ext4.FS) {
		d := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "few", 0o755, 0, 0))
		ok[ext4.Ino](t)(fs.Symlink(d, long, "x", 5, 6))
		ok[ext4.Ino](t)(fs.Symlink(d, "mine", "x", 1000, 100))
		ok[ext4.Ino](t)(fs.Symlink(d, "roots", "x", 0, 0))
		m := ok[ext4.Ino](t)(fs.Mkdir(fs.Root(), "many", 0o755, 0, 0))
		for i := 0; i < 300; i++ {
			ok[ext4.Ino](t)(fs.Symlink(m, fmt.Sprintf("link%03d", i), "x", uint32(1000+i), 100))
		}
	})
	fs := mountImage(t, img, true)
	dir := t.TempDir()
	_, err := Unpack(fs, dir)
	if err != nil {
		if !strings.Contains(err.Error(), "extended attributes are full") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("unpacking 300 owned links in one directory: %v", err)
		}
		t.Logf("the host directory cannot keep 300 owners (%v); the few:", err)
		// the directory that fits is unpacked before "many"
	}
	got := describe(t, dir)
	for _, want := range []string{"few/" + long + " 120777 5:6 -> x", "few/mine 120777 1000:100 -> x", "few/roots 120777 0:0 -> x"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %.40q... in the unpacked tree:\n%.2000s", want, got)
		}
	}
	if err == nil {
		for i := 0; i < 300; i++ {
			if w := fmt.Sprintf("many/link%03d 120777 %d:100 -> x", i, 1000+i); !strings.Contains(got, w) {
				t.Errorf("no %q", w)
			}
		}
	}
}
