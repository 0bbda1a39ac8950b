package mconsole

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockAddr is a sockaddr_un kept as raw bytes plus its length. The mconsole peers use 110-byte
// addresses whose abstract names are padded with NULs; Go's Sockaddr conversions cut abstract
// names at the first NUL, which would turn "\0 1234\0\0..." into a different address, so every
// address here stays raw from recvfrom to sendto.
type sockAddr struct {
	sa  unix.RawSockaddrUnix
	len uint32
}

const sunPathLen = len(unix.RawSockaddrUnix{}.Path) // 108

// fullAddr returns the 110-byte address the C tools build for name: a filesystem path, or, when
// name starts with NUL, an abstract name padded with NULs to 108 bytes.
func fullAddr(name string) (sockAddr, error) {
	var a sockAddr
	if len(name) == 0 || len(name) > sunPathLen || (name[0] != 0 && len(name) >= sunPathLen) {
		return a, fmt.Errorf("socket path %q: length must be 1..%d bytes", name, sunPathLen-1)
	}
	a.sa.Family = unix.AF_UNIX
	for i := 0; i < len(name); i++ {
		a.sa.Path[i] = int8(name[i])
	}
	a.len = uint32(unsafe.Sizeof(a.sa))
	return a, nil
}

// dgram is a non-blocking AF_UNIX datagram socket served by Go's poller, so reads honour
// deadlines and Close wakes a blocked reader.
type dgram struct {
	f  *os.File
	rc syscall.RawConn
}

func newDgram(bind *sockAddr) (*dgram, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if bind != nil {
		_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&bind.sa)), uintptr(bind.len))
		if e != 0 {
			unix.Close(fd)
			return nil, os.NewSyscallError("bind", e)
		}
	}
	f := os.NewFile(uintptr(fd), "mconsole")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &dgram{f: f, rc: rc}, nil
}

func (d *dgram) Close() error { return d.f.Close() }

func (d *dgram) sendTo(b []byte, to *sockAddr) error {
	var errno syscall.Errno
	err := d.rc.Write(func(fd uintptr) bool {
		var p unsafe.Pointer
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		_, _, errno = unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(p), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&to.sa)), uintptr(to.len))
		return errno != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// recvFrom reads one datagram (cut to len(b), as recvfrom does) and its sender's address.
func (d *dgram) recvFrom(b []byte) (int, sockAddr, error) {
	var (
		from  sockAddr
		n     uintptr
		errno syscall.Errno
	)
	err := d.rc.Read(func(fd uintptr) bool {
		from.len = uint32(unsafe.Sizeof(from.sa))
		var p unsafe.Pointer
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		n, _, errno = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(&from.sa)), uintptr(unsafe.Pointer(&from.len)))
		return errno != unix.EAGAIN
	})
	if err != nil {
		return 0, from, err
	}
	if errno != 0 {
		return 0, from, errno
	}
	return int(n), from, nil
}

// sendFD sends b to `to` with fd attached (SCM_RIGHTS).
func (d *dgram) sendFD(b []byte, fd int, to string) error {
	var serr error
	err := d.rc.Write(func(s uintptr) bool {
		serr = unix.Sendmsg(int(s), b, unix.UnixRights(fd), &unix.SockaddrUnix{Name: to}, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return serr
}
