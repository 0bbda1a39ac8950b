package vswitch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"github.com/gouml/gouml/lib/usernet"
	"golang.org/x/sys/unix"
)

// Config is what the command line chooses.
type Config struct {
	Ctl      string // control socket path
	Data     string // -compat-v0: filesystem data socket; empty: abstract
	CompatV0 bool
	Hub      bool
	Tap      string // tap uplink interface, if any
	BESS     string // SOCK_SEQPACKET socket for vector-driver guests, if any
	Pcap     string // capture file or FIFO, "-" for PcapOut; none if empty
	// PcapOut is where -pcap - writes (standard output).
	PcapOut io.Writer
	// Debug logs every decision of the NAT gateway.
	Debug bool
	// NAT, when set, attaches a user-mode NAT gateway (lib/usernet) as one more port.
	NAT *usernet.Config
}

// Server is a running switch: the control socket, the data socket, the optional tap and
// BESS listener, feeding one Switch.
type Server struct {
	Cfg Config
	Sw  *Switch
	Log *Log

	ctl      *net.UnixListener
	bess     *net.UnixListener
	dataFD   int
	dataAddr rawAddr
	tapFile  *os.File
	pcapFile *os.File // a regular capture file, opened by Listen
	pcapFIFO string   // a capture FIFO, opened by the capture when a reader comes
	capture  *Capture
	nat      *usernet.Gateway
	natDone  chan struct{} // ends the goroutine feeding the gateway

	closing atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
	cleaned sync.Once
}

// InUseError is returned when a socket path is served by a live switch.
type InUseError struct {
	What, Path string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("The %s socket '%s' has another server attached to it", e.What, e.Path)
}

// claimPath makes path free for binding: a socket nobody serves (the test connection is
// refused) is a leftover and is removed; a live one is an InUseError. Unlike the real switch,
// a path that is not a socket at all is never removed.
func claimPath(path, network, what string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("the %s socket '%s' exists and is not a socket", what, path)
	}
	c, err := net.DialTimeout(network, path, 2*time.Second)
	if err == nil {
		c.Close()
		return &InUseError{What: what, Path: path}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("testing the %s socket '%s': %v", what, path, err)
	}
	if err := os.Remove(path); err != nil {
		//lint:ignore ST1005 the real uml_switch's message, word for word
		return fmt.Errorf("Failed to removed unused socket '%s': %v", path, err)
	}
	return nil
}

// Inherited carries already bound sockets to a -daemon child.
type Inherited struct {
	Ctl, Data, Tap, BESS *os.File
}

// Listen binds every socket (or adopts inherited ones) without serving yet.
func Listen(cfg Config, log *Log, inh *Inherited) (*Server, error) {
	s := &Server{Cfg: cfg, Log: log, Sw: NewSwitch(cfg.Hub, log), dataFD: -1, conns: map[net.Conn]bool{}}
	var err error
	for _, p := range []*string{&s.Cfg.Ctl, &s.Cfg.Data, &s.Cfg.BESS} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return nil, err
			}
		}
	}
	ok := false
	defer func() {
		if !ok {
			s.cleanup()
		}
	}()
	if inh != nil {
		if err := s.adopt(inh); err != nil {
			return nil, err
		}
	} else {
		if err := s.bindAll(); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.Pcap == "-":
		if cfg.PcapOut == nil {
			return nil, errors.New("-pcap -: no standard output")
		}
	case cfg.Pcap != "":
		// A FIFO is opened when the capture starts: opening it for writing waits for its
		// reader, and a -daemon parent must not be the writer its reader sees go away.
		if st, err := os.Stat(cfg.Pcap); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
			s.pcapFIFO = cfg.Pcap
			break
		}
		f, err := os.OpenFile(cfg.Pcap, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		s.pcapFile = f
	}
	if cfg.NAT != nil {
		// Made here, not in Serve, so a bad option or a forwarded port already in use is
		// reported before -daemon detaches.
		g, err := usernet.New(*cfg.NAT)
		if err != nil {
			return nil, fmt.Errorf("-nat: %w", err)
		}
		s.nat = g
	}
	ok = true
	return s, nil
}

// CloseNAT stops the NAT gateway (releasing its forwarded host ports); the -daemon parent
// calls it so that its child can bind them again.
func (s *Server) CloseNAT() {
	if s.natDone != nil {
		close(s.natDone)
		s.natDone = nil
	}
	if s.nat != nil {
		s.nat.Close()
		s.nat = nil
	}
}

// attachNAT makes the gateway one more switch port. The switch calls a port's send with its
// lock held, and the gateway answers some frames at once (ARP, DHCP) by calling back into
// the switch, so frames for the gateway go through a queue served by a goroutine of their
// own; a full queue drops the frame like any congested port.
func (s *Server) attachNAT() {
	p := &Port{ID: 0, Kind: KindNAT, Name: s.nat.Config().Subnet.String()}
	np := s.nat.AttachPort(func(frame []byte) error {
		s.Sw.Input(p, frame)
		return nil
	})
	q := make(chan []byte, natQueueLen)
	p.send = func(frame []byte) error {
		select {
		case q <- bytes.Clone(frame):
			return nil
		default:
			return errNATQueueFull
		}
	}
	done := make(chan struct{})
	s.natDone = done
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case f := <-q:
				np.Deliver(f)
			case <-done:
				return
			}
		}
	}()
	s.Sw.AddPort(p)
}

// natQueueLen bounds the frames waiting for the gateway (about 380 KiB of full frames).
const natQueueLen = 256

var errNATQueueFull = errors.New("NAT gateway queue full")

func (s *Server) bindAll() error {
	if err := claimPath(s.Cfg.Ctl, "unix", "control"); err != nil {
		return err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.Cfg.Ctl, Net: "unix"})
	if err != nil {
		return err
	}
	l.SetUnlinkOnClose(false)
	s.ctl = l
	s.dataFD, err = dgramSocket()
	if err != nil {
		return err
	}
	if s.Cfg.CompatV0 {
		if err := claimPath(s.Cfg.Data, "unixgram", "data"); err != nil {
			return err
		}
		if s.dataAddr, err = pathAddr(s.Cfg.Data); err != nil {
			return fmt.Errorf("data socket '%s': %v", s.Cfg.Data, err)
		}
	} else {
		s.dataAddr = abstractDataAddr()
	}
	markAddr(&s.dataAddr)
	if err := bindRaw(s.dataFD, &s.dataAddr); err != nil {
		//lint:ignore ST1005 the real uml_switch's message, word for word
		return fmt.Errorf("Binding to data socket: %v", err)
	}
	if s.Cfg.BESS != "" {
		if err := claimPath(s.Cfg.BESS, "unixpacket", "bess"); err != nil {
			return err
		}
		b, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: s.Cfg.BESS, Net: "unixpacket"})
		if err != nil {
			return err
		}
		b.SetUnlinkOnClose(false)
		s.bess = b
	}
	if s.Cfg.Tap != "" {
		f, err := OpenTap(s.Cfg.Tap)
		if err != nil {
			return err
		}
		s.tapFile = f
	}
	return nil
}

// Files returns the bound sockets for handing to a -daemon child (nil entries are absent).
func (s *Server) Files() (*Inherited, error) {
	inh := &Inherited{}
	var err error
	if inh.Ctl, err = s.ctl.File(); err != nil {
		return nil, err
	}
	inh.Data = os.NewFile(uintptr(s.dataFD), "data")
	if s.bess != nil {
		if inh.BESS, err = s.bess.File(); err != nil {
			return nil, err
		}
	}
	inh.Tap = s.tapFile
	return inh, nil
}

func (s *Server) adopt(inh *Inherited) error {
	l, err := net.FileListener(inh.Ctl)
	if err != nil {
		return err
	}
	s.ctl = l.(*net.UnixListener)
	s.ctl.SetUnlinkOnClose(false)
	inh.Ctl.Close()
	s.dataFD = int(inh.Data.Fd())
	// The abstract name holds NULs: take the kernel's copy byte for byte.
	if s.dataAddr, err = rawSockname(s.dataFD); err != nil {
		return err
	}
	markAddr(&s.dataAddr) // a path's: getsockname ends it at its NUL
	if inh.BESS != nil {
		l, err := net.FileListener(inh.BESS)
		if err != nil {
			return err
		}
		s.bess = l.(*net.UnixListener)
		s.bess.SetUnlinkOnClose(false)
		inh.BESS.Close()
	}
	if inh.Tap != nil {
		if err := unix.SetNonblock(int(inh.Tap.Fd()), true); err != nil {
			return err
		}
		s.tapFile = os.NewFile(inh.Tap.Fd(), "tap")
	}
	return nil
}

// DataAddr is the switch's data socket address as sent in replies.
func (s *Server) DataAddr() Sockaddr {
	a, _ := UnmarshalSockaddr(s.dataAddr[:])
	return a
}

// Serve runs the switch until Close. It returns once every goroutine has started.
func (s *Server) Serve() {
	s.startCapture()
	s.wg.Add(3)
	go s.dataLoop()
	go s.acceptLoop(s.ctl, "", s.serveControl)
	go s.ageLoop()
	if s.tapFile != nil {
		s.wg.Add(1)
		go s.tapLoop()
	}
	if s.bess != nil {
		s.wg.Add(1)
		go s.acceptLoop(s.bess, " (bess)", s.serveBESS)
	}
	if s.nat != nil {
		s.attachNAT()
	}
}

func (s *Server) ageLoop() {
	defer s.wg.Done()
	t := time.NewTicker(AgeInterval)
	defer t.Stop()
	for range t.C {
		if s.closing.Load() {
			return
		}
		s.Sw.Expire(s.Sw.now())
	}
}

// maxFrame is the largest datagram taken whole; the real switch truncates at 1514, we keep
// jumbo frames of vector guests (mtu up to 65534) and super-frames of extended ports (a
// virtio_net_hdr and a 64 KiB packet) intact.
const maxFrame = vnet.MaxSuper

func (s *Server) dataLoop() {
	defer s.wg.Done()
	// One thread stays in the receive call instead of the runtime handing the goroutine
	// between threads after every block.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ShortSlice()
	b := newRecvBatch(32, maxFrame)
	out := NewOutBatch(s.dataFD, 256)
	in := make([]Dgram, 0, len(b.msgs))
	for !s.closing.Load() {
		n, err := b.recv(s.dataFD)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if s.closing.Load() {
				return
			}
			s.Log.Errorf("handle_sock_data: %v\n", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		in = in[:0]
		for i := 0; i < n; i++ {
			m := &b.msgs[i]
			// The name's bytes past Namelen stay zero (recv clears them), as in the keys
			// of the ports' addresses.
			in = append(in, Dgram{From: &b.names[i], Data: b.bufs[i][:m.len], Trunc: m.hdr.Flags&unix.MSG_TRUNC != 0})
		}
		s.Sw.InputBatch(in, out)
	}
}

func (s *Server) track(c net.Conn, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		if s.closing.Load() {
			return false
		}
		s.conns[c] = true
	} else {
		delete(s.conns, c)
	}
	return true
}

func connFD(c syscall.Conn) int {
	fd := -1
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(f uintptr) { fd = int(f) })
	}
	return fd
}

// acceptLoop attaches a port for every connection on l (the control socket, or the BESS
// listener) and serves it with serve until the port goes away.
func (s *Server) acceptLoop(l *net.UnixListener, what string, serve func(*net.UnixConn)) {
	defer s.wg.Done()
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if s.closing.Load() {
				return
			}
			s.Log.Errorf("accept%s: %v\n", what, err)
			time.Sleep(50 * time.Millisecond) // e.g. EMFILE: let ports go away
			continue
		}
		if !s.track(c, true) {
			c.Close()
			return
		}
		s.Log.Printf("New connection\n")
		s.wg.Add(1)
		go serve(c)
	}
}

// serveControl handles one daemon-transport port for its whole life.
func (s *Server) serveControl(c *net.UnixConn) {
	defer s.wg.Done()
	defer s.track(c, false)
	defer c.Close()
	id := connFD(c)
	req, _, err := ReadRequest(c)
	if err != nil {
		switch {
		case err == io.EOF:
			s.Log.Printf("EOF from new port\n")
		case s.closing.Load():
		default:
			s.Log.Rawf("%v\n", err)
		}
		return
	}
	p := &Port{ID: id, Kind: KindDaemon, Name: req.Sock.String()}
	copy(p.addr[:], req.Sock.Marshal())
	fd := s.dataFD
	p.send = func(f []byte) error { return sendTo(fd, f, &p.addr) }
	p.sendv = func(h, f []byte) error { return sendToV(fd, h, f, &p.addr) }
	p.kick = func() { c.Close() }
	if old := s.Sw.AddPort(p); old != nil {
		s.Log.Errorf("port %d: data address %s is already port %d's; refusing the new port\n", id, p.Name, old.ID)
		return
	}
	defer s.Sw.RemovePort(p)
	if req.Version != 0 {
		if _, err := c.Write(s.dataAddr[:]); err != nil {
			s.Log.Rawf("Sending data socket name: %v\n", err)
			return
		}
	}
	// The guest writes nothing more, but for our linux's extension hello (ext.go); the
	// stream then stays open, quiet, for the port's life.
	buf := make([]byte, 256)
	for hello := true; ; hello = false {
		n, _ := c.Read(buf)
		if s.closing.Load() {
			return
		}
		if n == 0 {
			break
		}
		if hello {
			if isHello, ok := s.extend(c, p, buf[:n]); ok {
				continue
			} else if isHello {
				return
			}
		}
		s.Log.Errorf("port %d: unexpected %d bytes on its control connection; dropping the port\n", id, n)
		return
	}
	s.Log.Printf("Disconnect\n")
}

// extend answers an extension hello whose first bytes are first. isHello is false if they
// are not one; ok is false if the port is to be dropped (a failure is logged).
func (s *Server) extend(c *net.UnixConn, p *Port, first []byte) (isHello, ok bool) {
	h, isHello, err := readHello(c, first)
	if !isHello {
		return false, false
	}
	if err == nil {
		granted := h.Features & ExtVNet
		if n, err := unix.GetsockoptInt(s.dataFD, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil || n < 2*vnet.MaxSuper {
			granted = 0 // net.core.wmem_max too small for a 64 KiB datagram: the port stays plain
		}
		if granted != 0 {
			err = s.Sw.Extend(p, h.Sock)
		}
		if err == nil {
			_, err = c.Write(extAnswer(granted))
		}
	}
	if err != nil {
		if !s.closing.Load() {
			s.Log.Errorf("port %d: %v; dropping the port\n", p.ID, err)
		}
		return true, false
	}
	return true, true
}

func (s *Server) tapLoop() {
	defer s.wg.Done()
	fd := connFD(s.tapFile)
	p := &Port{ID: fd, Kind: KindTap, Name: s.Cfg.Tap}
	var lastErr atomic.Value
	p.send = func(f []byte) error {
		err := sendFD(fd, f, false)
		if err != nil {
			// Print a failure when it starts (e.g. EIO while the tap is down), not per frame.
			if prev, _ := lastErr.Load().(string); prev != err.Error() {
				s.Log.Rawf("send_tap: %v\n", err)
			}
			lastErr.Store(err.Error())
		} else if v, _ := lastErr.Load().(string); v != "" {
			lastErr.Store("")
		}
		return err
	}
	s.Log.Printf("New connection\n")
	s.Sw.AddPort(p)
	defer s.Sw.RemovePort(p)
	buf := make([]byte, maxFrame)
	for {
		n, err := s.tapFile.Read(buf)
		if err != nil {
			if !s.closing.Load() {
				s.Log.Rawf("Reading tap data: %v\n", err)
			}
			return
		}
		s.Sw.Input(p, buf[:n])
	}
}

// serveBESS runs one vector-driver guest: each SOCK_SEQPACKET message is one raw frame.
func (s *Server) serveBESS(c *net.UnixConn) {
	defer s.wg.Done()
	defer s.track(c, false)
	defer c.Close()
	fd := connFD(c)
	name := "?"
	if a, ok := c.RemoteAddr().(*net.UnixAddr); ok && a != nil && a.Name != "" {
		name = a.Name
	}
	p := &Port{ID: fd, Kind: KindBESS, Name: name}
	p.send = func(f []byte) error { return sendFD(fd, f, true) }
	s.Sw.AddPort(p)
	defer s.Sw.RemovePort(p)
	buf := make([]byte, maxFrame)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			break
		}
		s.Sw.Input(p, buf[:n])
	}
	if !s.closing.Load() {
		s.Log.Printf("Disconnect\n")
	}
}

// Close stops serving, disconnects every port and removes the sockets it created.
func (s *Server) Close() {
	s.mu.Lock()
	s.closing.Store(true)
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if s.ctl != nil {
		s.ctl.Close()
	}
	if s.bess != nil {
		s.bess.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	if s.tapFile != nil {
		s.tapFile.Close()
	}
	s.CloseNAT()
	s.wg.Wait()
	s.cleanup()
	if s.dataFD >= 0 {
		unix.Close(s.dataFD)
		s.dataFD = -1
	}
}

// cleanup removes the socket files and closes what is left; safe to call from a signal
// handler path while goroutines still run (it only unlinks and closes).
func (s *Server) cleanup() {
	s.cleaned.Do(func() {
		if s.ctl != nil {
			s.ctl.Close()
			_ = os.Remove(s.Cfg.Ctl)
		}
		if s.bess != nil {
			s.bess.Close()
			_ = os.Remove(s.Cfg.BESS)
		}
		if s.Cfg.CompatV0 && s.dataFD >= 0 {
			_ = os.Remove(s.Cfg.Data)
		}
		s.stopCapture()
		s.Log.Flush()
	})
}

// Unlink removes the socket files only (for the signal path, where the process is about to
// die and goroutines may still be running).
func (s *Server) Unlink() {
	s.closing.Store(true)
	s.cleanup()
}

// startCapture starts recording frames for -pcap.
func (s *Server) startCapture() {
	var open func() (io.Writer, error)
	switch {
	case s.pcapFile != nil:
		open = func() (io.Writer, error) { return s.pcapFile, nil }
	case s.pcapFIFO != "":
		open = func() (io.Writer, error) {
			f, err := os.OpenFile(s.pcapFIFO, os.O_WRONLY, 0)
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.pcapFile = f
			s.mu.Unlock()
			return f, nil
		}
	case s.Cfg.Pcap == "-":
		open = func() (io.Writer, error) { return s.Cfg.PcapOut, nil }
	default:
		return
	}
	s.capture = NewCapture(open, func(err error) {
		if IsReaderGone(err) {
			s.Log.Errorf("the capture's reader went away; capture stopped, switching goes on\n")
			return
		}
		s.Log.Errorf("writing the capture: %v; capture stopped\n", err)
	})
	s.Sw.SetPcap(s.capture)
}

// captureWait bounds how long the end of the switch waits for a capture reader that does
// not read.
const captureWait = 2 * time.Second

// stopCapture writes out the captured frames still queued and closes the destination.
func (s *Server) stopCapture() {
	if s.capture != nil {
		if s.pcapFIFO != "" {
			// A capture still waiting for a FIFO's reader is let through: opening the
			// FIFO for reading ourselves ends its wait (what it then writes goes nowhere).
			if r, err := os.OpenFile(s.pcapFIFO, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				defer r.Close()
			}
		}
		s.capture.Close(captureWait)
	}
	s.mu.Lock()
	f := s.pcapFile
	s.mu.Unlock()
	if f != nil {
		_ = f.Close()
	}
}

func rawSockname(fd int) (rawAddr, error) {
	var a rawAddr
	l := uint32(SockaddrLen)
	_, _, e := unix.Syscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&a)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return a, os.NewSyscallError("getsockname", e)
	}
	return a, nil
}
