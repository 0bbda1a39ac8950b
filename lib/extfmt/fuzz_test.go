package extfmt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets feed each decoder bytes a guest could have written. Every one must return
// an error or a value, never panic, and what it decodes must encode back to what it read.
// Their seed corpora (testdata/fuzz/FuzzXxx) are structures cut out of the reference image
// by TestGenerateFuzzSeeds, plus a few hand-made edge cases.

func FuzzSuperblock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSuperblock(data)
		if err != nil {
			return
		}
		_ = s.BlockSize()
		_ = s.MetadataCsumSeed()
		again := append([]byte(nil), data[:SuperblockSize]...)
		s.MarshalTo(again)
		if s2, err := ParseSuperblock(again); err != nil || s2 != s {
			t.Fatalf("encoding over the input decodes differently: %v", err)
		}
		if s3, err := ParseSuperblock(s.Marshal()); err != nil || s3 != s {
			t.Fatalf("Marshal does not round-trip: %v", err)
		}
	})
}

func FuzzGroupDesc(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range []int{GroupDescSize, GroupDescSize64, len(data)} {
			if n > len(data) {
				continue
			}
			d, err := ParseGroupDesc(data[:n])
			if err != nil {
				continue
			}
			again := append([]byte(nil), data[:n]...)
			d.MarshalTo(again)
			if !bytes.Equal(again, data[:n]) {
				t.Fatalf("%d-byte descriptor changes when re-encoded", n)
			}
			if n >= GroupDescSize64 {
				GroupDescCsum(1, 2, again)
			}
			GroupDescCsum16([16]byte{}, 3, again, n >= GroupDescSize64)
		}
	})
}

func FuzzInode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, seed uint32) {
		if err := CheckInode(data); err != nil {
			return
		}
		in := Inode(append([]byte(nil), data...))
		for _, tf := range []TimeField{Atime, Ctime, Mtime, Crtime} {
			tm := in.Time(tf)
			in.SetTime(tf, tm)
			if got := in.Time(tf); !got.Equal(tm) {
				t.Fatalf("time %#x: %v comes back as %v", int(tf), tm, got)
			}
		}
		in.SetUID(in.UID())
		in.SetGID(in.GID())
		in.SetSize(in.Size())
		in.SetFileACL(in.FileACL())
		in.SetBlocksRaw(in.BlocksRaw())
		ma, mi := in.Dev()
		_, _ = ma, mi
		in.SetChecksum(seed, 12)
		if in.Checksum() != in.ComputeChecksum(seed, 12) {
			t.Fatal("a stored checksum does not verify")
		}
		ParseExtentNode(in.IBlock())
	})
}

func FuzzExtentNode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseExtentNode(data)
		if err != nil {
			return
		}
		if int(n.Header.Entries) != len(n.Extents)+len(n.Index) || n.Header.TailOffset() > len(data) {
			t.Fatalf("header %+v with %d entries decoded", n.Header, len(n.Extents)+len(n.Index))
		}
		again := make([]byte, len(data))
		n.MarshalTo(again)
		n2, err := ParseExtentNode(again)
		if err != nil || fmt.Sprint(n2) != fmt.Sprint(n) {
			t.Fatalf("re-encoded node decodes as %+v (%v), was %+v", n2, err, n)
		}
		if n.Header.TailOffset()+4 <= len(data) {
			ExtentBlockCsum(1, data, n.Header)
		}
	})
}

func FuzzDirBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, filetype bool) {
		bs := 1024
		for bs < len(data) {
			bs *= 2
		}
		end := len(data)
		if HasDirTail(data) {
			DirBlockCsum(7, data)
			end -= DirTailSize
		}
		for off := 0; off < end; {
			d, err := ParseDirent(data[:end], off, bs, filetype)
			if err != nil {
				return
			}
			if d.RecLen < DirentHeaderSize || off+d.RecLen > end || DirentHeaderSize+len(d.Name) > d.RecLen {
				t.Fatalf("entry at %d: rec_len %d, name %d bytes", off, d.RecLen, len(d.Name))
			}
			off += d.RecLen
		}
	})
}

func FuzzXattrEntries(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, inInode bool) {
		off, base := XattrBlockHeaderSize, 0
		if inInode {
			off, base = 0, 0
		} else if _, err := ParseXattrBlockHeader(data); err != nil {
			return
		}
		ents, err := ParseXattrEntries(data, off, len(data), data, base)
		if err != nil {
			return
		}
		var xs []Xattr
		for _, e := range ents {
			if e.ValueInum != 0 {
				return
			}
			XattrHashOK(e.Hash, e.Name, e.Value)
			xs = append(xs, e.Xattr)
		}
		// what was read is laid out again, and reads back the same
		r := make([]byte, XattrsSpace(xs))
		if !PutXattrs(r, 0, 0, xs) {
			t.Fatalf("%d attributes do not fit in the %d bytes XattrsSpace says they take", len(xs), len(r))
		}
		back, err := ParseXattrEntries(r, 0, len(r), r, 0)
		if err != nil || len(back) != len(xs) {
			t.Fatalf("re-laid attributes: %v, %d of %d", err, len(back), len(xs))
		}
		for i := range back {
			if back[i].Index != xs[i].Index || back[i].Name != xs[i].Name || !bytes.Equal(back[i].Value, xs[i].Value) ||
				back[i].Hash != XattrHash(xs[i].Name, xs[i].Value) {
				t.Fatalf("attribute %d changed", i)
			}
		}
	})
}

func FuzzACL(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if x, err := ACLFromDisk(data); err == nil {
			if len(x) < 4 || (len(x)-4)%8 != 0 {
				t.Fatalf("xattr form of %d bytes", len(x))
			}
		}
		d, err := ACLToDisk(data)
		if err != nil {
			return
		}
		x, err := ACLFromDisk(d)
		if err != nil {
			t.Fatalf("our disk form does not decode: %v", err)
		}
		d2, err := ACLToDisk(x)
		if err != nil || !bytes.Equal(d2, d) {
			t.Fatalf("disk form does not round-trip: %v", err)
		}
	})
}

// TestGenerateFuzzSeeds writes the seed corpora from the reference image when
// GOUML_EXTFMT_GEN=1 (they are committed; this is how they were made).
func TestGenerateFuzzSeeds(t *testing.T) {
	if os.Getenv("GOUML_EXTFMT_GEN") != "1" {
		t.Skip("set GOUML_EXTFMT_GEN=1 to regenerate testdata/fuzz")
	}
	r := openRef(t)
	in := r.inode(imgFileIno)
	acl := le.AppendUint32(nil, ACLXattrVersion)
	for _, e := range [][3]uint32{{ACLUserObj, 6, ACLUndefinedID}, {ACLUser, 5, 1000}, {ACLGroupObj, 4, ACLUndefinedID}, {ACLMask, 5, ACLUndefinedID}, {ACLOther, 0, ACLUndefinedID}} {
		acl = le.AppendUint16(acl, uint16(e[0]))
		acl = le.AppendUint16(acl, uint16(e[1]))
		acl = le.AppendUint32(acl, e[2])
	}
	diskACL, _ := ACLToDisk(acl)
	start := GoodOldInodeSize + in.ExtraIsize() + XattrIbodyHeaderSize
	seeds := map[string][][]any{
		"FuzzSuperblock":   {{r.raw[SuperblockOffset : SuperblockOffset+SuperblockSize]}},
		"FuzzGroupDesc":    {{r.gdBytes()}},
		"FuzzInode":        {{[]byte(r.inode(imgFileIno)), uint32(0)}, {[]byte(r.inode(imgDevIno)), uint32(5)}, {[]byte(r.inode(RootIno))[:128], uint32(1)}},
		"FuzzExtentNode":   {{in.IBlock()}, {r.inode(RootIno).IBlock()}},
		"FuzzDirBlock":     {{r.block(r.firstBlock(r.inode(RootIno))), true}, {r.block(r.firstBlock(r.inode(imgDirIno))), false}},
		"FuzzXattrEntries": {{r.block(in.FileACL()), false}, {[]byte(in[start:]), true}},
		"FuzzACL":          {{acl}, {diskACL}},
	}
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range list {
			var b bytes.Buffer
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch v := a.(type) {
				case []byte:
					fmt.Fprintf(&b, "[]byte(%q)\n", v)
				case bool:
					fmt.Fprintf(&b, "bool(%v)\n", v)
				case uint32:
					fmt.Fprintf(&b, "uint32(%d)\n", v)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("image-%d", i)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
