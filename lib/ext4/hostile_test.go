package ext4

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// dirBlockEntries lists the entries of a directory block as offsets, for patching.
func dirBlockEntries(t *testing.T, img string, blk int64, bs int) []int {
	t.Helper()
	b := make([]byte, bs)
	f, err := os.Open(img)
	must(t, err)
	defer f.Close()
	_, err = f.ReadAt(b, blk)
	must(t, err)
	var offs []int
	for off := 0; off+8 <= bs; {
		offs = append(offs, off)
		rl := int(binary.LittleEndian.Uint16(b[off+4:]))
		if rl < 8 {
			t.Fatalf("directory block at %d is not what mkfs made", blk)
		}
		off += rl
	}
	return offs
}

// TestHostileDirEntries: names a directory block may not hold, whatever rec_len allows, are
// corruption (EUCLEAN with a description) for every call that reads the directory; no bad
// name ever comes out.
func TestHostileDirEntries(t *testing.T) {
	type entry struct {
		ino  uint32
		name string
		ft   byte
	}
	cases := []struct {
		name  string
		mkfs  []string
		entry int // which entry of d's first block to rewrite: 0 ".", 1 "..", 2 "x"
		to    func(dIno, xIno uint32) entry
		want  string // in the error message
	}{
		{"parent-path", nil, 2, func(_, x uint32) entry { return entry{x, "../../x", 1} }, `"../../x"`},
		{"slash", nil, 2, func(_, x uint32) entry { return entry{x, "a/b", 1} }, `"a/b"`},
		{"nul", nil, 2, func(_, x uint32) entry { return entry{x, "a\x00b", 1} }, `"a\x00b"`},
		{"stray-dotdot", nil, 2, func(_, _ uint32) entry { return entry{2, "..", 2} }, `stray ".."`},
		{"stray-dot", nil, 2, func(d, _ uint32) entry { return entry{d, ".", 2} }, `stray "."`},
		{"dot-elsewhere", nil, 0, func(_, x uint32) entry { return entry{x, ".", 2} }, `"." names inode`},
		{"no-dot", nil, 0, func(d, _ uint32) entry { return entry{d, "y", 2} }, `does not start with "."`},
		{"no-dotdot", nil, 1, func(_, _ uint32) entry { return entry{2, "z.", 2} }, `does not start with ".."`},
		{"empty-name", nil, 2, func(_, x uint32) entry { return entry{x, "", 1} }, "name of 0 bytes"},
		{"reserved-inode", nil, 2, func(_, _ uint32) entry { return entry{8, "x", 1} }, "reserved"},
		{"inode-zero-dotdot", nil, 1, func(_, _ uint32) entry { return entry{0, "..", 2} }, `does not start with ".."`},
		// without the filetype feature the name length has 16 bits
		{"name-len-257", []string{"-O", "^filetype"}, 2, func(_, x uint32) entry { return entry{x, "x", 1} }, "name of 257 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, loc := corruptImage(t, "ext4", append([]string{"-O", "^metadata_csum"}, c.mkfs...)...)
			fs, dev := mount(t, img, true)
			d, err := fs.Lookup(fs.Root(), "d")
			must(t, err)
			x, err := fs.Lookup(d, "x")
			must(t, err)
			unmount(t, fs, dev)
			offs := dirBlockEntries(t, img, loc["dirblock"], 1024)
			if len(offs) != 3 {
				t.Fatalf("d's block has %d entries, want 3", len(offs))
			}
			e := c.to(uint32(d), uint32(x))
			off := loc["dirblock"] + int64(offs[c.entry])
			hdr := le32(e.ino)
			if c.name == "name-len-257" {
				// name_len 1, and the byte that is the file type with filetype on is the
				// high byte of the length
				patch(t, img, off+6, []byte{1, 1})
			} else {
				patch(t, img, off, hdr)
				patch(t, img, off+6, []byte{byte(len(e.name)), e.ft})
				patch(t, img, off+8, []byte(e.name))
			}
			fs, _ = mount(t, img, true)
			_, err = fs.ReadDir(d, 0, 0)
			wantEUCLEAN(t, "readdir", err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("readdir error %q does not say %s", err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			_, err = fs.Lookup(d, "x")
			wantEUCLEAN(t, "lookup", err)
			_, err = fs.Lookup(d, e.name)
			wantEUCLEAN(t, "lookup of the bad name", err)
			// paging from a later position still checks the block the entries are in
			_, err = fs.ReadDir(d, 13, 0)
			wantEUCLEAN(t, "readdir from a cookie", err)
		})
	}
}

// TestHostileInlineDir: an inline directory stores no "." or ".." entries, so one in its
// entries is corruption, as is a parent that is not an ordinary inode.
func TestHostileInlineDir(t *testing.T) {
	for _, c := range []struct {
		name  string
		patch func(raw []byte)
		want  string
	}{
		{"dotdot-entry", func(raw []byte) { copy(raw[0x2C+8:], "..") }, `stray ".."`},
		{"slash", func(raw []byte) { copy(raw[0x2C+8:], "/") }, "invalid name"},
		{"parent-reserved", func(raw []byte) { copy(raw[0x28:], le32(7)) }, "reserved"},
		{"parent-zero", func(raw []byte) { copy(raw[0x28:], le32(0)) }, "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			must(t, os.MkdirAll(src+"/i", 0o755))
			must(t, os.WriteFile(src+"/i/ab", nil, 0o644))
			img := mkfs(t, "ext4", 4<<20, src, "-b", "1024", "-O", "inline_data,^metadata_csum", "-I", "256")
			fs, dev := mount(t, img, true)
			ino, err := walkPath(fs, "i")
			must(t, err)
			in, err := fs.iget(ino)
			must(t, err)
			if in.flags()&extfmt.FlagInline == 0 {
				t.Skip("mkfs did not make an inline directory")
			}
			blk, off, err := fs.inodeLoc(ino)
			must(t, err)
			unmount(t, fs, dev)
			raw := make([]byte, 256)
			f, err := os.Open(img)
			must(t, err)
			f.ReadAt(raw, int64(blk)*1024+int64(off))
			f.Close()
			if string(raw[0x2C+8:0x2C+10]) != "ab" {
				t.Fatalf("inline entry not where expected: % x", raw[0x28:0x40])
			}
			c.patch(raw)
			patch(t, img, int64(blk)*1024+int64(off), raw)
			fs, _ = mount(t, img, true)
			_, err = fs.ReadDir(ino, 0, 0)
			wantEUCLEAN(t, "readdir", err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %s", err, c.want)
			}
		})
	}
}

// TestParentLoop: a directory whose ".." names itself must not make a rename's ancestor
// check walk until the inode count runs out.
func TestParentLoop(t *testing.T) {
	img, loc := corruptImage(t, "ext4", "-O", "^metadata_csum", "-N", "4000")
	fs, dev := mount(t, img, true)
	d, err := fs.Lookup(fs.Root(), "d")
	must(t, err)
	unmount(t, fs, dev)
	offs := dirBlockEntries(t, img, loc["dirblock"], 1024)
	patch(t, img, loc["dirblock"]+int64(offs[1]), le32(uint32(d)))
	fs, dev = mount(t, img, false)
	defer unmount(t, fs, dev)
	_, err = fs.Mkdir(fs.Root(), "e", 0o755, 0, 0)
	must(t, err)
	start := time.Now()
	err = fs.Rename(fs.Root(), "e", d, "e", 0)
	wantEUCLEAN(t, "rename under a directory whose parent chain loops", err)
	if el := time.Since(start); el > time.Second {
		t.Errorf("the ancestor check took %v", el)
	}
}

// TestSeekSharedIndirect: a block-mapped file whose indirect blocks are all one block (so it
// names (blocksize/4)^3 blocks through a handful of blocks) is searched for data and holes
// in bounded time.
func TestSeekSharedIndirect(t *testing.T) {
	for _, data := range []bool{false, true} {
		t.Run(fmt.Sprintf("data=%v", data), func(t *testing.T) {
			img := mkfs(t, "ext2", 16<<20, "", "-b", "4096")
			fs, dev := mount(t, img, false)
			ino := writeFile(t, fs, fs.Root(), "f", []byte("head"))
			p := int64(4096 / 4)
			// a block in the triple indirect range makes the triple, a double and a single
			// indirect block
			_, err := fs.WriteAt(ino, []byte("tail"), (12+p+p*p+5)*4096)
			must(t, err)
			in, _ := fs.iget(ino)
			tri := int64(le.Uint32(in.raw[0x28+4*14:]))
			head := int64(le.Uint32(in.raw[0x28:]))
			_, err = fs.Setattr(ino, SetAttr{Valid: SetSize, Size: uint64((12 + p + p*p + p*p*p) * 4096)})
			must(t, err)
			unmount(t, fs, dev)
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			must(t, err)
			b := make([]byte, 4096)
			f.ReadAt(b, tri*4096)
			dbl := int64(le.Uint32(b))
			f.ReadAt(b, dbl*4096)
			sgl := int64(le.Uint32(b))
			fill := func(blk, v int64) {
				for i := range p {
					binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
				}
				f.WriteAt(b, blk*4096)
			}
			fill(tri, dbl)
			fill(dbl, sgl)
			if data {
				fill(sgl, head)
			} else {
				fill(sgl, 0)
			}
			f.Close()
			fs, _ = mount(t, img, true)
			start := time.Now()
			base := (12 + p + p*p) * 4096
			d, derr := fs.SeekData(ino, 4096, false)
			h, herr := fs.SeekData(ino, base, true)
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("seeking took %v", el)
			}
			end := (12 + p + p*p + p*p*p) * 4096
			if data {
				if derr != nil || d != base || herr != nil || h != end {
					t.Fatalf("SEEK_DATA %d %v, SEEK_HOLE %d %v; want %d and %d", d, derr, h, herr, base, end)
				}
			} else if derr == nil || herr != nil || h != base {
				t.Fatalf("SEEK_DATA %d %v, SEEK_HOLE %d %v; want ENXIO and %d", d, derr, h, herr, base)
			}
		})
	}
}

// TestSeekIndirectMatchesMapping: on ordinary block-mapped files the tree walk finds what
// mapping block by block finds.
func TestSeekIndirectMatchesMapping(t *testing.T) {
	img := mkfs(t, "ext2", 32<<20, "", "-b", "1024")
	fs, dev := mount(t, img, false)
	defer unmount(t, fs, dev)
	rng := rand.New(rand.NewSource(1))
	p := int64(256)
	limit := 12 + p + p*p + 3*p*p // into the triple indirect range
	for n := 0; n < 4; n++ {
		ino := writeFile(t, fs, fs.Root(), fmt.Sprint("f", n), nil)
		for i := 0; i < 40; i++ {
			blk := rng.Int63n(limit)
			if i%3 == 0 {
				blk = rng.Int63n(12 + p + 10)
			}
			_, err := fs.WriteAt(ino, []byte{1}, blk*1024+rng.Int63n(1024))
			must(t, err)
		}
		in, _ := fs.iget(ino)
		size := int64(in.size())
		mapped := make([]bool, (size+1023)/1024)
		for b := range mapped {
			pb, _, _, err := fs.mapBlock(in, uint64(b))
			must(t, err)
			mapped[b] = pb != 0
		}
		brute := func(off int64, hole bool) int64 {
			for b := off / 1024; b < int64(len(mapped)); b++ {
				if mapped[b] != hole {
					return max(b*1024, off)
				}
			}
			if hole {
				return size
			}
			return -1
		}
		for i := 0; i < 200; i++ {
			off := rng.Int63n(size)
			for _, hole := range []bool{false, true} {
				got, err := fs.SeekData(ino, off, hole)
				if err != nil {
					got = -1
				}
				if want := brute(off, hole); got != want {
					t.Fatalf("file %d SeekData(%d, hole=%v) = %d, mapping says %d", n, off, hole, got, want)
				}
			}
		}
	}
}
