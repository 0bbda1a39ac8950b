package ubd

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/gouml/gouml/lib/cow"
	"golang.org/x/sys/unix"
)

func TestHostFileRawIsTheImage(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	d, _ := open(t, "ubd0=base.img")
	f, err := d.HostFile()
	if err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	unix.Fstat(int(f.Fd()), &a)
	unix.Stat("base.img", &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Fatal("raw image's host file is not the image")
	}
	if _, err := f.WriteAt([]byte("NATIVE"), 4096); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	d.ReadAt(got, 4096)
	if string(got) != "NATIVE" {
		t.Fatalf("device reads %q", got)
	}
}

// TestHostFileCOWStandIn: guest-style native I/O on the stand-in — unaligned pwrites, a
// punched hole — is seen by the Device at once, reaches the COW file at Flush (only the
// changed sectors get bits), survives a reopen, and never touches the backing file.
func TestHostFileCOWStandIn(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	// Make the backing file sparse in the middle to exercise SEEK_DATA.
	fb, _ := os.OpenFile("base.img", os.O_RDWR, 0)
	unix.Fallocate(int(fb.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 1<<20, 2<<20)
	fb.Close()
	os.Chtimes("base.img", baseMTime, baseMTime)
	base, _ := os.ReadFile("base.img")

	d, _ := open(t, "ubd0=s.cow,base.img")
	d.WriteAt(bytes.Repeat([]byte("C"), 1024), 7*512) // sectors 7 and 8 live in the COW file
	f, err := d.HostFile()
	if err != nil {
		t.Fatal(err)
	}
	view := readAll(t, d, d.Size())
	if st, _ := f.Stat(); st.Size() != d.Size() {
		t.Fatalf("stand-in is %d bytes", st.Size())
	}
	sv := make([]byte, d.Size())
	f.ReadAt(sv, 0)
	if !bytes.Equal(sv, view) {
		t.Fatal("stand-in does not hold the device's view")
	}
	want := bytes.Clone(view)
	apply := func(off int64, b []byte) {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], b)
	}
	apply(3, []byte("guest-unaligned"))
	apply(1<<20+77, []byte("into-the-hole"))
	apply(d.Size()-5, []byte("TAIL!"))
	apply(8*512, bytes.Repeat([]byte("C"), 512)) // same bytes as before: no change
	unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 40*512, 2*512)
	clear(want[40*512 : 42*512])
	// The Device sees the stand-in at once.
	if got := readAll(t, d, d.Size()); !bytes.Equal(got, want) {
		t.Fatal("Device does not read the stand-in's writes")
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("base.img"); !bytes.Equal(b, base) {
		t.Fatal("backing file changed")
	}
	h, _ := cow.ReadHeader("s.cow")
	l, _ := h.Layout()
	c, _ := os.ReadFile("s.cow")
	bm := c[l.BitmapOffset : l.BitmapOffset+l.BitmapLen]
	var set []int64
	for s := int64(0); s < baseSectors; s++ {
		if bm[s/8]&(1<<(s%8)) != 0 {
			set = append(set, s)
		}
	}
	wantSet := []int64{0, 7, 8, 40, 41, 2048, baseSectors - 1}
	if !reflect.DeepEqual(set, wantSet) {
		t.Fatalf("COW sectors %v, want %v", set, wantSet)
	}
	d2, _ := open(t, "ubd0=s.cow,base.img")
	if got := readAll(t, d2, d2.Size()); !bytes.Equal(got, want) {
		t.Fatal("reopened COW device lacks the stand-in's writes")
	}
	// The merge of the COW file (lib/cow, = uml_moo) is the view too.
	cf, err := cow.Open("s.cow", cow.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	if err := cf.MergeTo("merged.img", nil); err != nil {
		t.Fatal(err)
	}
	if m, _ := os.ReadFile("merged.img"); !bytes.Equal(m, want) {
		t.Fatal("uml_moo-style merge differs from the stand-in")
	}
}

func TestHostFileReadOnlyCOW(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	d, _ := open(t, "ubd0=r.cow,base.img")
	d.WriteAt([]byte("X"), 0)
	d.Close()
	dr, _ := open(t, "ubd0r=r.cow,base.img")
	f, err := dr.HostFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("Y"), 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("write to a read-only stand-in: %v", err)
	}
	b := make([]byte, 2)
	f.ReadAt(b, 0)
	if string(b) != "X0" {
		t.Fatalf("read-only stand-in reads %q", b)
	}
}
