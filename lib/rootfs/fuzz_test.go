package rootfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/rootfs/ext"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// FuzzImportTar feeds hostile archives (absolute names, "..", huge sizes, symlink and hard
// link loops, links through symlinks) to the importer and writes whatever it accepts both as
// an image and as a directory: nothing may appear outside the output, nothing may panic.
func FuzzImportTar(f *testing.F) {
	for _, s := range seedTars(f) {
		f.Add(s)
	}
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, data []byte) {
	{
		// Keep iterations fast: the importer expands sparse members honestly, so a header
		// claiming terabytes costs time, not correctness.
		plain, done, err := Decompress(bytes.NewReader(data))
		if err != nil {
			return
		}
		tr := tar.NewReader(plain)
		var total int64
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			total += h.Size
		}
		done()
		if total > 1<<20 {
			return
		}
		work := t.TempDir()
		sp, err := NewSpool(work)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		tree := fstree.New(time.Unix(0, 0))
		if err := ImportTar(tree, bytes.NewReader(data), "/", sp, func(string) {}); err != nil {
			return
		}
		img, err := os.Create(filepath.Join(work, "img"))
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		if _, err := ext.Write(img, tree, ext.Options{Size: 8 << 20, Inodes: 512}); err != nil {
			return
		}
		if err := WriteDir(tree, filepath.Join(work, "out"), nil, func(string) {}); err != nil {
			t.Logf("WriteDir: %v", err)
		}
		ents, _ := os.ReadDir(work)
		for _, e := range ents {
			if e.Name() != "img" && e.Name() != "out" {
				t.Fatalf("archive wrote %s outside the output", e.Name())
			}
		}
		removeAllForce(filepath.Join(work, "out"))
	}
}

func seedTars(tb testing.TB) [][]byte {
	mk := func(hs ...*tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range hs {
			data := []byte(nil)
			if h.Typeflag == tar.TypeReg {
				data = bytes.Repeat([]byte("x"), int(h.Size))
			}
			if err := tw.WriteHeader(h); err != nil {
				tb.Fatal(err)
			}
			tw.Write(data)
		}
		tw.Close()
		return b.Bytes()
	}
	reg := func(name string, n int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: n}
	}
	sym := func(name, to string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to}
	}
	hard := func(name, to string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: to}
	}
	huge := mk(reg("big", 10))
	// claim a terabyte in the size field
	copy(huge[124:136], []byte("17777777777\x00"))
	return [][]byte{
		mk(reg("/etc/passwd", 5), reg("./a/b", 3)),
		mk(reg("../escape", 4)),
		mk(reg("a/../../escape", 4)),
		mk(sym("up", "../../.."), reg("up/escape", 4)),
		mk(sym("abs", "/tmp"), reg("abs/escape", 4)),
		mk(sym("a", "b"), sym("b", "a"), reg("a/x", 1)),
		mk(sym("self", "self"), reg("self/x", 1)),
		mk(hard("h", "missing")),
		mk(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, hard("h", "d")),
		mk(reg("f", 2), hard("g", "f"), hard("f", "g")),
		mk(reg("f", 1), sym("link", "f"), hard("hl", "link")),
		mk(&tar.Header{Name: "dev/x", Typeflag: tar.TypeChar, Devmajor: 1 << 20, Devminor: 3}),
		mk(&tar.Header{Name: "p", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1, PAXRecords: map[string]string{"SCHILY.xattr.bogus.name": "v"}}),
		mk(reg("x", 0), reg("x/y", 1)),
		huge,
		[]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"),
		[]byte("\xfd7zXZ\x00garbage"),
		[]byte("\x28\xb5\x2f\xfdgarbage"),
		nil,
	}
}

// FuzzImportCPIO: newc archives (what the u-root builder writes, or a user's initramfs) with
// hostile names and sizes import without panics and write only inside the image.
func FuzzImportCPIO(f *testing.F) {
	hdr := func(name string, mode, size int) string {
		return fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0) + name + "\x00"
	}
	pad := func(s string) string {
		for len(s)%4 != 0 {
			s += "\x00"
		}
		return s
	}
	f.Add([]byte(pad(hdr("bin/sh", 0o100755, 2)) + pad("hi") + pad(hdr("TRAILER!!!", 0, 0))))
	f.Add([]byte(pad(hdr("../../etc/passwd", 0o100644, 1)) + pad("x")))
	f.Add([]byte(pad(hdr("/abs", 0o120777, 4)) + pad("/tmp") + pad(hdr("abs/x", 0o100644, 0))))
	f.Add([]byte(pad(hdr("huge", 0o100644, 0x7fffffff)) + "short"))
	f.Add([]byte(pad(hdr("dev/c", 0o020600, 0))))
	f.Fuzz(func(t *testing.T, data []byte) {
		work := t.TempDir()
		p := filepath.Join(work, "in.cpio")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		tree := fstree.New(time.Unix(0, 0))
		if err := ImportCPIO(tree, in, int64(len(data)), "/"); err != nil {
			return
		}
		img, err := os.Create(filepath.Join(work, "img"))
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		_, _ = ext.Write(img, tree, ext.Options{Size: 8 << 20, Inodes: 512})
		ents, _ := os.ReadDir(work)
		if len(ents) != 2 {
			t.Fatalf("files outside the output: %v", ents)
		}
	})
}

// FuzzTarRoundTrip: whatever ImportStream accepts from a pipe (a tarball or a cpio archive,
// plain or compressed), WriteTar writes as an archive that ImportStream reads back into the
// same tree: the tar output loses nothing the tree holds, and nothing panics.
func FuzzTarRoundTrip(f *testing.F) {
	for _, s := range seedTars(f) {
		f.Add(s)
	}
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 || claimedTarBytes(data) > 1<<20 {
			return // sparse members claiming gigabytes: slow, not wrong
		}
		work := t.TempDir()
		sp, err := NewSpool(work)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		tree := fstree.New(time.Unix(0, 0))
		if _, err := ImportStream(tree, bytes.NewReader(data), "/", sp, func(string) {}); err != nil {
			return
		}
		var a, b bytes.Buffer
		if err := WriteTar(tree, &a, nil, func(string) {}); err != nil {
			return // content the tree cannot produce (a member cut short)
		}
		again := fstree.New(time.Unix(0, 0))
		if _, err := ImportStream(again, bytes.NewReader(a.Bytes()), "/", sp, func(string) {}); err != nil {
			t.Fatalf("our tar output does not read back: %v", err)
		}
		if err := WriteTar(again, &b, nil, func(string) {}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("tar output differs after a round trip")
		}
	})
}

// claimedTarBytes adds up the member sizes a (possibly compressed) tarball claims.
func claimedTarBytes(data []byte) int64 {
	plain, done, err := Decompress(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	defer done()
	tr := tar.NewReader(plain)
	var total int64
	for {
		h, err := tr.Next()
		if err != nil {
			return total
		}
		total += h.Size
	}
}
