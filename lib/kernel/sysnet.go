package kernel

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The guest's network devices as /sys/class/net shows them, asked of the guest's network
// namespace with rtnetlink. A netlink socket belongs to the namespace it was made in, so the
// kernel makes one there once per boot (on a thread that joins the namespace and dies) and
// asks through it from any thread.

// netLink is one network device of the guest's namespace.
type netLink struct {
	index, flags, typ    uint32
	name                 string
	mtu, txqlen, link    uint32
	addr, brd            []byte
	operstate            uint8
	carrier, hasCarrier  bool
	alias                string
	stats                [8]uint64 // rx/tx packets, rx/tx bytes, rx/tx errors, rx/tx dropped
	hasStats, hasLinkIdx bool
}

// guestNetlink returns the kernel's rtnetlink socket in the guest's network namespace
// (k.nlMu held).
func (k *Kernel) guestNetlink() (int, error) {
	if k.sysNL > 0 {
		return k.sysNL, nil
	}
	if k.initTgid == 0 {
		return -1, unix.ENODEV
	}
	fd := -1
	err := inNetns(k.initTgid, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return -1, err
	}
	k.sysNL = fd
	return fd, nil
}

// guestLinks lists the guest's network devices (by index).
func (k *Kernel) guestLinks() ([]netLink, error) {
	k.nlMu.Lock()
	defer k.nlMu.Unlock()
	fd, err := k.guestNetlink()
	if err != nil {
		return nil, err
	}
	k.nlSeq++
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{Len: uint32(len(req)), Type: unix.RTM_GETLINK,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: k.nlSeq}
	req[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []netLink
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != k.nlSeq {
				continue // an answer to an earlier request that gave up
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("rtnetlink: error answer")
			case unix.RTM_NEWLINK:
				if l, ok := parseLink(&m); ok {
					out = append(out, l)
				}
			}
		}
	}
}

// parseLink reads one RTM_NEWLINK message.
func parseLink(m *syscall.NetlinkMessage) (netLink, bool) {
	var l netLink
	if len(m.Data) < unix.SizeofIfInfomsg {
		return l, false
	}
	ifi := (*unix.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
	l.index, l.flags, l.typ = uint32(ifi.Index), ifi.Flags, uint32(ifi.Type)
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return l, false
	}
	u32 := func(b []byte) uint32 {
		if len(b) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(b)
	}
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			l.name = cString(v)
		case unix.IFLA_ADDRESS:
			l.addr = append([]byte(nil), v...)
		case unix.IFLA_BROADCAST:
			l.brd = append([]byte(nil), v...)
		case unix.IFLA_MTU:
			l.mtu = u32(v)
		case unix.IFLA_TXQLEN:
			l.txqlen = u32(v)
		case unix.IFLA_LINK:
			l.link, l.hasLinkIdx = u32(v), true
		case unix.IFLA_OPERSTATE:
			if len(v) > 0 {
				l.operstate = v[0]
			}
		case unix.IFLA_CARRIER:
			if len(v) > 0 {
				l.carrier, l.hasCarrier = v[0] != 0, true
			}
		case unix.IFLA_IFALIAS:
			l.alias = cString(v)
		case unix.IFLA_STATS64:
			if len(v) >= 64 {
				for i := range l.stats {
					l.stats[i] = binary.NativeEndian.Uint64(v[8*i:])
				}
				l.hasStats = true
			}
		}
	}
	return l, l.name != "" && validName(l.name)
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// operstates are the names sysfs gives IF_OPER_* (net/core/net-sysfs.c).
var operstates = []string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

// hwAddr prints an address as sysfs does: hex bytes joined by colons.
func hwAddr(b []byte) string {
	s := ""
	for i, c := range b {
		if i > 0 {
			s += ":"
		}
		s += fmt.Sprintf("%02x", c)
	}
	return s
}

// netAttrs are the files of one device's sysfs directory (a read error is what Linux's read
// gives: EINVAL for a carrier of a device that is down).
func netAttrs(l netLink) []*sysNode {
	num := func(name string, v uint64) *sysNode { return sysAttr(name, strconv.FormatUint(v, 10)+"\n") }
	iflink := l.index
	if l.hasLinkIdx {
		iflink = l.link
	}
	carrier := sysAttr("carrier", "0\n")
	switch {
	case l.flags&unix.IFF_UP == 0:
		carrier = sysErr("carrier", unix.EINVAL)
	case l.hasCarrier && l.carrier:
		carrier = sysAttr("carrier", "1\n")
	}
	oper := "unknown"
	if int(l.operstate) < len(operstates) {
		oper = operstates[l.operstate]
	}
	kids := []*sysNode{
		num("addr_assign_type", 0),
		num("addr_len", uint64(len(l.addr))),
		sysAttr("address", hwAddr(l.addr)+"\n"),
		sysAttr("broadcast", hwAddr(l.brd)+"\n"),
		carrier,
		sysAttr("dev_id", "0x0\n"),
		num("dev_port", 0),
		sysAttr("flags", fmt.Sprintf("%#x\n", l.flags&^(unix.IFF_RUNNING|unix.IFF_LOWER_UP|unix.IFF_DORMANT))),
		sysAttr("ifalias", l.alias+"\n"),
		num("ifindex", uint64(l.index)),
		num("iflink", uint64(iflink)),
		num("link_mode", 0),
		num("mtu", uint64(l.mtu)),
		num("netdev_group", 0),
		sysAttr("operstate", oper+"\n"),
		num("proto_down", 0),
		num("tx_queue_len", uint64(l.txqlen)),
		num("type", uint64(l.typ)),
		sysAttr("uevent", "INTERFACE="+l.name+"\nIFINDEX="+strconv.FormatUint(uint64(l.index), 10)+"\n"),
	}
	if l.hasStats {
		names := []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"}
		var st []*sysNode
		for i, n := range names {
			st = append(st, num(n, l.stats[i]))
		}
		kids = append(kids, sysDirNode("statistics", st...))
	}
	return kids
}
