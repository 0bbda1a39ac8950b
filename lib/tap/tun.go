package tap

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TunDevice is the default clone device.
const TunDevice = "/dev/net/tun"

// OpenTap opens the clone device and attaches a tap (IFF_TAP|IFF_NO_PI) called name, or a
// new one whose name the kernel picks when name is empty. It returns the open fd and the
// interface name. The kernel validates the name (no "/", no spaces, at most 15 bytes).
func OpenTap(clone, name string) (*os.File, string, error) {
	fd, err := unix.Open(clone, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: clone, Err: err}
	}
	f := os.NewFile(uintptr(fd), clone)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		f.Close()
		return nil, "", &OpError{"TUNSETIFF", unix.EINVAL}
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		f.Close()
		return nil, "", &OpError{"TUNSETIFF", err}
	}
	return f, ifr.Name(), nil
}

// SetPersist sets or clears IFF_PERSIST: a persistent tap outlives its last open fd.
func SetPersist(f *os.File, on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	return tunIoctl(f, unix.TUNSETPERSIST, v)
}

// SetOwner sets the uid allowed to attach to the device (TUNSETOWNER; the value is passed
// to the kernel as a uid_t, so -1 means none).
func SetOwner(f *os.File, uid int64) error { return tunIoctl(f, unix.TUNSETOWNER, uintptr(uid)) }

// SetGroup sets the gid allowed to attach to the device (TUNSETGROUP).
func SetGroup(f *os.File, gid int64) error { return tunIoctl(f, unix.TUNSETGROUP, uintptr(gid)) }

// tunIoctl issues one of the TUNSET* ioctls that take their argument by value.
func tunIoctl(f *os.File, req uint, arg uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(req), arg)
	if e != 0 {
		return e
	}
	return nil
}

// OpError is an ioctl failure, printed the way perror(3) would: "OP: Message".
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return e.Op + ": " + Strerror(e.Err) }

// Unwrap returns the errno.
func (e *OpError) Unwrap() error { return e.Err }

// Strerror spells an errno the way glibc does (Go's texts are the same words, lower case).
func Strerror(err error) string {
	if e, ok := err.(unix.Errno); ok {
		s := e.Error()
		if s != "" && s[0] >= 'a' && s[0] <= 'z' {
			s = string(s[0]-'a'+'A') + s[1:]
		}
		return s
	}
	if pe, ok := err.(*os.PathError); ok {
		return Strerror(pe.Err)
	}
	return fmt.Sprint(err)
}
