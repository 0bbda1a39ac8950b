package kernel

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sockets. A guest socket is a host socket fd, so data calls run natively. What would reach
// the host's namespaces is refused until the guest network stack exists: other families than
// AF_UNIX, and the host-global abstract Unix namespace. Unix socket path names are file-system
// names and are resolved in the guest root like any path: the kernel takes a copy of the
// guest's socket (pidfd_getfd) and binds it to "/proc/self/fd/<parent dir fd>/<name>" or
// connects / sends it to "/proc/self/fd/<fd of the socket inode>", magic links to objects it
// resolved itself (symlinks included) with openat2(RESOLVE_IN_ROOT). Addresses are never
// left in guest memory for the host to read (a racing guest thread could change them).
// Not yet: getsockname/getpeername/accept report the kernel's /proc/self/fd/... names for
// path-bound sockets; sendmsg with an address or ancillary data on datagram sockets.

func sysSocket(c *Call) result {
	if c.Int(0) != unix.AF_UNIX {
		return errno(unix.EAFNOSUPPORT) // guest networking: not supported yet
	}
	return cont()
}

// unixAddr reads a sockaddr argument: the guest path, or "" for an unnamed address.
func (c *Call) unixAddr(addrArg, lenArg int) (string, error) {
	n := c.Arg(lenArg)
	if n < 2 || n > 128 {
		if n < 2 {
			return "", unix.EINVAL
		}
		n = 128
	}
	b := make([]byte, n)
	if err := c.Read(c.Arg(addrArg), b); err != nil {
		return "", err
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_UNIX {
		return "", unix.EAFNOSUPPORT
	}
	p := b[2:]
	if len(p) == 0 {
		return "", nil
	}
	if p[0] == 0 {
		return "", unix.EACCES // abstract names are host-global: not supported yet
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	if len(p) > 107 {
		return "", unix.EINVAL
	}
	return string(p), nil
}

// guestSocket returns the kernel's copy of one of the caller's fds.
func (c *Call) guestSocket(fd int32) (int, error) {
	pidfd, err := unix.PidfdOpen(c.T.Proc.Tgid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	s, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		return -1, unix.EBADF
	}
	return s, nil
}

func sysBindConnect(c *Call) result {
	bind := int(c.n.Data.Nr) == unix.SYS_BIND
	name, err := c.unixAddr(1, 2)
	if err != nil {
		return fail(err)
	}
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return fail(err)
	}
	if name == "" {
		defer unix.Close(s)
		if !bind {
			return errno(unix.EINVAL)
		}
		// autobind: an abstract name picked by the host
		return errno(unix.EACCES)
	}
	abs, err := c.abs(unix.AT_FDCWD, name)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	if bind {
		defer unix.Close(s)
		pfd, last, err := c.root().Parent(abs)
		if err != nil {
			return fail(err)
		}
		defer unix.Close(pfd)
		host := selfFD(pfd) + "/" + last
		if len(host) > 107 {
			return errno(unix.ENAMETOOLONG)
		}
		if c.root().ReadOnly() {
			return errno(unix.EROFS)
		}
		if err := unix.Bind(s, &unix.SockaddrUnix{Name: host}); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	target, err := c.root().OpenPath(abs, true)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	// connect may block (a full backlog): finish on its own goroutine
	return result{fd: -1, async: func() result {
		defer unix.Close(s)
		defer unix.Close(target)
		if err := unix.Connect(s, &unix.SockaddrUnix{Name: selfFD(target)}); err != nil {
			return fail(err)
		}
		return ok(0)
	}}
}

func sysSendto(c *Call) result {
	if c.Arg(4) == 0 {
		return cont() // no address: the connected peer (the registers cannot change under us)
	}
	name, err := c.unixAddr(4, 5)
	if err != nil {
		return fail(err)
	}
	if name == "" {
		return errno(unix.EINVAL)
	}
	n := c.Arg(2)
	if n > 1<<20 {
		return errno(unix.EMSGSIZE)
	}
	data := make([]byte, n)
	if err := c.Read(c.Arg(1), data); err != nil {
		return fail(err)
	}
	abs, err := c.abs(unix.AT_FDCWD, name)
	if err != nil {
		return fail(err)
	}
	target, err := c.root().OpenPath(abs, true)
	if err != nil {
		return fail(err)
	}
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		unix.Close(target)
		return fail(err)
	}
	flags := int(c.Arg(3))
	return result{fd: -1, async: func() result {
		defer unix.Close(s)
		defer unix.Close(target)
		if err := unix.Sendto(s, data, flags, &unix.SockaddrUnix{Name: selfFD(target)}); err != nil {
			return fail(err)
		}
		return ok(int64(len(data)))
	}}
}

// sysSendmsg: without an address, stream and seqpacket sockets run natively (the host
// ignores or refuses a name on them, so a racing guest thread setting one gains nothing);
// a datagram socket would send to whatever name the host reads, so the kernel sends the
// data itself from its copy of the socket. Addresses and ancillary data on datagram
// sockets are not supported yet.
func sysSendmsg(c *Call) result {
	var hdr [56]byte // struct msghdr
	if err := c.Read(c.Arg(1), hdr[:]); err != nil {
		return fail(err)
	}
	name := binary.LittleEndian.Uint64(hdr[0:])
	iov := binary.LittleEndian.Uint64(hdr[16:])
	iovlen := binary.LittleEndian.Uint64(hdr[24:])
	controllen := binary.LittleEndian.Uint64(hdr[40:])
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return fail(err)
	}
	typ, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		unix.Close(s)
		return errno(unix.ENOTSOCK)
	}
	if typ != unix.SOCK_DGRAM {
		unix.Close(s)
		if name != 0 {
			return errno(unix.EISCONN)
		}
		return cont()
	}
	if name != 0 || controllen != 0 {
		unix.Close(s)
		return errno(unix.EOPNOTSUPP) // not supported yet
	}
	if iovlen > 1024 {
		unix.Close(s)
		return errno(unix.EMSGSIZE)
	}
	vec := make([]byte, 16*iovlen)
	if err := c.Read(iov, vec); err != nil {
		unix.Close(s)
		return fail(err)
	}
	var data []byte
	for i := uint64(0); i < iovlen; i++ {
		base := binary.LittleEndian.Uint64(vec[16*i:])
		n := binary.LittleEndian.Uint64(vec[16*i+8:])
		if uint64(len(data))+n > 1<<20 {
			unix.Close(s)
			return errno(unix.EMSGSIZE)
		}
		b := make([]byte, n)
		if err := c.Read(base, b); err != nil {
			unix.Close(s)
			return fail(err)
		}
		data = append(data, b...)
	}
	flags := int(c.Arg(2))
	return result{fd: -1, async: func() result {
		defer unix.Close(s)
		n, err := unix.SendmsgN(s, data, nil, nil, flags|unix.MSG_NOSIGNAL)
		if err != nil {
			if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
				unix.Tgkill(c.T.Proc.Tgid, c.Tid, unix.SIGPIPE)
			}
			return fail(err)
		}
		return ok(int64(n))
	}}
}
