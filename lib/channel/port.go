package channel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// NoWaiterMessage is what the real kernel writes to a connection that no line is waiting
// for (its trailing NUL included: the kernel writes sizeof the string). The connection then
// waits for the next line that opens.
const NoWaiterMessage = "****\nThere are currently no UML consoles waiting for port connections.\n" +
	"Either disconnect from one to make it available or activate some more\n" +
	"by enabling more consoles in the UML /etc/inittab.\n****\n\x00"

// maxPendingInput bounds what a client may type before a line takes its connection.
const maxPendingInput = 64 << 10

// MaxPending bounds the connections of a port that wait for a line: a client beyond them
// gets the no-waiter message and is disconnected, so that the network cannot make the
// kernel hold connections without end.
const MaxPending = 16

// Ports is the built-in telnet server of the port: channels: one listener per TCP port,
// shared by every line configured on it. Each connection goes to the line that has waited
// longest; a connection no line waits for gets NoWaiterMessage and waits itself, as with
// the real kernel. Unlike the real kernel's (whose port consoles serve one connection), a
// line whose client disconnected waits for the next one.
type Ports struct {
	// Log receives the kernel's messages ("No one waiting for port").
	Log func(string)
	// Addr is the address listened on; "" means every address, as the real kernel does.
	Addr string

	mu    sync.Mutex
	ports map[int]*port
}

type port struct {
	ln      net.Listener
	users   int // lines configured on the port
	waiters []chan *Conn
	pending []*Conn
}

// Listen makes sure port n is listened on, for one more line configured on it.
func (p *Ports) Listen(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ports == nil {
		p.ports = map[int]*port{}
	}
	if pt := p.ports[n]; pt != nil {
		pt.users++
		return nil
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(p.Addr, strconv.Itoa(n)))
	if err != nil {
		return err
	}
	pt := &port{ln: ln, users: 1}
	p.ports[n] = pt
	go p.accept(n, pt)
	return nil
}

// Release undoes one Listen; the last line of a port closes its listener and the
// connections no line took.
func (p *Ports) Release(n int) {
	p.mu.Lock()
	pt := p.ports[n]
	if pt == nil {
		p.mu.Unlock()
		return
	}
	if pt.users--; pt.users > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.ports, n)
	pending := pt.pending
	pt.pending = nil
	p.mu.Unlock()
	pt.ln.Close()
	for _, c := range pending {
		c.Close()
	}
}

// Close closes every listener and every connection no line took.
func (p *Ports) Close() {
	p.mu.Lock()
	ports := p.ports
	p.ports = nil
	p.mu.Unlock()
	for _, pt := range ports {
		pt.ln.Close()
		for _, c := range pt.pending {
			c.Close()
		}
	}
}

// Wait waits for a connection on port n for a line (the port must be listened on) until
// ctx ends.
func (p *Ports) Wait(ctx context.Context, n int) (*Conn, error) {
	p.mu.Lock()
	pt := p.ports[n]
	if pt == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("port %d is not listened on", n)
	}
	for len(pt.pending) > 0 {
		c := pt.pending[0]
		pt.pending = pt.pending[1:]
		if !c.closed.Load() {
			p.mu.Unlock()
			return c, nil
		}
	}
	ch := make(chan *Conn, 1)
	pt.waiters = append(pt.waiters, ch)
	p.mu.Unlock()
	select {
	case c := <-ch:
		return c, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	for i, w := range pt.waiters {
		if w == ch {
			pt.waiters = append(pt.waiters[:i], pt.waiters[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	select {
	case c := <-ch: // handed over just before the wait ended: give it to the next
		p.requeue(n, c)
	default:
	}
	return nil, ctx.Err()
}

// requeue puts a connection back at the head of its port's queue (or hands it to a waiter).
func (p *Ports) requeue(n int, c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pt := p.ports[n]
	if pt == nil {
		c.Close()
		return
	}
	if len(pt.waiters) > 0 {
		w := pt.waiters[0]
		pt.waiters = pt.waiters[1:]
		w <- c
		return
	}
	pt.pending = append([]*Conn{c}, pt.pending...)
}

func (p *Ports) accept(n int, pt *port) {
	for {
		nc, err := pt.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		c := newConn(nc)
		p.mu.Lock()
		if len(pt.waiters) > 0 {
			w := pt.waiters[0]
			pt.waiters = pt.waiters[1:]
			p.mu.Unlock()
			w <- c
			continue
		}
		full := len(pt.pending) >= MaxPending
		if !full {
			pt.pending = append(pt.pending, c)
		}
		p.mu.Unlock()
		c.writeRaw([]byte(NoWaiterMessage))
		if full {
			c.Close()
		}
		if p.Log != nil {
			p.Log("No one waiting for port")
		}
	}
}

// Conn is one telnet client of a port: data read from it has been through the telnet
// protocol (Telnet), data written to it is escaped. Writes never block: what the client
// cannot take at once is dropped and counted, as a serial line with nobody reading loses it.
type Conn struct {
	nc      net.Conn
	raw     syscall.RawConn
	mu      sync.Mutex
	cond    *sync.Cond
	tn      Telnet
	buf     []byte // data read, not yet taken by Read
	eof     bool
	closed  atomic.Bool
	resized chan struct{}
	dropped atomic.Int64
	wbuf    []byte
	wmu     sync.Mutex
}

func newConn(nc net.Conn) *Conn {
	c := &Conn{nc: nc, resized: make(chan struct{}, 1)}
	c.cond = sync.NewCond(&c.mu)
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.writeRaw(c.tn.Start())
	go c.reader()
	return c
}

// reader reads the client from the moment it connects, so that negotiation is answered and
// a client that leaves is noticed while its connection waits for a line.
func (c *Conn) reader() {
	b := make([]byte, 4096)
	var data, reply []byte
	for {
		n, err := c.nc.Read(b)
		if n > 0 {
			c.mu.Lock()
			data, reply = c.tn.Feed(b[:n], data[:0], reply[:0])
			if _, _, _, changed := c.tn.Window(); changed {
				select {
				case c.resized <- struct{}{}:
				default:
				}
			}
			if room := maxPendingInput - len(c.buf); room > 0 {
				if len(data) > room {
					data = data[:room]
				}
				c.buf = append(c.buf, data...)
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			if len(reply) > 0 {
				c.writeRaw(reply)
			}
		}
		if err != nil {
			c.mu.Lock()
			c.eof = true
			c.cond.Broadcast()
			c.mu.Unlock()
			c.closed.Store(true)
			return
		}
	}
}

// Read returns the client's data; io.EOF once the client has gone and everything it sent
// was read.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) == 0 && !c.eof {
		c.cond.Wait()
	}
	if len(c.buf) == 0 {
		return 0, errEOF
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Write sends p to the client without blocking; it always reports len(p).
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf = Escape(c.wbuf[:0], p)
	b := c.wbuf
	c.wmu.Unlock()
	c.writeRaw(b)
	return len(p), nil
}

func (c *Conn) writeRaw(b []byte) {
	if c.closed.Load() || len(b) == 0 {
		return
	}
	if c.raw == nil {
		c.nc.Write(b)
		return
	}
	sent := 0
	c.raw.Write(func(fd uintptr) bool {
		for sent < len(b) {
			n, err := unix.SendmsgN(int(fd), b[sent:], nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				break
			}
			sent += n
		}
		return true // never wait: what did not fit is dropped
	})
	if sent < len(b) {
		c.dropped.Add(int64(len(b) - sent))
	}
}

// Window returns the client's window size, if it reported one (NAWS).
func (c *Conn) Window() (cols, rows uint16, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cols, rows, ok = c.tn.winCols, c.tn.winRows, c.tn.winSet
	return
}

// Resized is signalled when the client reports a new window size.
func (c *Conn) Resized() <-chan struct{} { return c.resized }

// Dropped is how many output bytes the client did not take.
func (c *Conn) Dropped() int64 { return c.dropped.Load() }

// Close ends the connection.
func (c *Conn) Close() error {
	c.closed.Store(true)
	err := c.nc.Close()
	c.mu.Lock()
	c.eof = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return err
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
