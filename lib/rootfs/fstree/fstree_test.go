package fstree

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func reg(s string) *Inode { return &Inode{Mode: TypeReg | 0o644, Size: int64(len(s)), Data: Bytes(s)} }

func link(to string) *Inode { return &Inode{Mode: TypeLink | 0o777, Target: to} }

// Paths are resolved inside the tree: symbolic links among the parents are followed the way
// a chroot would follow them, ".." never climbs above the root, loops end in an error.
func TestPutFollowsLinksInsideTheTree(t *testing.T) {
	tr := New(time.Unix(0, 0))
	must := func(_ *Node, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.Put("/usr/bin/ls", reg("ls")))
	must(tr.Put("/bin", link("usr/bin")))
	must(tr.Put("/bin/cat", reg("cat")))
	if n, err := tr.Lookup("/usr/bin/cat"); err != nil || n.Inode.Size != 3 {
		t.Fatalf("/bin/cat did not land in /usr/bin: %v", err)
	}
	must(tr.Put("/up", link("../../../../usr")))
	must(tr.Put("/up/x", reg("x")))
	if _, err := tr.Lookup("/usr/x"); err != nil {
		t.Fatalf(".. above the root must stay at the root: %v", err)
	}
	must(tr.Put("/abs", link("/usr/bin")))
	must(tr.Put("/abs/y", reg("y")))
	if _, err := tr.Lookup("/usr/bin/y"); err != nil {
		t.Fatal(err)
	}
	must(tr.Put("/a", link("b")))
	must(tr.Put("/b", link("a")))
	if _, err := tr.Put("/a/z", reg("z")); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Fatalf("link loop: got %v", err)
	}
	if _, err := tr.Put("/usr/bin/ls/sub", reg("s")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file as a parent: got %v", err)
	}
	if _, err := tr.Put("/x/../../etc", reg("e")); !errors.Is(err, ErrOutside) {
		t.Fatalf(".. in a name: got %v", err)
	}
}

func TestHardLinksShareTheInode(t *testing.T) {
	tr := New(time.Unix(0, 0))
	tr.Put("/a", reg("data"))
	if err := tr.Link("/b", "/a"); err != nil {
		t.Fatal(err)
	}
	a, _ := tr.Lookup("/a")
	b, _ := tr.Lookup("/b")
	if a.Inode != b.Inode {
		t.Fatal("hard link has its own inode")
	}
	tr.Put("/d", &Inode{Mode: TypeDir | 0o755})
	if err := tr.Link("/e", "/d"); err == nil {
		t.Fatal("hard link to a directory accepted")
	}
	if err := tr.Link("/f", "/missing"); err == nil {
		t.Fatal("hard link to nothing accepted")
	}
	if s := tr.Stats(); s.Files != 3 || s.Inodes != 3 || s.Bytes != 4 {
		t.Fatalf("stats %+v", s)
	}
}
