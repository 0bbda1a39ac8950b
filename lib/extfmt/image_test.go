package extfmt

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// The reference image is made by the real e2fsprogs (mkfs.ext4 1.47, then debugfs writing
// files, attributes, a directory, a symlink and a device node into it), so the structures
// the tests decode, and the checksums and hashes they recompute, are the real tools' and not
// this package's idea of them. It is committed (compressed); TestGenerateImage remakes it.
const imagePath = "testdata/e2fsprogs.img.gz"

// Facts about the reference image, as debugfs reports them.
const (
	imgBlockSize = 1024
	imgFileIno   = 12         // /file: 10240 bytes, in-inode and block attributes
	imgDirIno    = 13         // /d
	imgLinkIno   = 14         // /d/s -> /some/target
	imgDevIno    = 15         // /d/n, char 4:5
	imgHighName  = "\xff\xfe" // in the attribute block, where e2fsprogs hashes it
	imgUUID      = "0b1e2d3c-4a5b-6c7d-8e9f-a0b1c2d3e4f5"
)

// imgHighValue is too long for the inode, so the attribute goes to the block.
var imgHighValue = bytes.Repeat([]byte("high"), 50)

var imgFileData = bytes.Repeat(func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}(), 40)

// TestGenerateImage remakes the reference image when GOUML_EXTFMT_GEN=1.
func TestGenerateImage(t *testing.T) {
	if os.Getenv("GOUML_EXTFMT_GEN") != "1" {
		t.Skip("set GOUML_EXTFMT_GEN=1 to regenerate " + imagePath)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 1<<20); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(testenv.Tool(t, name), args...)
		cmd.Env = append(os.Environ(), "MKE2FS_CONFIG=/etc/mke2fs.conf", "E2FSPROGS_FAKE_TIME=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("mkfs.ext4", "-q", "-F", "-b", "1024", "-I", "256", "-O", "metadata_csum,^has_journal,extent,64bit",
		"-E", "root_owner=0:0", "-U", imgUUID, img)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "data"), imgFileData, 0o644))
	must(os.WriteFile(filepath.Join(dir, "long"), bytes.Repeat([]byte("L"), 700), 0o644))
	must(os.WriteFile(filepath.Join(dir, "high"), imgHighValue, 0o644))
	cmds := "write " + filepath.Join(dir, "data") + " file\n" +
		"ea_set file user.caf\xc3\xa9 hello\n" +
		"ea_set -f " + filepath.Join(dir, "high") + " file user." + imgHighName + "\n" +
		"ea_set -f " + filepath.Join(dir, "long") + " file trusted.long\n" +
		"mkdir d\ncd d\nsymlink s /some/target\nmknod n c 4 5\n"
	must(os.WriteFile(filepath.Join(dir, "cmds"), []byte(cmds), 0o644))
	run("debugfs", "-w", "-f", filepath.Join(dir, "cmds"), img)
	run("e2fsck", "-fn", img)
	raw, err := os.ReadFile(img)
	must(err)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	must(zw.Close())
	must(os.WriteFile(imagePath, gz.Bytes(), 0o644))
}

func loadImage(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(imagePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refImage is the decoded reference image, with helpers to find its structures.
type refImage struct {
	t   testing.TB
	raw []byte
	sb  Superblock
	gd  GroupDesc
}

func openRef(t testing.TB) *refImage {
	r := &refImage{t: t, raw: loadImage(t)}
	var err error
	if r.sb, err = ParseSuperblock(r.raw[SuperblockOffset:]); err != nil {
		t.Fatal(err)
	}
	if r.gd, err = ParseGroupDesc(r.gdBytes()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *refImage) block(n uint64) []byte {
	return r.raw[n*imgBlockSize : (n+1)*imgBlockSize]
}

// gdBytes is group 0's descriptor (the table starts in the block after the superblock's).
func (r *refImage) gdBytes() []byte {
	return r.block(uint64(r.sb.FirstDataBlock) + 1)[:r.sb.DescSize]
}

func (r *refImage) inode(ino uint32) Inode {
	off := r.gd.InodeTable*imgBlockSize + uint64(ino-1)*uint64(r.sb.InodeSize)
	return Inode(r.raw[off : off+uint64(r.sb.InodeSize)])
}

// dataBlock maps logical block 0 of an inode with an extent root holding a leaf.
func (r *refImage) firstBlock(in Inode) uint64 {
	n, err := ParseExtentNode(in.IBlock())
	if err != nil || len(n.Extents) == 0 {
		r.t.Fatalf("no extents: %v", err)
	}
	return n.Extents[0].Start
}

func (r *refImage) String() string { return fmt.Sprintf("image of %d bytes", len(r.raw)) }
