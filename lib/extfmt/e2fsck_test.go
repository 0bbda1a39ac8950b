package extfmt

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// TestE2fsckAcceptsBothHashForms rewrites the stored hash of the reference image's
// high-byte attribute to each form and asks the real e2fsck: both must pass (as Linux since
// 6.2 accepts both), and a wrong hash must not, or the test would prove nothing.
func TestE2fsckAcceptsBothHashForms(t *testing.T) {
	tool := testenv.Tool(t, "e2fsck")
	for _, c := range []struct {
		form  string
		hash  func(string, []byte) uint32
		clean bool
	}{
		{"unsigned", XattrHash, true},
		{"signed", XattrHashSigned, true},
		{"wrong", func(n string, v []byte) uint32 { return XattrHash(n, v) ^ 0x10 }, false},
	} {
		t.Run(c.form, func(t *testing.T) {
			r := openRef(t)
			in := r.inode(imgFileIno)
			blk := r.block(in.FileACL())
			ents, err := ParseXattrEntries(blk, XattrBlockHeaderSize, len(blk), blk, 0)
			if err != nil {
				t.Fatal(err)
			}
			off := XattrBlockHeaderSize
			for _, e := range ents {
				if e.Name == imgHighName {
					le.PutUint32(blk[off+12:], c.hash(e.Name, e.Value))
				}
				off += XattrEntrySize(len(e.Name))
			}
			SetXattrBlockHash(blk)
			SetXattrBlockCsum(r.sb.MetadataCsumSeed(), in.FileACL(), blk)
			img := filepath.Join(t.TempDir(), "img")
			if err := os.WriteFile(img, r.raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tool, "-fn", img).CombinedOutput()
			if (err == nil) != c.clean {
				t.Errorf("e2fsck -fn with the %s hash: %v\n%s", c.form, err, out)
			}
		})
	}
}
