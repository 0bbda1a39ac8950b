package ext4

import (
	"bytes"
	"testing"

	"github.com/gouml/gouml/lib/extfmt"
)

// TestXattrHashIsUnsigned: attributes the driver writes carry the entry hash Linux (6.2 on)
// and e2fsprogs (1.47 on) compute, with name bytes taken as unsigned, both in the inode and
// in an attribute block; the legacy signed form differs for these names, and e2fsck must
// find the result clean.
func TestXattrHashIsUnsigned(t *testing.T) {
	img := mkfs(t, "ext4", 8<<20, "", "-I", "256", "-O", "metadata_csum")
	fs, dev := mount(t, img, false)
	ino, err := fs.Create(fs.Root(), "f", 0o644, 0, 0, 0)
	must(t, err)
	small, big := "user.caf\xc3\xa9", "user.\xff\xfe"
	must(t, fs.Setxattr(ino, small, []byte("in the inode"), 0))
	must(t, fs.Setxattr(ino, big, bytes.Repeat([]byte("b"), 600), 0)) // too big for the inode
	in, err := fs.iget(ino)
	must(t, err)
	inl, blk, err := fs.readXattrs(in)
	must(t, err)
	if len(inl) != 1 || len(blk) != 1 {
		t.Fatalf("%d attributes in the inode, %d in the block", len(inl), len(blk))
	}
	start, _ := fs.inodeXattrRegion(in)
	first := start + extfmt.XattrIbodyHeaderSize
	ents, err := extfmt.ParseXattrEntries(in.raw, first, fs.isize, in.raw, first)
	must(t, err)
	b, err := fs.bread(in.fileACL())
	must(t, err)
	bents, err := extfmt.ParseXattrEntries(b, extfmt.XattrBlockHeaderSize, len(b), b, 0)
	must(t, err)
	for _, e := range append(ents, bents...) {
		if e.Hash != extfmt.XattrHash(e.Name, e.Value) || e.Hash == extfmt.XattrHashSigned(e.Name, e.Value) {
			t.Errorf("%q: hash %#x, unsigned form %#x, signed %#x", e.FullName(), e.Hash,
				extfmt.XattrHash(e.Name, e.Value), extfmt.XattrHashSigned(e.Name, e.Value))
		}
	}
	unmount(t, fs, dev)
	fsckClean(t, img)
}
