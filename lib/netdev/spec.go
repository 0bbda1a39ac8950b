// Package netdev is the guest's network devices: the `ethN=` specifications of the UML
// kernel command line, parsed as linux.uml 6.1 parses them (docs/interfaces.md §3.1, §4),
// the transports that carry a device's frames (the daemon transport to a uml_switch, mcast,
// ucast, and the built-in user-mode NAT of lib/usernet), and the relay that moves frames
// between a transport and the guest's tap device, in batches and without blocking the guest.
//
// lib/kernel creates each ethN as a tap device inside the guest's network namespace and
// hands its fd to Relay; the host kernel is the guest's network stack.
package netdev

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
)

// Transport names as the kernel command line spells them. Usernet is gouml's own: the
// built-in NAT gateway, which `slirp` without a program also selects.
const (
	Daemon  = "daemon"
	Vde     = "vde"
	Mcast   = "mcast"
	Ucast   = "ucast"
	TunTap  = "tuntap"
	Slirp   = "slirp"
	Usernet = "usernet"
)

// DefaultCtl is the daemon transport's control socket when the spec names none: Debian's
// build of the kernel uses /var/run/uml-utilities/uml_switch.ctl (§3.1).
const DefaultCtl = "/var/run/uml-utilities/uml_switch.ctl"

// Spec is one parsed `ethN=` device.
type Spec struct {
	Index     int
	Transport string // one of the constants above
	MACField  string // the MAC field as given ("" = none: a random one)

	SockType, Ctl string // daemon: socket type (only "unix" works) and control socket

	Addr         string // mcast: group; ucast: remote address
	LPort, RPort uint16 // mcast: port (both); ucast: listen and remote port
	TTL          uint32 // mcast: multicast TTL

	HostIf, Gate string // tuntap: host interface, gateway address (helper mode)

	Argv []string // slirp: the program and its arguments; nil = the built-in NAT

	// vde: the switch's directory in Ctl ("" = libvdeplug's default), and the port, group,
	// data socket mode and description the plug asks for (VdeMode 0: libvdeplug's 0700).
	VdePort         uint32
	VdeGroup, Descr string
	VdeMode         uint32
	VdeModeGiven    bool
	// vecN: the key=value pairs, and the transport they name (VecTap, VecRaw, VecBess).
	Vec     map[string]string
	VecKind string

	// DataDir is where the vde transport makes its data socket ("" = the temporary
	// directory): the caller's to set, not the command line's.
	DataDir string
}

// order is the order in which the real kernel's transports register, and so configure
// their devices (observed: slirp, daemon, mcast, ucast, tuntap; vde between daemon and
// mcast, as its drivers are linked); usernet, ours, comes last.
var order = []string{Slirp, Daemon, Vde, Mcast, Ucast, TunTap, Usernet}

// Order returns the rank of a transport in the order devices are configured at boot.
func Order(transport string) int {
	for i, t := range order {
		if t == transport {
			return i
		}
	}
	return len(order)
}

// Parse parses the specification of device index (the text after `ethN=`). log receives
// the messages the real kernel prints while parsing (without newlines). A nil Spec means the
// device is left out: a malformed spec (after its message) or an unknown transport, which
// the real kernel ignores silently.
func Parse(index int, spec string, log func(string)) *Spec {
	name, rest, ok := transport(spec)
	if !ok {
		if r, found := strings.CutPrefix(spec, "pcap"); found && (r == "" || r[0] == ',') {
			// Debian's kernel leaves pcap out and ignores the device without a word; one
			// line saying so, and what to use instead, costs nothing.
			log(fmt.Sprintf("eth%d=pcap: the pcap transport is not built in (as in Debian's linux.uml); "+
				"vec%d:transport=raw,ifname=IF attaches a guest to a host interface (as root: it takes CAP_NET_RAW on the host)",
				index, index))
		}
		return nil
	}
	s := &Spec{Index: index, Transport: name}
	switch name {
	case Daemon:
		s.SockType, s.Ctl = "unix", DefaultCtl
		if _, more := split(rest, &s.MACField, &s.SockType, &s.Ctl); more {
			log("daemon_setup : Ignoring data socket specification")
		}
	case Vde:
		return s.vde(rest, log)
	case Mcast:
		return s.mcast(rest, log)
	case Ucast:
		return s.ucast(rest, log)
	case TunTap:
		if remain, more := split(rest, &s.HostIf, &s.MACField, &s.Gate); more {
			log(fmt.Sprintf("tap_setup_common - Extra garbage on specification : '%s'", remain))
			return nil
		}
	case Slirp:
		remain, more := split(rest, &s.MACField)
		if more {
			s.Argv = slirpArgs(remain, log)
		}
	case Usernet:
		if remain, more := split(rest, &s.MACField); more {
			log(fmt.Sprintf("usernet_setup - Extra garbage on specification : '%s'", remain))
			return nil
		}
	}
	return s
}

// transport finds the transport name at the start of spec: it must be followed by ',' or
// end the spec (check_transport).
func transport(spec string) (name, rest string, ok bool) {
	for _, t := range order {
		if r, found := strings.CutPrefix(spec, t); found {
			if r == "" {
				return t, "", true
			}
			if r[0] == ',' {
				return t, r[1:], true
			}
		}
	}
	return "", "", false
}

// split is the kernel's split_if_spec: comma-separated fields into the given strings, an
// empty field keeping the string's default. more reports text left after the last field
// (possibly empty, after a trailing comma), which most transports refuse.
func split(str string, fields ...*string) (remain string, more bool) {
	for _, f := range fields {
		if str == "" {
			return "", false
		}
		end := strings.IndexByte(str, ',')
		if end != 0 {
			if end < 0 {
				*f = str
				return "", false
			}
			*f = str[:end]
		}
		str = str[end+1:]
	}
	return str, true
}

// strtoul is the kernel's simple_strtoul: digits of base (16 takes an optional 0x), no sign,
// silently wrapping; end is the index of the first byte not used.
func strtoul(s string, base int) (v uint64, end int) {
	i := 0
	if base == 16 && len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexDigit(s[2]) >= 0 {
		i = 2
	}
	start := i
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || d >= base {
			break
		}
		v = v*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, 0
	}
	return v, i
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// number parses a whole decimal field; ok is false when it is empty or has other bytes.
func number(s string) (uint64, bool) {
	v, end := strtoul(s, 10)
	return v, end > 0 && end == len(s)
}

func (s *Spec) vde(rest string, log func(string)) *Spec {
	var port, mode string
	if remain, more := split(rest, &s.Ctl, &s.MACField, &port, &s.VdeGroup, &mode, &s.Descr); more {
		log(fmt.Sprintf("vde_setup - Ignoring extra data :'%s'", remain))
	}
	if port != "" {
		v, ok := number(port)
		if !ok {
			log(fmt.Sprintf("vde_setup - Bad port : '%s'", port))
			return nil
		}
		s.VdePort = uint32(v)
	}
	if mode != "" {
		v, end := strtoul(mode, 8)
		if end == 0 || end != len(mode) {
			log(fmt.Sprintf("vde_setup - Bad mode : '%s'", mode))
			return nil
		}
		s.VdeMode, s.VdeModeGiven = uint32(v), true
	}
	log("Configured vde device: " + s.vdeSwitch())
	return s
}

// vdeSwitch names the switch as the vde messages do.
func (s *Spec) vdeSwitch() string {
	if s.Ctl == "" {
		return "(default socket)"
	}
	return s.Ctl
}

func (s *Spec) mcast(rest string, log func(string)) *Spec {
	s.Addr, s.LPort, s.TTL = "239.192.168.1", 1102, 1
	var port, ttl string
	shown := uint32(1102) // the setup message shows the port before it is cut to 16 bits
	if remain, more := split(rest, &s.MACField, &s.Addr, &port, &ttl); more {
		log(fmt.Sprintf("mcast_setup - Extra garbage on specification : '%s'", remain))
		return nil
	}
	if port != "" {
		v, ok := number(port)
		if !ok {
			log(fmt.Sprintf("mcast_setup - Bad port : '%s'", port))
			return nil
		}
		s.LPort, shown = uint16(v), uint32(v)
	}
	if ttl != "" {
		v, ok := number(ttl)
		if !ok {
			log(fmt.Sprintf("mcast_setup - Bad ttl : '%s'", ttl))
			return nil
		}
		s.TTL = uint32(v)
	}
	s.RPort = s.LPort
	log(fmt.Sprintf("Configured mcast device: %s:%d-%d", s.Addr, shown, s.TTL))
	return s
}

func (s *Spec) ucast(rest string, log func(string)) *Spec {
	s.LPort, s.RPort = 1102, 1102
	var lport, rport string
	if remain, more := split(rest, &s.MACField, &s.Addr, &lport, &rport); more {
		log(fmt.Sprintf("ucast_setup - Extra garbage on specification : '%s'", remain))
		return nil
	}
	if lport != "" {
		v, ok := number(lport)
		if !ok {
			log(fmt.Sprintf("ucast_setup - Bad listen port : '%s'", lport))
			return nil
		}
		s.LPort = uint16(v)
	}
	if rport != "" {
		v, ok := number(rport)
		if !ok {
			log(fmt.Sprintf("ucast_setup - Bad remote port : '%s'", rport))
			return nil
		}
		s.RPort = uint16(v)
	}
	log(fmt.Sprintf("Configured ucast device: :%d -> %s:%d", s.LPort, s.Addr, s.RPort))
	return s
}

// slirpMaxArgs is the kernel's SLIRP_MAX_ARGS: the program and its arguments, NULL included.
const slirpMaxArgs = 100

// slirpArgs splits a slirp command line: comma-separated words, '_' standing for a space.
func slirpArgs(str string, log func(string)) []string {
	var argv []string
	for {
		if len(argv) >= slirpMaxArgs-1 {
			log("slirp_setup: truncating slirp arguments")
			break
		}
		end := strings.IndexByte(str, ',')
		word := str
		if end >= 0 {
			word = str[:end]
		}
		argv = append(argv, strings.ReplaceAll(word, "_", " "))
		if end < 0 {
			break
		}
		str = str[end+1:]
	}
	return argv
}

// BuiltinNAT reports whether the device is served by the built-in NAT gateway: usernet, or
// slirp with no program given.
func (s *Spec) BuiltinNAT() bool {
	return s.Transport == Usernet || s.Transport == Slirp && s.Argv == nil
}

// MAC returns the device's Ethernet address: the MAC field when it is a valid unicast
// address, else a random locally administered one. log receives the real kernel's messages
// about the field (uml_net_setup_etheraddr).
//
// The real kernel keeps the last MAC field it saw for a transport and gives it to later
// devices of that transport whose field is empty (so two devices can share an address);
// here an empty field always means a random address.
func (s *Spec) MAC(log func(string)) [6]byte {
	if s.MACField != "" {
		if m, ok := parseMAC(s.MACField, log); ok {
			return m
		}
	}
	log("Choosing a random ethernet address for device " + s.Name())
	return RandomMAC()
}

func parseMAC(str string, log func(string)) (m [6]byte, ok bool) {
	rest := str
	for i := 0; i < 6; i++ {
		v, end := strtoul(rest, 16)
		if end == 0 || end < len(rest) && rest[end] != ':' && rest[end] != ',' {
			log(fmt.Sprintf("setup_etheraddr: failed to parse '%s' as an ethernet address", str))
			return m, false
		}
		m[i] = byte(v)
		if end+1 > len(rest) {
			rest = ""
		} else {
			rest = rest[end+1:]
		}
	}
	switch {
	case m[0]&1 != 0:
		log("Attempt to assign a multicast ethernet address to a device disallowed")
		return m, false
	case m == [6]byte{}:
		log("Attempt to assign an invalid ethernet address to a device disallowed")
		return m, false
	case m[0]&2 == 0:
		log("Warning: Assigning a globally valid ethernet address to a device")
		log("You should set the 2nd rightmost bit in the first byte of the MAC,")
		log(fmt.Sprintf("i.e. %02x:%02x:%02x:%02x:%02x:%02x", m[0]|2, m[1], m[2], m[3], m[4], m[5]))
	}
	return m, true
}

// RandomMAC returns a random locally administered unicast address, as eth_hw_addr_random.
func RandomMAC() [6]byte {
	var m [6]byte
	_, _ = rand.Read(m[:])
	m[0] = m[0]&^1 | 2
	return m
}

// FormatMAC prints a MAC as the kernel's %pM does.
func FormatMAC(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// Backend returns the line the transport's init prints after "Netdevice N (MAC) : ", as the
// real kernel prints it (the slirp line spans several lines).
func (s *Spec) Backend() string {
	switch s.Transport {
	case Daemon:
		return fmt.Sprintf("daemon backend (uml_switch version 3) - %s:%s", s.SockType, s.Ctl)
	case Vde:
		return "vde backend - " + s.vdeSwitch() + ", "
	case Mcast:
		return fmt.Sprintf("mcast backend multicast address: %s:%d, TTL:%d", s.Addr, s.LPort, s.TTL)
	case Ucast:
		return fmt.Sprintf("ucast backend address: %s:%d listen port: %d", s.Addr, s.RPort, s.LPort)
	case TunTap:
		if s.Gate != "" {
			return "TUN/TAP backend - IP = " + s.Gate
		}
		return "TUN/TAP backend - "
	case Slirp:
		argv := s.Argv
		if argv == nil {
			argv = []string{"slirp"}
		}
		var b strings.Builder
		b.WriteString("SLIRP backend - command line:")
		for _, a := range argv {
			b.WriteString("\n '" + a + "'")
		}
		return b.String()
	case Usernet:
		return "usernet backend - built-in NAT"
	}
	return ""
}

// Name returns the guest interface name of the device.
func (s *Spec) Name() string {
	if s.Transport == Vector {
		return "vec" + strconv.Itoa(s.Index)
	}
	return "eth" + strconv.Itoa(s.Index)
}

// Kind returns the transport a spec names ("" when none the kernel knows), without parsing
// the rest or saying anything: the kernel orders devices by it.
func Kind(spec string) string {
	name, _, _ := transport(spec)
	return name
}
