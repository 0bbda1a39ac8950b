package ubd

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// disk is a zero-extended in-memory disk: data, then zeros up to size.
type disk struct {
	data []byte
	size int64
}

func (d disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= d.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), d.size-off))
	clear(p[:n])
	if off < int64(len(d.data)) {
		copy(p[:n], d.data[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func head(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/tables/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type span struct {
	n            int
	start, count int64
}

func spans(ps []PartEntry) []span {
	var s []span
	for _, p := range ps {
		s = append(s, span{p.Number, p.Start, p.Length})
	}
	return s
}

// TestMBRFromSfdisk reads a table sfdisk made (`sfdisk -d` listed: 1 8+8 83, 2 16+100000
// extended, 3 100016+20000 c, 5 18+4 83, 6 24+6 82, 7 32+1000 7).
func TestMBRFromSfdisk(t *testing.T) {
	b := head(t, "sfdisk-mbr-extended.head")
	got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{1, 8, 8}, {2, 16, 2}, {5, 18, 4}, {6, 24, 6}, {7, 32, 1000}, {3, 100016, 20000}}
	if !reflect.DeepEqual(spans(got), want) {
		t.Fatalf("got %v, want %v", spans(got), want)
	}
	if got[0].Type != "0x83" || got[5].Type != "0x0c" {
		t.Fatalf("types %q %q", got[0].Type, got[5].Type)
	}
	// On a smaller disk partitions are cut at the end or dropped, as Linux does.
	got, err = ParseTable(disk{b, 100020 * 512}, 100020*512)
	if err != nil {
		t.Fatal(err)
	}
	if s := spans(got); s[len(s)-1] != (span{3, 100016, 4}) {
		t.Fatalf("clipped: %v", s)
	}
	got, _ = ParseTable(disk{b, 100016 * 512}, 100016*512)
	if len(got) != 5 {
		t.Fatalf("partition starting at the end not dropped: %v", spans(got))
	}
}

// TestGPTFromSgdisk reads a table sgdisk made (1 34..2081 "boot" EF00, 2 2082..18465 "root",
// 4 18466..20513).
func TestGPTFromSgdisk(t *testing.T) {
	b := head(t, "sgdisk-gpt.head")
	got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{1, 34, 2048}, {2, 2082, 16384}, {4, 18466, 2048}}
	if !reflect.DeepEqual(spans(got), want) {
		t.Fatalf("got %v, want %v", spans(got), want)
	}
	if got[0].Name != "boot" || got[0].Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" || got[1].Type != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" {
		t.Fatalf("entry 1: %+v; entry 2: %+v", got[0], got[1])
	}
	if g, _ := ParseMBR(disk{b, 64 << 20}, 64<<20); g != nil {
		t.Fatalf("the protective MBR read as DOS partitions: %v", g)
	}
}

// fixCRCs recomputes a GPT's CRCs after a test edited it.
func fixCRCs(b []byte) {
	h := b[512:1024]
	n := binary.LittleEndian.Uint32(h[80:]) * 128
	lba := binary.LittleEndian.Uint64(h[72:])
	if lba*512+uint64(n) <= uint64(len(b)) {
		binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(b[lba*512:lba*512+uint64(n)]))
	}
	hs := binary.LittleEndian.Uint32(h[12:])
	if hs > 512 {
		hs = 92
	}
	clear(h[16:20])
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:hs]))
}

func TestHostileTables(t *testing.T) {
	g := head(t, "sgdisk-gpt.head")
	m := head(t, "sfdisk-mbr-extended.head")
	le := binary.LittleEndian
	cases := []struct {
		name string
		edit func(b []byte)
		fix  bool
		err  string
	}{
		{"gpt header crc", func(b []byte) { b[512+56] ^= 1 }, false, "GPT: header CRC"},
		{"gpt entries crc", func(b []byte) { b[1024+60] ^= 1 }, false, "GPT: partition entry array CRC"},
		{"gpt signature", func(b []byte) { b[512] = 'X' }, false, "no \"EFI PART\" header"},
		{"gpt header size", func(b []byte) { le.PutUint32(b[512+12:], 4096) }, true, "header size 4096"},
		{"gpt my_lba", func(b []byte) { le.PutUint64(b[512+24:], 7) }, true, "lives at LBA 7"},
		{"gpt usable range", func(b []byte) { le.PutUint64(b[512+48:], 1<<40) }, true, "usable LBAs"},
		{"gpt entry size", func(b []byte) { le.PutUint32(b[512+84:], 64) }, true, "entry size 64"},
		{"gpt huge count", func(b []byte) { le.PutUint32(b[512+80:], 0xffffffff) }, true, "partition entries"},
		{"gpt entries past end", func(b []byte) { le.PutUint64(b[512+72:], 131071) }, true, "run past the end"},
		{"pmbr not at 1", func(b []byte) { le.PutUint32(b[446+8:], 2) }, false, "does not start at sector 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(g)
			c.edit(b)
			if c.fix {
				fixCRCs(b)
			}
			got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
			if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
				t.Fatalf("got %v, %v; want error containing %q", spans(got), err, c.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
	t.Run("gpt invalid entries skipped", func(t *testing.T) {
		b := bytes.Clone(g)
		le.PutUint64(b[1024+128+32:], 30000) // entry 2 starts after it ends
		le.PutUint64(b[1024+3*128+40:], 1<<50)
		fixCRCs(b)
		got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
		if err != nil || !reflect.DeepEqual(spans(got), []span{{1, 34, 2048}}) {
			t.Fatalf("%v %v", spans(got), err)
		}
	})
	t.Run("mbr ebr loop", func(t *testing.T) {
		b := bytes.Clone(m)
		le.PutUint32(b[16*512+446+16+8:], 0) // the EBR links to itself
		got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
		if err != nil || len(got) != MaxPartitions-1 || got[len(got)-2].Number != MaxPartitions {
			t.Fatalf("%v %v", spans(got), err)
		}
	})
	t.Run("mbr ebr beyond disk", func(t *testing.T) {
		b := bytes.Clone(m)
		le.PutUint32(b[16*512+446+16+8:], 0xfffffff0)
		got, err := ParseTable(disk{b, 64 << 20}, 64<<20)
		if err != nil || !reflect.DeepEqual(spans(got), []span{{1, 8, 8}, {2, 16, 2}, {5, 18, 4}, {3, 100016, 20000}}) {
			t.Fatalf("%v %v", spans(got), err)
		}
	})
	t.Run("fat boot sector", func(t *testing.T) {
		b := bytes.Clone(m)
		b[446] = 0x12
		if got, err := ParseTable(disk{b, 64 << 20}, 64<<20); got != nil || err != nil {
			t.Fatalf("%v %v", spans(got), err)
		}
	})
	t.Run("tiny disks", func(t *testing.T) {
		for _, n := range []int64{0, 100, 511, 512, 1024} {
			if _, err := ParseTable(disk{g[:min(int64(len(g)), n)], n}, n); err != nil && n >= 1024 {
				t.Logf("%d: %v", n, err)
			}
		}
	})
}

// checkParts is what the fuzz targets require of any result.
func checkParts(t *testing.T, ps []PartEntry, size int64) {
	seen := map[int]bool{}
	for _, p := range ps {
		if p.Number < 1 || p.Number > MaxPartitions || seen[p.Number] {
			t.Fatalf("bad partition number %d in %v", p.Number, spans(ps))
		}
		seen[p.Number] = true
		if p.Start < 0 || p.Length <= 0 || p.Start+p.Length > size/SectorSize {
			t.Fatalf("partition %d (%d+%d) outside a disk of %d sectors", p.Number, p.Start, p.Length, size/SectorSize)
		}
	}
}

func fuzzSize(data []byte, size int64) int64 {
	if size < int64(len(data)) {
		size = int64(len(data))
	}
	return min(size, 1<<42)
}

func FuzzMBR(f *testing.F) {
	f.Add(head(f, "sfdisk-mbr-extended.head"), int64(64<<20))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		size = fuzzSize(data, size)
		ps, err := ParseMBR(disk{data, size}, size)
		if err != nil && ps != nil {
			t.Fatalf("error with partitions: %v", err)
		}
		checkParts(t, ps, size)
		ps, _ = ParseTable(disk{data, size}, size)
		checkParts(t, ps, size)
	})
}

func FuzzGPT(f *testing.F) {
	f.Add(head(f, "sgdisk-gpt.head"), int64(64<<20))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		size = fuzzSize(data, size)
		ps, err := ParseGPT(disk{data, size}, size)
		if err != nil && ps != nil {
			t.Fatalf("error with partitions: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		checkParts(t, ps, size)
	})
}
