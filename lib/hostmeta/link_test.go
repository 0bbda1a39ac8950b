package hostmeta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLinkOwner(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("n", LinkNameMax+1)
	for _, name := range []string{"l", "a:b", "with space", strings.Repeat("m", LinkNameMax), long} {
		if err := os.Symlink("target", filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	st := stat(t, filepath.Join(dir, "l"))
	ApplyLink(dir, "l", &st, uid, gid)
	if st.Uid != 0 || st.Gid != 0 || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("link without an owner kept: %d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	if err := SetLinkOwner(dir, "l", 1000, 100); err != nil {
		t.Skipf("no user xattrs on directories here: %v", err)
	}
	for i, name := range []string{"a:b", "with space", strings.Repeat("m", LinkNameMax), long} {
		if err := SetLinkOwner(dir, name, uint32(i+1), uint32(i+11)); err != nil {
			t.Fatalf("%.20q: %v", name, err)
		}
	}
	st = stat(t, filepath.Join(dir, "l"))
	ApplyLink(dir, "l", &st, uid, gid)
	if st.Uid != 1000 || st.Gid != 100 {
		t.Fatalf("link l: %d:%d, want 1000:100", st.Uid, st.Gid)
	}
	for i, name := range []string{"a:b", "with space", strings.Repeat("m", LinkNameMax), long} {
		u, g, ok, err := LinkOwner(dir, name)
		if err != nil || !ok || u != uint32(i+1) || g != uint32(i+11) {
			t.Fatalf("%.20q: %d:%d %v %v, want %d:%d", name, u, g, ok, err, i+1, i+11)
		}
	}
	if a := LinkAttr(long); !strings.HasPrefix(a, LinkHashPrefix) || len(a) > 255 {
		t.Fatalf("long name's attribute %q", a)
	}
	if a := LinkAttr("x"); a != "user.gouml.link.x" {
		t.Fatalf("short name's attribute %q", a)
	}
	// a value that does not parse counts as none
	unix.Setxattr(dir, LinkAttr("l"), []byte("1000"), 0)
	if _, _, ok, err := LinkOwner(dir, "l"); ok || err != nil {
		t.Fatalf("bad value read as an owner (%v)", err)
	}
	if err := RemoveLinkOwner(dir, "l"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveLinkOwner(dir, "l"); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if _, _, ok, _ := LinkOwner(dir, "l"); ok {
		t.Fatal("owner still kept after RemoveLinkOwner")
	}
	// a directory that cannot be read is an error, not "no owner"
	if _, _, _, err := LinkOwner(filepath.Join(dir, "missing"), "l"); err == nil {
		t.Fatal("LinkOwner of a missing directory: no error")
	}
}

func TestParseOwner(t *testing.T) {
	for _, c := range []struct {
		in       string
		uid, gid uint32
		ok       bool
	}{
		{"0:0", 0, 0, true},
		{"1000:100", 1000, 100, true},
		{"4294967295:4294967295", 1<<32 - 1, 1<<32 - 1, true},
		{"007:8", 7, 8, true},
		{"4294967296:0", 0, 0, false},
		{"1000", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"+1:2", 0, 0, false},
		{" 1:2", 0, 0, false},
		{":", 0, 0, false},
		{"", 0, 0, false},
	} {
		u, g, err := ParseOwner([]byte(c.in))
		if (err == nil) != c.ok || u != c.uid || g != c.gid {
			t.Errorf("ParseOwner(%q) = %d, %d, %v", c.in, u, g, err)
		}
	}
}

func FuzzParseOwner(f *testing.F) {
	for _, s := range []string{"0:0", "1000:100", "4294967295:1", "1:2:3", "x", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		u, g, err := ParseOwner(v)
		if err != nil {
			return
		}
		// what parses formats back to a value that parses the same
		u2, g2, err := ParseOwner(FormatOwner(u, g))
		if err != nil || u2 != u || g2 != g {
			t.Fatalf("%q: %d:%d, formatted and parsed again %d:%d %v", v, u, g, u2, g2, err)
		}
	})
}
