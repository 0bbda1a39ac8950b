package ubd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/cow"
	"golang.org/x/sys/unix"
)

const baseSectors = 16384 // 8 MiB

var baseMTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// baseSector is the content of sector i of the test base image: "B0000042" repeated.
func baseSector(i int64) []byte { return bytes.Repeat(fmt.Appendf(nil, "B%07d", i), 64) }

// makeBase writes an 8 MiB image whose every sector names itself, with a fixed mtime.
func makeBase(t testing.TB, path string) {
	t.Helper()
	var b bytes.Buffer
	for i := int64(0); i < baseSectors; i++ {
		b.Write(baseSector(i))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, baseMTime, baseMTime); err != nil {
		t.Fatal(err)
	}
}

// spec parses one ubdN= word with the real command-line parser.
func spec(t testing.TB, word string) *cmdline.UBD {
	t.Helper()
	c, err := cmdline.Parse([]string{word})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range c.UBD {
		return u
	}
	t.Fatalf("%q is not a ubd word", word)
	return nil
}

// chdir runs the test in dir (relative names are relative to the cwd, as for linux.uml).
func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}

func open(t testing.TB, word string) (*Device, string) {
	t.Helper()
	var log bytes.Buffer
	d, err := Open(spec(t, word), false, &log)
	if err != nil {
		t.Fatalf("Open(%s): %v\nlog:\n%s", word, err, log.String())
	}
	t.Cleanup(func() { d.Close() })
	return d, log.String()
}

func readAll(t testing.TB, r io.ReaderAt, size int64) []byte {
	t.Helper()
	b := make([]byte, size)
	n, err := r.ReadAt(b, 0)
	if n != len(b) || (err != nil && err != io.EOF) {
		t.Fatalf("reading %d bytes: %d, %v", size, n, err)
	}
	return b
}

func TestRawImageSizeAndShortRead(t *testing.T) {
	chdir(t, t.TempDir())
	data := bytes.Repeat([]byte{0xab}, 1000000)
	if err := os.WriteFile("odd.img", data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, log := open(t, "ubd3=odd.img")
	if log != "" {
		t.Errorf("unexpected log %q", log)
	}
	if d.Size() != 1954*512 || d.IsCOW() || d.ReadOnly() || d.Name != "ubdd" {
		t.Fatalf("size %d cow %v ro %v name %s", d.Size(), d.IsCOW(), d.ReadOnly(), d.Name)
	}
	got := readAll(t, d, d.Size())
	if !bytes.Equal(got[:1000000], data) || !bytes.Equal(got[1000000:], make([]byte, d.Size()-1000000)) {
		t.Fatal("raw read: wrong content or non-zero tail past EOF")
	}
	if n, err := d.ReadAt(make([]byte, 10), d.Size()-4); n != 4 || err != io.EOF {
		t.Fatalf("read across the end: %d, %v", n, err)
	}
	if _, err := d.WriteAt([]byte("x"), d.Size()); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("write past the end: %v", err)
	}
	if _, err := d.WriteAt([]byte("hello"), 999998); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	on, _ := os.ReadFile("odd.img")
	if len(on) != 1000003 || string(on[999998:]) != "hello" {
		t.Fatalf("host file after write: len %d tail %q", len(on), on[999990:])
	}
}

func TestReadOnlyFlagAndFallback(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	d, _ := open(t, "ubd0r=base.img")
	if !d.ReadOnly() {
		t.Fatal("flag r: not read-only")
	}
	if _, err := d.WriteAt(make([]byte, 512), 0); !errors.Is(err, unix.EROFS) {
		t.Fatalf("write to r device: %v", err)
	}
	if r, out, err := d.Ioctl(BLKROGET, nil); r != 0 || err != nil || !bytes.Equal(out, []byte{1, 0, 0, 0}) {
		t.Fatalf("BLKROGET: %d %v %v", r, out, err)
	}
	// A file the process may not write (EACCES as non-root; root: a read-only bind is not
	// available, so use a file on a read-only mount when we have one).
	if os.Geteuid() != 0 {
		os.Chmod("base.img", 0o444)
		d2, _ := open(t, "ubd1=base.img")
		if !d2.ReadOnly() {
			t.Fatal("EACCES did not fall back to read-only")
		}
	}
}

func TestCOWCreateWriteReopen(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	makeBase(t, "base.img")
	d, log := open(t, "ubd1=new.cow,base.img")
	if want := "Creating \"new.cow\" as COW file for \"base.img\"\n"; log != want {
		t.Fatalf("log %q, want %q", log, want)
	}
	// The file is what uml_mkcow makes (lib/cow.Create follows it byte for byte).
	if _, err := cow.Create("ref.cow", "base.img", false); err != nil {
		t.Fatal(err)
	}
	ours, _ := os.ReadFile("new.cow")
	ref, _ := os.ReadFile("ref.cow")
	if !bytes.Equal(ours, ref) {
		t.Fatalf("created COW file differs from uml_mkcow's (len %d vs %d)", len(ours), len(ref))
	}
	if d.Size() != baseSectors*512 || !d.IsCOW() {
		t.Fatalf("size %d cow %v", d.Size(), d.IsCOW())
	}
	// Unaligned write across sectors 1..2, a whole sector 100, and the last sector.
	if _, err := d.WriteAt([]byte("HELLO-ACROSS-SECTORS"), 512+500); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(bytes.Repeat([]byte("Z"), 512), 100*512); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt([]byte("LAST"), (baseSectors-1)*512); err != nil {
		t.Fatal(err)
	}
	expect := func(dev io.ReaderAt) {
		t.Helper()
		all := readAll(t, dev, baseSectors*512)
		for i := int64(0); i < baseSectors; i++ {
			want := baseSector(i)
			switch i {
			case 1:
				copy(want[500:], "HELLO-ACROSS")
			case 2:
				copy(want, "-SECTORS")
			case 100:
				want = bytes.Repeat([]byte("Z"), 512)
			case baseSectors - 1:
				copy(want, "LAST")
			}
			if !bytes.Equal(all[i*512:(i+1)*512], want) {
				t.Fatalf("sector %d = %q…, want %q…", i, all[i*512:i*512+24], want[:24])
			}
		}
	}
	expect(d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("base.img")
	for i := int64(0); i < baseSectors; i++ {
		if !bytes.Equal(b[i*512:(i+1)*512], baseSector(i)) {
			t.Fatalf("backing file sector %d was written", i)
		}
	}
	// Bitmap: sectors 1, 2, 100 and the last are set, nothing else.
	h, _ := cow.ReadHeader("new.cow")
	l, _ := h.Layout()
	c, _ := os.ReadFile("new.cow")
	bm := c[l.BitmapOffset : l.BitmapOffset+l.BitmapLen]
	want := make([]byte, l.BitmapLen)
	want[0] = 0x06
	want[100/8] |= 1 << (100 % 8)
	want[(baseSectors-1)/8] |= 1 << ((baseSectors - 1) % 8)
	if !bytes.Equal(bm, want) {
		t.Fatalf("bitmap differs from the sectors written")
	}
	// Reopening with and without naming the backing file sees the same.
	d2, log := open(t, "ubd1=new.cow,base.img")
	if log != "" {
		t.Fatalf("reopen logged %q", log)
	}
	expect(d2)
	d2.Close()
	d3, _ := open(t, "ubd1=new.cow")
	expect(d3)
	if d3.BackingFile() != filepath.Join(dir, "base.img") {
		t.Fatalf("backing from header: %q", d3.BackingFile())
	}
	d3.Close()
	// Flag d: the COW file itself is the data, but (as in the real kernel, see
	// TestPartitionsAndSysfsAgainstRealUML's ubdf) the size is the backing file's.
	d4, _ := open(t, "ubd1d=new.cow")
	if d4.IsCOW() || d4.Size() != baseSectors*512 {
		t.Fatalf("flag d: cow %v size %d", d4.IsCOW(), d4.Size())
	}
	if got := readAll(t, d4, 4096); !bytes.Equal(got, c[:4096]) {
		t.Fatal("flag d: data is not the COW file's bytes")
	}
}

func TestCOWRejectsBadFiles(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	os.WriteFile("plain.cow", bytes.Repeat([]byte{7}, 8192), 0o644)
	var log bytes.Buffer
	_, err := Open(spec(t, "ubd1=plain.cow,base.img"), false, &log)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("not a COW file: %v", err)
	}
	want := "Failed to read COW header from COW file \"plain.cow\", errno = 22\nFailed to open 'plain.cow', errno = 22\n"
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
	// A hostile header (V3, alignment 3) is refused, not divided by.
	h := &cow.Header{Version: 3, BackingFile: "/x", Size: 4096, SectorSize: 512, Alignment: 4096}
	hb, _ := h.MarshalBinary()
	hb[27] = 3
	os.WriteFile("hostile.cow", hb, 0o644)
	if _, err := Open(spec(t, "ubd1=hostile.cow,base.img"), false, nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("hostile header: %v", err)
	}
	// Without a backing file named, a non-COW file is simply a raw image.
	d, _ := open(t, "ubd1=hostile.cow")
	if d.IsCOW() {
		t.Fatal("hostile header taken as COW")
	}
}

func TestCOWMismatchMessages(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	if _, err := cow.Create("k.cow", "base.img", false); err != nil {
		t.Fatal(err)
	}
	later := baseMTime.Add(time.Hour)
	os.Chtimes("base.img", later, later)
	var log bytes.Buffer
	_, err := Open(spec(t, "ubd1=k.cow,base.img"), false, &log)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mtime mismatch: %v", err)
	}
	want := fmt.Sprintf("mtime mismatch (%d vs %d) of COW header vs backing file\nFailed to open 'k.cow', errno = 22\n", baseMTime.Unix(), later.Unix())
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
	os.Truncate("base.img", baseSectors*512+4096)
	os.Chtimes("base.img", baseMTime, baseMTime)
	log.Reset()
	if _, err := Open(spec(t, "ubd1=k.cow,base.img"), false, &log); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("size mismatch: %v", err)
	}
	want = fmt.Sprintf("Size mismatch (%d vs %d) of COW header vs backing file\nFailed to open 'k.cow', errno = 22\n", baseSectors*512, baseSectors*512+4096)
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
}

func TestSwitchBackingFile(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	makeBase(t, "base.img")
	if _, err := cow.Create("k.cow", "base.img", false); err != nil {
		t.Fatal(err)
	}
	makeBase(t, "moved.img") // same size and mtime, another inode
	d, log := open(t, "ubd1=k.cow,moved.img")
	want := fmt.Sprintf("Backing file mismatch - \"moved.img\" requested, \"%s/base.img\" specified in COW header of \"k.cow\"\nSwitching backing file to 'moved.img'\n", dir)
	if log != want {
		t.Fatalf("log %q, want %q", log, want)
	}
	d.Close()
	h, _ := cow.ReadHeader("k.cow")
	if h.BackingFile != dir+"/moved.img" {
		t.Fatalf("header names %q after the switch", h.BackingFile)
	}
	// A requested file that does not match: the header's file is used, after the messages.
	os.Truncate("base.img", 4096)
	d2, log := open(t, "ubd1=k.cow,base.img")
	if d2.BackingFile() != dir+"/moved.img" {
		t.Fatalf("mismatching request: backing %q", d2.BackingFile())
	}
	if !strings.Contains(log, "Size mismatch (8388608 vs 4096) of COW header vs backing file\n") || strings.Contains(log, "Switching") {
		t.Fatalf("log %q", log)
	}
	// The same file under another name is no switch.
	os.Symlink("moved.img", "alias.img")
	_, log = open(t, "ubd1=k.cow,alias.img")
	if log != "" {
		t.Fatalf("same inode logged %q", log)
	}
}

// TestHoldLockHelper is not a test: run as a child process by lockedByChild, it holds a POSIX
// lock on a file until its stdin closes.
func TestHoldLockHelper(t *testing.T) {
	path, typ := os.Getenv("UBD_HOLD_FILE"), os.Getenv("UBD_HOLD_TYPE")
	if path == "" {
		t.Skip("helper process only")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if typ == "w" {
		lk.Type = unix.F_WRLCK
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		fmt.Println("LOCKFAILED", err)
		return
	}
	fmt.Println("LOCKED")
	io.Copy(io.Discard, os.Stdin)
}

// lockedByChild starts a child process holding a read ("r") or write ("w") lock on path.
func lockedByChild(t *testing.T, path, typ string) (pid int, release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLockHelper$")
	cmd.Env = append(os.Environ(), "UBD_HOLD_FILE="+path, "UBD_HOLD_TYPE="+typ)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	release = func() { in.Close(); cmd.Wait() }
	t.Cleanup(release)
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "LOCKED\n" {
		t.Fatalf("lock helper: %q", line)
	}
	return cmd.Process.Pid, release
}

func TestLocking(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	makeBase(t, "base.img")
	pid, release := lockedByChild(t, filepath.Join(dir, "base.img"), "r")
	// Read users share: a COW over the read-locked base, and the base opened r.
	d1, _ := open(t, "ubd1=a.cow,base.img")
	d2, _ := open(t, "ubd2r=base.img")
	// A writer must fail with EAGAIN and UML's messages.
	var log bytes.Buffer
	_, err := Open(spec(t, "ubd3=base.img"), false, &log)
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("write open of a read-locked file: %v", err)
	}
	want := fmt.Sprintf("F_SETLK failed, file already locked by pid %d\nFailed to lock 'base.img', err = 11\nFailed to open 'base.img', errno = 11\n", pid)
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
	// Flag c: no locking at all.
	_, log2 := open(t, "ubd3c=base.img")
	if log2 != "Not locking \"base.img\" on the host\n" {
		t.Fatalf("flag c log %q", log2)
	}
	// Closing one of our users must not drop the lock the others still hold: with the other
	// process gone, a write lock from outside must still be refused while d1 is open, and
	// granted once it is closed.
	release()
	d2.Close()
	// Another descriptor of the file opened and closed in this process (the emulator does
	// that for every guest open of /dev/ubdX) must not drop it either.
	if f, err := os.Open(filepath.Join(dir, "base.img")); err == nil {
		f.Close()
	}
	if err := lockableFromOutside(filepath.Join(dir, "base.img")); err == nil {
		t.Fatal("closing one user dropped the read lock the other still needs")
	}
	d1.Close()
	if err := lockableFromOutside(filepath.Join(dir, "base.img")); err != nil {
		t.Fatalf("after the last close: %v", err)
	}
}

// lockableFromOutside asks a child process to take a write lock on path.
func lockableFromOutside(path string) error {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLockHelper$")
	cmd.Env = append(os.Environ(), "UBD_HOLD_FILE="+path, "UBD_HOLD_TYPE=w")
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.Output()
	if !strings.Contains(string(out), "LOCKED") || strings.Contains(string(out), "LOCKFAILED") {
		return fmt.Errorf("another process could not write-lock %s: %q", path, out)
	}
	return nil
}

func TestWriteLockRefusesReaders(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	makeBase(t, "img")
	pid, _ := lockedByChild(t, filepath.Join(dir, "img"), "w")
	var log bytes.Buffer
	_, err := Open(spec(t, "ubd0r=img"), false, &log)
	if !errors.Is(err, unix.EAGAIN) || !strings.Contains(log.String(), fmt.Sprintf("locked by pid %d\n", pid)) {
		t.Fatalf("read open of a write-locked file: %v, log %q", err, log.String())
	}
	// Backing files are read-locked too.
	log.Reset()
	_, err = Open(spec(t, "ubd0=x.cow,img"), false, &log)
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("COW over a write-locked backing file: %v, log %q", err, log.String())
	}
}

func TestSyncFlag(t *testing.T) {
	chdir(t, t.TempDir())
	os.WriteFile("img", make([]byte, 4096), 0o644)
	for _, c := range []struct {
		word string
		sync bool
		want bool
	}{{"ubd0=img", false, false}, {"ubd0s=img", false, true}, {"ubd0=img", true, true}} {
		d, err := Open(spec(t, c.word), c.sync, nil)
		if err != nil {
			t.Fatal(err)
		}
		fl, _ := unix.FcntlInt(d.file.f.Fd(), unix.F_GETFL, 0)
		if got := fl&unix.O_SYNC == unix.O_SYNC; got != c.want {
			t.Errorf("%s (ubd=sync %v): O_SYNC %v", c.word, c.sync, got)
		}
		if fl&unix.O_NONBLOCK != 0 {
			t.Errorf("%s: O_NONBLOCK left set", c.word)
		}
		d.Close()
	}
}

// TestConcurrentIO: readers and writers of one COW device at once (run with -race).
func TestConcurrentIO(t *testing.T) {
	chdir(t, t.TempDir())
	makeBase(t, "base.img")
	d, _ := open(t, "ubd0=c.cow,base.img")
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			buf := make([]byte, 4096)
			for i := range 50 {
				off := int64((g*50+i)*4096) % d.Size()
				if g%2 == 0 {
					if _, err := d.WriteAt(bytes.Repeat([]byte{byte(g)}, 4096), off); err != nil {
						done <- err
						return
					}
				} else if _, err := d.ReadAt(buf, off); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
