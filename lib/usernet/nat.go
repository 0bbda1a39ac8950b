package usernet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

var (
	// Never reachable, whatever Config.Allow says: the host's own loopback is reachable only
	// through the gateway address, and the rest cannot be a unicast peer.
	deniedNets = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"),
	}
	hostLoopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})
)

// reserved reports whether a is never a valid unicast destination for a guest flow.
func reserved(a netip.Addr) bool {
	for _, n := range deniedNets {
		if n.Contains(a) {
			return true
		}
	}
	return a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// network names the host socket family for a target: tcp4/udp4 or tcp6/udp6.
func network(proto string, target netip.AddrPort) string {
	if target.Addr().Is6() {
		return proto + "6"
	}
	return proto + "4"
}

// Decide applies the gateway's policy to a guest flow towards dst:port ("tcp" or "udp"). It
// returns the host address to connect to, or ok=false; why says which rule decided.
func (g *Gateway) Decide(proto string, dst netip.Addr, port uint16) (target netip.AddrPort, why string, ok bool) {
	c := &g.cfg
	switch {
	case dst.Is6():
		if !g.gw6.IsValid() || dst != g.gw6 {
			return target, "ipv6 outside the gateway address not served", false
		}
		if c.NoHostLoopback {
			return target, "host loopback disabled", false
		}
		return netip.AddrPortFrom(netip.IPv6Loopback(), port), "gateway is host loopback", true
	case !dst.Is4():
		return target, "not an ip address", false
	case dst == c.DNS:
		if port != 53 {
			return target, "dns address serves port 53 only", false
		}
		if len(c.Resolvers) == 0 {
			return target, "no upstream resolver configured", false
		}
		return c.Resolvers[0], "dns forward", true
	case dst == c.Gateway:
		if c.NoHostLoopback {
			return target, "host loopback disabled", false
		}
		return netip.AddrPortFrom(hostLoopback, port), "gateway is host loopback", true
	case c.Subnet.Contains(dst):
		return target, "guest subnet address", false
	}
	if reserved(dst) {
		return target, "reserved address", false
	}
	for _, n := range c.Allow {
		if n.Contains(dst) {
			return netip.AddrPortFrom(dst, port), "allowed by " + n.String(), true
		}
	}
	return target, "outside not allowed", false
}

// limitKey is the address MaxConns is counted against. A guest picks any number of IPv6
// addresses in the /64 at will, so all IPv6 flows share the prefix's one budget.
func (g *Gateway) limitKey(guest netip.Addr) netip.Addr {
	if guest.Is6() {
		return g.prefix6.Addr()
	}
	return guest
}

// acquire counts one more connection or flow for guest, refusing past MaxConns.
func (g *Gateway) acquire(guest netip.Addr) bool {
	guest = g.limitKey(guest)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.conns[guest] >= g.cfg.MaxConns {
		return false
	}
	g.conns[guest]++
	return true
}

func (g *Gateway) release(guest netip.Addr) {
	guest = g.limitKey(guest)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[guest]--; g.conns[guest] <= 0 {
		delete(g.conns, guest)
	}
}

func (g *Gateway) setBuffers(ep tcpip.Endpoint) {
	ep.SocketOptions().SetReceiveBufferSize(int64(g.cfg.BufferSize), true)
	ep.SocketOptions().SetSendBufferSize(int64(g.cfg.BufferSize), true)
}

func (g *Gateway) handleTCP(r *tcp.ForwarderRequest) {
	id := r.ID()
	guest, dst := netAddr(id.RemoteAddress), netAddr(id.LocalAddress)
	flow := "tcp " + netip.AddrPortFrom(guest, id.RemotePort).String() + " -> " + netip.AddrPortFrom(dst, id.LocalPort).String()
	target, why, ok := g.Decide("tcp", dst, id.LocalPort)
	if !ok {
		g.logf("usernet: deny %s: %s", flow, why)
		r.Complete(true)
		return
	}
	if !g.acquire(guest) {
		g.logf("usernet: deny %s: guest has %d connections (limit)", flow, g.cfg.MaxConns)
		r.Complete(true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	hc, err := g.cfg.Dial(ctx, network("tcp", target), target.String())
	cancel()
	if err != nil {
		g.logf("usernet: refuse %s: dial %s: %v", flow, target, err)
		g.release(guest)
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		g.logf("usernet: drop %s: %v", flow, terr)
		hc.Close()
		g.release(guest)
		r.Complete(true)
		return
	}
	r.Complete(false)
	g.setBuffers(ep)
	g.logf("usernet: allow %s via %s (%s)", flow, target, why)
	gc := gonet.NewTCPConn(&wq, ep)
	g.relayTCP(gc, hc, guest)
}

type closeWriter interface{ CloseWrite() error }

// relayTCP copies both ways until both directions end, then closes both sides.
func (g *Gateway) relayTCP(a, b net.Conn, guest netip.Addr) {
	if !g.track(a) || !g.track(b) {
		a.Close()
		b.Close()
		g.release(guest)
		return
	}
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, min(g.cfg.BufferSize, 64<<10))
		_, err := io.CopyBuffer(dst, src, buf)
		if cw, ok := dst.(closeWriter); ok && err == nil {
			cw.CloseWrite()
		} else {
			dst.Close()
			src.Close()
		}
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	if !g.spawn(func() {
		wg.Wait()
		a.Close()
		b.Close()
		g.untrack(a)
		g.untrack(b)
		g.release(guest)
	}) {
		a.Close()
		b.Close()
		wg.Wait()
		g.release(guest)
	}
}

func (g *Gateway) handleUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	guest, dst := netAddr(id.RemoteAddress), netAddr(id.LocalAddress)
	flow := "udp " + netip.AddrPortFrom(guest, id.RemotePort).String() + " -> " + netip.AddrPortFrom(dst, id.LocalPort).String()
	target, why, ok := g.Decide("udp", dst, id.LocalPort)
	if !ok {
		// Unhandled: netstack answers with ICMP port unreachable.
		g.logf("usernet: deny %s: %s", flow, why)
		return false
	}
	if !g.acquire(guest) {
		g.logf("usernet: deny %s: guest has %d flows (limit)", flow, g.cfg.MaxConns)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	hc, err := g.cfg.Dial(ctx, network("udp", target), target.String())
	cancel()
	if err != nil {
		g.logf("usernet: refuse %s: dial %s: %v", flow, target, err)
		g.release(guest)
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		g.logf("usernet: drop %s: %v", flow, terr)
		hc.Close()
		g.release(guest)
		return true
	}
	ep.SocketOptions().SetReceiveBufferSize(int64(g.cfg.BufferSize), true)
	g.logf("usernet: allow %s via %s (%s)", flow, target, why)
	gc := gonet.NewUDPConn(&wq, ep)
	idle := g.cfg.UDPIdle
	if dst == g.cfg.DNS {
		idle = 10 * time.Second
	}
	g.relayUDP(gc, hc, guest, idle)
	return true
}

// relayUDP copies datagrams both ways until the flow has been idle for idle.
func (g *Gateway) relayUDP(a, b net.Conn, guest netip.Addr, idle time.Duration) {
	if !g.track(a) || !g.track(b) {
		a.Close()
		b.Close()
		g.release(guest)
		return
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			a.Close()
			b.Close()
			g.untrack(a)
			g.untrack(b)
			g.release(guest)
		})
	}
	timer := time.AfterFunc(idle, stop)
	cp := func(dst, src net.Conn) {
		defer stop()
		buf := make([]byte, 65536)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			timer.Reset(idle)
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	if !g.spawn(func() { cp(a, b) }) || !g.spawn(func() { cp(b, a) }) {
		stop()
	}
}

// listenForward opens the host side of a forward.
func (g *Gateway) listenForward(f Forward) error {
	if f.Proto == "udp" {
		return g.listenUDPForward(f)
	}
	l, err := net.Listen("tcp4", netip.AddrPortFrom(f.HostAddr, f.HostPort).String())
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.listeners = append(g.listeners, l)
	g.fwdAddrs = append(g.fwdAddrs, l.Addr().(*net.TCPAddr).AddrPort())
	g.mu.Unlock()
	g.spawn(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if !g.spawn(func() { g.forwardConn(f, c) }) {
				c.Close()
			}
		}
	})
	return nil
}

func (g *Gateway) forwardConn(f Forward, hc net.Conn) {
	flow := "forward " + hc.RemoteAddr().String() + " -> " + netip.AddrPortFrom(f.GuestAddr, f.GuestPort).String()
	if !g.acquire(f.GuestAddr) {
		g.logf("usernet: deny %s: guest has %d connections (limit)", flow, g.cfg.MaxConns)
		hc.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	gc, err := gonet.DialContextTCP(ctx, g.stack, tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(f.GuestAddr), Port: f.GuestPort}, ipv4.ProtocolNumber)
	cancel()
	if err != nil {
		g.logf("usernet: refuse %s: %v", flow, err)
		hc.Close()
		g.release(f.GuestAddr)
		return
	}
	g.logf("usernet: allow %s", flow)
	g.relayTCP(gc, hc, f.GuestAddr)
}

// listenUDPForward opens the host side of a UDP forward. Each host peer (address and port)
// that sends to it gets its own flow: a gateway UDP socket connected to the guest, so the
// guest's replies come back to that peer and to nobody else.
func (g *Gateway) listenUDPForward(f Forward) error {
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(f.HostAddr, f.HostPort)))
	if err != nil {
		return err
	}
	if !g.track(pc) {
		pc.Close()
		return fmt.Errorf("gateway closed")
	}
	g.mu.Lock()
	g.fwdAddrs = append(g.fwdAddrs, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	g.mu.Unlock()
	if !g.spawn(func() { g.serveUDPForward(f, pc) }) {
		pc.Close()
	}
	return nil
}

// udpForwardFlow is one host peer's conversation with a guest through a UDP forward.
type udpForwardFlow struct {
	gc    *gonet.UDPConn
	timer *time.Timer
}

func (g *Gateway) serveUDPForward(f Forward, pc *net.UDPConn) {
	var mu sync.Mutex
	flows := map[netip.AddrPort]*udpForwardFlow{}
	defer func() {
		mu.Lock()
		for _, fl := range flows {
			fl.gc.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		mu.Lock()
		fl := flows[from]
		mu.Unlock()
		if fl == nil {
			fl = g.openUDPForwardFlow(f, pc, from, func() {
				mu.Lock()
				delete(flows, from)
				mu.Unlock()
			})
			if fl == nil {
				continue
			}
			mu.Lock()
			flows[from] = fl
			mu.Unlock()
		}
		fl.timer.Reset(g.cfg.UDPIdle)
		// A datagram the guest cannot take (no ARP answer yet, full queue) is lost, as
		// on a real network; UDP senders retry.
		_, _ = fl.gc.Write(buf[:n])
	}
}

// openUDPForwardFlow connects a gateway UDP socket to the forward's guest address and
// relays the guest's datagrams back to from until the flow has been idle for UDPIdle.
// done runs once the flow has ended.
func (g *Gateway) openUDPForwardFlow(f Forward, pc *net.UDPConn, from netip.AddrPort, done func()) *udpForwardFlow {
	flow := "forward udp " + from.String() + " -> " + netip.AddrPortFrom(f.GuestAddr, f.GuestPort).String()
	if !g.acquire(f.GuestAddr) {
		g.logf("usernet: deny %s: guest has %d flows (limit)", flow, g.cfg.MaxConns)
		return nil
	}
	gc, err := gonet.DialUDP(g.stack,
		&tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(g.cfg.Gateway)},
		&tcpip.FullAddress{NIC: nicID, Addr: tcpAddr(f.GuestAddr), Port: f.GuestPort}, ipv4.ProtocolNumber)
	if err != nil {
		g.logf("usernet: refuse %s: %v", flow, err)
		g.release(f.GuestAddr)
		return nil
	}
	if !g.track(gc) {
		gc.Close()
		g.release(f.GuestAddr)
		return nil
	}
	local := netAddrPort(gc.LocalAddr())
	g.mu.Lock()
	g.udpFwdPorts[local.Port()]++
	g.mu.Unlock()
	g.logf("usernet: allow %s via %s", flow, local)
	fl := &udpForwardFlow{gc: gc}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			gc.Close()
			g.untrack(gc)
			g.mu.Lock()
			if g.udpFwdPorts[local.Port()]--; g.udpFwdPorts[local.Port()] <= 0 {
				delete(g.udpFwdPorts, local.Port())
			}
			g.mu.Unlock()
			g.release(f.GuestAddr)
			done()
		})
	}
	fl.timer = time.AfterFunc(g.cfg.UDPIdle, stop)
	if !g.spawn(func() {
		defer stop()
		buf := make([]byte, 65536)
		for {
			n, err := gc.Read(buf)
			if err != nil {
				return
			}
			fl.timer.Reset(g.cfg.UDPIdle)
			if _, err := pc.WriteToUDPAddrPort(buf[:n], from); err != nil {
				return
			}
		}
	}) {
		stop()
		return nil
	}
	return fl
}

func netAddrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort()
	}
	return netip.AddrPort{}
}

// isForwardReply reports whether a guest datagram to the gateway's port is the reply
// leg of a UDP forward flow (the flow's own socket takes it, whatever the policy on the
// gateway address says).
func (g *Gateway) isForwardReply(port uint16) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.udpFwdPorts[port] > 0
}
