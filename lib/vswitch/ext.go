package vswitch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The extended daemon transport: between our uml_switch and our linux only, negotiated so
// that the real tools never see it (docs/interfaces.md §3.4).
//
//  1. Our switch's reply (its data address, 110 bytes as always) carries ExtMagic in the
//     last 8 bytes of sun_path. For the abstract address of a switch that is part of the
//     name it is bound to (the real switch leaves them zero, and a real guest uses the
//     address verbatim); after a -compat-v0 path the kernel ignores them.
//  2. Our linux, seeing it, binds a second data socket and writes a hello on the control
//     connection: ExtMagic, version 1, the features it wants, that socket's 110-byte
//     address. The real kernel never writes after its request, and the real switch's
//     reply has no marker, so neither ever meets a hello.
//  3. The switch moves the port to the new address, marks it extended, and answers with
//     ExtMagic, version 1 and the features granted. Frames the switch sent before went to
//     the first socket, which the guest then closes: no datagram of one framing is ever
//     read as the other.
//  4. Every datagram on an extended port is a struct virtio_net_hdr and an Ethernet frame:
//     a plain frame (header of zeros, or a partial checksum to finish), or a TCPv4 GSO
//     frame of up to 64 KiB that crosses the switch as one datagram. The switch checks
//     each (lib/netdev/vnet.Check): a bad one is dropped, never forwarded. It passes them
//     to extended ports as they are and cuts them into plain frames for every other port
//     and for the capture.

// ExtMagic marks our switch's reply, and starts the hello and its answer.
const ExtMagic = "gouml-x1"

// ExtVNet is the feature of datagrams that start with a struct virtio_net_hdr.
const ExtVNet = 1

// extVersion is the version of the hello and its answer.
const extVersion = 1

// Sizes of the hello (magic, version, features, the data address) and of its answer.
const (
	extHelloLen  = 8 + 4 + 4 + SockaddrLen
	extAnswerLen = 8 + 4 + 4
	// extMarkOff is where the marker lies in a raw 110-byte address.
	extMarkOff = SockaddrLen - len(ExtMagic)
)

// markAddr puts the marker into a raw address, if a filesystem path leaves room for it
// after its NUL.
func markAddr(a *rawAddr) bool {
	if a[2] != 0 && bytes.IndexByte(a[2:extMarkOff], 0) < 0 {
		return false // a path too long: no extension, the port stays plain
	}
	copy(a[extMarkOff:], ExtMagic)
	return true
}

// ExtOffered reports whether a switch's reply is our switch's offer of the extension.
func ExtOffered(reply []byte) bool {
	return len(reply) >= SockaddrLen && string(reply[extMarkOff:SockaddrLen]) == ExtMagic
}

// ExtHello is the hello a guest writes on the control connection.
type ExtHello struct {
	Version  uint32
	Features uint32
	Sock     Sockaddr // the new data socket
}

// Marshal returns the hello's wire form.
func (h ExtHello) Marshal() []byte {
	b := make([]byte, extHelloLen)
	copy(b, ExtMagic)
	binary.LittleEndian.PutUint32(b[8:], h.Version)
	binary.LittleEndian.PutUint32(b[12:], h.Features)
	copy(b[16:], h.Sock.Marshal())
	return b
}

// ParseExtHello parses a hello; the error says in one line what is wrong with it.
func ParseExtHello(b []byte) (ExtHello, error) {
	var h ExtHello
	if len(b) != extHelloLen {
		return h, fmt.Errorf("extension hello of %d bytes, want %d", len(b), extHelloLen)
	}
	if string(b[:8]) != ExtMagic {
		return h, errors.New("extension hello without its magic")
	}
	h.Version = binary.LittleEndian.Uint32(b[8:])
	h.Features = binary.LittleEndian.Uint32(b[12:])
	h.Sock, _ = UnmarshalSockaddr(b[16:])
	if h.Version != extVersion {
		return h, fmt.Errorf("extension hello of version %d, want %d", h.Version, extVersion)
	}
	if h.Sock.Family != afUnix {
		return h, fmt.Errorf("extension hello: data socket address family %d, want AF_UNIX", h.Sock.Family)
	}
	return h, nil
}

// readHello reads the rest of a hello whose first n bytes are in first (the control
// connection's first read after the reply); ok is false if they are not a hello's start.
func readHello(c io.Reader, first []byte) (h ExtHello, ok bool, err error) {
	if !bytes.HasPrefix([]byte(ExtMagic), first[:min(len(first), len(ExtMagic))]) || len(first) > extHelloLen {
		return h, false, nil
	}
	b := make([]byte, extHelloLen)
	n := copy(b, first)
	if _, err := io.ReadFull(c, b[n:]); err != nil {
		return h, true, fmt.Errorf("extension hello cut short: %v", err)
	}
	h, err = ParseExtHello(b)
	return h, true, err
}

func extAnswer(features uint32) []byte {
	b := make([]byte, extAnswerLen)
	copy(b, ExtMagic)
	binary.LittleEndian.PutUint32(b[8:], extVersion)
	binary.LittleEndian.PutUint32(b[12:], features)
	return b
}

// ExtendPort asks our switch, on the control connection ctl of a port whose reply offered
// the extension, to move the port to the data socket bound at sock and to speak the
// features asked for there; it returns those granted (0: the port stays as it was, on
// its first data socket). An error leaves the port in an unknown state: close it.
func ExtendPort(ctl net.Conn, sock Sockaddr, features uint32, timeout time.Duration) (uint32, error) {
	_ = ctl.SetDeadline(time.Now().Add(timeout))
	defer ctl.SetDeadline(time.Time{})
	if _, err := ctl.Write(ExtHello{Version: extVersion, Features: features, Sock: sock}.Marshal()); err != nil {
		return 0, fmt.Errorf("writing the extension hello: %v", err)
	}
	b := make([]byte, extAnswerLen)
	if _, err := io.ReadFull(ctl, b); err != nil {
		return 0, fmt.Errorf("reading the extension answer: %v", err)
	}
	if string(b[:8]) != ExtMagic || binary.LittleEndian.Uint32(b[8:]) != extVersion {
		return 0, errors.New("the switch's extension answer is not one")
	}
	return binary.LittleEndian.Uint32(b[12:]) & features, nil
}

// Extend moves a daemon port to the data address a and marks it extended: from now on
// every datagram to and from it carries a virtio_net_hdr.
func (s *Switch) Extend(p *Port, a Sockaddr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.closed {
		return errors.New("the port is gone")
	}
	var key rawAddr
	copy(key[:], a.Marshal())
	if q := s.byAddr[key]; q != nil && q != p {
		return fmt.Errorf("data address %s is already port %d's", a, q.ID)
	}
	delete(s.byAddr, p.addr)
	p.addr = key
	s.byAddr[key] = p
	p.ext.Store(true)
	return nil
}
