package ubd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Host locking, like UML's os_lock_file: a lock over the whole file, F_WRLCK when the file
// is open for writing, F_RDLCK otherwise. UML takes POSIX record locks (F_SETLK); we take
// open-file-description locks (F_OFD_SETLK), which conflict with them both ways, so the
// real kernel and gouml still exclude each other. The difference: a POSIX lock belongs to
// the process and is dropped when the process closes ANY descriptor of the file, and the
// emulator opens and closes descriptors of an image for every guest open of /dev/ubdX. An
// OFD lock lives with one open file description. (The real kernel, failing on our lock,
// reports "locked by pid -1": F_GETLK cannot name an OFD lock's owner.) Within this
// process every open of a ubd file goes through one registry keyed by device and inode, so
// that, as with UML's POSIX locks, one machine may open a file twice: the lock is held on the
// inode's first descriptor and is the strongest one any current user needs.

type fileKey struct{ dev, ino uint64 }

// Lock wishes of one user (not the fcntl values: F_RDLCK is 0 there).
const (
	lockNone = iota
	lockRead
	lockWrite
)

type lockedFile struct {
	key     fileKey
	files   []*os.File // every descriptor opened for this inode; closed together at the end
	lockFD  *os.File   // the descriptor whose open file description holds the lock
	users   int        // open users (locking or not)
	readers int        // users wanting F_RDLCK
	writers int        // users wanting F_WRLCK
}

var (
	regMu    sync.Mutex
	registry = map[fileKey]*lockedFile{}
)

// handle is one user's open of a host file.
type handle struct {
	f     *os.File
	lf    *lockedFile
	lock  int // lockNone, lockRead or lockWrite
	name  string
	write bool
}

// setLock applies lock type typ to the whole file through f's open file description; on
// conflict it logs UML's message and returns the errno of the failed lock.
func setLock(f *os.File, typ int16, log io.Writer) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if err == nil {
		return nil
	}
	probe := unix.Flock_t{Type: typ, Whence: io.SeekStart}
	if gerr := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &probe); gerr != nil {
		return gerr
	}
	logf(log, "F_SETLK failed, file already locked by pid %d", probe.Pid)
	return err
}

// lock takes (or strengthens) the inode's lock for a new user whose descriptor is f. The
// lock stays on one open file description; a write lock needs a writable one, so when the
// current holder was opened read-only the lock moves to f (the read lock is dropped for the
// moment it takes: OFD locks of two descriptions conflict even within one process).
func (lf *lockedFile) lock(f *os.File, want int16, log io.Writer) error {
	if lf.lockFD == nil {
		if err := setLock(f, want, log); err != nil {
			return err
		}
		lf.lockFD = f
		return nil
	}
	if want == unix.F_WRLCK && !writable(lf.lockFD) {
		un := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart}
		unix.FcntlFlock(lf.lockFD.Fd(), unix.F_OFD_SETLK, &un)
		if err := setLock(f, want, log); err != nil {
			back := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
			unix.FcntlFlock(lf.lockFD.Fd(), unix.F_OFD_SETLK, &back)
			return err
		}
		lf.lockFD = f
		return nil
	}
	return setLock(lf.lockFD, want, log)
}

func writable(f *os.File) bool {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE != unix.O_RDONLY
}

// openHost opens name with flag and registers it; lock is lockNone, lockRead or lockWrite. On a lock
// failure the kernel's "Failed to lock" line is logged and the errno returned.
func openHost(name string, flag int, perm os.FileMode, lock int, log io.Writer) (*handle, error) {
	// O_NONBLOCK so that a FIFO named by a hostile COW header cannot hang the open; it is
	// refused below and the flag cleared for the files we keep.
	f, err := os.OpenFile(name, flag|unix.O_CLOEXEC|unix.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFBLK {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file or block device: %w", name, unix.EINVAL)
	}
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err == nil {
		unix.FcntlInt(f.Fd(), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	key := fileKey{uint64(st.Dev), st.Ino}
	regMu.Lock()
	defer regMu.Unlock()
	lf := registry[key]
	if lf == nil {
		lf = &lockedFile{key: key}
	}
	h := &handle{f: f, lf: lf, lock: lock, name: name, write: flag&(os.O_WRONLY|os.O_RDWR) != 0}
	want := int16(-1)
	switch {
	case lock == lockWrite && lf.writers == 0:
		want = unix.F_WRLCK
	case lock == lockRead && lf.writers == 0 && lf.readers == 0:
		want = unix.F_RDLCK
	}
	if want >= 0 {
		if err := lf.lock(f, want, log); err != nil {
			f.Close()
			logf(log, "Failed to lock '%s', err = %d", name, errnoOf(err))
			return nil, err
		}
	}
	lf.files = append(lf.files, f)
	lf.users++
	switch lock {
	case lockWrite:
		lf.writers++
	case lockRead:
		lf.readers++
	}
	registry[key] = lf
	return h, nil
}

// release gives the handle back. The descriptors of the inode are closed (and the locks so
// dropped) only with the last user; a lock needed by nobody any more is weakened.
func (h *handle) release() error {
	if h == nil || h.lf == nil {
		return nil
	}
	regMu.Lock()
	defer regMu.Unlock()
	lf := h.lf
	h.lf = nil
	lf.users--
	switch h.lock {
	case lockWrite:
		lf.writers--
	case lockRead:
		lf.readers--
	}
	if lf.users > 0 {
		before := strongest(lf.readers+boolInt(h.lock == lockRead), lf.writers+boolInt(h.lock == lockWrite))
		if now := strongest(lf.readers, lf.writers); now != before {
			lk := unix.Flock_t{Type: now, Whence: io.SeekStart}
			_ = unix.FcntlFlock(lf.lockFD.Fd(), unix.F_OFD_SETLK, &lk) // weakening never conflicts
		}
		return nil
	}
	delete(registry, lf.key)
	var err error
	for _, f := range lf.files {
		if e := f.Close(); err == nil {
			err = e
		}
	}
	lf.files = nil
	return err
}

func errnoOf(err error) int {
	var en unix.Errno
	if errors.As(err, &en) {
		return int(en)
	}
	return int(unix.EIO)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// strongest is the lock the current users need.
func strongest(readers, writers int) int16 {
	switch {
	case writers > 0:
		return unix.F_WRLCK
	case readers > 0:
		return unix.F_RDLCK
	}
	return unix.F_UNLCK
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
