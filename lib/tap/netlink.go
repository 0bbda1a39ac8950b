package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// A small rtnetlink client on golang.org/x/sys/unix. It deliberately avoids the net package
// (and so any cgo DNS code), because uml_net must stay a pure Go binary for
// syscall.AllThreadsSyscall to drop capabilities on every thread.

// nlConn is one NETLINK_ROUTE socket, bound in the network namespace of the thread that
// opened it.
type nlConn struct {
	fd  int
	seq uint32
}

func dialRoute() (*nlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &nlConn{fd: fd}, nil
}

func (c *nlConn) Close() error { return unix.Close(c.fd) }

// nlMsg is one received message: its type and its payload after the netlink header.
type nlMsg struct {
	typ  uint16
	data []byte
}

// request sends one message and collects the answer: for a dump every message up to
// NLMSG_DONE, otherwise the acknowledgement (an error of 0) or the error it carries.
func (c *nlConn) request(typ, flags uint16, body []byte) ([]nlMsg, error) {
	c.seq++
	seq := c.seq
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	msg = append(msg, body...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	dump := flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	var out []nlMsg
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return nil, err
		}
		b := buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return nil, errors.New("netlink: truncated message")
			}
			mtyp := binary.NativeEndian.Uint16(b[4:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			payload := b[unix.NLMSG_HDRLEN:l]
			b = b[nlAlign(l):]
			if mseq != seq {
				continue
			}
			switch mtyp {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(payload) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(payload)); e != 0 {
					return nil, unix.Errno(-e)
				}
				if !dump {
					return out, nil
				}
			default:
				out = append(out, nlMsg{mtyp, append([]byte(nil), payload...)})
			}
		}
	}
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// attrs appends rtnetlink attributes.
type attrs []byte

func (a attrs) add(typ uint16, data []byte) attrs {
	l := 4 + len(data)
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(l))
	binary.NativeEndian.PutUint16(h[2:], typ)
	a = append(a, h[:]...)
	a = append(a, data...)
	for len(a)%4 != 0 {
		a = append(a, 0)
	}
	return a
}

func (a attrs) u32(typ uint16, v uint32) attrs {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return a.add(typ, b[:])
}

func (a attrs) str(typ uint16, s string) attrs { return a.add(typ, append([]byte(s), 0)) }

func (a attrs) ip4(typ uint16, ip netip.Addr) attrs {
	b := ip.As4()
	return a.add(typ, b[:])
}

// parseAttrs splits an attribute block into type → payload (the last one wins; the nested
// flag bit is masked off).
func parseAttrs(b []byte) map[uint16][]byte {
	m := map[uint16][]byte{}
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff
		if l < 4 || l > len(b) {
			break
		}
		m[typ] = b[4:l]
		if nlAlign(l) > len(b) {
			break
		}
		b = b[nlAlign(l):]
	}
	return m
}

func ifinfomsg(index int32, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// Link is what uml_net needs to know about an interface.
type Link struct {
	Name  string
	Index int32
	Flags uint32
	Kind  string // IFLA_INFO_KIND: "tun", "dummy", "veth" …; "" for devices without one
	// Valid when Kind == "tun".
	TunType    uint8 // unix.IFF_TAP or unix.IFF_TUN
	TunPersist bool
	TunOwner   int64 // -1 when no owner is set
	TunGroup   int64 // -1 when no group is set
}

// LinkByName asks the kernel about one interface of the caller's network namespace.
func LinkByName(name string) (*Link, error) {
	if err := ValidIfName(name); err != nil {
		return nil, err
	}
	c, err := dialRoute()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	body := attrs(ifinfomsg(0, 0, 0)).str(unix.IFLA_IFNAME, name)
	msgs, err := c.request(unix.RTM_GETLINK, 0, body)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWLINK || len(m.data) < unix.SizeofIfInfomsg {
			continue
		}
		l := &Link{
			Index:    int32(binary.NativeEndian.Uint32(m.data[4:])),
			Flags:    binary.NativeEndian.Uint32(m.data[8:]),
			TunOwner: -1, TunGroup: -1,
		}
		at := parseAttrs(m.data[unix.SizeofIfInfomsg:])
		l.Name = cstring(at[unix.IFLA_IFNAME])
		if li, ok := at[unix.IFLA_LINKINFO]; ok {
			info := parseAttrs(li)
			l.Kind = cstring(info[unix.IFLA_INFO_KIND])
			if l.Kind == "tun" {
				d := parseAttrs(info[unix.IFLA_INFO_DATA])
				if v := d[unix.IFLA_TUN_TYPE]; len(v) >= 1 {
					l.TunType = v[0]
				}
				if v := d[unix.IFLA_TUN_PERSIST]; len(v) >= 1 {
					l.TunPersist = v[0] != 0
				}
				if v := d[unix.IFLA_TUN_OWNER]; len(v) >= 4 {
					l.TunOwner = int64(binary.NativeEndian.Uint32(v))
				}
				if v := d[unix.IFLA_TUN_GROUP]; len(v) >= 4 {
					l.TunGroup = int64(binary.NativeEndian.Uint32(v))
				}
			}
		}
		return l, nil
	}
	return nil, unix.ENODEV
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// setLinkUp sets IFF_UP on an interface.
func setLinkUp(index int32) error {
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.request(unix.RTM_NEWLINK, 0, ifinfomsg(index, unix.IFF_UP, unix.IFF_UP))
	return err
}

// addHostAddr gives an interface addr/32 (what `ifconfig IF addr netmask 255.255.255.255`
// leaves behind).
func addHostAddr(index int32, addr netip.Addr) error { return addAddr(index, addr, 32) }

// addAddr adds addr/bits to an interface.
func addAddr(index int32, addr netip.Addr, bits int) error {
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	b[1] = byte(bits)
	b[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	body := attrs(b).ip4(unix.IFA_LOCAL, addr).ip4(unix.IFA_ADDRESS, addr)
	_, err = c.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
	return err
}

func rtmsg(dstLen uint8, scope, typ, proto uint8) []byte {
	b := make([]byte, unix.SizeofRtMsg)
	b[0] = unix.AF_INET
	b[1] = dstLen
	b[4] = unix.RT_TABLE_MAIN
	b[5] = proto
	b[6] = scope
	b[7] = typ
	return b
}

// addHostRoute adds "addr/32 dev IF" to the main table (`route add -host addr dev IF`).
func addHostRoute(index int32, addr netip.Addr) error {
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.Close()
	body := attrs(rtmsg(32, unix.RT_SCOPE_LINK, unix.RTN_UNICAST, unix.RTPROT_BOOT)).
		ip4(unix.RTA_DST, addr).u32(unix.RTA_OIF, uint32(index))
	_, err = c.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
	return err
}

// delHostRoute removes "addr/32 dev IF" from the main table; a route to addr through any
// other interface does not match and stays.
func delHostRoute(index int32, addr netip.Addr) error {
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.Close()
	body := attrs(rtmsg(32, unix.RT_SCOPE_NOWHERE, unix.RTN_UNSPEC, 0)).
		ip4(unix.RTA_DST, addr).u32(unix.RTA_OIF, uint32(index))
	_, err = c.request(unix.RTM_DELROUTE, 0, body)
	return err
}

// Route is one IPv4 route of the main table.
type Route struct {
	Dst     netip.Addr
	DstLen  int
	OIF     int32
	Gateway netip.Addr // invalid when the route has none
}

// mainRoutes lists the IPv4 unicast routes of the main table (what /proc/net/route shows).
func mainRoutes() ([]Route, error) {
	c, err := dialRoute()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	msgs, err := c.request(unix.RTM_GETROUTE, unix.NLM_F_DUMP, rtmsg(0, 0, 0, 0))
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWROUTE || len(m.data) < unix.SizeofRtMsg || m.data[0] != unix.AF_INET {
			continue
		}
		at := parseAttrs(m.data[unix.SizeofRtMsg:])
		table := uint32(m.data[4])
		if v := at[unix.RTA_TABLE]; len(v) >= 4 {
			table = binary.NativeEndian.Uint32(v)
		}
		if table != unix.RT_TABLE_MAIN || m.data[7] != unix.RTN_UNICAST {
			continue
		}
		r := Route{DstLen: int(m.data[1]), Dst: netip.AddrFrom4([4]byte{})}
		if v := at[unix.RTA_DST]; len(v) == 4 {
			r.Dst = netip.AddrFrom4([4]byte(v))
		}
		if v := at[unix.RTA_GATEWAY]; len(v) == 4 {
			r.Gateway = netip.AddrFrom4([4]byte(v))
		}
		if v := at[unix.RTA_OIF]; len(v) >= 4 {
			r.OIF = int32(binary.NativeEndian.Uint32(v))
		}
		out = append(out, r)
	}
	return out, nil
}

// hostAddrs lists every IPv4 address configured on any interface.
func hostAddrs() ([]netip.Addr, error) {
	c, err := dialRoute()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	msgs, err := c.request(unix.RTM_GETADDR, unix.NLM_F_DUMP, b)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWADDR || len(m.data) < unix.SizeofIfAddrmsg {
			continue
		}
		at := parseAttrs(m.data[unix.SizeofIfAddrmsg:])
		for _, k := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
			if v := at[k]; len(v) == 4 {
				out = append(out, netip.AddrFrom4([4]byte(v)))
			}
		}
	}
	return out, nil
}

// linkName returns the name of an interface index.
func linkName(index int32) (string, error) {
	c, err := dialRoute()
	if err != nil {
		return "", err
	}
	defer c.Close()
	msgs, err := c.request(unix.RTM_GETLINK, 0, ifinfomsg(index, 0, 0))
	if err != nil {
		return "", err
	}
	for _, m := range msgs {
		if m.typ == unix.RTM_NEWLINK && len(m.data) >= unix.SizeofIfInfomsg {
			return cstring(parseAttrs(m.data[unix.SizeofIfInfomsg:])[unix.IFLA_IFNAME]), nil
		}
	}
	return "", unix.ENODEV
}

// proxyNeigh adds or removes a published ("proxy") ARP entry for addr on an interface, as
// `arp -Ds addr IF pub` / `arp -i IF -d addr pub` do.
func proxyNeigh(add bool, index int32, addr netip.Addr) error {
	c, err := dialRoute()
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint16(b[8:], unix.NUD_PERMANENT)
	b[10] = unix.NTF_PROXY
	body := attrs(b).ip4(unix.NDA_DST, addr)
	typ, flags := uint16(unix.RTM_DELNEIGH), uint16(0)
	if add {
		typ, flags = unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE
	}
	_, err = c.request(typ, flags, body)
	return err
}
