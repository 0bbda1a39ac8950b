package vswitch

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Client is a port attached over the daemon transport, the way linux.uml attaches: a
// control connection carrying one request, and an abstract data socket whose 108-byte name
// has the guest's pid, a time stamp and (like the guest's uninitialised stack) random bytes.
// Tests and benchmarks use it as a fake guest.
type Client struct {
	ctl      net.Conn
	fd       int
	Addr     Sockaddr // our data address, as sent in the request
	SwitchTo Sockaddr // the switch's data address from the reply
	to       rawAddr
}

// Dial attaches a new port to the switch listening on ctl, with a request of the given
// layout version (3 as linux.uml 6.1; 1 or 0 as older kernels). For version 0 there is no
// reply: data is the switch's filesystem data socket (-compat-v0).
func Dial(ctl string, version int, data string) (*Client, error) {
	c := &Client{fd: -1}
	fd, addr, err := dataSocket()
	if err != nil {
		return nil, err
	}
	c.fd, c.Addr = fd, addr
	conn, err := net.DialTimeout("unix", ctl, 5*time.Second)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.ctl = conn
	req, err := Request{Version: version, Type: ReqNewControl, Sock: c.Addr}.Marshal()
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	if version == 0 {
		c.to, err = pathAddr(data)
		if err != nil {
			c.Close()
			return nil, err
		}
	} else {
		if _, err := io.ReadFull(conn, c.to[:]); err != nil {
			c.Close()
			return nil, fmt.Errorf("reading the switch's data address: %w", err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	c.SwitchTo, _ = UnmarshalSockaddr(c.to[:])
	return c, nil
}

// dataSocket makes a data socket bound to an abstract address made as linux.uml makes its.
func dataSocket() (int, Sockaddr, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, Sockaddr{}, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	var a rawAddr
	binary.LittleEndian.PutUint16(a[0:], afUnix)
	binary.LittleEndian.PutUint32(a[2+4:], uint32(os.Getpid()))
	binary.LittleEndian.PutUint32(a[2+8:], uint32(time.Now().Nanosecond()/1000))
	_, _ = rand.Read(a[2+12:])
	if err := bindRaw(fd, &a); err != nil {
		unix.Close(fd)
		return -1, Sockaddr{}, err
	}
	s, _ := UnmarshalSockaddr(a[:])
	return fd, s, nil
}

// Extend asks the switch for the extended transport (ext.go), as our linux does when the
// reply offers it: ok is false if it was not offered (the real switch) or not granted.
// Once extended, every datagram the port sends or receives starts with a virtio_net_hdr.
func (c *Client) Extend() (ok bool, err error) {
	if !ExtOffered(c.to[:]) {
		return false, nil
	}
	fd, addr, err := dataSocket()
	if err != nil {
		return false, err
	}
	got, err := ExtendPort(c.ctl, addr, ExtVNet, 5*time.Second)
	if err != nil || got == 0 {
		unix.Close(fd)
		return false, err
	}
	unix.Close(c.fd)
	c.fd, c.Addr = fd, addr
	return true, nil
}

// Send sends one frame to the switch (blocking while the switch's queue is full).
func (c *Client) Send(frame []byte) error {
	var p unsafe.Pointer
	if len(frame) > 0 {
		p = unsafe.Pointer(&frame[0])
	}
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(p), uintptr(len(frame)),
		0, uintptr(unsafe.Pointer(&c.to)), SockaddrLen)
	if e != 0 {
		return e
	}
	return nil
}

// Recv waits up to timeout for one frame; it returns the frame length.
func (c *Client) Recv(buf []byte, timeout time.Duration) (int, error) {
	tv := unix.NsecToTimeval(int64(timeout))
	if timeout <= 0 {
		tv = unix.Timeval{Usec: 1}
	}
	_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	deadline := time.Now().Add(timeout)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != unix.EINTR || time.Now().After(deadline) {
			return n, err
		}
		// a signal for the process (Go's preemption, SIGCHLD) cut the wait short: wait on
		// for what is left of the timeout
		if left := time.Until(deadline); left > 0 {
			tv = unix.NsecToTimeval(int64(left))
			_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		}
	}
}

// CloseControl closes only the control connection: the switch drops the port, and what is
// sent afterwards comes from an address that is no port.
func (c *Client) CloseControl() error { return c.ctl.Close() }

// CloseData closes only the data socket: the port's address stops existing while its
// control connection stays open (a guest that lost its socket).
func (c *Client) CloseData() error {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	return nil
}

// ControlConn is the control connection (a guest never writes on it after the request).
func (c *Client) ControlConn() net.Conn { return c.ctl }

// FD is the data socket, for callers doing their own batched I/O.
func (c *Client) FD() int { return c.fd }

// Close detaches the port (the switch sees the control connection close).
func (c *Client) Close() error {
	if c.ctl != nil {
		c.ctl.Close()
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	return nil
}

// Frame builds an Ethernet frame dst, src, ethertype 0x88b5 (local experimental) + payload.
func Frame(dst, src MAC, payload []byte) []byte {
	f := make([]byte, 14+len(payload))
	copy(f, dst[:])
	copy(f[6:], src[:])
	f[12], f[13] = 0x88, 0xb5
	copy(f[14:], payload)
	return f
}
