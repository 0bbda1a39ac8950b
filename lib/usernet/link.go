package usernet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Link carries raw Ethernet frames (no preamble, no FCS) to and from guests.
type Link interface {
	// ReadFrame blocks until one frame arrives, copies it into buf and returns its length.
	// An error ends the attachment.
	ReadFrame(buf []byte) (int, error)
	// WriteFrame sends one frame; the gateway does not keep frame after the call.
	WriteFrame(frame []byte) error
	// Close releases the link and makes ReadFrame return an error.
	Close() error
}

// UcastLink exchanges frames with a UML guest's ucast transport
// (eth0=ucast,MAC,127.0.0.1,GUESTPORT,LINKPORT): each UDP datagram is one Ethernet frame.
// Datagrams from any address other than the configured peer are dropped, so another local
// user cannot inject frames by guessing the port.
type UcastLink struct {
	conn *net.UDPConn
	peer netip.AddrPort
}

// ListenUcast binds local (e.g. 127.0.0.1:0) and exchanges frames with peer (the guest's
// listen address, e.g. 127.0.0.1:5101).
func ListenUcast(local, peer netip.AddrPort) (*UcastLink, error) {
	if !peer.Addr().Is4() || peer.Port() == 0 {
		return nil, fmt.Errorf("ucast peer %s: want IPV4ADDR:PORT", peer)
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, fmt.Errorf("ucast listen %s: %w", local, err)
	}
	_ = c.SetReadBuffer(1 << 20)
	_ = c.SetWriteBuffer(1 << 20)
	return &UcastLink{conn: c, peer: peer}, nil
}

// LocalAddr returns the bound address (the port to give the guest as its remote port).
func (u *UcastLink) LocalAddr() netip.AddrPort {
	return u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// ReadFrame implements Link.
func (u *UcastLink) ReadFrame(buf []byte) (int, error) {
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return 0, err
		}
		if from.Addr().Unmap() == u.peer.Addr() && from.Port() == u.peer.Port() {
			return n, nil
		}
	}
}

// WriteFrame implements Link.
func (u *UcastLink) WriteFrame(frame []byte) error {
	_, err := u.conn.WriteToUDPAddrPort(frame, u.peer)
	return err
}

// Close implements Link.
func (u *UcastLink) Close() error { return u.conn.Close() }

// ErrClosed is returned by a closed pipe link.
var ErrClosed = errors.New("link closed")

// pipeLink is one end of an in-process frame pipe.
type pipeLink struct {
	in   chan []byte
	peer *pipeLink
	done chan struct{}
	once *sync.Once
}

// Pipe returns two connected in-process links: frames written to one are read from the
// other. Writes never block: frames beyond 512 queued are dropped, as on a real wire.
func Pipe() (Link, Link) {
	done := make(chan struct{})
	once := &sync.Once{}
	a := &pipeLink{in: make(chan []byte, 512), done: done, once: once}
	b := &pipeLink{in: make(chan []byte, 512), done: done, once: once}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pipeLink) ReadFrame(buf []byte) (int, error) {
	select {
	case f := <-p.in:
		return copy(buf, f), nil
	case <-p.done:
		return 0, ErrClosed
	}
}

func (p *pipeLink) WriteFrame(frame []byte) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	select {
	case p.peer.in <- append([]byte(nil), frame...):
	default:
	}
	return nil
}

func (p *pipeLink) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
