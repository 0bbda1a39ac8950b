package netdev

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/usernet"
	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// Transport is the host side of a device: a datagram socket whose every datagram is one
// Ethernet frame (daemon, mcast, ucast), or a port of the built-in NAT gateway.
type Transport struct {
	spec *Spec
	sock *os.File         // non-blocking datagram socket; nil for the NAT
	rc   syscall.RawConn  // sock's
	to   []byte           // raw address every frame is sent to (nil: the socket is connected)
	ctl  net.Conn         // daemon: the control connection, held for the port's life
	gw   *usernet.Gateway // the built-in NAT
	self [6]byte          // mcast: the device's own MAC, to drop its own looped-back frames
	// dev is a host tap (tuntap): frames are read and written one per call. It outlives
	// the relay (it is opened once per run, outside the kernel), so Close leaves it open.
	dev *os.File
	// stream is the SLIP stream to a slirp program (its stdin and stdout), which, like dev,
	// outlives the relay; the guest's side is then a tun device: IP packets, no Ethernet.
	stream *os.File
	// daemon: swData is the switch's data address; extOffered: its reply offered the
	// extended transport (ours does, ext.go), ext: the relay took it.
	swData     rawAddr110
	extOffered bool
	ext        bool
}

// OpenStream makes the transport of ethN=slirp,MAC,PROGRAM: stream is the socket whose other
// end is the program's stdin and stdout (the outer process started it). stream must be
// non-blocking; it stays open when the relay stops, for the next boot.
func OpenStream(s *Spec, stream *os.File) (*Transport, error) {
	rc, err := stream.SyscallConn()
	if err != nil {
		return nil, err
	}
	_ = stream.SetReadDeadline(time.Time{})
	return &Transport{spec: s, stream: stream, rc: rc}, nil
}

// IPLink reports whether the guest's side of the device carries IP packets with no Ethernet
// header (a tun device), as the real kernel's slirp device does.
func (s *Spec) IPLink() bool { return s.Transport == Slirp && s.Argv != nil }

// OpenDevice makes the transport of a device whose frames go to a host tap already open
// (ethN=tuntap,IFNAME: the outer process opened it in the host's network namespace). dev
// must be non-blocking; it stays open when the relay stops, for the next boot.
func OpenDevice(s *Spec, dev *os.File) (*Transport, error) {
	rc, err := dev.SyscallConn()
	if err != nil {
		return nil, err
	}
	_ = dev.SetReadDeadline(time.Time{}) // the last boot's Stop set one
	return &Transport{spec: s, dev: dev, rc: rc}, nil
}

// dialTimeout bounds the daemon transport's connection and its reply: a switch that
// accepts and never answers must not hold the boot.
const dialTimeout = 5 * time.Second

// sockBuf is the socket buffer asked for each direction: room for a burst of full frames.
const sockBuf = 1 << 20

// Open opens the transport of a device whose MAC is mac. The error's text is the real
// kernel's message where it has one (its open failed and the device is left out).
func Open(s *Spec, mac [6]byte) (*Transport, error) {
	t := &Transport{spec: s, self: mac}
	var err error
	switch {
	case s.Transport == Daemon:
		err = t.openDaemon()
	case s.Transport == Vde:
		err = t.openVDE()
	case s.Transport == Mcast:
		err = t.openMcast()
	case s.Transport == Ucast:
		err = t.openUcast()
	case s.BuiltinNAT():
		t.gw, err = usernet.New(usernet.Config{})
	case s.Transport == Slirp:
		err = errors.New("slirp: the program can only be given on the command line (the outer linux process runs it)")
	default:
		err = fmt.Errorf("%s: transport not supported", s.Transport)
	}
	if err == nil && t.sock != nil {
		t.rc, err = t.sock.SyscallConn()
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Close releases the transport (the daemon's switch sees its port disconnect).
func (t *Transport) Close() {
	if t.dev != nil {
		_ = t.dev.SetReadDeadline(time.Now()) // wakes the relay's reader; the tap stays open
	}
	if t.stream != nil {
		_ = t.stream.SetReadDeadline(time.Now())
	}
	if t.sock != nil {
		t.sock.Close()
	}
	if t.ctl != nil {
		t.ctl.Close()
	}
	if t.gw != nil {
		t.gw.Close()
	}
}

// newSocket makes a non-blocking datagram socket with large buffers.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockBuf)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBuf)
	return fd, nil
}

// rawAddr110 is a struct sockaddr_un as the daemon protocol carries it: all 110 bytes.
type rawAddr110 [vswitch.SockaddrLen]byte

func sockcall(nr uintptr, fd int, a *rawAddr110) error {
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(unsafe.Pointer(&a[0])), vswitch.SockaddrLen)
	if e != 0 {
		return e
	}
	return nil
}

// openDaemon attaches to a uml_switch as linux.uml does (docs/interfaces.md §3.2): a
// stream connection to the control socket carrying one version 3 request naming our
// abstract data socket, and the switch's data address in reply. The data socket is then
// connected to that address, so that nothing but the switch can send the guest frames.
func (t *Transport) openDaemon() error {
	s := t.spec
	failed := func(e error) error {
		var errno unix.Errno
		if !errors.As(e, &errno) {
			errno = unix.ECONNREFUSED
		}
		return fmt.Errorf("daemon_open : control connect failed, errno = %d", int(errno))
	}
	if s.SockType != "unix" {
		return failed(unix.EFAULT) // the real kernel connects to a NULL address
	}
	if len(s.Ctl) >= len(vswitch.Sockaddr{}.Path) {
		return failed(unix.ENOENT) // the real kernel's longer name reaches no socket
	}
	fd, err := newSocket(unix.AF_UNIX)
	if err != nil {
		return err
	}
	t.sock = os.NewFile(uintptr(fd), "daemon-data")
	a, err := bindData(fd)
	if err != nil {
		return fmt.Errorf("daemon_open : data bind failed, errno = %d", int(err.(unix.Errno)))
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.Dial("unix", s.Ctl)
	if err != nil {
		return failed(err)
	}
	t.ctl = conn
	mine, _ := vswitch.UnmarshalSockaddr(a[:])
	req, _ := vswitch.Request{Version: 3, Type: vswitch.ReqNewControl, Sock: mine}.Marshal()
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("daemon_open : control setup request failed, err = %d", errnoOf(err))
	}
	var theirs rawAddr110
	if _, err := io.ReadFull(conn, theirs[:]); err != nil {
		return errors.New("daemon_open : read of data socket failed")
	}
	_ = conn.SetDeadline(time.Time{})
	if err := sockcall(unix.SYS_CONNECT, fd, &theirs); err != nil {
		return fmt.Errorf("daemon_open : the switch's data socket %v: %v", vswitchAddr(theirs), err)
	}
	t.swData, t.extOffered = theirs, vswitch.ExtOffered(theirs[:])
	return nil
}

// bindData binds a daemon data socket to an address made as the real kernel makes its:
// abstract, pid and microseconds, and random bytes where its are uninitialised.
func bindData(fd int) (rawAddr110, error) {
	var a rawAddr110
	binary.LittleEndian.PutUint16(a[0:], unix.AF_UNIX)
	binary.LittleEndian.PutUint32(a[2+4:], uint32(os.Getpid()))
	binary.LittleEndian.PutUint32(a[2+8:], uint32(time.Now().Nanosecond()/1000))
	_, _ = rand.Read(a[2+12:])
	return a, sockcall(unix.SYS_BIND, fd, &a)
}

func vswitchAddr(a rawAddr110) string {
	s, _ := vswitch.UnmarshalSockaddr(a[:])
	return s.String()
}

func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	return int(unix.EIO)
}

// Inet4 parses a dotted quad as the kernel's in_aton would be given one; ok is false for
// anything else.
func Inet4(s string) ([4]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, false
	}
	return a.As4(), true
}

// openMcast joins the group: every device on group:port hears every other (and itself,
// with IP_MULTICAST_LOOP, which is how guests on one host meet).
func (t *Transport) openMcast() error {
	s := t.spec
	group, ok := Inet4(s.Addr)
	if !ok || group[0]&0xf0 != 0xe0 {
		return fmt.Errorf("umcast_open : %q is not a multicast address", s.Addr)
	}
	fd, err := newSocket(unix.AF_INET)
	if err != nil {
		return err
	}
	t.sock = os.NewFile(uintptr(fd), "mcast")
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("umcast_open : SO_REUSEADDR failed, errno = %d", errnoOf(err))
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(s.LPort), Addr: group}); err != nil {
		return fmt.Errorf("umcast_open : data bind failed, errno = %d", errnoOf(err))
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, int(s.TTL&0xff)); err != nil {
		return fmt.Errorf("umcast_open: IP_MULTICAST_TTL failed, error = %d", errnoOf(err))
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 1); err != nil {
		return fmt.Errorf("umcast_open: IP_MULTICAST_LOOP failed, error = %d", errnoOf(err))
	}
	if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &unix.IPMreq{Multiaddr: group}); err != nil {
		return fmt.Errorf("umcast_open: IP_ADD_MEMBERSHIP failed, error = %d (the host has no multicast-capable "+
			"network interface with a route for the group)", errnoOf(err))
	}
	t.to = inetAddr(group, s.LPort)
	return nil
}

// openUcast binds the listen port on every host address and sends to the remote.
func (t *Transport) openUcast() error {
	s := t.spec
	remote, ok := Inet4(s.Addr)
	if !ok || remote == [4]byte{} {
		return fmt.Errorf("umcast_open : bad remote address '%s'", s.Addr)
	}
	fd, err := newSocket(unix.AF_INET)
	if err != nil {
		return err
	}
	t.sock = os.NewFile(uintptr(fd), "ucast")
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("umcast_open : SO_REUSEADDR failed, errno = %d", errnoOf(err))
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(s.LPort)}); err != nil {
		return fmt.Errorf("umcast_open : data bind failed, errno = %d", errnoOf(err))
	}
	t.to = inetAddr(remote, s.RPort)
	return nil
}

// inetAddr is a raw struct sockaddr_in.
func inetAddr(a [4]byte, port uint16) []byte {
	b := make([]byte, unix.SizeofSockaddrInet4)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], a[:])
	return b
}
