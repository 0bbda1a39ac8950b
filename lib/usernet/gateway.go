package usernet

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// MTU is the guest link's IP MTU (frames are at most MTU+14 bytes).
const MTU = 1500

const nicID tcpip.NICID = 1

// Gateway is one virtual NAT router. Guests reach it through ports; every port is a
// segment of the same subnet (the gateway also bridges frames between its ports, so guests
// on different ports see each other as on one switch).
type Gateway struct {
	cfg   Config
	mac   tcpip.LinkAddress
	stack *stack.Stack
	ep    *nicEndpoint
	dhcp  *leases

	mu        sync.Mutex
	ports     map[*Port]struct{}
	learned   map[tcpip.LinkAddress]*Port
	conns     map[netip.Addr]int
	closers   map[io.Closer]struct{}
	listeners []net.Listener
	fwdAddrs  []netip.AddrPort
	// udpFwdPorts counts the open UDP forward flows per gateway port, for input's policy.
	udpFwdPorts map[uint16]int
	// prefix6, gw6 and ll6 are the IPv6 prefix, the gateway's address in it and its
	// link-local address; all invalid when IPv6 is off.
	prefix6  netip.Prefix
	gw6, ll6 netip.Addr
	done     chan struct{} // closed by Close: stops the periodic router advertisements
	closed   bool
	wg       sync.WaitGroup
	panics   atomic.Int64 // recovered netstack panics; the fuzz targets want none
}

// New starts a gateway: its netstack, and a host listener for each configured forward.
func New(cfg Config) (*Gateway, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gw := c.Gateway.As4()
	g := &Gateway{
		cfg:     c,
		mac:     tcpip.LinkAddress([]byte{0x52, 0x55, gw[0], gw[1], gw[2], gw[3]}),
		ports:   map[*Port]struct{}{},
		learned: map[tcpip.LinkAddress]*Port{},
		conns:   map[netip.Addr]int{},
		closers: map[io.Closer]struct{}{},

		udpFwdPorts: map[uint16]int{},
		done:        make(chan struct{}),
	}
	g.dhcp = newLeases(c)
	g.ep = &nicEndpoint{g: g}
	opts := stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	}
	if c.IPv6Prefix.IsValid() {
		g.prefix6 = c.IPv6Prefix
		g.gw6 = nth6(c.IPv6Prefix, 2)
		g.ll6 = netAddr(header.LinkLocalAddr(g.mac))
		// Zero options: no DAD, no router solicitations, no SLAAC, no MLD for the
		// gateway itself; router advertisements are ours (ipv6.go).
		opts.NetworkProtocols = append(opts.NetworkProtocols, ipv6.NewProtocol)
		opts.TransportProtocols = append(opts.TransportProtocols, icmp.NewProtocol6)
	}
	s := stack.New(opts)
	g.stack = s
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	if terr := s.CreateNIC(nicID, g.ep); terr != nil {
		return nil, fmt.Errorf("netstack: create nic: %v", terr)
	}
	for _, a := range []netip.Addr{c.Gateway, c.DNS} {
		pa := tcpip.ProtocolAddress{
			Protocol:          ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(a), PrefixLen: c.Subnet.Bits()},
		}
		if terr := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); terr != nil {
			return nil, fmt.Errorf("netstack: add address %s: %v", a, terr)
		}
	}
	sub, _ := tcpip.NewSubnet(tcpAddr(c.Subnet.Addr()), tcpip.MaskFromBytes(net.CIDRMask(c.Subnet.Bits(), 32)))
	routes := []tcpip.Route{{Destination: sub, NIC: nicID}}
	if g.gw6.IsValid() {
		for _, a := range []netip.Prefix{netip.PrefixFrom(g.gw6, 64), netip.PrefixFrom(g.ll6, 64)} {
			pa := tcpip.ProtocolAddress{
				Protocol:          ipv6.ProtocolNumber,
				AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr6(a.Addr()), PrefixLen: a.Bits()},
			}
			if terr := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); terr != nil {
				return nil, fmt.Errorf("netstack: add address %s: %v", a.Addr(), terr)
			}
			sub6, _ := tcpip.NewSubnet(tcpAddr6(a.Masked().Addr()), tcpip.MaskFromBytes(net.CIDRMask(64, 128)))
			routes = append(routes, tcpip.Route{Destination: sub6, NIC: nicID})
		}
	}
	s.SetRouteTable(routes)
	// Promiscuous + spoofing: the guests' flows to any address terminate here, and replies
	// leave from the address the guest wrote to. The policy decides what happens next.
	s.SetPromiscuousMode(nicID, true)
	s.SetSpoofing(nicID, true)
	tf := tcp.NewForwarder(s, c.BufferSize, 128, g.handleTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tf.HandlePacket)
	uf := udp.NewForwarder(s, g.handleUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
	for _, f := range c.Forwards {
		if err := g.listenForward(f); err != nil {
			g.Close()
			return nil, err
		}
	}
	if g.gw6.IsValid() {
		g.spawn(g.advertise)
	}
	return g, nil
}

// MAC returns the gateway's Ethernet address.
func (g *Gateway) MAC() net.HardwareAddr { return net.HardwareAddr([]byte(g.mac)) }

// Config returns the configuration in force (defaults filled in).
func (g *Gateway) Config() Config { return g.cfg }

// ForwardAddrs returns the host addresses the forwards listen on, in Config.Forwards order
// (useful when a forward asked for port 0).
func (g *Gateway) ForwardAddrs() []netip.AddrPort {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]netip.AddrPort(nil), g.fwdAddrs...)
}

// Leases returns the current DHCP leases (MAC → address).
func (g *Gateway) Leases() map[string]netip.Addr { return g.dhcp.snapshot() }

func (g *Gateway) logf(format string, args ...any) {
	if g.cfg.Logf != nil {
		g.cfg.Logf(format, args...)
	}
}

// Close stops the gateway: forwards stop listening, links attached with Attach are closed,
// open host sockets are closed.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.done)
	ls := g.listeners
	var cs []io.Closer
	for c := range g.closers {
		cs = append(cs, c)
	}
	g.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.Close()
	}
	g.stack.Close()
	g.wg.Wait()
	return nil
}

func (g *Gateway) track(c io.Closer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closers[c] = struct{}{}
	return true
}

// spawn runs f in a goroutine Close waits for, unless the gateway is closed (then it
// reports false and f does not run). The closed check and the Add happen under one lock so
// an Add never races with Close's Wait.
func (g *Gateway) spawn(f func()) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

func (g *Gateway) untrack(c io.Closer) {
	g.mu.Lock()
	delete(g.closers, c)
	g.mu.Unlock()
}

// Port is one attachment of the gateway to a segment carrying Ethernet frames. This is the
// hook a switch uses: the switch calls Deliver with each frame the port receives, and the
// gateway calls the port's send function for each frame it emits towards that port.
type Port struct {
	g    *Gateway
	send func(frame []byte) error
	mu   sync.Mutex
	gone bool
}

// AttachPort adds a port whose outgoing frames are passed to send (called from the
// gateway's goroutines; send must not block for long and must not keep frame).
func (g *Gateway) AttachPort(send func(frame []byte) error) *Port {
	p := &Port{g: g, send: send}
	g.mu.Lock()
	g.ports[p] = struct{}{}
	g.mu.Unlock()
	return p
}

// Detach removes the port; frames delivered afterwards are dropped.
func (p *Port) Detach() {
	g := p.g
	g.mu.Lock()
	delete(g.ports, p)
	for m, q := range g.learned {
		if q == p {
			delete(g.learned, m)
		}
	}
	g.mu.Unlock()
	p.mu.Lock()
	p.gone = true
	p.mu.Unlock()
}

func (p *Port) write(frame []byte) {
	p.mu.Lock()
	gone := p.gone
	p.mu.Unlock()
	if !gone {
		_ = p.send(frame)
	}
}

// Attach adds a port fed by l: a goroutine reads frames until l fails or the gateway is
// closed (which closes l).
func (g *Gateway) Attach(l Link) *Port {
	p := g.AttachPort(l.WriteFrame)
	if !g.track(l) {
		l.Close()
		p.Detach()
		return p
	}
	g.spawn(func() {
		defer g.untrack(l)
		defer p.Detach()
		buf := make([]byte, 65536)
		for {
			n, err := l.ReadFrame(buf)
			if err != nil {
				return
			}
			p.Deliver(buf[:n])
		}
	})
	return p
}

// output sends a frame emitted by the gateway towards the port that owns its destination
// MAC, or floods it to every port when the destination is unknown or a broadcast.
func (g *Gateway) output(frame []byte, except *Port) {
	dst := tcpip.LinkAddress(frame[:6])
	g.mu.Lock()
	if p, ok := g.learned[dst]; ok && !header.IsMulticastEthernetAddress(dst) {
		g.mu.Unlock()
		if p != except {
			p.write(frame)
		}
		return
	}
	ps := make([]*Port, 0, len(g.ports))
	for p := range g.ports {
		if p != except {
			ps = append(ps, p)
		}
	}
	g.mu.Unlock()
	for _, p := range ps {
		p.write(frame)
	}
}

func tcpAddr(a netip.Addr) tcpip.Address {
	b := a.As4()
	return tcpip.AddrFrom4(b)
}

func netAddr(a tcpip.Address) netip.Addr {
	switch a.Len() {
	case 4:
		return netip.AddrFrom4(a.As4())
	case 16:
		return netip.AddrFrom16(a.As16())
	}
	return netip.Addr{}
}

// tcpAddr6 converts an IPv6 address for netstack.
func tcpAddr6(a netip.Addr) tcpip.Address { return tcpip.AddrFrom16(a.As16()) }

// nicEndpoint is the netstack side of the gateway: an Ethernet NIC whose wire is the set of
// ports.
type nicEndpoint struct {
	g    *Gateway
	mu   sync.RWMutex
	disp stack.NetworkDispatcher
}

func (e *nicEndpoint) MTU() uint32                      { return MTU }
func (e *nicEndpoint) SetMTU(uint32)                    {}
func (e *nicEndpoint) MaxHeaderLength() uint16          { return header.EthernetMinimumSize }
func (e *nicEndpoint) LinkAddress() tcpip.LinkAddress   { return e.g.mac }
func (e *nicEndpoint) SetLinkAddress(tcpip.LinkAddress) {}
func (e *nicEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}
func (e *nicEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.disp = d
	e.mu.Unlock()
}
func (e *nicEndpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.disp != nil
}
func (e *nicEndpoint) Wait()                                   {}
func (e *nicEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (e *nicEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}
func (e *nicEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}
func (e *nicEndpoint) Close()                  {}
func (e *nicEndpoint) SetOnCloseAction(func()) {}

func (e *nicEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	for _, pkt := range pkts.AsSlice() {
		v := pkt.ToView()
		b := v.AsSlice()
		if len(b) >= header.EthernetMinimumSize {
			e.g.output(b, nil)
		}
		v.Release()
		n++
	}
	return n, nil
}

// deliver hands a validated frame to netstack.
func (e *nicEndpoint) deliver(frame []byte, pktType tcpip.PacketType) {
	e.mu.RLock()
	d := e.disp
	e.mu.RUnlock()
	if d == nil {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	pkt.PktType = pktType
	d.DeliverNetworkPacket(header.Ethernet(frame).Type(), pkt)
}
