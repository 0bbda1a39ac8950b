package ubd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIoctlNumbers guards the constants against the x/sys values where it has them.
func TestIoctlNumbers(t *testing.T) {
	for _, c := range []struct{ ours, sys uintptr }{
		{BLKROGET, unix.BLKROGET}, {BLKROSET, unix.BLKROSET}, {BLKRRPART, unix.BLKRRPART},
		{BLKGETSIZE, unix.BLKGETSIZE}, {BLKFLSBUF, unix.BLKFLSBUF}, {BLKSSZGET, unix.BLKSSZGET},
		{BLKBSZGET, unix.BLKBSZGET}, {BLKGETSIZE64, unix.BLKGETSIZE64}, {BLKDISCARD, unix.BLKDISCARD},
		{BLKIOMIN, unix.BLKIOMIN}, {BLKIOOPT, unix.BLKIOOPT}, {BLKALIGNOFF, unix.BLKALIGNOFF},
		{BLKPBSZGET, unix.BLKPBSZGET}, {BLKDISCARDZEROES, unix.BLKDISCARDZEROES},
		{BLKSECDISCARD, unix.BLKSECDISCARD}, {BLKZEROOUT, unix.BLKZEROOUT}, {BLKRASET, unix.BLKRASET},
		{BLKRAGET, unix.BLKRAGET}, {HDIO_GETGEO, unix.HDIO_GETGEO},
	} {
		if c.ours != c.sys {
			t.Errorf("%#x != x/sys %#x", c.ours, c.sys)
		}
	}
}

func u64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func TestIoctlAnswers(t *testing.T) {
	tbl := head(t, "sfdisk-mbr-extended.head")
	chdir(t, t.TempDir())
	img := make([]byte, 64<<20)
	copy(img, tbl)
	for i := range 4096 {
		img[8*512+i] = 0xee // partition 1's first 8 sectors are non-zero
	}
	os.WriteFile("disk.img", img, 0o644)
	d, _ := open(t, "ubd1=disk.img,,SER")
	ask := func(dev interface {
		Ioctl(uintptr, []byte) (int, []byte, error)
	}, cmd uintptr, arg []byte) []byte {
		t.Helper()
		r, out, err := dev.Ioctl(cmd, arg)
		if r != 0 || err != nil {
			t.Fatalf("ioctl %#x: %d %v", cmd, r, err)
		}
		return out
	}
	if v := u64(ask(d, BLKGETSIZE64, nil)); v != 64<<20 {
		t.Errorf("BLKGETSIZE64 %d", v)
	}
	if v := u64(ask(d, BLKGETSIZE, nil)); v != 131072 {
		t.Errorf("BLKGETSIZE %d", v)
	}
	if v := ask(d, BLKSSZGET, nil); !bytes.Equal(v, []byte{0, 2, 0, 0}) {
		t.Errorf("BLKSSZGET %v", v)
	}
	if v := ask(d, BLKPBSZGET, nil); !bytes.Equal(v, []byte{0, 2, 0, 0}) {
		t.Errorf("BLKPBSZGET %v", v)
	}
	if v := ask(d, BLKROGET, nil); !bytes.Equal(v, []byte{0, 0, 0, 0}) {
		t.Errorf("BLKROGET %v", v)
	}
	geo := ask(d, HDIO_GETGEO, nil)
	if len(geo) != 16 || geo[0] != 128 || geo[1] != 32 || binary.LittleEndian.Uint16(geo[2:]) != 32 || u64(geo[8:]) != 0 {
		t.Errorf("HDIO_GETGEO %v", geo)
	}
	p1 := d.Partition(1)
	p7 := d.Partition(7)
	if p1 == nil || p7 == nil || p1.Name() != "ubdb1" || p7.Minor() != 23 {
		t.Fatalf("partitions %v", d.Partitions())
	}
	if v := u64(ask(p7, BLKGETSIZE64, nil)); v != 1000*512 {
		t.Errorf("partition BLKGETSIZE64 %d", v)
	}
	if geo := ask(p7, HDIO_GETGEO, nil); u64(geo[8:]) != 32 || binary.LittleEndian.Uint16(geo[2:]) != 32 {
		t.Errorf("partition HDIO_GETGEO %v", geo)
	}
	if r, _, err := p1.Ioctl(BLKRRPART, nil); r != -1 || !errors.Is(err, unix.EINVAL) {
		t.Errorf("BLKRRPART on a partition: %d %v", r, err)
	}
	if r, _, err := d.Ioctl(0x1234, nil); r != -1 || !errors.Is(err, unix.ENOTTY) {
		t.Errorf("unknown ioctl: %d %v", r, err)
	}
	// BLKDISCARD on partition 1, sectors 2..3: they read back as zeros; others stay.
	arg := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 1024), 1024)
	ask(p1, BLKDISCARD, arg)
	got := make([]byte, 4096)
	p1.ReadAt(got, 0)
	want := bytes.Repeat([]byte{0xee}, 4096)
	clear(want[1024:2048])
	if !bytes.Equal(got, want) {
		t.Errorf("after BLKDISCARD partition 1 reads %v…", got[1000:1040])
	}
	if r, _, err := p1.Ioctl(BLKDISCARD, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 4096), 8*512)); r != -1 || !errors.Is(err, unix.EINVAL) {
		t.Errorf("BLKDISCARD past the partition: %d %v", r, err)
	}
	if r, _, err := p1.Ioctl(BLKDISCARD, []byte{1}); r != -1 || !errors.Is(err, unix.EFAULT) {
		t.Errorf("short BLKDISCARD argument: %d %v", r, err)
	}
	// BLKZEROOUT through the whole disk.
	ask(d, BLKZEROOUT, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 8*512+3072), 1024))
	d.ReadAt(got[:1024], 8*512+3072)
	if !bytes.Equal(got[:1024], make([]byte, 1024)) {
		t.Error("BLKZEROOUT left data")
	}
	ask(d, BLKFLSBUF, nil)
	// Flag t turns discard off; flag r makes writes and discards fail.
	dt, _ := open(t, "ubd2t=disk.img")
	if r, _, err := dt.Ioctl(BLKDISCARD, arg); r != -1 || !errors.Is(err, unix.EOPNOTSUPP) || dt.DiscardMaxBytes() != 0 {
		t.Errorf("flag t BLKDISCARD: %d %v", r, err)
	}
	dr, _ := open(t, "ubd3r=disk.img")
	if r, _, err := dr.Ioctl(BLKDISCARD, arg); r != -1 || !errors.Is(err, unix.EBADF) {
		t.Errorf("read-only BLKDISCARD: %d %v", r, err)
	}
	// The /proc and /sys texts (their format is checked against the real kernel in
	// TestPartitionsAndSysfsAgainstRealUML).
	wantProc := "major minor  #blocks  name\n\n" +
		"  98       16      65536 ubdb\n" +
		"  98       17          4 ubdb1\n" +
		"  98       18          1 ubdb2\n" +
		"  98       19      10000 ubdb3\n" +
		"  98       21          2 ubdb5\n" +
		"  98       22          3 ubdb6\n" +
		"  98       23        500 ubdb7\n"
	if got := ProcPartitions(d); got != wantProc {
		t.Errorf("/proc/partitions:\n%s\nwant:\n%s", got, wantProc)
	}
	if d.SysfsSize() != "131072\n" || d.SysfsRO() != "0\n" || d.SysfsSerial() != "SER" || dr.SysfsSerial() != "(null)" || dr.SysfsRO() != "1\n" || d.SysfsDev() != "98:16\n" {
		t.Errorf("sysfs: %q %q %q %q", d.SysfsSize(), d.SysfsRO(), d.SysfsSerial(), dr.SysfsSerial())
	}
}

// TestCOWDiscard: a discard on a COW device zeroes the range in the guest's view without
// touching the backing file.
func TestCOWDiscard(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	d, _ := open(t, "ubd0=a.cow,base.img")
	if err := d.Discard(512*10, 512*3); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, d, d.Size())
	for i := int64(0); i < baseSectors; i++ {
		want := baseSector(i)
		if i >= 10 && i < 13 {
			want = make([]byte, 512)
		}
		if !bytes.Equal(got[i*512:(i+1)*512], want) {
			t.Fatalf("sector %d after discard: %q", i, got[i*512:i*512+16])
		}
	}
	if err := d.Discard(100, 512); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("unaligned discard: %v", err)
	}
}
