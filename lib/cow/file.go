package cow

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ReadHeader reads and parses the header of the COW file at path.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(f)
}

func readHeader(f *os.File) (*Header, error) {
	b := make([]byte, MaxHeaderSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return Unmarshal(b[:n])
}

// File is an open COW file together with its backing file, both checked the way UML checks
// them before using the pair.
type File struct {
	Path        string // the COW file
	Header      *Header
	Layout      Layout
	BackingPath string // the backing file actually used (header or override)

	cow     *os.File
	backing *os.File
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Backing overrides the backing file named in the header (uml_moo -b).
	Backing string
	// WritableBacking opens the backing file read-write (in-place merges).
	WritableBacking bool
	// IgnoreMTime skips the mtime check (only for resuming a merge this package started).
	IgnoreMTime bool
	// Writable opens the COW file read-write, for WriteSectors.
	Writable bool
}

// MismatchError reports a backing file whose size or mtime differs from the COW header. The
// text is the real tools' message, so logs read the same.
type MismatchError struct {
	What           string // "Size" or "mtime"
	Header, Actual int64
	Backing        string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch (%d vs %d) of COW header vs backing file %q", e.What, e.Header, e.Actual, e.Backing)
}

// Open opens a COW file read-only and its backing file, and checks that the backing file's
// size and mtime are the ones recorded in the header.
func Open(path string, opt OpenOptions) (*File, error) {
	cflag := os.O_RDONLY
	if opt.Writable {
		cflag = os.O_RDWR
	}
	c, err := os.OpenFile(path, cflag, 0)
	if err != nil {
		return nil, fmt.Errorf("COW file %q: %w", path, unwrapPath(err))
	}
	h, err := readHeader(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading COW header of %q: %w", path, err)
	}
	l, _ := h.Layout() // validated by Unmarshal
	f := &File{Path: path, Header: h, Layout: l, cow: c, BackingPath: opt.Backing}
	if f.BackingPath == "" {
		f.BackingPath = h.BackingFile
	}
	if f.BackingPath == "" {
		f.Close()
		return nil, fmt.Errorf("COW header of %q names no backing file", path)
	}
	flag := os.O_RDONLY
	if opt.WritableBacking {
		flag = os.O_RDWR
	}
	b, err := os.OpenFile(f.BackingPath, flag, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backing file %q: %w", f.BackingPath, unwrapPath(err))
	}
	f.backing = b
	size, mtime, err := backingSize(b)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backing file %q: %w", f.BackingPath, err)
	}
	if uint64(size) != h.Size {
		f.Close()
		return nil, &MismatchError{"Size", int64(h.Size), size, f.BackingPath}
	}
	if !opt.IgnoreMTime && mtime != h.MTime {
		f.Close()
		return nil, &MismatchError{"mtime", h.MTime, mtime, f.BackingPath}
	}
	return f, nil
}

// Close closes both files.
func (f *File) Close() error {
	var err error
	if f.cow != nil {
		err = f.cow.Close()
	}
	if f.backing != nil {
		if e := f.backing.Close(); err == nil {
			err = e
		}
	}
	return err
}

// WriteSectors stores data (a whole number of 512-byte sectors) as the device's sectors from
// first on: into the COW file's data area, then the bitmap bits, as the kernel orders it (a
// crash in between leaves the old content visible, never unwritten data).
func (f *File) WriteSectors(first int64, data []byte) error {
	if len(data)%SectorSize != 0 {
		return fmt.Errorf("write of %d bytes is not a whole number of sectors", len(data))
	}
	n := int64(len(data) / SectorSize)
	if first < 0 || first+n > f.Header.Sectors() {
		return fmt.Errorf("sectors %d..%d are outside the device (%d sectors)", first, first+n-1, f.Header.Sectors())
	}
	if _, err := f.cow.WriteAt(data, f.Layout.DataOffset+first*SectorSize); err != nil {
		return fmt.Errorf("writing COW data of %q: %w", f.Path, unwrapPath(err))
	}
	lo, hi := first/8, (first+n+7)/8
	bits := make([]byte, hi-lo)
	if err := readAtZero(f.cow, bits, f.Layout.BitmapOffset+lo); err != nil {
		return fmt.Errorf("reading the bitmap of %q: %w", f.Path, err)
	}
	for s := first; s < first+n; s++ {
		bits[s/8-lo] |= 1 << (s % 8)
	}
	if _, err := f.cow.WriteAt(bits, f.Layout.BitmapOffset+lo); err != nil {
		return fmt.Errorf("writing the bitmap of %q: %w", f.Path, unwrapPath(err))
	}
	return nil
}

// backingSize returns the size and mtime of a regular file or block device. A block device's
// size is found by seeking to its end, which needs no ioctl and no privilege.
func backingSize(f *os.File) (size, mtime int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	if sys != nil {
		mtime = sys.Mtim.Sec
	} else {
		mtime = st.ModTime().Unix()
	}
	switch {
	case st.Mode().IsRegular():
		return st.Size(), mtime, nil
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		size, err = f.Seek(0, io.SeekEnd)
		return size, mtime, err
	default:
		return 0, 0, fmt.Errorf("not a regular file or block device (%s)", st.Mode().Type())
	}
}

// Absolutize turns a backing file name into the absolute form UML stores in headers: the
// directory part is resolved physically (symlinks followed, as chdir+getcwd would), the last
// component is kept as given. Unlike the real tools, "/name" works (they fail on it).
func Absolutize(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty backing file name")
	}
	dir, base := filepath.Split(name)
	if base == "" {
		return "", fmt.Errorf("backing file name %q ends in a slash", name)
	}
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("can't resolve directory %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("can't resolve directory %q: %w", dir, unwrapPath(err))
	}
	if real == "/" {
		return "/" + base, nil
	}
	return real + "/" + base, nil
}

// Create makes a new COW file over backing, exactly as uml_mkcow and the kernel do: a version
// 3 header (sector size 512, alignment 4096) and a sparse file long enough for every sector.
// Unless force is set an existing file is an error; with force it is replaced from scratch
// (the real uml_mkcow -f leaves stale bitmap bytes of a larger old file behind).
// Everything is checked before cowPath is touched, so a bad backing file leaves nothing behind.
func Create(cowPath, backing string, force bool) (*Header, error) {
	abs, err := Absolutize(backing)
	if err != nil {
		return nil, err
	}
	if len(abs) > pathLen-1 {
		return nil, fmt.Errorf("backing file name is %d bytes long; the COW header holds at most %d", len(abs), pathLen-1)
	}
	b, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("backing file %q: %w", backing, unwrapPath(err))
	}
	defer b.Close()
	size, mtime, err := backingSize(b)
	if err != nil {
		return nil, fmt.Errorf("backing file %q: %w", backing, err)
	}
	h := &Header{Version: 3, BackingFile: abs, MTime: mtime, Size: uint64(size),
		SectorSize: SectorSize, Alignment: DefaultAlignment}
	hdr, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	l, _ := h.Layout()
	if st, err := os.Stat(cowPath); err == nil {
		if bst, err := b.Stat(); err == nil && os.SameFile(st, bst) {
			return nil, fmt.Errorf("COW file %q is the backing file itself", cowPath)
		}
	}
	flag := os.O_RDWR | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_RDWR | os.O_CREATE | os.O_TRUNC
	}
	c, err := os.OpenFile(cowPath, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open COW file %q: %w", cowPath, unwrapPath(err))
	}
	fail := func(err error) (*Header, error) {
		c.Close()
		os.Remove(cowPath)
		return nil, fmt.Errorf("writing COW file %q: %w", cowPath, err)
	}
	if _, err := c.WriteAt(hdr, 0); err != nil {
		return fail(err)
	}
	if err := c.Truncate(l.DataOffset + int64(h.Size)); err != nil {
		return fail(err)
	}
	if err := c.Close(); err != nil {
		os.Remove(cowPath)
		return nil, fmt.Errorf("writing COW file %q: %w", cowPath, err)
	}
	return h, nil
}

// unwrapPath drops the *PathError wrapper (its text repeats the path we already name) and
// returns the bare errno, printed in lower case like Go errors are.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
