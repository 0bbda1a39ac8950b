// Package mconsole implements UML's management console: the datagram wire protocol (requests,
// multi-packet replies, notifications), a client like uml_mconsole's, a server the emulator
// answers commands with, and the uml_mconsole program itself (Main).
//
// All integers on the wire are in host byte order, which on every platform UML runs on
// (x86, x86_64) is little-endian; this package always uses little-endian so that captures
// from the real tools decode the same everywhere.
package mconsole

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants, as in the kernel's mconsole.h.
const (
	Magic         = 0xCAFEBABE // first word of every request and notification
	Version       = 2          // the only protocol version the kernel speaks
	MaxData       = 512        // size of the data field of every packet
	RequestSize   = 12 + MaxData
	MaxReplySize  = 12 + MaxData
	MaxNotifySize = 16 + MaxData
	// MaxChunk is the most text one reply packet carries (the rest of MaxData is its NUL).
	MaxChunk = MaxData - 1
)

var le = binary.LittleEndian

// Request is one client-to-UML datagram.
type Request struct {
	Magic   uint32 // Magic for every real client; anything else means a "version 0" client
	Version uint32 // Version
	// Command is the command text. On the wire len = len(Command), which must be < MaxData.
	Command string
}

// NewRequest returns a version-2 request for cmd.
func NewRequest(cmd string) Request { return Request{Magic: Magic, Version: Version, Command: cmd} }

// ErrRequestTooLarge is returned for a command of MaxData bytes or more.
var ErrRequestTooLarge = errors.New("mconsole: request too large (command must be shorter than 512 bytes)")

// Marshal encodes r as the full 524-byte datagram uml_mconsole sends (the data field is
// NUL-padded).
func (r Request) Marshal() ([]byte, error) {
	if len(r.Command) >= MaxData {
		return nil, ErrRequestTooLarge
	}
	b := make([]byte, RequestSize)
	le.PutUint32(b[0:], r.Magic)
	le.PutUint32(b[4:], r.Version)
	le.PutUint32(b[8:], uint32(len(r.Command)))
	copy(b[12:], r.Command)
	return b, nil
}

// RequestHeader is the raw header of a received request, for the server's checks.
type RequestHeader struct {
	Magic, Version, Len uint32
}

// ParseRequest decodes a received request datagram the way the kernel reads it, but without
// trusting anything: it returns the raw header and the command text, which is the data field
// cut at len, at the end of the datagram and at the first NUL (the kernel treats the command
// as a C string). It fails only when the datagram is too short to hold a header.
func ParseRequest(b []byte) (RequestHeader, string, error) {
	var h RequestHeader
	if len(b) < 12 {
		return h, "", fmt.Errorf("mconsole: short request: %d bytes, need at least 12", len(b))
	}
	h.Magic = le.Uint32(b[0:])
	h.Version = le.Uint32(b[4:])
	h.Len = le.Uint32(b[8:])
	data := b[12:]
	if len(data) > MaxData {
		data = data[:MaxData]
	}
	if uint64(h.Len) < uint64(len(data)) {
		data = data[:h.Len]
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	return h, string(data), nil
}

// UnmarshalRequest decodes a request datagram strictly: the magic must be Magic, len must be
// below MaxData and the datagram must hold len bytes of data. (It accepts any version, since
// the kernel still executes the command of a wrong-version client.)
func UnmarshalRequest(b []byte) (Request, error) {
	h, cmd, err := ParseRequest(b)
	if err != nil {
		return Request{}, err
	}
	if h.Magic != Magic {
		return Request{}, fmt.Errorf("mconsole: bad request magic %#x, want %#x", h.Magic, uint32(Magic))
	}
	if h.Len >= MaxData {
		return Request{}, fmt.Errorf("mconsole: request len %d too large (max %d)", h.Len, MaxData-1)
	}
	if uint64(len(b)-12) < uint64(h.Len) {
		return Request{}, fmt.Errorf("mconsole: truncated request: len %d but only %d data bytes", h.Len, len(b)-12)
	}
	return Request{Magic: h.Magic, Version: h.Version, Command: cmd}, nil
}

// Reply is one UML-to-client datagram. A long answer is a sequence of replies, all but the
// last with More set.
type Reply struct {
	Err  int32  // 0 = OK; 1 or a negative errno = error (only ever set on the first packet)
	More bool   // more packets of the same answer follow
	Data string // at most MaxChunk bytes; sent with a terminating NUL
}

// Marshal encodes r as 12 + len(Data) + 1 bytes, as the kernel sends it.
func (r Reply) Marshal() ([]byte, error) {
	if len(r.Data) > MaxChunk {
		return nil, fmt.Errorf("mconsole: reply data of %d bytes exceeds %d", len(r.Data), MaxChunk)
	}
	b := make([]byte, 12+len(r.Data)+1)
	le.PutUint32(b[0:], uint32(r.Err))
	if r.More {
		le.PutUint32(b[4:], 1)
	}
	le.PutUint32(b[8:], uint32(len(r.Data)+1))
	copy(b[12:], r.Data)
	return b, nil
}

// UnmarshalReply decodes a reply datagram. Like uml_mconsole it reads data as a C string, but
// it never reads past len or the end of the datagram; len above MaxData or beyond the datagram
// is an error. Any non-zero more word counts as "more".
func UnmarshalReply(b []byte) (Reply, error) {
	if len(b) < 12 {
		return Reply{}, fmt.Errorf("mconsole: short reply: %d bytes, need at least 12", len(b))
	}
	r := Reply{Err: int32(le.Uint32(b[0:])), More: le.Uint32(b[4:]) != 0}
	n := le.Uint32(b[8:])
	if n > MaxData {
		return Reply{}, fmt.Errorf("mconsole: reply len %d exceeds %d", n, MaxData)
	}
	data := b[12:]
	if uint64(n) > uint64(len(data)) {
		return Reply{}, fmt.Errorf("mconsole: truncated reply: len %d but only %d data bytes", n, len(data))
	}
	data = data[:n]
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	r.Data = string(data)
	return r, nil
}

// SplitReply cuts text into the packets the kernel's mconsole_reply_len sends: chunks of at
// most MaxChunk bytes, err on the first only, more on all but the last (whose More is more).
// Empty text is one empty packet.
func SplitReply(text string, err int32, more bool) []Reply {
	var out []Reply
	for {
		n := min(len(text), MaxChunk)
		r := Reply{Err: err, Data: text[:n], More: more}
		if n < len(text) {
			r.More = true
		}
		out = append(out, r)
		err = 0
		text = text[n:]
		if len(text) == 0 {
			return out
		}
	}
}

// NotifyType is the type word of a notification.
type NotifyType uint32

// Notification types (mconsole.h's enum mconsole_notify_type).
const (
	NotifySocket     NotifyType = 0 // the mconsole socket's path, sent once at start-up
	NotifyPanic      NotifyType = 1 // kernel panic message
	NotifyHang       NotifyType = 2 // sent by uml_watchdog only
	NotifyUserNotify NotifyType = 3 // a guest write to /proc/mconsole
)

func (t NotifyType) String() string {
	switch t {
	case NotifySocket:
		return "MCONSOLE_SOCKET"
	case NotifyPanic:
		return "MCONSOLE_PANIC"
	case NotifyHang:
		return "MCONSOLE_HANG"
	case NotifyUserNotify:
		return "MCONSOLE_USER_NOTIFY"
	}
	return fmt.Sprintf("NotifyType(%d)", uint32(t))
}

// Notification is one UML-to-notify-socket datagram.
type Notification struct {
	Magic   uint32
	Version uint32
	Type    NotifyType
	Data    []byte // at most MaxData bytes, sent verbatim (the kernel includes a NUL for
	// MCONSOLE_SOCKET and MCONSOLE_PANIC, none for MCONSOLE_USER_NOTIFY)
}

// NewNotification returns a version-2 notification.
func NewNotification(t NotifyType, data []byte) Notification {
	return Notification{Magic: Magic, Version: Version, Type: t, Data: data}
}

// Marshal encodes n as 16 + len(Data) bytes.
func (n Notification) Marshal() ([]byte, error) {
	if len(n.Data) > MaxData {
		return nil, fmt.Errorf("mconsole: notification data of %d bytes exceeds %d", len(n.Data), MaxData)
	}
	b := make([]byte, 16+len(n.Data))
	le.PutUint32(b[0:], n.Magic)
	le.PutUint32(b[4:], n.Version)
	le.PutUint32(b[8:], uint32(n.Type))
	le.PutUint32(b[12:], uint32(len(n.Data)))
	copy(b[16:], n.Data)
	return b, nil
}

// UnmarshalNotification decodes a notification datagram. It does not insist on Magic or
// Version (the caller decides; uml_watchdog's 64-bit packets decode as version 0), but len
// must fit both MaxData and the datagram.
func UnmarshalNotification(b []byte) (Notification, error) {
	if len(b) < 16 {
		return Notification{}, fmt.Errorf("mconsole: short notification: %d bytes, need at least 16", len(b))
	}
	n := Notification{Magic: le.Uint32(b[0:]), Version: le.Uint32(b[4:]), Type: NotifyType(le.Uint32(b[8:]))}
	l := le.Uint32(b[12:])
	if l > MaxData {
		return Notification{}, fmt.Errorf("mconsole: notification len %d exceeds %d", l, MaxData)
	}
	if uint64(l) > uint64(len(b)-16) {
		return Notification{}, fmt.Errorf("mconsole: truncated notification: len %d but only %d data bytes", l, len(b)-16)
	}
	n.Data = append([]byte(nil), b[16:16+l]...)
	return n, nil
}
