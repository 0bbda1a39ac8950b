package kernel

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/channel"
	"github.com/gouml/gouml/lib/cmdline"
	"golang.org/x/sys/unix"
)

// The host ends of a line's channels (ttyline.go): what the guest's terminal reads from and
// writes to. Output never blocks a line for longer than its host side takes it: a channel
// with possibly nobody reading (pts, tty, port) drops what cannot be written at once and
// counts it, as a serial line loses characters nobody reads; an fd channel is the user's own
// redirection (a log file, a pipe) and is written in full, as con0's is.

// hostChan is one opened channel.
type hostChan interface {
	Read(p []byte) (int, error) // input from the host; blocks until there is some
	Write(p []byte)             // output to the host
	Close()
	// dev is what `config conN` shows after the type for an open channel ("" = nothing):
	// the fd number, the pts path, the port, the host device.
	dev() string
	// window returns the host side's window size, if it has one.
	window() (cols, rows uint16, ok bool)
}

// fdChan is fd:N (a dup, so that closing the line leaves the inherited fd alone).
type fdChan struct {
	f   *os.File
	num string
}

func openFdChan(ch cmdline.Chan) (hostChan, error) {
	fd, err := unix.FcntlInt(uintptr(ch.FD), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	return &fdChan{f: os.NewFile(uintptr(fd), "fd:"+ch.Arg), num: strconv.Itoa(ch.FD)}, nil
}

func (c *fdChan) Read(p []byte) (int, error) { return c.f.Read(p) }
func (c *fdChan) Write(p []byte)             { c.f.Write(p) }
func (c *fdChan) Close()                     { c.f.Close() }
func (c *fdChan) dev() string                { return c.num }
func (c *fdChan) window() (uint16, uint16, bool) {
	return termWindow(int(c.f.Fd()))
}

// nullChan is null: output discarded, no input.
type nullChan struct {
	once   sync.Once
	closed chan struct{}
}

func newNullChan() *nullChan { return &nullChan{closed: make(chan struct{})} }

func (c *nullChan) Read(p []byte) (int, error)     { <-c.closed; return 0, io.EOF }
func (c *nullChan) Write(p []byte)                 {}
func (c *nullChan) Close()                         { c.once.Do(func() { close(c.closed) }) }
func (c *nullChan) dev() string                    { return "" }
func (c *nullChan) window() (uint16, uint16, bool) { return 0, 0, false }

// termChan is a host terminal the kernel holds: the master of a pts channel's pty, or a
// tty:DEV device. Reads wait while nobody has the pts open (EIO); writes never block.
type termChan struct {
	f       *os.File
	path    string
	closed  atomic.Bool
	dropped *atomic.Int64
}

func (c *termChan) Read(p []byte) (int, error) {
	for {
		n, err := c.f.Read(p)
		if n > 0 || err == nil {
			return n, nil
		}
		if c.closed.Load() || !errors.Is(err, syscall.EIO) {
			return 0, err
		}
		time.Sleep(100 * time.Millisecond) // nobody attached to the pts yet
	}
}

func (c *termChan) Write(p []byte) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return
	}
	sent := 0
	rc.Write(func(fd uintptr) bool {
		for sent < len(p) {
			n, err := unix.Write(int(fd), p[sent:])
			if err == unix.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				break
			}
			sent += n
		}
		return true
	})
	if sent < len(p) {
		c.dropped.Add(int64(len(p) - sent))
	}
}

func (c *termChan) Close()      { c.closed.Store(true); c.f.Close() }
func (c *termChan) dev() string { return c.path }
func (c *termChan) window() (cols, rows uint16, ok bool) {
	withFD(c.f, func(fd int) { cols, rows, ok = termWindow(fd) })
	return
}

// portChan is a telnet client of a port: channel.
type portChan struct {
	c    *channel.Conn
	port string
}

func (c *portChan) Read(p []byte) (int, error) { return c.c.Read(p) }
func (c *portChan) Write(p []byte)             { c.c.Write(p) }
func (c *portChan) Close()                     { c.c.Close() }
func (c *portChan) dev() string                { return c.port }
func (c *portChan) window() (uint16, uint16, bool) {
	return c.c.Window()
}

func termWindow(fd int) (uint16, uint16, bool) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 && ws.Row == 0 {
		return 0, 0, false
	}
	return ws.Col, ws.Row, true
}

// withFD runs fn on f's descriptor without File.Fd, which would put a file that Go's poller
// waits on back into blocking mode (and a blocked read would then keep a closed master
// open, so that the guest's side would never be hung up).
func withFD(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// nonBlocking makes f's writes go through Go's poller, so that a full terminal gives EAGAIN
// instead of blocking a thread (termChan.Write).
func nonBlocking(f *os.File) *os.File {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return f
	}
	unix.SetNonblock(fd, true)
	nf := os.NewFile(uintptr(fd), f.Name())
	f.Close()
	return nf
}

// ttyRules lets the confined kernel open the host terminals that tty:DEV channels of the
// command line name (a device that does not exist is left to fail at open).
func ttyRules(rs *llRuleset, c *cmdline.Config) error {
	lines := []*cmdline.Line{c.ConDefault, c.SSLDefault}
	for _, l := range c.Con {
		lines = append(lines, l)
	}
	for _, l := range c.SSL {
		lines = append(lines, l)
	}
	for _, l := range lines {
		if l == nil {
			continue
		}
		for _, ch := range []cmdline.Chan{l.In, l.Out} {
			if ch.Type != "tty" {
				continue
			}
			if _, err := os.Stat(ch.Arg); err != nil {
				continue
			}
			if err := rs.allow(ch.Arg, llRW); err != nil {
				return err
			}
		}
	}
	return nil
}
