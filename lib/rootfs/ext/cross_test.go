package ext

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/extfmt"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// The cross test: mkrootfs's writer makes an image from a tree holding one of everything it
// can store, the kernel's driver (lib/ext4) reads it back, and every file must be what the
// tree said: content, type and mode, owner, times to the nanosecond, link count, device
// number, link target, extended attributes. The real e2fsck must find the image clean. The
// two sides share only extfmt, so a format mistake they share would pass here and fail at
// e2fsck; one they do not share fails here.

// sparseContent is size bytes of zeros with a marker every stride bytes: it stands for big
// files (the writer leaves all-zero blocks unwritten) without costing their size in memory.
type sparseContent struct{ size, stride int64 }

func (s sparseContent) at(off int64) byte {
	if off%s.stride < 8 {
		return byte(off/s.stride) + byte(off%s.stride) + 1
	}
	return 0
}

func (s sparseContent) Open() (io.ReadCloser, error) { return io.NopCloser(&sparseReader{c: s}), nil }

type sparseReader struct {
	c   sparseContent
	off int64
}

func (r *sparseReader) Read(p []byte) (int, error) {
	if r.off >= r.c.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.c.size-r.off))
	for i := 0; i < n; i++ {
		p[i] = r.c.at(r.off + int64(i))
	}
	r.off += int64(n)
	return n, nil
}

// crossTree builds the tree; big adds a file of more than four groups (so more extents than
// fit in the inode: an index and leaf blocks).
func crossTree(t *testing.T, big bool) *fstree.Tree {
	tr := fstree.New(epoch)
	put := func(p string, in *fstree.Inode) {
		t.Helper()
		if _, err := tr.Put(p, in); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	for _, n := range []int{0, 1, 59, 60, 4095, 4096, 4097, 12*4096 + 1, 1<<20 + 3} {
		put(fmt.Sprintf("/sizes/f%d", n), file(0o644, 0, 0, random(n)))
	}
	hole := make([]byte, 5<<20)
	copy(hole, "head")
	copy(hole[len(hole)-4:], "tail")
	put("/sparse/holes", file(0o600, 0, 0, hole))
	put("/sparse/zeros", file(0o600, 0, 0, make([]byte, 3<<20)))
	if big {
		put("/sparse/big", &fstree.Inode{Mode: fstree.TypeReg | 0o644, Size: 700 << 20, Data: sparseContent{700 << 20, 9 << 20}, Mtime: epoch})
	}
	put("/names/"+strings.Repeat("n", 255), file(0o644, 0, 0, []byte("longest name")))
	for i := 0; i < 800; i++ { // several directory blocks
		put(fmt.Sprintf("/many/entry-with-a-name-long-enough-%04d", i), file(0o644, uint32(i), uint32(i), []byte{byte(i)}))
	}
	put("/links/fast", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: "../sizes/f1", Mtime: epoch})
	put("/links/edge", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: strings.Repeat("e", 60), Mtime: epoch})
	put("/links/slow", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: "/" + strings.Repeat("dir/", 70) + "end", Mtime: epoch})
	put("/dev/null", &fstree.Inode{Mode: fstree.TypeChr | 0o666, Major: 1, Minor: 3, Mtime: epoch})
	put("/dev/sda1", &fstree.Inode{Mode: fstree.TypeBlk | 0o660, GID: 6, Major: 8, Minor: 1, Mtime: epoch})
	put("/dev/wide", &fstree.Inode{Mode: fstree.TypeChr | 0o600, Major: 511, Minor: 1 << 19, Mtime: epoch})
	put("/dev/fifo", &fstree.Inode{Mode: fstree.TypeFifo | 0o620, Mtime: epoch})
	put("/dev/sock", &fstree.Inode{Mode: fstree.TypeSock | 0o755, Mtime: epoch})
	put("/own/setuid", file(0o4755, 0, 0, []byte("#!/bin/true\n")))
	put("/own/setgid-sticky", &fstree.Inode{Mode: fstree.TypeDir | 0o3775, UID: 1000, GID: 50, Mtime: epoch})
	put("/own/big-ids", file(0o640, 100000, 200000, []byte("ids above 16 bits")))
	put("/times/old", &fstree.Inode{Mode: fstree.TypeReg | 0o644, Mtime: time.Date(1960, 1, 2, 3, 4, 5, 6, time.UTC),
		Atime: time.Date(1901, 12, 14, 0, 0, 0, 0, time.UTC), Ctime: epoch})
	put("/times/new", &fstree.Inode{Mode: fstree.TypeReg | 0o644, Mtime: time.Date(2100, 2, 3, 4, 5, 6, 7, time.UTC),
		Atime: time.Date(2038, 1, 19, 3, 14, 8, 999999999, time.UTC), Ctime: time.Date(2446, 1, 1, 0, 0, 0, 1, time.UTC)})
	put("/hard/a", file(0o644, 7, 7, []byte("three names")))
	for _, n := range []string{"/hard/b", "/other/c"} {
		if err := tr.Link(n, "/hard/a"); err != nil {
			t.Fatal(err)
		}
	}
	x := file(0o755, 0, 0, []byte("attrs"))
	x.Xattrs = map[string][]byte{
		"security.capability":     {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"user.long":               bytes.Repeat([]byte("v"), 2500),
		"user.empty":              {},
		"user.caf\xc3\xa9":        []byte("high bytes in the name: the two hash forms differ"),
		"trusted.t":               []byte("t"),
		"system.posix_acl_access": acl(t, 6, 1000, 5, 4, 5, 4),
	}
	put("/xattr/file", x)
	d := &fstree.Inode{Mode: fstree.TypeDir | 0o755, Mtime: epoch,
		Xattrs: map[string][]byte{"system.posix_acl_default": acl(t, 7, 33, 7, 5, 7, 0)}}
	put("/xattr/dir", d)
	return tr
}

// acl is an ACL in the xattr form: owner, one named user, group, mask, other.
func acl(t *testing.T, owner uint16, uid uint32, user, group, mask, other uint16) []byte {
	b := binary32(extfmt.ACLXattrVersion)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{extfmt.ACLUserObj, owner, extfmt.ACLUndefinedID}, {extfmt.ACLUser, user, uid},
		{extfmt.ACLGroupObj, group, extfmt.ACLUndefinedID}, {extfmt.ACLMask, mask, extfmt.ACLUndefinedID},
		{extfmt.ACLOther, other, extfmt.ACLUndefinedID}} {
		b = append(b, byte(e.tag), byte(e.tag>>8), byte(e.perm), byte(e.perm>>8))
		b = append(b, binary32(e.id)...)
	}
	return b
}

func binary32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func TestWriterImagesReadBackByDriver(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"ext2", Options{Now: epoch}},
		{"ext4", Options{Ext4: true, Now: epoch}},
		{"ext4-journal", Options{Ext4: true, Journal: true, Now: epoch}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			big := c.o.Ext4 && !c.o.Journal && !testing.Short()
			tr := crossTree(t, big)
			img := writeImage(t, tr, c.o)
			fsck(t, img)
			dev, err := ext4.OpenFile(img, true)
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			fs, err := ext4.Mount(dev, ext4.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Unmount()
			n := compareTree(t, fs, tr)
			t.Logf("%d names compared", n)
			if big {
				st := debugfs(t, img, "stat /sparse/big")
				if !strings.Contains(st, "(ETB0)") {
					t.Errorf("/sparse/big has no extent index block:\n%.1500s", st)
				}
			}
		})
	}
}

// compareTree walks the tree and the image side by side and returns how many names it
// compared.
func compareTree(t *testing.T, fs *ext4.FS, tr *fstree.Tree) int {
	count := 0
	names := map[*fstree.Inode]uint32{}
	if err := tr.Walk(func(n *fstree.Node) error { names[n.Inode]++; return nil }); err != nil {
		t.Fatal(err)
	}
	inos := map[*fstree.Inode]ext4.Ino{}
	var walk func(n *fstree.Node, ino ext4.Ino)
	walk = func(n *fstree.Node, ino ext4.Ino) {
		count++
		if prev, ok := inos[n.Inode]; ok && prev != ino {
			t.Errorf("%s: hard link to inode %d, its other name has %d", n.Path(), ino, prev)
		}
		inos[n.Inode] = ino
		compareNode(t, fs, n, ino, names[n.Inode])
		if !n.Inode.IsDir() {
			return
		}
		ents, err := fs.ReadDir(ino, 0, 0)
		if err != nil {
			t.Fatalf("%s: ReadDir: %v", n.Path(), err)
		}
		var got, want []string
		for _, e := range ents[2:] {
			got = append(got, e.Name)
		}
		for _, c := range n.SortedChildren() {
			want = append(want, c.Name)
		}
		sort.Strings(got)
		if strings.Join(got, "/") != strings.Join(want, "/") {
			t.Errorf("%s: the image lists %d names, the tree %d", n.Path(), len(got), len(want))
		}
		for _, c := range n.SortedChildren() {
			ci, err := fs.Lookup(ino, c.Name)
			if err != nil {
				t.Errorf("%s: %v", c.Path(), err)
				continue
			}
			walk(c, ci)
		}
	}
	walk(tr.Root, fs.Root())
	return count
}

func compareNode(t *testing.T, fs *ext4.FS, n *fstree.Node, ino ext4.Ino, names uint32) {
	t.Helper()
	p, in := n.Path(), n.Inode
	a, err := fs.Getattr(ino)
	if err != nil {
		t.Fatalf("%s: Getattr: %v", p, err)
	}
	if a.Mode != in.Mode || a.UID != in.UID || a.GID != in.GID {
		t.Errorf("%s: mode %#o uid %d gid %d, want %#o %d %d", p, a.Mode, a.UID, a.GID, in.Mode, in.UID, in.GID)
	}
	at, ct, mt := times(in)
	if !a.Mtime.Equal(mt) || !a.Atime.Equal(at) || !a.Ctime.Equal(ct) {
		t.Errorf("%s: times a %v m %v c %v, want %v %v %v", p, a.Atime, a.Mtime, a.Ctime, at, mt, ct)
	}
	if want := wantLinks(n, names); a.Nlink != want {
		t.Errorf("%s: %d links, want %d", p, a.Nlink, want)
	}
	switch in.Type() {
	case fstree.TypeReg:
		compareContent(t, fs, ino, p, in)
	case fstree.TypeLink:
		if got, err := fs.Readlink(ino); err != nil || got != in.Target {
			t.Errorf("%s: link target %q (%v), want %q", p, got, err, in.Target)
		}
	case fstree.TypeChr, fstree.TypeBlk:
		if ext4.Major(a.Rdev) != in.Major || ext4.Minor(a.Rdev) != in.Minor {
			t.Errorf("%s: device %d:%d, want %d:%d", p, ext4.Major(a.Rdev), ext4.Minor(a.Rdev), in.Major, in.Minor)
		}
	}
	compareXattrs(t, fs, ino, p, in.Xattrs)
}

// wantLinks is the link count the writer gives: the names of a file, 2 plus the
// subdirectories of a directory (lost+found, which the writer adds, is in the tree by then).
func wantLinks(n *fstree.Node, names uint32) uint32 {
	if !n.Inode.IsDir() {
		return names
	}
	c := uint32(2)
	for _, ch := range n.Children {
		if ch.Inode.IsDir() {
			c++
		}
	}
	return c
}

func compareContent(t *testing.T, fs *ext4.FS, ino ext4.Ino, p string, in *fstree.Inode) {
	t.Helper()
	var data fstree.Content = fstree.Bytes(nil)
	if in.Data != nil {
		data = in.Data
	}
	rc, err := data.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := make([]byte, 1<<20)
	got := make([]byte, 1<<20)
	for off := int64(0); ; off += int64(len(want)) {
		wn, werr := io.ReadFull(rc, want)
		gn, gerr := fs.ReadAt(ino, got, off)
		if gerr != nil && gerr != io.EOF {
			t.Fatalf("%s: ReadAt %d: %v", p, off, gerr)
		}
		if wn != gn || !bytes.Equal(want[:wn], got[:gn]) {
			t.Errorf("%s: content differs in the MiB at %d (%d vs %d bytes)", p, off, gn, wn)
			return
		}
		if werr != nil {
			return
		}
	}
}

func compareXattrs(t *testing.T, fs *ext4.FS, ino ext4.Ino, p string, want map[string][]byte) {
	t.Helper()
	names, err := fs.Listxattr(ino)
	if err != nil {
		t.Fatalf("%s: Listxattr: %v", p, err)
	}
	if len(names) != len(want) {
		t.Errorf("%s: attributes %q, want %d", p, names, len(want))
	}
	for name, v := range want {
		got, err := fs.Getxattr(ino, name)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s: %q = %.40q (%v), want %.40q", p, name, got, err, v)
		}
	}
}
