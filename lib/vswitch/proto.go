// Package vswitch is uml_switch: a virtual Ethernet switch (or hub) for User-Mode Linux guests.
//
// Guests attach over the daemon transport (eth<N>=daemon,...): a SOCK_STREAM control
// connection carrying one request, then raw Ethernet frames as SOCK_DGRAM datagrams between
// the guest's abstract data socket and the switch's. Guests of kernels without that transport
// (UML 6.16+) attach over the vector driver's BESS transport (SOCK_SEQPACKET), and a host tap
// device can be one more port. The byte layouts are in docs/interfaces.md §3.
package vswitch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic starts every request of protocol version 1 and later.
const Magic = 0xFEEDFACE

// ReqNewControl is the only request type: "attach this data socket as a new port".
const ReqNewControl = 0

// SockaddrLen is sizeof(struct sockaddr_un) on Linux: 2-byte family + 108-byte sun_path.
// Guests bind, send and expect replies with exactly this address length.
const SockaddrLen = 110

// afUnix is AF_UNIX.
const afUnix = 1

// Sockaddr is a struct sockaddr_un exactly as it travels in requests and replies. The path is
// kept verbatim, all 108 bytes: a UML's data address is abstract and its tail is uninitialised
// memory that is nevertheless part of the name.
type Sockaddr struct {
	Family uint16
	Path   [108]byte
}

// Marshal returns the 110-byte wire form.
func (a Sockaddr) Marshal() []byte {
	b := make([]byte, SockaddrLen)
	binary.LittleEndian.PutUint16(b, a.Family)
	copy(b[2:], a.Path[:])
	return b
}

// UnmarshalSockaddr reads a 110-byte struct sockaddr_un.
func UnmarshalSockaddr(b []byte) (Sockaddr, error) {
	var a Sockaddr
	if len(b) < SockaddrLen {
		return a, fmt.Errorf("socket address too short (%d bytes, want %d)", len(b), SockaddrLen)
	}
	a.Family = binary.LittleEndian.Uint16(b)
	copy(a.Path[:], b[2:SockaddrLen])
	return a, nil
}

// String shows an abstract address as @ followed by its bytes in hex (pid and time stamp of
// a UML), a filesystem address as its path.
func (a Sockaddr) String() string {
	if a.Path[0] == 0 {
		end := len(a.Path)
		for end > 1 && a.Path[end-1] == 0 {
			end--
		}
		return fmt.Sprintf("@%x", a.Path[1:end])
	}
	n := 0
	for n < len(a.Path) && a.Path[n] != 0 {
		n++
	}
	return string(a.Path[:n])
}

// Request is a port's attach request. Version says which of the layouts the real uml_switch
// understands it was (or will be) written in:
//
//	v0: {u32 type; u8 mac[6]; sockaddr_un sock}                       120 bytes
//	v1: {u32 magic; u32 type; u8 mac[6]; sockaddr_un sock}             124 bytes
//	v3: {u32 magic; u32 version=3; u32 type; sockaddr_un sock; pad[2]} 124 bytes
//
// Version 2 had the v3 layout and is refused, as by the real switch. MAC is only carried by
// v0 and v1 (and ignored by the switch, which learns addresses from traffic).
type Request struct {
	Version int
	Type    uint32
	MAC     [6]byte
	Sock    Sockaddr
}

// Request sizes per layout (the C structs' sizeof, with their alignment padding).
const (
	sizeV0 = 4 + 6 + SockaddrLen     // 120
	sizeV1 = 4 + 4 + 6 + SockaddrLen // 124
	sizeV3 = 4 + 4 + 4 + SockaddrLen + 2
	// MaxRequestLen is the size of the largest layout (the C union request).
	MaxRequestLen = sizeV1
)

// Errors for requests the real switch refuses, with its messages.
var (
	ErrVersion2 = errors.New("Version 2 is not supported") //lint:ignore ST1005 the real uml_switch's message
)

// Marshal returns the request in its version's layout.
func (r Request) Marshal() ([]byte, error) {
	le := binary.LittleEndian
	switch r.Version {
	case 0:
		b := make([]byte, sizeV0)
		le.PutUint32(b, r.Type)
		copy(b[4:], r.MAC[:])
		copy(b[10:], r.Sock.Marshal())
		return b, nil
	case 1:
		b := make([]byte, sizeV1)
		le.PutUint32(b, Magic)
		le.PutUint32(b[4:], r.Type)
		copy(b[8:], r.MAC[:])
		copy(b[14:], r.Sock.Marshal())
		return b, nil
	case 2, 3:
		b := make([]byte, sizeV3)
		le.PutUint32(b, Magic)
		le.PutUint32(b[4:], uint32(r.Version))
		le.PutUint32(b[8:], r.Type)
		copy(b[12:], r.Sock.Marshal())
		return b, nil
	}
	return nil, fmt.Errorf("no request layout for version %d", r.Version)
}

// RequestLayout tells, from the first 8 bytes of a request (fewer if that is all there is),
// which layout it has (0, 1 or 3) and how long the whole request is; an error if the header
// already shows it is refused.
func RequestLayout(head []byte) (version, size int, err error) {
	if len(head) < 4 {
		return 0, 0, fmt.Errorf("request too short (%d bytes)", len(head))
	}
	le := binary.LittleEndian
	if le.Uint32(head) != Magic {
		return 0, sizeV0, nil
	}
	if len(head) < 8 {
		return 0, 0, fmt.Errorf("request too short (%d bytes)", len(head))
	}
	switch v := le.Uint32(head[4:]); {
	case v == 2:
		return 0, 0, ErrVersion2
	case v == 3:
		return 3, sizeV3, nil
	case v > 3:
		return 0, 0, fmt.Errorf("Request for a version %d port, which this uml_switch doesn't support", v)
	}
	// The word after the magic is a v1 request's type (0 for the only valid one).
	return 1, sizeV1, nil
}

// UnmarshalRequest parses one request, telling the layout apart as the real switch does:
// no magic → v0; magic and version word 3 → v3; 2 → refused; above 3 → refused; otherwise
// the word is a v1 request's type. The v3 trailing padding may be missing.
func UnmarshalRequest(b []byte) (Request, error) {
	var r Request
	v, _, err := RequestLayout(b)
	if err != nil {
		return r, err
	}
	le := binary.LittleEndian
	var sock []byte
	switch v {
	case 0:
		if len(b) < sizeV0 {
			return r, fmt.Errorf("version 0 request too short (%d bytes, want %d)", len(b), sizeV0)
		}
		r.Version, r.Type = 0, le.Uint32(b)
		copy(r.MAC[:], b[4:10])
		sock = b[10:]
	case 1:
		if len(b) < sizeV1 {
			return r, fmt.Errorf("version 1 request too short (%d bytes, want %d)", len(b), sizeV1)
		}
		r.Version, r.Type = 1, le.Uint32(b[4:])
		copy(r.MAC[:], b[8:14])
		sock = b[14:]
	default:
		if len(b) < sizeV3-2 {
			return r, fmt.Errorf("version 3 request too short (%d bytes, want %d)", len(b), sizeV3)
		}
		r.Version, r.Type = 3, le.Uint32(b[8:])
		sock = b[12:]
	}
	r.Sock, _ = UnmarshalSockaddr(sock)
	if r.Type != ReqNewControl {
		//lint:ignore ST1005 the real uml_switch's message, word for word
		return r, fmt.Errorf("Bad request type : %d", r.Type)
	}
	if r.Sock.Family != afUnix {
		return r, fmt.Errorf("bad request: data socket address family %d, want AF_UNIX", r.Sock.Family)
	}
	return r, nil
}

// ReadRequest reads exactly one request from a control connection: the header, then as
// many bytes as its layout needs. A v3 request is read with its padding.
func ReadRequest(rd io.Reader) (Request, []byte, error) {
	buf := make([]byte, MaxRequestLen)
	if _, err := io.ReadFull(rd, buf[:8]); err != nil {
		if errors.Is(err, io.EOF) {
			return Request{}, nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Request{}, nil, fmt.Errorf("request too short: connection closed inside the header")
		}
		return Request{}, nil, err
	}
	_, n, err := RequestLayout(buf[:8])
	if err != nil {
		return Request{}, buf[:8], err
	}
	if _, err := io.ReadFull(rd, buf[8:n]); err != nil {
		return Request{}, buf[:8], fmt.Errorf("request too short: connection closed after the header (%w)", err)
	}
	r, err := UnmarshalRequest(buf[:n])
	return r, buf[:n], err
}
