package hostmeta

import (
	"os"
	"path/filepath"
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
		Apply(p, &st, 0, 0)
		if typ := st.Mode & unix.S_IFMT; typ == unix.S_IFDIR || typ == unix.S_IFLNK {
			t.Fatalf("a regular file became %o", st.Mode)
		}
	})
}
