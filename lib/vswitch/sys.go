package vswitch

import (
	"encoding/binary"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The data socket is driven with raw system calls: the standard library's unix addresses stop
// at the first NUL, but a UML's abstract data address is 108 significant bytes (a pid, a
// time stamp and uninitialised memory) that must be matched and echoed verbatim.

// mmsghdr is struct mmsghdr (x/sys/unix has no type for it).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// rawAddr is a struct sockaddr_un in wire form; same layout in memory on little-endian hosts.
type rawAddr = [SockaddrLen]byte

func dgramSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	// A receive timeout lets the blocking reader notice Close without a wake-up trick.
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	// Bigger buffers absorb bursts from several guests at once.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return fd, nil
}

// bindRaw binds fd to a full 110-byte address (addrlen 110, as the guests use).
func bindRaw(fd int, a *rawAddr) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(a)), SockaddrLen)
	if e != 0 {
		return os.NewSyscallError("bind", e)
	}
	return nil
}

// abstractDataAddr builds the switch's own data address the way the real one does: abstract,
// pid at byte 4 of sun_path, microseconds at byte 8, the rest zero (so the whole 108 bytes are
// well defined) but for the extension's marker at the end (ext.go, added by the caller).
func abstractDataAddr() rawAddr {
	var a rawAddr
	binary.LittleEndian.PutUint16(a[0:], afUnix)
	binary.LittleEndian.PutUint32(a[2+4:], uint32(os.Getpid()))
	binary.LittleEndian.PutUint32(a[2+8:], uint32(time.Now().Nanosecond()/1000))
	return a
}

// pathAddr is a filesystem sockaddr_un (for -compat-v0's data socket).
func pathAddr(path string) (rawAddr, error) {
	var a rawAddr
	if len(path) >= 108 {
		return a, syscall.ENAMETOOLONG
	}
	binary.LittleEndian.PutUint16(a[0:], afUnix)
	copy(a[2:], path)
	return a, nil
}

// sendTo sends one datagram to a raw address without blocking.
func sendTo(fd int, frame []byte, a *rawAddr) error {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(a)), SockaddrLen)
	if e != 0 {
		return e
	}
	return nil
}

// sendToV sends hdr (if not nil) and frame as one datagram to a raw address without
// blocking.
func sendToV(fd int, hdr, frame []byte, a *rawAddr) error {
	if hdr == nil {
		return sendTo(fd, frame, a)
	}
	iov := [2]unix.Iovec{{Base: &hdr[0]}, {Base: &frame[0]}}
	iov[0].SetLen(len(hdr))
	iov[1].SetLen(len(frame))
	msg := unix.Msghdr{Name: &a[0], Namelen: SockaddrLen, Iov: &iov[0], Iovlen: 2}
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	if e != 0 {
		return e
	}
	return nil
}

// sendFD writes one frame on a connected or device fd without blocking.
func sendFD(fd int, frame []byte, socket bool) error {
	if socket {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)),
			unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	}
	_, err := unix.Write(fd, frame)
	return err
}

// recvBatch receives up to len(msgs) datagrams with their sender addresses (blocking until
// at least one arrives or the receive timeout passes).
type recvBatch struct {
	bufs  [][]byte
	names []rawAddr
	iovs  []unix.Iovec
	msgs  []mmsghdr
}

func newRecvBatch(n, size int) *recvBatch {
	b := &recvBatch{bufs: make([][]byte, n), names: make([]rawAddr, n), iovs: make([]unix.Iovec, n), msgs: make([]mmsghdr, n)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, size)
	}
	return b
}

func (b *recvBatch) recv(fd int) (int, error) {
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		b.names[i] = rawAddr{}
		b.msgs[i] = mmsghdr{hdr: unix.Msghdr{Name: &b.names[i][0], Namelen: SockaddrLen, Iov: &b.iovs[i], Iovlen: 1}}
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)),
		unix.MSG_WAITFORONE, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// dieOf ends the process by signal sig with its default action, as the real switch does by
// re-raising (the shell then sees status 128+sig). The disposition is set to SIG_DFL
// directly: the runtime would restore an inherited SIG_IGN (background jobs start with
// SIGINT ignored), and then the process would not die.
func dieOf(sig syscall.Signal) {
	signal.Reset(sig)
	var sa struct {
		handler  uintptr
		flags    uint64
		restorer uintptr
		mask     uint64
	} // SIG_DFL, no flags, empty mask
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	_ = unix.Kill(os.Getpid(), sig)
	select {} // the signal ends the process
}

// OutBatch collects frames for daemon ports to send with one sendmmsg, each to its port's
// address; a frame for an extended port goes with its virtio_net_hdr (two iovecs, one
// datagram).
type OutBatch struct {
	fd     int
	n      int
	ports  []*Port
	hdrs   [][]byte
	frames [][]byte
	iovs   []unix.Iovec // two per message
	msgs   []mmsghdr
}

// NewOutBatch makes a batch of up to size frames sent on the data socket fd.
func NewOutBatch(fd, size int) *OutBatch {
	return &OutBatch{fd: fd, ports: make([]*Port, size), hdrs: make([][]byte, size), frames: make([][]byte, size),
		iovs: make([]unix.Iovec, 2*size), msgs: make([]mmsghdr, size)}
}

func (b *OutBatch) full() bool { return b.n == len(b.msgs) }

// add queues frame for p, after hdr if hdr is not nil.
func (b *OutBatch) add(p *Port, hdr, frame []byte) {
	i := b.n
	b.ports[i], b.hdrs[i], b.frames[i] = p, hdr, frame
	iov := b.iovs[2*i : 2*i+2]
	k := 0
	if hdr != nil {
		iov[0].Base = &hdr[0]
		iov[0].SetLen(len(hdr))
		k = 1
	}
	iov[k].Base = &frame[0]
	iov[k].SetLen(len(frame))
	b.msgs[i] = mmsghdr{hdr: unix.Msghdr{Name: &p.addr[0], Namelen: SockaddrLen, Iov: &iov[0], Iovlen: uint64(k + 1)}}
	b.n++
}

// send sends messages from i on; it returns how many went before the first failure and
// that failure's error (nil if all went).
func (b *OutBatch) send(i int) (int, error) {
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&b.msgs[i])), uintptr(b.n-i),
			unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		if int(r) < b.n-i {
			// Stopped early: the next message failed; sending it alone gives its error.
			j := i + int(r)
			if err := sendToV(b.fd, b.hdrs[j], b.frames[j], &b.ports[j].addr); err != nil {
				return int(r), err
			}
			return int(r) + 1, nil
		}
		return int(r), nil
	}
}

func (b *OutBatch) reset() {
	for i := 0; i < b.n; i++ {
		b.ports[i], b.hdrs[i], b.frames[i] = nil, nil, nil
		b.msgs[i].hdr.Name, b.iovs[2*i].Base, b.iovs[2*i+1].Base = nil, nil, nil
	}
	b.n = 0
}
