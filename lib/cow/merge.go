package cow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// chunkSectors is how many sectors a merge handles per step (1 MiB): large enough that the
// system-call count is small, small enough that memory stays bounded whatever the image size.
const chunkSectors = 2048

// Progress is told how many bytes of the image have been merged so far, out of total.
type Progress func(done, total int64)

var zeroSector [SectorSize]byte

// readAtZero fills b from f at off; what lies beyond the end of the file reads as zeros (as
// the kernel's ubd driver treats a short read).
func readAtZero(f *os.File, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	clear(b[n:])
	return err
}

// chunkBits returns the bitmap bits of sectors [first, first+n); first is a multiple of 8.
// Bits past the device's last sector are cleared.
func (f *File) chunkBits(bits []byte, first int64, n int) error {
	nb := (n + 7) / 8
	if err := readAtZero(f.cow, bits[:nb], f.Layout.BitmapOffset+first/8); err != nil {
		return fmt.Errorf("reading the bitmap of %q: %w", f.Path, err)
	}
	if n%8 != 0 {
		bits[nb-1] &= byte(1)<<(n%8) - 1
	}
	return nil
}

func bitSet(bits []byte, i int) bool { return bits[i/8]&(1<<(i%8)) != 0 }

// setRuns calls fn for every run [a, b) of consecutive set bits among the first n.
func setRuns(bits []byte, n int, fn func(a, b int) error) error {
	for i := 0; i < n; {
		if bits[i/8] == 0 && i%8 == 0 {
			i += 8
			continue
		}
		if !bitSet(bits, i) {
			i++
			continue
		}
		a := i
		for i < n && bitSet(bits, i) {
			i++
		}
		if err := fn(a, i); err != nil {
			return err
		}
	}
	return nil
}

// readCOWRuns overlays the COW file's copy of every set sector onto data (sector i of the
// chunk at data[i*512:]).
func (f *File) readCOWRuns(data, bits []byte, first int64, n int) error {
	return setRuns(bits, n, func(a, b int) error {
		err := readAtZero(f.cow, data[a*SectorSize:b*SectorSize], f.Layout.DataOffset+(first+int64(a))*SectorSize)
		if err != nil {
			return fmt.Errorf("reading COW data of %q: %w", f.Path, err)
		}
		return nil
	})
}

// holes answers "is this byte range a hole of the backing file?" with SEEK_DATA, so merging a
// sparse image does not read gigabytes of zeros. Any error just disables it.
type holes struct {
	fd       int
	next     int64 // first data offset at or after the last query
	valid    bool
	disabled bool
}

func (h *holes) isHole(off, length int64) bool {
	if h.disabled {
		return false
	}
	if !h.valid || off > h.next {
		n, err := unix.Seek(h.fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			n = math.MaxInt64
		case err != nil:
			h.disabled = true
			return false
		}
		h.next, h.valid = n, true
	}
	return h.next >= off+length
}

// MergeTo writes the image the guest sees — backing file with the COW file's sectors laid
// over it — to out. All-zero sectors are left as holes. The image is written to a temporary
// name beside out, synced and renamed, so out is never half-written; a killed merge run again
// gives the same result.
func (f *File) MergeTo(out string, progress Progress) error {
	if st, err := os.Stat(out); err == nil {
		for _, o := range []*os.File{f.backing, f.cow} {
			if ost, err := o.Stat(); err == nil && os.SameFile(st, ost) {
				return fmt.Errorf("output %q is the file being read (%s); use -d for an in-place merge", out, o.Name())
			}
		}
	}
	dir, base := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	if len(base) > 200 {
		base = base[:200]
	}
	tmpName := filepath.Join(dir, "."+base+".uml_moo-tmp")
	tmp, err := os.OpenFile(tmpName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("creating %q: %w", tmpName, unwrapPath(err))
	}
	defer tmp.Close()
	// The fixed temporary name lets a rerun after a kill reuse (not litter) the file; the lock
	// keeps two merges into the same output apart.
	if err := unix.Flock(int(tmp.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another uml_moo is writing %q (%s is locked)", out, tmpName)
	}
	committed := false
	defer func() {
		if !committed {
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Truncate(0); err != nil {
		return fmt.Errorf("truncating %q: %w", tmpName, unwrapPath(err))
	}

	size := int64(f.Header.Size)
	total := f.Header.Sectors()
	bits := make([]byte, chunkSectors/8)
	buf := make([]byte, chunkSectors*SectorSize)
	hs := &holes{fd: int(f.backing.Fd())}
	for first := int64(0); first < total; first += chunkSectors {
		n := int(min(chunkSectors, total-first))
		data := buf[:n*SectorSize]
		if err := f.chunkBits(bits, first, n); err != nil {
			return err
		}
		off := first * SectorSize
		if hs.isHole(off, int64(len(data))) {
			clear(data)
		} else if err := readAtZero(f.backing, data, off); err != nil {
			return fmt.Errorf("reading backing file %q: %w", f.BackingPath, err)
		}
		if err := f.readCOWRuns(data, bits, first, n); err != nil {
			return err
		}
		if err := writeNonZero(tmp, data, off, size); err != nil {
			return fmt.Errorf("writing %q: %w", tmpName, err)
		}
		if progress != nil {
			progress(min(off+int64(len(data)), size), size)
		}
	}
	if err := tmp.Truncate(size); err != nil {
		return fmt.Errorf("writing %q: %w", tmpName, unwrapPath(err))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %q: %w", tmpName, unwrapPath(err))
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("renaming %q to %q: %w", tmpName, out, unwrapPath(err))
	}
	committed = true
	syncDir(dir)
	return nil
}

// writeNonZero writes the non-zero sectors of data (which starts at byte off of the image),
// merging neighbours into one write and never writing past size.
func writeNonZero(w *os.File, data []byte, off, size int64) error {
	n := len(data) / SectorSize
	for i := 0; i < n; {
		if bytes.Equal(data[i*SectorSize:(i+1)*SectorSize], zeroSector[:]) {
			i++
			continue
		}
		a := i
		for i < n && !bytes.Equal(data[i*SectorSize:(i+1)*SectorSize], zeroSector[:]) {
			i++
		}
		end := min(int64(i*SectorSize), size-off)
		if _, err := w.WriteAt(data[a*SectorSize:end], off+int64(a*SectorSize)); err != nil {
			return unwrapPath(err)
		}
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// journalName is the marker an in-place merge keeps beside the backing file while it writes.
// It records which COW file and which original mtime the merge started from, so a merge that
// was killed can be run again even though the backing file's mtime has already changed.
func journalName(backing string) string { return backing + ".uml_moo-merging" }

func journalText(cowPath string, h *Header) string {
	abs, err := filepath.Abs(cowPath)
	if err != nil {
		abs = cowPath
	}
	return fmt.Sprintf("uml_moo in-place merge\ncow=%s\nmtime=%d\nsize=%d\n", abs, h.MTime, h.Size)
}

// MergeInPlace writes the COW file's sectors into its backing file (uml_moo -d). Only sectors
// whose content differs are written. The backing file's mtime changes, so the COW file no
// longer matches it afterwards — as with the real tool. If a previous in-place merge of the
// same COW file was interrupted, it is resumed.
func MergeInPlace(cowPath string, opt OpenOptions, progress Progress) (resumed bool, err error) {
	opt.WritableBacking = true
	f, err := Open(cowPath, opt)
	var mm *MismatchError
	if errors.As(err, &mm) && mm.What == "mtime" {
		if j, jerr := os.ReadFile(journalName(mm.Backing)); jerr == nil {
			h, herr := ReadHeader(cowPath)
			if herr == nil && string(j) == journalText(cowPath, h) {
				opt.IgnoreMTime = true
				f, err = Open(cowPath, opt)
				resumed = true
			}
		}
	}
	if err != nil {
		return false, err
	}
	defer f.Close()

	journal := journalName(f.BackingPath)
	if !resumed {
		if err := writeSynced(journal, journalText(cowPath, f.Header)); err != nil {
			return false, fmt.Errorf("cannot record the merge in %q (needed to resume it safely): %w", journal, err)
		}
	}
	size := int64(f.Header.Size)
	total := f.Header.Sectors()
	bits := make([]byte, chunkSectors/8)
	data := make([]byte, chunkSectors*SectorSize)
	old := make([]byte, chunkSectors*SectorSize)
	for first := int64(0); first < total; first += chunkSectors {
		n := int(min(chunkSectors, total-first))
		if err := f.chunkBits(bits, first, n); err != nil {
			return resumed, err
		}
		off := first * SectorSize
		err := setRuns(bits, n, func(a, b int) error {
			lo, hi := a*SectorSize, b*SectorSize
			if err := readAtZero(f.cow, data[lo:hi], f.Layout.DataOffset+off+int64(lo)); err != nil {
				return fmt.Errorf("reading COW data of %q: %w", f.Path, err)
			}
			if err := readAtZero(f.backing, old[lo:hi], off+int64(lo)); err != nil {
				return fmt.Errorf("reading backing file %q: %w", f.BackingPath, err)
			}
			return writeChanged(f.backing, data, old, a, b, off, size)
		})
		if err != nil {
			return resumed, err
		}
		if progress != nil {
			progress(min(off+int64(n*SectorSize), size), size)
		}
	}
	if err := f.backing.Sync(); err != nil {
		return resumed, fmt.Errorf("syncing backing file %q: %w", f.BackingPath, unwrapPath(err))
	}
	if err := os.Remove(journal); err != nil {
		return resumed, fmt.Errorf("removing %q: %w", journal, unwrapPath(err))
	}
	return resumed, nil
}

// writeChanged writes sectors [a, b) of data whose content differs from old, clipped to size.
func writeChanged(w *os.File, data, old []byte, a, b int, off, size int64) error {
	for i := a; i < b; {
		s := func(buf []byte, i int) []byte { return buf[i*SectorSize : (i+1)*SectorSize] }
		if bytes.Equal(s(data, i), s(old, i)) {
			i++
			continue
		}
		start := i
		for i < b && !bytes.Equal(s(data, i), s(old, i)) {
			i++
		}
		end := min(int64(i*SectorSize), size-off)
		if _, err := w.WriteAt(data[start*SectorSize:end], off+int64(start*SectorSize)); err != nil {
			return fmt.Errorf("writing backing file: %w", unwrapPath(err))
		}
	}
	return nil
}

func writeSynced(name, text string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return unwrapPath(err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	syncDir(filepath.Dir(name))
	return nil
}
