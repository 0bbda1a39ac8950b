package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sockets. A guest socket is a host socket fd, so data calls run natively. The guest has a
// network namespace of its own (stub.go): its loopback, its abstract Unix names, its netlink;
// Internet, netlink and packet sockets therefore run natively, checked by nothing but the
// host. Families that are not namespaced by Linux (vsock, bluetooth, …) are refused.
//
// Unix socket path names are file-system names and are resolved in the guest root like any
// path: the kernel takes a copy of the guest's socket (pidfd_getfd) and binds it to
// "/proc/self/fd/<parent dir fd>/<name>" or connects / sends it to "/proc/self/fd/<fd of the
// socket inode>", magic links to objects it resolved itself (symlinks included) with
// openat2(RESOLVE_IN_ROOT). Abstract names are bound, connected and sent to by the kernel
// on its copy too (the socket's namespace, the guest's, is what counts). Addresses of Unix
// sockets are never left in guest memory for the host to read (a racing guest thread could
// change them); what the host reads for other families is interpreted by the socket's
// family, which the guest cannot change. Not yet: getsockname/getpeername/accept report the
// kernel's /proc/self/fd/... names for path-bound sockets; sendmsg with an address or
// ancillary data on Unix datagram sockets.

// guestFamilies are the socket families a guest may create.
var guestFamilies = map[int32]bool{unix.AF_UNIX: true, unix.AF_INET: true, unix.AF_INET6: true,
	unix.AF_NETLINK: true, unix.AF_PACKET: true}

func sysSocket(c *Call) result {
	if !guestFamilies[c.Int(0)] {
		return errno(unix.EAFNOSUPPORT)
	}
	return cont()
}

// unixName is a Unix socket address read from the guest.
type unixName struct {
	path     string // a file-system name ("" with !abstract: unnamed)
	abstract bool   // path holds the abstract name (without its leading NUL)
}

// sockaddr returns the host address for an abstract or unnamed name.
func (n unixName) sockaddr() *unix.SockaddrUnix {
	if n.abstract {
		return &unix.SockaddrUnix{Name: "@" + n.path}
	}
	return &unix.SockaddrUnix{}
}

// unixAddr reads a sockaddr_un argument.
func (c *Call) unixAddr(addrArg, lenArg int) (unixName, error) {
	n := c.Arg(lenArg)
	if n < 2 || n > 110 {
		if n < 2 {
			return unixName{}, unix.EINVAL
		}
		n = 110
	}
	b := make([]byte, n)
	if err := c.Read(c.Arg(addrArg), b); err != nil {
		return unixName{}, err
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_UNIX {
		return unixName{}, unix.EINVAL
	}
	p := b[2:]
	if len(p) == 0 {
		return unixName{}, nil
	}
	if p[0] == 0 {
		return unixName{path: string(p[1:]), abstract: true}, nil
	}
	for i, ch := range p {
		if ch == 0 {
			p = p[:i]
			break
		}
	}
	if len(p) > 107 {
		return unixName{}, unix.EINVAL
	}
	return unixName{path: string(p)}, nil
}

// socketFamily returns the family of the kernel's copy of a guest socket.
func socketFamily(s int) (int, error) {
	d, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return 0, unix.ENOTSOCK
	}
	return d, nil
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
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return fail(err)
	}
	if fam, err := socketFamily(s); err != nil || fam != unix.AF_UNIX {
		unix.Close(s)
		if err != nil {
			return fail(err)
		}
		return cont() // the guest's own network namespace
	}
	name, err := c.unixAddr(1, 2)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	if name.path == "" || name.abstract {
		if !bind && !name.abstract {
			unix.Close(s)
			return errno(unix.EINVAL)
		}
		// abstract names and autobind live in the socket's (the guest's) namespace
		return c.blockingSocketCall(s, -1, unix.POLLOUT, func() error {
			if bind {
				return unix.Bind(s, name.sockaddr())
			}
			return unix.Connect(s, name.sockaddr())
		})
	}
	abs, err := c.absOf(unix.AT_FDCWD, name.path, !bind)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	if bind {
		defer unix.Close(s)
		pfd, last, err := c.parentAs(abs)
		if err != nil {
			return fail(err)
		}
		defer unix.Close(pfd)
		fs := c.fs
		host := selfFD(pfd) + "/" + last
		if len(host) > 107 {
			return errno(unix.ENAMETOOLONG)
		}
		if fs.ReadOnly() {
			return errno(unix.EROFS)
		}
		if err := c.mayCreate(pfd); err != nil {
			return fail(err)
		}
		if err := unix.Bind(s, &unix.SockaddrUnix{Name: host}); err != nil {
			return fail(err)
		}
		c.k.socks.bound(host, name.path)
		// the socket file's mode is the guest's umask's, not the kernel's
		unix.Fchmodat(pfd, last, 0o777&^procUmask(c.Tid), 0)
		return ok(0)
	}
	target, err := c.socketFile(abs)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	return c.blockingSocketCall(s, target, unix.POLLOUT, func() error {
		return unix.Connect(s, &unix.SockaddrUnix{Name: selfFD(target)})
	})
}

// blockingSocketCall runs op (connect, sendto) on the kernel's copy s of a guest socket the
// way the guest's own call would: a socket the guest made non-blocking fails with EAGAIN,
// any other waits for room (a full backlog or queue) on its own goroutine, and a signal for
// the caller interrupts the wait like a blocking call. It closes s and extra (if >= 0).
func (c *Call) blockingSocketCall(s, extra int, events int16, op func() error) result {
	done := func() {
		unix.Close(s)
		if extra >= 0 {
			unix.Close(extra)
		}
	}
	fl, err := unix.FcntlInt(uintptr(s), unix.F_GETFL, 0)
	if err != nil {
		done()
		return fail(err)
	}
	if fl&unix.O_NONBLOCK != 0 {
		defer done()
		if err := op(); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	return result{fd: -1, async: func() result {
		defer done()
		connect := c.n.Data.Nr == unix.SYS_CONNECT
		return c.waitInterruptible(s, events, func() (result, bool) {
			// sends pass MSG_DONTWAIT; connect has no such flag, so the description is
			// non-blocking for the attempt only (a guest thread blocked on the same socket
			// meanwhile could see EAGAIN: a window of a few microseconds)
			if connect {
				unix.FcntlInt(uintptr(s), unix.F_SETFL, fl|unix.O_NONBLOCK)
			}
			err := op()
			if connect {
				unix.FcntlInt(uintptr(s), unix.F_SETFL, fl)
			}
			switch {
			case err == nil, err == unix.EISCONN && connect:
				return ok(0), true
			case err == unix.EAGAIN, err == unix.EINPROGRESS, err == unix.EALREADY:
				return result{}, false
			}
			return fail(err), true
		})
	}}
}

func sysSendto(c *Call) result {
	if c.Arg(4) == 0 {
		return cont() // no address: the connected peer (the registers cannot change under us)
	}
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return fail(err)
	}
	if fam, err := socketFamily(s); err != nil || fam != unix.AF_UNIX {
		unix.Close(s)
		if err != nil {
			return fail(err)
		}
		return cont()
	}
	name, err := c.unixAddr(4, 5)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	if name.path == "" {
		unix.Close(s)
		return errno(unix.EINVAL)
	}
	n := c.Arg(2)
	if n > 1<<20 {
		unix.Close(s)
		return errno(unix.EMSGSIZE)
	}
	data := make([]byte, n)
	if err := c.Read(c.Arg(1), data); err != nil {
		unix.Close(s)
		return fail(err)
	}
	target := -1
	to := name.sockaddr()
	if !name.abstract {
		abs, err := c.absFollow(unix.AT_FDCWD, name.path)
		if err != nil {
			unix.Close(s)
			return fail(err)
		}
		if target, err = c.socketFile(abs); err != nil {
			unix.Close(s)
			return fail(err)
		}
		to = &unix.SockaddrUnix{Name: selfFD(target)}
	}
	flags := int(c.Arg(3))
	if flags&unix.MSG_DONTWAIT != 0 {
		defer unix.Close(s)
		if target >= 0 {
			defer unix.Close(target)
		}
		if err := unix.Sendto(s, data, flags, to); err != nil {
			return fail(err)
		}
		return ok(int64(len(data)))
	}
	r := c.blockingSocketCall(s, target, unix.POLLOUT, func() error {
		return unix.Sendto(s, data, flags|unix.MSG_DONTWAIT, to)
	})
	return withValue(r, int64(len(data)))
}

// withValue makes a successful result return v.
func withValue(r result, v int64) result {
	if r.async != nil {
		f := r.async
		r.async = func() result { return withValue(f(), v) }
		return r
	}
	if r.errno == 0 && !r.cont && r.fd < 0 {
		r.val = v
	}
	return r
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
	s, r, stream := c.sendmsgSocket()
	if stream && binary.LittleEndian.Uint64(hdr[0:]) != 0 {
		return errno(unix.EISCONN)
	}
	if s < 0 {
		return r
	}
	data, err := c.msgData(hdr)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	flags := int(c.Arg(2))
	var sent int
	send := func() error {
		n, err := unix.SendmsgN(s, data, nil, nil, flags|unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		sent = n
		return err
	}
	post := func(res result) result {
		if res.errno == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
			unix.Tgkill(c.T.Proc.Tgid, c.Tid, unix.SIGPIPE)
		}
		if res.errno == 0 && !res.cont {
			res.val = int64(sent)
		}
		return res
	}
	if flags&unix.MSG_DONTWAIT != 0 {
		defer unix.Close(s)
		return post(fail0(send()))
	}
	r = c.blockingSocketCall(s, -1, unix.POLLOUT, send)
	if f := r.async; f != nil {
		r.async = func() result { return post(f()) }
		return r
	}
	return post(r)
}

// sendmsgSocket takes a copy of the socket of sendmsg or sendmmsg (args[0]): s is the copy
// of a Unix datagram socket, which the kernel sends from, or -1 with r the answer: CONTINUE
// for a socket of the guest's own network namespace or a Unix stream or seqpacket socket
// (stream is then true: names on it are refused), or the error.
func (c *Call) sendmsgSocket() (s int, r result, stream bool) {
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return -1, fail(err), false
	}
	typ, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		unix.Close(s)
		return -1, errno(unix.ENOTSOCK), false
	}
	if fam, _ := socketFamily(s); fam != unix.AF_UNIX {
		unix.Close(s)
		return -1, cont(), false // the guest's own network namespace
	}
	if typ != unix.SOCK_DGRAM {
		unix.Close(s)
		return -1, cont(), true
	}
	return s, result{}, false
}

// msgData gathers the data a struct msghdr (read from the guest) describes, refusing what
// the kernel does not send for a Unix datagram socket yet: a name or ancillary data.
func (c *Call) msgData(hdr [56]byte) ([]byte, error) {
	name := binary.LittleEndian.Uint64(hdr[0:])
	iov := binary.LittleEndian.Uint64(hdr[16:])
	iovlen := binary.LittleEndian.Uint64(hdr[24:])
	controllen := binary.LittleEndian.Uint64(hdr[40:])
	if name != 0 || controllen != 0 {
		return nil, unix.EOPNOTSUPP // not supported yet
	}
	if iovlen > 1024 {
		return nil, unix.EMSGSIZE
	}
	vec := make([]byte, 16*iovlen)
	if err := c.Read(iov, vec); err != nil {
		return nil, err
	}
	var data []byte
	for i := uint64(0); i < iovlen; i++ {
		base := binary.LittleEndian.Uint64(vec[16*i:])
		n := binary.LittleEndian.Uint64(vec[16*i+8:])
		if n > 1<<20-uint64(len(data)) { // never overflows: len(data) <= 1<<20
			return nil, unix.EMSGSIZE
		}
		b := make([]byte, n)
		if err := c.Read(base, b); err != nil {
			return nil, err
		}
		data = append(data, b...)
	}
	return data, nil
}

// sysSendmmsg is sendmsg for a vector of messages (struct mmsghdr: a msghdr and the
// msg_len the call fills in). Where sendmsg would run natively, so does sendmmsg; on a
// Unix datagram socket the kernel sends each message as sendmsg does, never blocking (a
// full queue ends the batch: Linux also returns the count sent so far when a later
// message would block), and fails only when the first message fails.
func sysSendmmsg(c *Call) result {
	s, r, _ := c.sendmsgSocket()
	if s < 0 {
		return r // natively, where the host refuses names on streams itself
	}
	defer unix.Close(s)
	vlen := min(c.Arg(2), 1024) // UIO_MAXIOV, as Linux caps it
	flags := int(c.Arg(3))
	sent := 0
	for i := uint64(0); i < vlen; i++ {
		at := c.Arg(1) + 64*i
		var hdr [56]byte
		err := c.Read(at, hdr[:])
		var data []byte
		if err == nil {
			data, err = c.msgData(hdr)
		}
		var n int
		if err == nil {
			n, err = unix.SendmsgN(s, data, nil, nil, flags|unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		}
		if err == nil {
			var l [4]byte
			binary.LittleEndian.PutUint32(l[:], uint32(n))
			err = c.Write(at+56, l[:])
		}
		if err != nil {
			if sent > 0 {
				break
			}
			if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
				unix.Tgkill(c.T.Proc.Tgid, c.Tid, unix.SIGPIPE)
			}
			return fail(err)
		}
		sent++
	}
	return ok(int64(sent))
}

// fail0 is ok(0) for a nil error.
func fail0(err error) result {
	if err != nil {
		return fail(err)
	}
	return ok(0)
}
