package mconsole

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds the wait for each reply packet. The real uml_mconsole waits forever
// when the UML is alive but silent; ours gives up with an error naming the socket.
const DefaultTimeout = 10 * time.Second

// Client talks to one mconsole socket. It is bound to an abstract address (the kernel replies
// to the sender's address, so an unbound client would never hear back).
type Client struct {
	sock    *dgram
	local   string // abstract name, for messages
	target  string
	Timeout time.Duration // per reply packet; 0 means DefaultTimeout
}

var clientSeq atomic.Uint32

// NewClient opens a client socket bound like uml_mconsole's: the abstract name
// "\0" + "%5d" of the pid, padded with NULs to 108 bytes. If that name is taken (another
// client in this process, or a pid reused in another network namespace) it binds a unique
// abstract name instead.
func NewClient() (*Client, error) {
	name := "\x00" + fmt.Sprintf("%5d", os.Getpid())
	a, err := fullAddr(name)
	if err != nil {
		return nil, err
	}
	s, err := newDgram(&a)
	if errors.Is(err, unix.EADDRINUSE) {
		name = fmt.Sprintf("\x00gouml-mconsole-%d-%d", os.Getpid(), clientSeq.Add(1))
		if a, err = fullAddr(name); err != nil {
			return nil, err
		}
		s, err = newDgram(&a)
	}
	if err != nil {
		return nil, fmt.Errorf("mconsole client: %w", err)
	}
	return &Client{sock: s, local: name}, nil
}

// Dial returns a client aimed at the mconsole socket at path.
func Dial(path string) (*Client, error) {
	c, err := NewClient()
	if err != nil {
		return nil, err
	}
	c.target = path
	return c, nil
}

// SetTarget changes the socket the next commands go to.
func (c *Client) SetTarget(path string) { c.target = path }

// Target returns the socket path commands go to ("" if none).
func (c *Client) Target() string { return c.target }

// Close releases the client socket.
func (c *Client) Close() error { return c.sock.Close() }

// Response is a complete answer: the concatenated text of all its packets and the err word
// of the last one (what uml_mconsole prints and exits with).
type Response struct {
	Err     int32
	Text    string
	Packets []Reply
}

// SendError is a failure to send the request (no UML at the path, bad address ...).
type SendError struct {
	Path string
	Err  error
}

func (e *SendError) Error() string {
	return fmt.Sprintf("Sending command to '%s' : %s", e.Path, Strerror(e.Err))
}
func (e *SendError) Unwrap() error { return e.Err }

// TimeoutError says no reply packet came within the timeout.
type TimeoutError struct {
	Path    string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no reply from '%s' within %v (is the UML alive?)", e.Path, e.Timeout)
}

// Command sends cmd (cut to 511 bytes, as uml_mconsole does) and collects the reply packets
// until one has more = 0.
func (c *Client) Command(cmd string) (Response, error) {
	if len(cmd) > MaxChunk {
		cmd = cmd[:MaxChunk]
	}
	b, err := NewRequest(cmd).Marshal()
	if err != nil {
		return Response{}, err
	}
	if err := c.send(b); err != nil {
		return Response{}, err
	}
	return c.receive()
}

// CommandFD sends cmd with fd attached as SCM_RIGHTS (uml_mconsole's obsolete umlfs command).
func (c *Client) CommandFD(cmd string, fd int) (Response, error) {
	if len(cmd) > MaxChunk {
		cmd = cmd[:MaxChunk]
	}
	b, err := NewRequest(cmd).Marshal()
	if err != nil {
		return Response{}, err
	}
	if err := c.sock.sendFD(b, fd, c.target); err != nil {
		return Response{}, &SendError{Path: c.target, Err: err}
	}
	return c.receive()
}

// SendRaw sends an arbitrary datagram to the target (for tests of server error handling).
func (c *Client) SendRaw(b []byte) error { return c.send(b) }

func (c *Client) send(b []byte) error {
	if c.target == "" {
		// uml_mconsole sends to a zeroed sockaddr when no name resolved.
		return &SendError{Path: "", Err: unix.EINVAL}
	}
	a, err := fullAddr(c.target)
	if err != nil {
		return &SendError{Path: c.target, Err: unix.EINVAL}
	}
	if err := c.sock.sendTo(b, &a); err != nil {
		return &SendError{Path: c.target, Err: err}
	}
	return nil
}

// ReceivePacket waits for one reply datagram (raw bytes), bounded by the timeout.
func (c *Client) ReceivePacket() ([]byte, error) {
	t := c.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	if err := c.sock.f.SetReadDeadline(time.Now().Add(t)); err != nil {
		return nil, err
	}
	buf := make([]byte, MaxReplySize)
	n, _, err := c.sock.recvFrom(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &TimeoutError{Path: c.target, Timeout: t}
	}
	if err != nil {
		return nil, fmt.Errorf("recvmsg: %s", Strerror(err))
	}
	return buf[:n], nil
}

func (c *Client) receive() (Response, error) {
	var r Response
	var sb strings.Builder
	for {
		b, err := c.ReceivePacket()
		if err != nil {
			return r, err
		}
		p, err := UnmarshalReply(b)
		if err != nil {
			// A version-0 style raw text answer or garbage: report it instead of waiting for
			// packets that will never come.
			return r, fmt.Errorf("bad reply from '%s': %v", c.target, err)
		}
		r.Packets = append(r.Packets, p)
		sb.WriteString(p.Data)
		r.Err = p.Err
		r.Text = sb.String()
		if !p.More {
			return r, nil
		}
	}
}

// Strerror renders an error the way C's strerror does for errnos ("No such file or
// directory"), so messages match the real tools.
func Strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
