package ext4

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// mkfs makes an image of size bytes with mkfs.<kind> (ext2, ext3, ext4), populated from src
// if not empty, and returns its path.
func mkfs(t testing.TB, kind string, size int64, src string, args ...string) string {
	t.Helper()
	tool := testenv.Tool(t, "mkfs."+kind)
	img := filepath.Join(t.TempDir(), kind+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a := append([]string{"-q", "-F", "-E", "root_owner=0:0"}, args...)
	if src != "" {
		a = append(a, "-d", src)
	}
	a = append(a, img)
	cmd := exec.Command(tool, a...)
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=", "MKE2FS_CONFIG=/etc/mke2fs.conf")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.%s %v: %v\n%s", kind, a, err, out)
	}
	return img
}

// fsck runs e2fsck with args on img and returns its exit code and output.
func fsck(t testing.TB, img string, args ...string) (int, string) {
	t.Helper()
	tool := testenv.Tool(t, "e2fsck")
	cmd := exec.Command(tool, append(args, img)...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func fsckClean(t testing.TB, img string) {
	t.Helper()
	if code, out := fsck(t, img, "-fn"); code != 0 {
		t.Fatalf("e2fsck -fn %s: exit %d\n%s", img, code, out)
	}
}

func debugfs(t testing.TB, img string, req string) string {
	t.Helper()
	tool := testenv.Tool(t, "debugfs")
	out, err := exec.Command(tool, "-R", req, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs -R %q: %v\n%s", req, err, out)
	}
	return string(out)
}

func mount(t testing.TB, img string, ro bool) (*FS, *FileDevice) {
	t.Helper()
	dev, err := OpenFile(img, ro)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Mount(dev, Options{ReadOnly: ro})
	if err != nil {
		dev.Close()
		t.Fatalf("Mount %s: %v", img, err)
	}
	t.Cleanup(func() { dev.Close() })
	return fs, dev
}

func unmount(t testing.TB, fs *FS, dev *FileDevice) {
	t.Helper()
	if err := fs.Unmount(); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	dev.Close()
}

// walkPath resolves a slash-separated path from the root.
func walkPath(fs *FS, p string) (Ino, error) {
	ino := fs.Root()
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c == "" {
			continue
		}
		n, err := fs.Lookup(ino, c)
		if err != nil {
			return 0, err
		}
		ino = n
	}
	return ino, nil
}

func readAll(t testing.TB, fs *FS, ino Ino) []byte {
	t.Helper()
	a, err := fs.Getattr(ino)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, a.Size)
	n, err := fs.ReadAt(ino, buf, 0)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadAt ino %d: %v", ino, err)
	}
	return buf[:n]
}

// hostSegments lists the data segments of a host file (SEEK_DATA/SEEK_HOLE).
func hostSegments(f *os.File, size int64) [][2]int64 {
	var segs [][2]int64
	for off := int64(0); off < size; {
		d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			break
		}
		h, err := unix.Seek(int(f.Fd()), d, unix.SEEK_HOLE)
		if err != nil {
			h = size
		}
		segs = append(segs, [2]int64{d, h})
		off = h
	}
	return segs
}

// compareFile checks content hole-aware: every host data segment reads back equal, and every
// data segment of ours that lies outside them reads as zeros.
func compareFile(t *testing.T, fs *FS, ino Ino, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	size := st.Size()
	check := func(off, end int64, host bool) {
		for off < end {
			n := min(end-off, 1<<20)
			a := make([]byte, n)
			b := make([]byte, n)
			if host {
				if _, err := f.ReadAt(a, off); err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
			if _, err := fs.ReadAt(ino, b, off); err != nil && err != io.EOF {
				t.Fatalf("%s: ReadAt %d: %v", path, off, err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: data differs in [%d, %d)", path, off, off+n)
			}
			off += n
		}
	}
	for _, s := range hostSegments(f, size) {
		check(s[0], s[1], true)
	}
	for off := int64(0); off < size; {
		d, err := fs.SeekData(ino, off, false)
		if err != nil {
			break
		}
		h, err := fs.SeekData(ino, d, true)
		if err != nil {
			t.Fatal(err)
		}
		// read our segment and compare with the host (which reads zeros in its holes)
		check(d, h, true)
		off = h
	}
}

func hostXattrs(t *testing.T, path string) map[string]string {
	m := map[string]string{}
	buf := make([]byte, 65536)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || strings.HasPrefix(name, "system.") && !strings.HasPrefix(name, "system.posix_acl") {
			continue
		}
		v := make([]byte, 65536)
		vn, err := unix.Lgetxattr(path, name, v)
		if err != nil {
			t.Fatal(err)
		}
		m[name] = string(v[:vn])
	}
	return m
}

func ourXattrs(t *testing.T, fs *FS, ino Ino) map[string]string {
	m := map[string]string{}
	names, err := fs.Listxattr(ino)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "system.") && !strings.HasPrefix(n, "system.posix_acl") {
			continue
		}
		v, err := fs.Getxattr(ino, n)
		if err != nil {
			t.Fatal(err)
		}
		m[n] = string(v)
	}
	return m
}

// compareTree checks that every file under host appears identically at the same path in fs.
func compareTree(t *testing.T, fs *FS, host string, checkXattrs bool) int {
	t.Helper()
	count := 0
	err := filepath.Walk(host, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(host, path)
		if rel == "." {
			rel = ""
		}
		ino, err := walkPath(fs, rel)
		if err != nil {
			t.Fatalf("%s: lookup: %v", rel, err)
		}
		a, err := fs.Getattr(ino)
		if err != nil {
			t.Fatalf("%s: getattr: %v", rel, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if rel != "" {
			if a.Mode != st.Mode || a.UID != st.Uid || a.GID != st.Gid {
				t.Fatalf("%s: mode/uid/gid %o %d %d, want %o %d %d", rel, a.Mode, a.UID, a.GID, st.Mode, st.Uid, st.Gid)
			}
			if !fi.IsDir() && a.Nlink != uint32(st.Nlink) {
				t.Fatalf("%s: nlink %d, want %d", rel, a.Nlink, st.Nlink)
			}
			// mke2fs -d copies whole seconds only
			if want := time.Unix(st.Mtim.Sec, 0); a.Mtime.Unix() != want.Unix() && !fi.IsDir() {
				t.Fatalf("%s: mtime %v, want %v", rel, a.Mtime, want)
			}
		}
		count++
		switch fi.Mode().Type() {
		case 0:
			if a.Size != uint64(fi.Size()) {
				t.Fatalf("%s: size %d, want %d", rel, a.Size, fi.Size())
			}
			compareFile(t, fs, ino, path)
		case os.ModeSymlink:
			want, _ := os.Readlink(path)
			got, err := fs.Readlink(ino)
			if err != nil || got != want {
				t.Fatalf("%s: readlink %q %v, want %q", rel, got, err, want)
			}
		case os.ModeDevice, os.ModeDevice | os.ModeCharDevice:
			if a.Rdev != st.Rdev {
				t.Fatalf("%s: rdev %#x, want %#x", rel, a.Rdev, st.Rdev)
			}
		case os.ModeDir:
			ents, err := os.ReadDir(path)
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, e := range ents {
				want = append(want, e.Name())
			}
			ours, err := fs.ReadDir(ino, 0, 0)
			if err != nil {
				t.Fatalf("%s: readdir: %v", rel, err)
			}
			for _, e := range ours {
				if e.Name == "." || e.Name == ".." || (rel == "" && e.Name == "lost+found") {
					continue
				}
				got = append(got, e.Name)
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(want, "/") != strings.Join(got, "/") {
				t.Fatalf("%s: directory has %d names, want %d", rel, len(got), len(want))
			}
		}
		if checkXattrs {
			w, g := hostXattrs(t, path), ourXattrs(t, fs, ino)
			if len(w) != len(g) {
				t.Fatalf("%s: xattrs %q, want %q", rel, g, w)
			}
			for k, v := range w {
				if g[k] != v {
					t.Fatalf("%s: xattr %s = %q, want %q", rel, k, g[k], v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}
