package ext4

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func patch(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, off)
	must(t, err)
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// corruptImage makes an image with a directory, a fragmented file (depth-1 extent tree on
// ext4, indirect blocks on ext2) and returns it with the locations found by our driver.
func corruptImage(t *testing.T, kind string, args ...string) (img string, loc map[string]int64) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "x"), []byte("x"), 0o644))
	f, err := os.Create(filepath.Join(src, "frag"))
	must(t, err)
	for i := 0; i < 12; i++ {
		f.WriteAt([]byte("data"), int64(i)*100*1024)
	}
	f.Close()
	img = mkfs(t, kind, 8<<20, src, append([]string{"-b", "1024"}, args...)...)
	fs, dev := mount(t, img, true)
	defer unmount(t, fs, dev)
	loc = map[string]int64{}
	d, err := walkPath(fs, "d")
	must(t, err)
	din, _ := fs.iget(d)
	p, _, _, err := fs.mapBlock(din, 0)
	must(t, err)
	loc["dirblock"] = int64(p) * 1024
	fr, err := walkPath(fs, "frag")
	must(t, err)
	blk, off, _ := fs.inodeLoc(fr)
	loc["fraginode"] = int64(blk)*1024 + int64(off)
	loc["fragino"] = int64(fr)
	return img, loc
}

func wantEUCLEAN(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.EUCLEAN) {
		t.Fatalf("%s: got %v, want EUCLEAN", what, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Msg == "" {
		t.Fatalf("%s: error %v has no description", what, err)
	}
}

func TestCorruptImagesGiveEUCLEAN(t *testing.T) {
	t.Run("dir-rec-len", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4", "-O", "^metadata_csum")
		patch(t, img, loc["dirblock"]+4, []byte{0, 0}) // "." rec_len 0
		fs, _ := mount(t, img, true)
		d, err := fs.Lookup(fs.Root(), "d")
		must(t, err)
		_, err = fs.ReadDir(d, 0, 0)
		wantEUCLEAN(t, "readdir", err)
		_, err = fs.Lookup(d, "x")
		wantEUCLEAN(t, "lookup", err)
	})
	t.Run("extent-loop", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4", "-O", "^metadata_csum")
		// i_block: header (12 bytes) then the index entry; make the leaf an index node
		// pointing at itself
		raw := make([]byte, 60)
		f, _ := os.Open(img)
		f.ReadAt(raw, loc["fraginode"]+0x28)
		f.Close()
		if binary.LittleEndian.Uint16(raw[6:]) != 1 {
			t.Fatalf("frag's extent tree has depth %d, want 1", binary.LittleEndian.Uint16(raw[6:]))
		}
		leaf := int64(binary.LittleEndian.Uint32(raw[12+4:]))
		hdr := []byte{0x0A, 0xF3, 1, 0, 84, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		hdr = append(hdr, le32(uint32(leaf))...)
		patch(t, img, leaf*1024, hdr)
		fs, _ := mount(t, img, true)
		_, err := fs.ReadAt(Ino(loc["fragino"]), make([]byte, 10), 0)
		wantEUCLEAN(t, "read through a looping extent tree", err)
	})
	t.Run("extent-shared-leaf", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4", "-O", "^metadata_csum")
		raw := make([]byte, 60)
		f, _ := os.Open(img)
		f.ReadAt(raw, loc["fraginode"]+0x28)
		f.Close()
		raw[2] = 2 // two index entries naming the same leaf
		copy(raw[24:36], raw[12:24])
		binary.LittleEndian.PutUint32(raw[24:], 1<<20)
		patch(t, img, loc["fraginode"]+0x28, raw)
		fs, _ := mount(t, img, true)
		_, err := fs.ReadAt(Ino(loc["fragino"]), make([]byte, 10), 0)
		wantEUCLEAN(t, "read through an extent tree sharing a leaf", err)
	})
	t.Run("extent-beyond-end", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4", "-O", "^metadata_csum")
		patch(t, img, loc["fraginode"]+0x28+12+4, le32(1<<30))
		fs, _ := mount(t, img, true)
		_, err := fs.ReadAt(Ino(loc["fragino"]), make([]byte, 10), 0)
		wantEUCLEAN(t, "extent tree block beyond the end", err)
	})
	t.Run("indirect-beyond-end", func(t *testing.T) {
		img, loc := corruptImage(t, "ext2")
		patch(t, img, loc["fraginode"]+0x28+12*4, le32(1<<30)) // single indirect pointer
		fs, _ := mount(t, img, true)
		_, err := fs.ReadAt(Ino(loc["fragino"]), make([]byte, 10), 200*1024)
		wantEUCLEAN(t, "indirect block beyond the end", err)
	})
	t.Run("inode-checksum", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4")
		patch(t, img, loc["fraginode"]+0x2, []byte{0x55}) // uid, without fixing the checksum
		fs, _ := mount(t, img, true)
		_, err := fs.Getattr(Ino(loc["fragino"]))
		wantEUCLEAN(t, "inode with a bad checksum", err)
	})
	t.Run("dir-block-checksum", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4")
		patch(t, img, loc["dirblock"]+24+8, []byte{'y'}) // the name "x" after "." and ".."
		fs, _ := mount(t, img, true)
		d, err := fs.Lookup(fs.Root(), "d")
		must(t, err)
		_, err = fs.ReadDir(d, 0, 0)
		wantEUCLEAN(t, "readdir of a block with a bad checksum", err)
	})
	t.Run("extent-block-checksum", func(t *testing.T) {
		img, loc := corruptImage(t, "ext4")
		raw := make([]byte, 60)
		f, _ := os.Open(img)
		f.ReadAt(raw, loc["fraginode"]+0x28)
		f.Close()
		leaf := int64(binary.LittleEndian.Uint32(raw[12+4:]))
		patch(t, img, leaf*1024+12+12+4, []byte{0x77}) // second extent's length
		fs, _ := mount(t, img, true)
		_, err := fs.ReadAt(Ino(loc["fragino"]), make([]byte, 10), 0)
		wantEUCLEAN(t, "extent block with a bad checksum", err)
	})
	t.Run("superblock", func(t *testing.T) {
		img, _ := corruptImage(t, "ext2")
		patch(t, img, 1024+0x28, le32(7)) // inodes per group
		dev, err := OpenFile(img, true)
		must(t, err)
		defer dev.Close()
		_, err = Mount(dev, Options{ReadOnly: true})
		wantEUCLEAN(t, "mount with a bad inodes-per-group", err)
	})
}
