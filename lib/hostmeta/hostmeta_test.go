package hostmeta

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func stat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApply(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, nil, 0o644)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	st := stat(t, p)
	Apply(p, &st, uid, gid)
	if st.Uid != 0 || st.Gid != 0 || st.Mode != unix.S_IFREG|0o644 {
		t.Fatalf("plain file: %d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	if err := SetOwner(p, 1000, 100); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	SetMode(p, unix.S_IFCHR|0o4755)
	SetRdev(p, unix.Mkdev(4, 64))
	st = stat(t, p)
	Apply(p, &st, uid, gid)
	if st.Uid != 1000 || st.Gid != 100 || st.Mode != unix.S_IFCHR|0o4755 || st.Rdev != unix.Mkdev(4, 64) {
		t.Fatalf("device placeholder: %d:%d %o %x", st.Uid, st.Gid, st.Mode, st.Rdev)
	}
	// a file with data is no placeholder: its type stays, the permission bits count
	os.WriteFile(p, []byte("x"), 0o644)
	st = stat(t, p)
	Apply(p, &st, uid, gid)
	if st.Mode != unix.S_IFREG|0o4755 || st.Rdev != 0 {
		t.Fatalf("regular file with a device mode: %o %x", st.Mode, st.Rdev)
	}
	// the first version's attributes
	q := filepath.Join(dir, "old")
	os.WriteFile(q, nil, 0o600)
	unix.Setxattr(q, LegacyOwner, []byte("7:8"), 0)
	unix.Setxattr(q, LegacyDev, []byte("b:8:1"), 0)
	st = stat(t, q)
	Apply(q, &st, uid, gid)
	if st.Uid != 7 || st.Gid != 8 || st.Mode != unix.S_IFBLK|0o600 || st.Rdev != unix.Mkdev(8, 1) {
		t.Fatalf("legacy attributes: %d:%d %o %x", st.Uid, st.Gid, st.Mode, st.Rdev)
	}
}

// FuzzApply: whatever the attributes hold (a host user can write them), Apply neither
// panics nor makes a directory or a symlink of a regular file.
func FuzzApply(f *testing.F) {
	f.Add("1000", "100", "20644", "1:3", "c:1:3", "5:6")
	f.Add("-1", "x", "177777777777", "::", "z:1", ":")
	f.Add("", "", "40755", "99999999999:1", "b:0:0", "a:b")
	dir := f.TempDir()
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, u, g, m, r, dev, owner string) {
		p := filepath.Join(dir, "f")
		os.Remove(p)
		os.WriteFile(p, nil, 0o644)
		for name, v := range map[string]string{UID: u, GID: g, Mode: m, Rdev: r, LegacyDev: dev, LegacyOwner: owner} {
			if len(v) > 0 && len(v) < 60 {
				unix.Setxattr(p, name, []byte(v), 0)
			}
		}
		st := stat(t, p)
		at := st
		Apply(p, &st, 0, 0)
		if typ := st.Mode & unix.S_IFMT; typ == unix.S_IFDIR || typ == unix.S_IFLNK {
			t.Fatalf("a regular file became %o", st.Mode)
		}
		// the kernel's way to the same attributes reads the same
		if ApplyAt(dirfd, "f", &at, 0, 0) && at != st {
			t.Fatalf("ApplyAt: %+v, Apply: %+v", at, st)
		}
	})
}

// TestApplyAt: reading the attributes below a directory fd, as the kernel does through its
// /proc/self/fd, gives what Apply gives by path, for every form of the attributes.
func TestApplyAt(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, attrs := range []map[string]string{
		nil,
		{UID: "1000", GID: "100"},
		{Mode: "20644", Rdev: "4:64"},
		{LegacyOwner: "7:8", LegacyDev: "b:8:1"},
		{UID: "5", "user.other": "x"},
	} {
		p := filepath.Join(dir, strconv.Itoa(i))
		os.WriteFile(p, nil, 0o644)
		for k, v := range attrs {
			if err := unix.Setxattr(p, k, []byte(v), 0); err != nil {
				t.Skipf("no user xattrs here: %v", err)
			}
		}
		files = append(files, p)
	}
	// a file with more attribute names than Apply's listing holds
	many := filepath.Join(dir, "many")
	os.WriteFile(many, nil, 0o644)
	for i := 0; i < 40; i++ {
		unix.Setxattr(many, "user.some.long.attribute.name."+strconv.Itoa(i), []byte("v"), 0)
	}
	unix.Setxattr(many, GID, []byte("42"), 0)
	files = append(files, many)
	procFD, err := unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(procFD)
	for _, p := range files {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := stat(t, p)
		got := want
		Apply(p, &want, 0, 0)
		if !ApplyAt(procFD, strconv.Itoa(fd), &got, 0, 0) {
			unix.Close(fd)
			t.Skip("no listxattrat/getxattrat on this host (Linux 6.13+)")
		}
		unix.Close(fd)
		if got != want {
			t.Errorf("%s: ApplyAt %+v, Apply %+v", filepath.Base(p), got, want)
		}
	}
}
