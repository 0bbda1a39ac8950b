package vswitch

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Forwarding-table timing, as the real switch: entries not refreshed for 100 s are dropped
// by a sweep every 2 s.
const (
	AgeLimit     = 100 * time.Second
	AgeInterval  = 2 * time.Second
	ethHeaderLen = 14
)

// MAC is an Ethernet address.
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// multicast reports the group bit: broadcast and multicast destinations are flooded and such
// source addresses are never learned.
func (m MAC) multicast() bool { return m[0]&1 == 1 }

// PortKind says how a port is attached.
type PortKind int

// Port kinds.
const (
	KindDaemon PortKind = iota // a UML over the daemon transport (or a program speaking it)
	KindTap                    // the host tap uplink
	KindBESS                   // a UML vector device with transport=bess
	KindNAT                    // the built-in user-mode NAT gateway (-nat)
)

func (k PortKind) String() string {
	return [...]string{"daemon", "tap", "bess", "nat"}[k]
}

// Port is one attachment to the switch. ID is the number printed in the log (the control
// connection's descriptor for daemon ports, as the real switch prints).
type Port struct {
	ID   int
	Kind PortKind
	Name string // data address (daemon), interface (tap) or peer path (bess), for status lines

	addr [SockaddrLen]byte // daemon: the sockaddr_un frames are sent to, verbatim
	send func([]byte) error
	// ext: an extended daemon port (ext.go), whose datagrams carry a virtio_net_hdr; sendv
	// sends such a header and a frame as one datagram.
	ext   atomic.Bool
	sendv func(hdr, frame []byte) error

	closed bool   // under Switch.mu: removed, never send again
	kick   func() // ends the port's connection (daemon ports), called once when it is dropped

	RxFrames, RxBytes, TxFrames, TxBytes, TxDrops, RxErrors atomic.Uint64
	// RxSuper and TxSuper count the TCPv4 GSO frames an extended port sent and was sent
	// whole (each is counted once in RxFrames or TxFrames too).
	RxSuper, TxSuper atomic.Uint64
	errLogged        atomic.Bool
}

// Extended reports whether the port speaks the extended daemon transport (ext.go).
func (p *Port) Extended() bool { return p.ext.Load() }

type macEntry struct {
	port *Port
	seen time.Time
}

// Switch is the forwarding core: ports, the learned address table, and the hub/switch rule.
// It is safe for concurrent use; every port reader calls Input.
type Switch struct {
	Hub bool

	mu     sync.Mutex
	ports  []*Port
	byAddr map[[SockaddrLen]byte]*Port
	macs   map[MAC]*macEntry
	now    func() time.Time
	log    *Log
	pcap   *Capture

	// UnknownSender is how frames from an address that is no port are handled: the real
	// switch logs and floods them.
	unknown Port
	cut     cutter // super-frames cut for plain ports and the capture (super.go)
}

// NewSwitch returns an empty switch logging to log.
func NewSwitch(hub bool, log *Log) *Switch {
	s := &Switch{Hub: hub, byAddr: map[[SockaddrLen]byte]*Port{}, macs: map[MAC]*macEntry{},
		now: time.Now, log: log}
	s.unknown.ID = -1
	return s
}

// SetPcap makes the switch record every frame it receives from a port.
func (s *Switch) SetPcap(w *Capture) {
	s.mu.Lock()
	s.pcap = w
	s.mu.Unlock()
}

// AddPort attaches a port. A daemon port whose data address is already another port's is
// not attached; that port is returned.
func (s *Switch) AddPort(p *Port) (existing *Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Kind == KindDaemon {
		if q := s.byAddr[p.addr]; q != nil {
			return q
		}
		s.byAddr[p.addr] = p
	}
	s.ports = append(s.ports, p)
	return nil
}

// RemovePort detaches a port and forgets every address learned on it, so frames for those
// addresses are flooded (reaching the host if it reappears on another port) instead of
// being sent nowhere until they age out.
func (s *Switch) RemovePort(p *Port) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(p)
}

func (s *Switch) removeLocked(p *Port) {
	if p.closed {
		return
	}
	p.closed = true
	// A new slice, not a shift in place: a port is dropped while a flood may be ranging over
	// s.ports (a failed send found it gone), and shifting the ports after it under that loop
	// would skip the next one.
	for i, q := range s.ports {
		if q == p {
			s.ports = slices.Delete(slices.Clone(s.ports), i, i+1)
			break
		}
	}
	if p.Kind == KindDaemon && s.byAddr[p.addr] == p {
		delete(s.byAddr, p.addr)
	}
	for m, e := range s.macs {
		if e.port == p {
			delete(s.macs, m)
		}
	}
}

// Ports returns the attached ports, in attach order.
func (s *Switch) Ports() []*Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Port(nil), s.ports...)
}

// Input forwards one frame received from port in (nil: from an address that is no port).
func (s *Switch) Input(in *Port, frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.input(in, frame, nil)
}

// Dgram is one datagram received on the data socket: its sender's address (110 bytes, as
// recvmmsg gave it) and its bytes; Trunc: it was longer than the buffer.
type Dgram struct {
	From  *[SockaddrLen]byte
	Data  []byte
	Trunc bool
}

// InputBatch forwards datagrams received together on the data socket, sending what goes
// to daemon ports with as few system calls as possible. Each sender is looked up here,
// under the lock that Extend takes, so a datagram is read in the framing its address
// speaks. The datagrams must stay valid until it returns.
func (s *Switch) InputBatch(in []Dgram, out *OutBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range in {
		p := s.byAddr[*in[i].From]
		switch {
		case in[i].Trunc:
			if p != nil {
				p.RxErrors.Add(1)
			}
		case p != nil && p.ext.Load():
			s.inputExt(p, in[i].Data, out)
		default:
			s.input(p, in[i].Data, out)
		}
	}
	s.flush(out)
}

func (s *Switch) input(in *Port, frame []byte, out *OutBatch) {
	if in != nil && in.closed {
		return
	}
	if s.pcap != nil {
		s.pcap.Add(s.now(), frame)
	}
	if in == nil {
		s.log.Printf("Unknown connection for packet, shouldn't happen.\n")
	} else {
		in.RxFrames.Add(1)
		in.RxBytes.Add(uint64(len(frame)))
	}
	if len(frame) < ethHeaderLen {
		// Too short to hold the addresses: nothing sensible to forward.
		if in != nil {
			in.RxErrors.Add(1)
			if !in.errLogged.Swap(true) {
				s.log.Errorf("port %d sent a %d-byte frame (shorter than an Ethernet header); dropping such frames\n", in.ID, len(frame))
			}
		}
		return
	}
	s.forward(in, &packet{frame: frame}, out)
}

// forward learns the source of a frame received from in (nil: an unknown sender) and sends
// it on, as the real switch does.
func (s *Switch) forward(in *Port, pk *packet, out *OutBatch) {
	frame := pk.frame
	var dst, src MAC
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	if in != nil && !src.multicast() {
		e := s.macs[src]
		if e == nil || e.port != in {
			if e != nil {
				s.log.Printf(" Addr: %s New port %d old port %d\n", src, in.ID, e.port.ID)
			} else {
				s.log.Printf(" Addr: %s New port %d\n", src, in.ID)
			}
			e = &macEntry{port: in}
			s.macs[src] = e
		}
		e.seen = s.now()
	}
	var target *Port
	if e := s.macs[dst]; e != nil {
		target = e.port
	}
	if target == nil || dst.multicast() || s.Hub {
		if target == nil && !dst.multicast() {
			// The real switch names the source address here, not the unknown destination.
			if in != nil {
				s.log.Printf("unknown Addr: %s from port %d\n", src, in.ID)
			} else {
				s.log.Printf("unknown Addr: %s from port UNKNOWN\n", src)
			}
		}
		for _, p := range s.ports {
			if p != in {
				s.outputPacket(p, pk, out)
			}
		}
		return
	}
	s.outputPacket(target, pk, out)
}

// output sends without ever blocking: a port whose queue is full loses the frame, as on a
// congested hardware switch, and the others are not held up.
func (s *Switch) output(p *Port, frame []byte, out *OutBatch) {
	if out != nil && p.Kind == KindDaemon {
		if out.full() {
			s.flush(out)
		}
		out.add(p, nil, frame)
		return
	}
	s.sent(p, frame, p.send(frame))
}

// flush sends the batched frames; a frame that cannot be sent is skipped (and accounted),
// the rest still go.
func (s *Switch) flush(out *OutBatch) {
	if out == nil {
		return
	}
	s.cut.queued = false
	for i := 0; i < out.n; {
		n, err := out.send(i)
		for j := i; j < i+n; j++ {
			s.sent(out.ports[j], out.frames[j], nil)
		}
		i += n
		if err != nil {
			s.sent(out.ports[i], out.frames[i], err)
			i++
		}
	}
	out.reset()
}

// sent accounts for one send attempt.
func (s *Switch) sent(p *Port, frame []byte, err error) {
	if err != nil {
		if p.closed {
			return
		}
		p.TxDrops.Add(1)
		if err == syscall.ECONNREFUSED && p.Kind == KindDaemon {
			// Nothing is bound at the port's data address any more: the guest is gone
			// even if its control connection lingers.
			s.log.Errorf("port %d: its data socket %s is gone; dropping the port\n", p.ID, p.Name)
			s.removeLocked(p)
			if p.kick != nil {
				go p.kick()
			}
		}
		return
	}
	p.TxFrames.Add(1)
	p.TxBytes.Add(uint64(len(frame)))
}

// Expire drops forwarding entries older than AgeLimit at time now.
func (s *Switch) Expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m, e := range s.macs {
		if now.Sub(e.seen) > AgeLimit {
			delete(s.macs, m)
		}
	}
}

// Lookup returns the port an address was learned on.
func (s *Switch) Lookup(m MAC) *Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.macs[m]; e != nil {
		return e.port
	}
	return nil
}

// WriteStatus writes one line per port with its counters, then the table size.
func (s *Switch) WriteStatus(w io.Writer) {
	s.mu.Lock()
	ports := append([]*Port(nil), s.ports...)
	learned := map[*Port]int{}
	for _, e := range s.macs {
		learned[e.port]++
	}
	nmacs := len(s.macs)
	s.mu.Unlock()
	sort.SliceStable(ports, func(i, j int) bool { return ports[i].ID < ports[j].ID })
	for _, p := range ports {
		ext := ""
		if p.ext.Load() {
			ext = fmt.Sprintf(", extended: super-frames rx %d tx %d", p.RxSuper.Load(), p.TxSuper.Load())
		}
		fmt.Fprintf(w, "port %d %s %s: rx %d frames %d bytes, tx %d frames %d bytes, tx dropped %d, rx errors %d, addresses %d%s\n",
			p.ID, p.Kind, p.Name, p.RxFrames.Load(), p.RxBytes.Load(), p.TxFrames.Load(), p.TxBytes.Load(),
			p.TxDrops.Load(), p.RxErrors.Load(), learned[p], ext)
	}
	fmt.Fprintf(w, "%d ports, %d learned addresses\n", len(ports), nmacs)
	if s.pcap != nil {
		fmt.Fprintf(w, "capture: %d frames dropped (its reader was too slow)\n", s.pcap.Dropped())
	}
}
