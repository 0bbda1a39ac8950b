// Package ubd implements UML's block devices (ubda..ubdp) over host files, the way the real
// Debian linux.uml 6.1 opens and uses them (docs/interfaces.md §1.8, §6.1, §6.2): a raw image,
// or a COW file (lib/cow's format) layered over a read-only backing file; the same open
// sequence, host locks, size rules and console messages as the real kernel; MBR and GPT
// partitions as sub-devices; the block-device ioctls and the /proc and /sys texts a guest
// reads; and a host file descriptor that can stand in for the device inside the guest.
//
// How the emulator uses it:
//
//   - At boot, for every cmdline.Config.UBD entry, Open(u, cfg.UBDSync, console). (The real
//     kernel opens a device at the guest's first open and closes it at the last close; opening
//     at boot holds the host locks for the guest's whole life, which is what users of a
//     shared base expect. An Open error is printed and the device left out, as UML does.)
//   - Device nodes: /dev/ubdX is block major 98 (Major), minor Unit*16; partition N of it
//     (Device.Partitions) minor Unit*16+N; names from Device.Name and Partition.Name.
//   - A guest open of a node gets Device.HostFile (raw image: the image itself; COW: the
//     stand-in, see HostFile), so read/write/pread/pwrite/lseek run natively. Partitions have
//     no host file of their own (a window on a file cannot be one): serve their I/O through
//     Partition.ReadAt/WriteAt.
//   - ioctl on such an fd: Device.Ioctl / Partition.Ioctl, after checking CAP_SYS_ADMIN for
//     BLKFLSBUF/BLKRRPART and that the fd is writable for BLKDISCARD/BLKZEROOUT.
//   - fsync/fdatasync/sync and shutdown: Device.Sync (it carries the stand-in's changes into
//     the COW file), then Device.Close at halt.
//   - /proc/partitions: ProcPartitions(devs...). /sys/block/ubdX/{size,ro,serial,dev} and
//     queue/discard_max_bytes: SysfsSize, SysfsRO, SysfsSerial, SysfsDev, DiscardMaxBytes,
//     kept for a /sys the emulator does not serve yet (the interop tests compare them with
//     the real kernel's).
//   - An image-backed root or mount (lib/ext4) takes the Device or a Partition directly: both
//     are io.ReaderAt + io.WriterAt + Size() int64 + Sync() error.
package ubd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/cow"
	"golang.org/x/sys/unix"
)

// SectorSize is the ubd sector size (logical and physical).
const SectorSize = 512

// Major is the ubd block major number; unit u's whole disk has minor u*16, its partition p
// minor u*16+p.
const Major = 98

// MaxPartitions is the highest partition number of a ubd disk (16 minors per disk).
const MaxPartitions = 15

// Device is one open ubd device: an image file, or a COW file over a backing file.
type Device struct {
	Unit     int
	Name     string // ubda..ubdp
	Serial   string // "" = unset (the guest reads "(null)")
	file     *handle
	backing  *handle // nil for a raw image
	hdr      *cow.Header
	layout   cow.Layout
	readOnly bool
	noTrim   bool
	size     int64

	mu     sync.RWMutex // bitmap and the switch to the host stand-in
	bitmap []byte
	host   *standIn
	closed bool

	partMu sync.Mutex
	parts  []*Partition
	partOK error // why the table could not be read (nil: read, or no table)
}

// Error is an open failure: the errno the real kernel would return to the guest (EAGAIN for
// a locked file, EINVAL for a bad COW file …) and a one-line reason.
type Error struct {
	Errno unix.Errno
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is(err, unix.EAGAIN) and friends work.
func (e *Error) Unwrap() error { return e.Errno }

func fail(errno unix.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...)}
}

// asErrno extracts an errno from an os error (EIO when there is none).
func asErrno(err error) unix.Errno {
	var en unix.Errno
	if errors.As(err, &en) {
		return en
	}
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Errno
	}
	return unix.EIO
}

// Open sizes the device described by u as the real kernel does at boot and opens it as the
// real kernel does when the guest first opens it. sync is the global ubd=sync option.
// Kernel console lines ("Creating ...", "Size mismatch ...", "F_SETLK failed ...") are
// written to log, one per line, with the real kernel's wording; log may be nil. The returned error names the failure; errors.Is works
// with the errno the guest would see (unix.EAGAIN, unix.EINVAL, unix.ENOENT …).
//
// Relative file names are relative to the current directory, as for linux.uml.
func Open(u *cmdline.UBD, sync bool, log io.Writer) (*Device, error) {
	if u == nil || u.File == "" {
		return nil, fail(unix.ENODEV, "ubd: no file given")
	}
	if u.Unit < 0 || u.Unit >= cmdline.MaxUBD {
		return nil, fail(unix.ENODEV, "ubd%d: Device number out of range", u.Unit)
	}
	size, err := probeSize(u, log)
	if err != nil {
		return nil, err
	}
	d := &Device{Unit: u.Unit, Name: DiskName(u.Unit), Serial: u.Serial, noTrim: u.NoTrim}
	w := !u.ReadOnly
	syncFlag := 0
	if u.Sync || sync {
		syncFlag = os.O_SYNC
	}
	failed := func(err error) (*Device, error) {
		d.release()
		logf(log, "Failed to open '%s', errno = %d", u.File, asErrno(err))
		return nil, err
	}

	create := false
	h, err := openUBDFile(u.File, &w, syncFlag, u.Shared, log)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) || u.Backing == "" {
			return failed(wrapOpen(u.File, err))
		}
		create = true
	}
	d.file = h

	backing := u.Backing
	if create {
		if err := d.createCOW(u.File, u.Backing, w, syncFlag, log); err != nil {
			return failed(err)
		}
		logf(log, "Creating \"%s\" as COW file for \"%s\"", u.File, u.Backing)
	} else if !u.NoCow {
		hdr, err := readHeader(d.file.f)
		if err != nil && u.Backing != "" {
			en := unix.EINVAL
			if !isFormatError(err) {
				en = asErrno(err)
			}
			logf(log, "Failed to read COW header from COW file \"%s\", errno = %d", u.File, en)
			return failed(fail(en, "%s: not a usable COW file: %v", u.File, err))
		}
		if err == nil {
			d.hdr = hdr
			d.layout, _ = hdr.Layout()
			if backing, err = d.chooseBacking(u.File, u.Backing, log); err != nil {
				return failed(err)
			}
		}
	}
	d.readOnly = !w

	if d.hdr != nil {
		bw := false
		bh, err := openUBDFile(backing, &bw, syncFlag, u.Shared, log)
		if err != nil {
			d.release()
			return nil, wrapOpen(backing, err)
		}
		d.backing = bh
		d.bitmap = make([]byte, d.layout.BitmapLen)
		if err := readAtZero(d.file.f, d.bitmap, d.layout.BitmapOffset); err != nil {
			d.release()
			return nil, fail(asErrno(err), "%s: reading the COW bitmap: %v", u.File, err)
		}
	}
	d.size = size
	if d.hdr != nil {
		// The bitmap covers the header's size only. They differ only when the command line
		// named a backing file the kernel then refused to switch to; the real kernel would
		// write bits past its bitmap, we keep the device inside it.
		d.size = min(size, d.hdr.Sectors()*SectorSize)
	}
	return d, nil
}

// probeSize is the kernel's boot-time ubd_file_size: the size of the backing file named on
// the command line, else of the file named in the file's COW header (even with flag d, a
// quirk the real kernel has), else of the file itself; rounded up to 512. A device whose
// size cannot be found is not created at all.
func probeSize(u *cmdline.UBD, log io.Writer) (int64, error) {
	name := u.Backing
	if name == "" {
		// Through the registry: closing a probe descriptor must not drop the locks another
		// device of this process holds on the same file.
		h, err := openHost(u.File, os.O_RDONLY, 0, lockNone, nil)
		if err != nil {
			logf(log, "Failed to initialize ubd device %d :Couldn't determine size of device's file", u.Unit)
			return 0, fail(asErrno(err), "%s: Couldn't determine size of device's file: %v", u.File, asErrno(err))
		}
		name = u.File
		if hdr, err := readHeader(h.f); err == nil {
			name = hdr.BackingFile
		}
		h.release()
	}
	size, _, err := statSize(name)
	if err != nil {
		logf(log, "Failed to initialize ubd device %d :Couldn't determine size of device's file", u.Unit)
		return 0, fail(asErrno(err), "%s: Couldn't determine size of device's file: %v", name, err)
	}
	return (size + SectorSize - 1) / SectorSize * SectorSize, nil
}

// openUBDFile is the kernel's open_ubd_file up to the header: open read-write (or read-only
// when *w is false), fall back to read-only on EROFS/EACCES, then lock unless shared.
func openUBDFile(name string, w *bool, syncFlag int, shared bool, log io.Writer) (*handle, error) {
	lockFor := func(w bool) int {
		switch {
		case shared:
			return lockNone
		case w:
			return lockWrite
		}
		return lockRead
	}
	open := func(w bool) (*handle, error) {
		flag := os.O_RDONLY
		if w {
			flag = os.O_RDWR
		}
		return openHost(name, flag|syncFlag, 0o644, lockFor(w), log)
	}
	h, err := open(*w)
	if err != nil && *w && (errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES)) {
		*w = false
		h, err = open(false)
	}
	if err == nil && shared {
		logf(log, "Not locking \"%s\" on the host", name)
	}
	return h, err
}

func wrapOpen(name string, err error) error {
	var ue *Error
	if errors.As(err, &ue) {
		return err
	}
	en := asErrno(err)
	if en == unix.EAGAIN {
		return fail(en, "%s: locked by another process (%v)", name, en)
	}
	return fail(en, "%s: %v", name, en)
}

// isFormatError tells a parse failure (the kernel's -EINVAL) from an I/O error.
func isFormatError(err error) bool {
	var en unix.Errno
	return !errors.As(err, &en)
}

func readHeader(f *os.File) (*cow.Header, error) {
	b := make([]byte, cow.MaxHeaderSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return cow.Unmarshal(b[:n])
}

// chooseBacking is the kernel's backing-file decision for an existing COW file: the header's
// file, unless the command line names another file (not the same inode) whose size and mtime
// match the header, in which case the header is rewritten to name it.
func (d *Device) chooseBacking(cowName, requested string, log io.Writer) (string, error) {
	fromHdr := d.hdr.BackingFile
	if requested != "" && pathRequiresSwitch(requested, fromHdr, cowName, log) &&
		backingMismatch(requested, d.hdr, log) == nil {
		logf(log, "Switching backing file to '%s'", requested)
		if err := d.switchBacking(requested); err != nil {
			logf(log, "Switch failed, errno = %d", asErrno(err))
			return "", err
		}
		return requested, nil
	}
	if err := backingMismatch(fromHdr, d.hdr, log); err != nil {
		return "", err
	}
	return fromHdr, nil
}

// pathRequiresSwitch is the kernel's path_requires_switch.
func pathRequiresSwitch(cmdlineName, hdrName, cowName string, log io.Writer) bool {
	if cmdlineName == hdrName {
		return false
	}
	var a, b unix.Stat_t
	if err := unix.Stat(cmdlineName, &a); err != nil {
		logf(log, "Couldn't stat '%s', err = %d", cmdlineName, asErrno(err))
		return false
	}
	if err := unix.Stat(hdrName, &b); err != nil {
		logf(log, "Couldn't stat '%s', err = %d", hdrName, asErrno(err))
		return true
	}
	if a.Dev == b.Dev && a.Ino == b.Ino {
		return false
	}
	logf(log, "Backing file mismatch - \"%s\" requested, \"%s\" specified in COW header of \"%s\"", cmdlineName, hdrName, cowName)
	return true
}

// backingMismatch is the kernel's backing_file_mismatch: the file's size and mtime must be
// the header's. Like the kernel it is asked twice when a switch was requested but the
// requested file does not match (first about that file, then about the header's), and says
// so both times.
func backingMismatch(name string, h *cow.Header, log io.Writer) error {
	size, mtime, err := statSize(name)
	if err != nil {
		logf(log, "Failed to get modification time of backing file \"%s\", errno = %d", name, asErrno(err))
		return fail(asErrno(err), "backing file %s: %v", name, err)
	}
	if uint64(size) != h.Size {
		logf(log, "Size mismatch (%d vs %d) of COW header vs backing file", h.Size, size)
		return fail(unix.EINVAL, "Size mismatch (%d vs %d) of COW header vs backing file %q", h.Size, size, name)
	}
	if mtime != h.MTime {
		logf(log, "mtime mismatch (%d vs %d) of COW header vs backing file", h.MTime, mtime)
		return fail(unix.EINVAL, "mtime mismatch (%d vs %d) of COW header vs backing file %q", h.MTime, mtime, name)
	}
	return nil
}

// switchBacking rewrites the header as version 3 naming the new backing file. The real
// kernel does this for every version, which silently moves the bitmap of a V1/V2 (and of
// some broken-V3) files; we refuse when the layout would change, so no data is lost.
func (d *Device) switchBacking(name string) error {
	abs, err := cow.Absolutize(name)
	if err != nil {
		return fail(unix.EINVAL, "switching backing file to %s: %v", name, err)
	}
	nh := *d.hdr
	nh.Version, nh.Broken64, nh.BackingFile = 3, false, abs
	if nh.Alignment == 0 {
		nh.Alignment = nh.SectorSize
	}
	nl, err := nh.Layout()
	if err != nil {
		return fail(unix.EINVAL, "switching backing file to %s: %v", name, err)
	}
	if nl != d.layout {
		return fail(unix.EINVAL, "switching backing file to %s: a version %d COW file would change its layout as version 3; not rewriting it (merge it with uml_moo instead)", name, d.hdr.Version)
	}
	b, err := nh.MarshalBinary()
	if err != nil {
		return fail(unix.EINVAL, "switching backing file to %s: %v", name, err)
	}
	if _, err := d.file.f.WriteAt(b, 0); err != nil {
		return fail(asErrno(err), "switching backing file to %s: %v", name, asErrno(err))
	}
	d.hdr = &nh
	return nil
}

// createCOW is the kernel's create_cow_file: the COW file is created (mode 0644) and, unlike
// the other opens, always locked; a version 3 header (alignment 4096) names the absolutized
// backing file, and one zero byte at the end gives the file its full length.
func (d *Device) createCOW(name, backing string, w bool, syncFlag int, log io.Writer) error {
	flag, lock := os.O_RDONLY, lockRead
	if w {
		flag, lock = os.O_RDWR, lockWrite
	}
	h, err := openHost(name, flag|os.O_CREATE|syncFlag, 0o644, lock, log)
	if err != nil {
		logf(log, "Open of COW file '%s' failed, errno = %d", name, asErrno(err))
		return wrapOpen(name, err)
	}
	d.file = h
	if len(backing) > 4095 {
		logf(log, "Backing file name \"%s\" is too long - names are limited to 4095 characters", backing)
		return fail(unix.EINVAL, "backing file name is %d bytes long; the COW header holds at most 4095", len(backing))
	}
	abs, err := cow.Absolutize(backing)
	if err != nil {
		logf(log, "absolutize : %v", err)
		return fail(unix.EINVAL, "backing file %s: %v", backing, err)
	}
	size, mtime, err := statSize(abs)
	if err != nil {
		logf(log, "write_cow_header - backing file '%s' mtime request failed, err = %d", abs, asErrno(err))
		return fail(asErrno(err), "backing file %s: %v", backing, err)
	}
	hdr := &cow.Header{Version: 3, BackingFile: abs, MTime: mtime, Size: uint64(size),
		SectorSize: SectorSize, Alignment: cow.DefaultAlignment}
	b, err := hdr.MarshalBinary()
	if err != nil {
		return fail(unix.EINVAL, "COW file %s: %v", name, err)
	}
	l, _ := hdr.Layout()
	if _, err := h.f.WriteAt(b, 0); err != nil {
		logf(log, "write_cow_header - write of header failed, err = %d", asErrno(err))
		return fail(asErrno(err), "writing COW header of %s: %v", name, asErrno(err))
	}
	if _, err := h.f.WriteAt([]byte{0}, l.DataOffset+int64(hdr.Size)-1); err != nil {
		return fail(asErrno(err), "extending COW file %s: %v", name, asErrno(err))
	}
	d.hdr, d.layout = hdr, l
	return nil
}

// fileSize returns the size and mtime of a regular file or block device (BLKGETSIZE64 for a
// device, as the kernel asks BLKGETSIZE).
func fileSize(f *os.File) (size, mtime int64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return st.Size, st.Mtim.Sec, nil
	case unix.S_IFBLK:
		var n uint64
		n, err = unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
		return int64(n), st.Mtim.Sec, err
	}
	return 0, 0, fail(unix.EINVAL, "%s is not a regular file or block device", f.Name())
}

// statSize is fileSize by name, as the kernel's os_file_size/os_file_modtime do it: stat,
// and for a block device its size by ioctl. Other file types are refused without opening
// them (a FIFO would block).
func statSize(name string) (size, mtime int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		return 0, 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return st.Size, st.Mtim.Sec, nil
	case unix.S_IFBLK:
		f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		return fileSize(f)
	}
	return 0, 0, fmt.Errorf("%s is not a regular file or block device: %w", name, unix.EINVAL)
}

// readAtZero fills b from f at off; what lies beyond the end of the file reads as zeros, as
// the kernel's ubd driver treats a short read.
func readAtZero(f *os.File, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := f.ReadAt(b, off)
		if err == io.EOF || (err == nil && n == 0) {
			clear(b[n:])
			return nil
		}
		if err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// release gives back the host files (idempotent).
func (d *Device) release() error {
	var err error
	for _, h := range []**handle{&d.file, &d.backing} {
		if *h != nil {
			if e := (*h).release(); err == nil {
				err = e
			}
			*h = nil
		}
	}
	return err
}

// DiskName returns the guest name of unit u: ubda..ubdp.
func DiskName(unit int) string { return "ubd" + string(rune('a'+unit)) }

// Size is the device size in bytes: the (backing) file's size rounded up to 512.
func (d *Device) Size() int64 { return d.size }

// ReadOnly reports whether the guest sees the device read-only (flag r, or the host file
// could only be opened read-only).
func (d *Device) ReadOnly() bool { return d.readOnly }

// IsCOW reports whether the device is a COW file over a backing file.
func (d *Device) IsCOW() bool { return d.hdr != nil }

// COWHeader returns the COW header in use (nil for a raw image).
func (d *Device) COWHeader() *cow.Header {
	if d.hdr == nil {
		return nil
	}
	h := *d.hdr
	return &h
}

// File returns the image or COW file's name as opened.
func (d *Device) File() string { return d.file.name }

// BackingFile returns the backing file's name as opened ("" for a raw image).
func (d *Device) BackingFile() string {
	if d.backing == nil {
		return ""
	}
	return d.backing.name
}

var errClosed = fail(unix.EBADF, "ubd: device is closed")

// ReadAt reads the device. Bytes beyond the host file's end read as zeros; reading at or past
// Size returns io.EOF like any io.ReaderAt.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return 0, errClosed
	}
	if off < 0 {
		return 0, fail(unix.EINVAL, "ubd: negative offset %d", off)
	}
	if off >= d.size {
		return 0, io.EOF
	}
	var eof error
	if int64(len(p)) > d.size-off {
		p, eof = p[:d.size-off], io.EOF
	}
	if err := d.readLocked(p, off); err != nil {
		return 0, err
	}
	return len(p), eof
}

// readLocked reads p at off (inside the device); d.mu is held.
func (d *Device) readLocked(p []byte, off int64) error {
	if d.host != nil {
		return readAtZero(d.host.f, p, off)
	}
	if d.hdr == nil {
		return readAtZero(d.file.f, p, off)
	}
	return d.readCOW(p, off)
}

// readCOW reads through the bitmap: runs of sectors whose bit is set come from the COW
// file's data area, the others from the backing file, both at linear offsets.
func (d *Device) readCOW(p []byte, off int64) error {
	end := off + int64(len(p))
	for off < end {
		s := off / SectorSize
		inCOW := d.bit(s)
		runEnd := (s + 1) * SectorSize
		for runEnd < end && d.bit(runEnd/SectorSize) == inCOW {
			runEnd += SectorSize
		}
		runEnd = min(runEnd, end)
		n := runEnd - off
		var err error
		if inCOW {
			err = readAtZero(d.file.f, p[:n], d.layout.DataOffset+off)
		} else {
			err = readAtZero(d.backing.f, p[:n], off)
		}
		if err != nil {
			return err
		}
		p, off = p[n:], runEnd
	}
	return nil
}

func (d *Device) bit(s int64) bool {
	i := s / 8
	return i < int64(len(d.bitmap)) && d.bitmap[i]&(1<<(s%8)) != 0
}

// WriteAt writes the device. A COW device stores the written sectors in the COW file (data
// first, then the bitmap, as the kernel orders it); the backing file is never written.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkWrite(off, int64(len(p))); err != nil {
		return 0, err
	}
	if err := d.writeLocked(p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *Device) checkWrite(off, n int64) error {
	switch {
	case d.closed:
		return errClosed
	case d.readOnly:
		return fail(unix.EROFS, "%s: read-only device", d.Name)
	case off < 0 || off > d.size || n > d.size-off:
		return fail(unix.ENOSPC, "%s: write of %d bytes at %d is beyond the end of the device (%d bytes)", d.Name, n, off, d.size)
	}
	return nil
}

func (d *Device) writeLocked(p []byte, off int64) error {
	if d.host != nil {
		_, err := d.host.f.WriteAt(p, off)
		return err
	}
	if d.hdr == nil {
		_, err := d.file.f.WriteAt(p, off)
		return err
	}
	return d.writeCOW(p, off)
}

// writeCOW writes whole sectors into the COW file; a partial first or last sector whose bit
// is clear is completed from the backing file first.
func (d *Device) writeCOW(p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	first := off / SectorSize
	last := (off + int64(len(p)) - 1) / SectorSize
	a, b := first*SectorSize, (last+1)*SectorSize
	buf := p
	if a != off || b != off+int64(len(p)) {
		buf = make([]byte, b-a)
		if a != off {
			if err := d.readCOW(buf[:SectorSize], a); err != nil {
				return err
			}
		}
		if b != off+int64(len(p)) {
			if err := d.readCOW(buf[len(buf)-SectorSize:], b-SectorSize); err != nil {
				return err
			}
		}
		copy(buf[off-a:], p)
	}
	if _, err := d.file.f.WriteAt(buf, d.layout.DataOffset+a); err != nil {
		return err
	}
	return d.setBits(first, last+1)
}

// setBits marks sectors [first, end) as living in the COW file and writes the changed bitmap
// bytes back.
func (d *Device) setBits(first, end int64) error {
	lo, hi := first/8, (end+7)/8
	hi = min(hi, int64(len(d.bitmap)))
	if lo >= hi {
		return nil
	}
	changed := false
	for s := first; s < end; s++ {
		if !d.bit(s) {
			d.bitmap[s/8] |= 1 << (s % 8)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err := d.file.f.WriteAt(d.bitmap[lo:hi], d.layout.BitmapOffset+lo)
	return err
}

// Discard throws away the given byte range (whole sectors), as BLKDISCARD does: the range of
// the image — or of the COW file's data area, whose bits are then set, so it reads back as
// zeros — is punched out of the host file. Flag t turns discard off (EOPNOTSUPP).
func (d *Device) Discard(off, length int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkWrite(off, length); err != nil {
		return err
	}
	if d.noTrim {
		return fail(unix.EOPNOTSUPP, "%s: discard is off (flag t)", d.Name)
	}
	if off%SectorSize != 0 || length%SectorSize != 0 {
		return fail(unix.EINVAL, "%s: discard of %d bytes at %d is not sector aligned", d.Name, length, off)
	}
	if length == 0 {
		return nil
	}
	const mode = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE
	switch {
	case d.host != nil:
		return unix.Fallocate(int(d.host.f.Fd()), mode, off, length)
	case d.hdr == nil:
		return unix.Fallocate(int(d.file.f.Fd()), mode, off, length)
	}
	if err := unix.Fallocate(int(d.file.f.Fd()), mode, d.layout.DataOffset+off, length); err != nil {
		return err
	}
	return d.setBits(off/SectorSize, (off+length)/SectorSize)
}

// Sync writes everything to stable storage (the guest's flush): the stand-in's changes go
// into the COW file first.
func (d *Device) Sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if err := d.flushLocked(); err != nil {
		return err
	}
	if d.readOnly {
		return nil
	}
	return d.file.f.Sync()
}

// Close flushes the stand-in, if any, and releases the host files and their locks.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	err := d.flushLocked()
	if d.host != nil {
		d.host.f.Close()
		d.host = nil
	}
	d.closed = true
	if e := d.release(); err == nil {
		err = e
	}
	return err
}

// BlockDevice is what an image-backed file system (lib/ext4's Mount) needs of a device;
// both a whole disk and a partition are one.
type BlockDevice interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
	Sync() error
}

var (
	_ BlockDevice = (*Device)(nil)
	_ BlockDevice = (*Partition)(nil)
)
