package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// longTree makes a tree with the symlinks a walk must treat as the host's RESOLVE_IN_ROOT
// does (relative, climbing out of the top, absolute, dangling, a loop, a file in the way)
// and returns an O_PATH fd of its top.
func longTree(t testing.TB) int {
	dir := t.TempDir()
	for _, d := range []string{"a/b/c", "x"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "a/b/c/f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(dir, "x/g"), []byte("g"), 0o644)
	for name, target := range map[string]string{
		"a/rel": "b/c", "a/b/up": "../..", "a/b/abs": "/x", "a/b/out": "../../../../x/g",
		"a/dangling": "nothing", "loop": "loop", "a/b/c/tofile": "f", "a/b/c/abslink": "/a/rel/f",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// resolved is what an open gave: the file's type, device and inode, or the error.
func resolved(fd int, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "fstat " + err.Error()
	}
	return fmt.Sprintf("file %o %d:%d", st.Mode&unix.S_IFMT, st.Dev, st.Ino)
}

// compareLong checks that openLong resolves "./"×n + p exactly as the host's openat2 with
// RESOLVE_IN_ROOT resolves p itself, for the flags the kernel uses.
func compareLong(t testing.TB, root int, p string) {
	if p == "" || len(p) >= unix.PathMax-64 {
		return // "" padded is "./", no longer the empty path the host refuses
	}
	long := strings.Repeat("./", (unix.PathMax+1)/2) + p
	for _, how := range []unix.OpenHow{
		{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags},
		{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags},
		{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS},
		{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags},
	} {
		h := how
		want := resolved(openat2(root, p, &h)) // the short path: the host's openat2, retried on EAGAIN as the kernel's is
		h = how
		got := resolved(openat2(root, long, &h))
		if got != want {
			t.Errorf("%q flags %#x resolve %#x: walked %s, the host %s", p, how.Flags, how.Resolve, got, want)
		}
	}
}

// TestOpenLongMatchesHost: a path of PATH_MAX bytes or more, which the host refuses, is
// walked (longpath.go) to the same file, or the same error, as the host resolves the same
// path made short: "..", symlinks of every kind, trailing slashes, ELOOP, ENOTDIR.
func TestOpenLongMatchesHost(t *testing.T) {
	root := longTree(t)
	for _, p := range []string{
		"a/b/c/f", "/a/b/c/f", "a/b/c/f/", "a/b/c", "a/b/c/", ".", "..", "../../a", "a/..", "a/b/..",
		"a/rel/f", "a/rel", "a/rel/", "a/b/up/x/g", "a/b/up/../..", "a/b/abs/g", "a/b/abs", "a/b/out",
		"a/dangling", "a/dangling/", "loop", "loop/x", "a/b/c/tofile", "a/b/c/tofile/", "a/b/c/f/x",
		"a/b/c/abslink", "missing", "missing/x", "a/b/c/../../rel/../b/c/f", "//a//b//c//f",
	} {
		compareLong(t, root, p)
	}
	// a create through the walk makes the file where the host would
	h := unix.OpenHow{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY | unix.O_CLOEXEC, Mode: 0o600, Resolve: resolveFlags}
	fd, err := openat2(root, strings.Repeat("./", unix.PathMax)+"a/b/up/x/new", &h)
	if err != nil {
		t.Fatalf("create through a long path: %v", err)
	}
	unix.Close(fd)
	if want := resolved(unix.Openat2(root, "x/new", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags})); want[:5] != "file " {
		t.Errorf("the created file is not at x/new: %s", want)
	}
}

// FuzzOpenLong compares the walk with the host's RESOLVE_IN_ROOT on any path.
func FuzzOpenLong(f *testing.F) {
	for _, p := range []string{"a/b/c/f", "a/b/up/../../x", "a/rel/../rel/f/", "/a/b/abs/../x/g", "loop/..", "a/b/out"} {
		f.Add(p)
	}
	root := longTree(f)
	f.Fuzz(func(t *testing.T, p string) {
		if strings.ContainsRune(p, 0) {
			return
		}
		compareLong(t, root, p)
	})
}
