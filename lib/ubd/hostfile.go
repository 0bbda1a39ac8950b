package ubd

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The guest's /dev/ubdX must be a real host file descriptor (docs/architecture.md, principle 3)
// so that dd, mkfs and fsck in the guest do their read/write/pread/pwrite natively, without a
// trap.
//
// For a raw image that descriptor is simply the image file.
//
// A COW device has no host file with the guest's view in it, so HostFile makes one: the
// stand-in, an unlinked temporary file in $TMPDIR as long as the device, filled at first use
// with the merged view (the backing file's data ranges found with SEEK_DATA/SEEK_HOLE and
// copied with copy_file_range — a reflink on file systems that have them, so no data moves —
// then the COW file's sectors over it; holes stay holes). From then on the stand-in is the
// device: ReadAt, WriteAt and Discard use it too, so the kernel and the guest see one image.
// Flush (and Sync, Close) carries its changes back into the COW file: each 1 MiB chunk is
// compared with the COW view (chunks that are holes in both the stand-in and the backing
// file, with no COW sector, are skipped with SEEK_DATA), and the sectors that differ are
// written to the COW file with their bitmap bits, exactly as guest writes would have been.
//
// Trade-off: the COW file receives guest writes only at Flush/Sync/Close, not at each
// write, so a killed emulator loses what the guest wrote since the last flush (the real
// kernel would have written it to the COW file at once); a Flush reads the whole device
// (sparse ranges excepted); and the stand-in takes as much $TMPDIR space as the backing
// file's data unless copy_file_range can share extents. In exchange every guest read and
// write of a COW device runs at native speed. A sector the guest writes with the bytes it
// already had is indistinguishable from an unwritten one and stays in the backing file —
// harmless, the data is the same.

type standIn struct {
	f *os.File
}

const flushChunk = 1 << 20

// HostFile returns a host file holding the device's contents, to be given to the guest as
// its /dev/ubdX descriptor (SECCOMP_IOCTL_NOTIF_ADDFD duplicates it into the guest). The
// file belongs to the Device: do not close it (for a raw image it is the locked image file
// itself, and closing any descriptor of a POSIX-locked file drops the lock). A read-only
// device's file is open read-only (guest writes fail with EBADF, not EROFS).
//
// For a COW device the first call builds the stand-in described above; call Flush or Sync
// to carry the guest's writes into the COW file.
func (d *Device) HostFile() (*os.File, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	if d.hdr == nil {
		return d.file.f, nil
	}
	if d.host != nil {
		return d.host.f, nil
	}
	f, err := os.CreateTemp("", "gouml-"+d.Name+"-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if err := d.populate(f); err != nil {
		f.Close()
		return nil, err
	}
	if d.readOnly {
		// The guest must not be able to write it: hand out a read-only reopening.
		ro, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_RDONLY|unix.O_CLOEXEC, 0)
		f.Close()
		if err != nil {
			return nil, err
		}
		f = ro
	}
	d.host = &standIn{f: f}
	return f, nil
}

// populate fills the stand-in with the merged view.
func (d *Device) populate(f *os.File) error {
	if err := f.Truncate(d.size); err != nil {
		return err
	}
	bfd := int(d.backing.f.Fd())
	for off := int64(0); off < d.size; {
		a := nextData(bfd, off)
		if a >= d.size {
			break
		}
		b, err := unix.Seek(bfd, a, unix.SEEK_HOLE)
		if err != nil {
			b = d.size
		}
		b = min(b, d.size)
		if err := copyRange(f, a, d.backing.f, a, b-a); err != nil {
			return err
		}
		off = b
	}
	sectors := d.size / SectorSize
	for s := int64(0); s < sectors; {
		if !d.bit(s) {
			s++
			continue
		}
		e := s
		for e < sectors && d.bit(e) {
			e++
		}
		a, n := s*SectorSize, (e-s)*SectorSize
		// A COW sector reads as zeros where the COW file is short or sparse: clear first.
		if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, a, n); err != nil {
			if err := writeZeros(f, a, n); err != nil {
				return err
			}
		}
		if err := copyRange(f, a, d.file.f, d.layout.DataOffset+a, n); err != nil {
			return err
		}
		s = e
	}
	return nil
}

// copyRange copies n bytes (fewer if src ends first) with copy_file_range, falling back to
// read+write where the kernel refuses.
func copyRange(dst *os.File, doff int64, src *os.File, soff int64, n int64) error {
	for n > 0 {
		r, w := soff, doff
		c, err := unix.CopyFileRange(int(src.Fd()), &r, int(dst.Fd()), &w, int(min(n, 1<<30)), 0)
		if err != nil {
			return copySlow(dst, doff, src, soff, n)
		}
		if c == 0 {
			return nil // end of the source: the rest stays zero
		}
		soff, doff, n = soff+int64(c), doff+int64(c), n-int64(c)
	}
	return nil
}

func copySlow(dst *os.File, doff int64, src *os.File, soff int64, n int64) error {
	buf := make([]byte, min(n, flushChunk))
	for n > 0 {
		b := buf[:min(n, int64(len(buf)))]
		if err := readAtZero(src, b, soff); err != nil {
			return err
		}
		if _, err := dst.WriteAt(b, doff); err != nil {
			return err
		}
		soff, doff, n = soff+int64(len(b)), doff+int64(len(b)), n-int64(len(b))
	}
	return nil
}

func writeZeros(f *os.File, off, n int64) error {
	z := make([]byte, min(n, flushChunk))
	for n > 0 {
		b := z[:min(n, int64(len(z)))]
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off, n = off+int64(len(b)), n-int64(len(b))
	}
	return nil
}

// nextData is the first data offset at or after off (MaxInt64 when there is none; off when
// the file system cannot tell).
func nextData(fd int, off int64) int64 {
	n, err := unix.Seek(fd, off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return math.MaxInt64
	case err != nil:
		return off
	}
	return n
}

// Flush carries the stand-in's changes (the guest's writes through HostFile) into the COW
// file. It does nothing for a raw image or before HostFile was called.
func (d *Device) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	return d.flushLocked()
}

func (d *Device) flushLocked() error {
	if d.host == nil || d.hdr == nil || d.readOnly {
		return nil
	}
	hfd, bfd := int(d.host.f.Fd()), int(d.backing.f.Fd())
	got := make([]byte, flushChunk)
	want := make([]byte, flushChunk)
	for off := int64(0); off < d.size; off += flushChunk {
		n := min(int64(flushChunk), d.size-off)
		if nextData(hfd, off) >= off+n && nextData(bfd, off) >= off+n && !d.anyBit(off/SectorSize, (off+n+SectorSize-1)/SectorSize) {
			continue // zeros on both sides
		}
		g, w := got[:n], want[:n]
		if err := readAtZero(d.host.f, g, off); err != nil {
			return err
		}
		if err := d.readCOW(w, off); err != nil {
			return err
		}
		if bytes.Equal(g, w) {
			continue
		}
		for i := int64(0); i < n; {
			if bytes.Equal(g[i:i+SectorSize], w[i:i+SectorSize]) {
				i += SectorSize
				continue
			}
			j := i + SectorSize
			for j < n && !bytes.Equal(g[j:j+SectorSize], w[j:j+SectorSize]) {
				j += SectorSize
			}
			if err := d.writeCOW(g[i:j], off+i); err != nil {
				return err
			}
			i = j
		}
	}
	return nil
}

func (d *Device) anyBit(first, end int64) bool {
	for s := first; s < end; s++ {
		if s%8 == 0 && s+8 <= end && s/8 < int64(len(d.bitmap)) && d.bitmap[s/8] == 0 {
			s += 7
			continue
		}
		if d.bit(s) {
			return true
		}
	}
	return false
}
