// Package tap is the host side of UML's tuntap networking: the uml_net helper (create a tap
// device for an unprivileged linux, configure it, hand the fd back; route and proxy ARP for the
// guest's addresses) and tunctl (persistent taps for a user). Everything is done with ioctls
// and rtnetlink directly: no shell, no PATH lookups, no external programs.
package tap

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CurrentVersion is the highest uml_net protocol version understood, as in the real helper.
const CurrentVersion = 4

// IfNameMax is the longest interface name the kernel accepts (IFNAMSIZ - 1).
const IfNameMax = 15

// Op is what one uml_net invocation asks for.
type Op int

// The operations of uml_net protocol version 4 this helper implements or rejects.
const (
	OpUp       Op = iota + 1 // tuntap up <gate>
	OpAdd                    // add <if> <addr> <netmask> (also tuntap add ...)
	OpDel                    // del <if> <addr> <netmask> (also tuntap del ...)
	OpEthertap               // ethertap ...: the host driver no longer exists
	OpSlip                   // slip ...: not implemented
)

// Request is a parsed uml_net command line.
type Request struct {
	Version   uint32
	Transport string // ethertap, slip, tuntap, add, del
	Op        Op
	Args      []string // the words after the transport (and after the tuntap op)
	// Valid for OpUp: Gate (may be invalid if GateGiven is false, meaning "no address").
	Gate      netip.Addr
	GateGiven bool
	// Valid for OpAdd/OpDel.
	IfName  string
	Addr    netip.Addr
	Netmask netip.Addr
	Bits    int
}

// ErrorKind tells Main how the real uml_net reports a given parse failure, so the bytes
// and the exit status stay the same.
type ErrorKind int

// How a parse error is reported.
const (
	ErrBadArgList ErrorKind = iota + 1 // stderr, the three-line "bad argument list" text
	ErrVersion                         // stderr, "Version mismatch ..."
	ErrUnknown                         // stdout, "Unknown transport : 'x'"
	ErrNoHandler                       // stdout, "No version #N handler for 'x'"
	ErrBadOp                           // stderr, "Bad tuntap op : 'x'"
	ErrOutput                          // the protocol reply of the transport (stream output)
	ErrUpOutput                        // the tuntap up reply (datagram, no fd)
)

// ParseError is a command line uml_net refuses; Msg is the exact text to report.
type ParseError struct {
	Kind ErrorKind
	Msg  string
}

func (e *ParseError) Error() string { return strings.TrimRight(e.Msg, "\n") }

// BadArgListText is what the real uml_net prints when run with fewer than two arguments.
const BadArgListText = "uml_net : bad argument list - if you're running uml_net by\n" +
	"hand, don't bother.  uml_net is run automatically by UML when\n" +
	"necessary.\n"

// ParseArgs parses uml_net's argv (without the program name) the way the real helper does,
// and then validates every word strictly: interface names, dotted quads and netmasks.
func ParseArgs(args []string) (*Request, error) {
	if len(args) < 2 {
		return nil, &ParseError{ErrBadArgList, BadArgListText}
	}
	r := &Request{}
	rest := args[2:]
	v, ok, err := parseVersion(args[0])
	if err != nil {
		return nil, &ParseError{ErrVersion, err.Error() + "\n"}
	}
	if ok {
		if v > CurrentVersion {
			return nil, &ParseError{ErrVersion, fmt.Sprintf(
				"Version mismatch - requested version %d, uml_net supports up to version %d\n",
				int32(v), CurrentVersion)}
		}
		r.Version = v
		r.Transport = args[1]
	} else {
		// The real helper's pre-versioned form: the first word is the transport.
		r.Version = 0
		r.Transport = args[0]
		rest = args[1:]
	}
	switch r.Transport {
	case "ethertap", "slip", "tuntap", "add", "del":
	default:
		return nil, &ParseError{ErrUnknown, fmt.Sprintf("Unknown transport : '%s'\n", r.Transport)}
	}
	if r.Version != CurrentVersion {
		// Versions 0-3 predate every kernel that can still run; only version 4 is served.
		return nil, &ParseError{ErrNoHandler, fmt.Sprintf("No version #%d handler for '%s'\n", r.Version, r.Transport)}
	}
	switch r.Transport {
	case "ethertap":
		r.Op = OpEthertap
		r.Args = rest
		return r, nil
	case "slip":
		r.Op = OpSlip
		r.Args = rest
		return r, nil
	case "add", "del":
		r.Op = OpAdd
		if r.Transport == "del" {
			r.Op = OpDel
		}
		return r, r.parseChange(rest, r.Transport)
	}
	// tuntap
	if len(rest) < 1 {
		return nil, &ParseError{ErrOutput, "uml_net : too few arguments to tuntap_v4\n"}
	}
	switch rest[0] {
	case "up":
		r.Op = OpUp
		r.Args = rest[1:]
		switch len(r.Args) {
		case 0:
			return nil, &ParseError{ErrUpOutput, "Too few arguments to tuntap_up\n"}
		case 1:
		default:
			return nil, &ParseError{ErrUpOutput, "uml_net : too many arguments to tuntap_up\n"}
		}
		if r.Args[0] == "" {
			// The real helper then creates the tap without configuring it.
			return r, nil
		}
		a, err := ParseDottedQuad(r.Args[0])
		if err != nil {
			return nil, &ParseError{ErrUpOutput, fmt.Sprintf("uml_net : bad gateway address : %v\n", err)}
		}
		if err := checkUnicast(a); err != nil {
			return nil, &ParseError{ErrUpOutput, fmt.Sprintf("uml_net : bad gateway address : %v\n", err)}
		}
		r.Gate, r.GateGiven = a, true
		return r, nil
	case "add", "del":
		r.Op = OpAdd
		if rest[0] == "del" {
			r.Op = OpDel
		}
		return r, r.parseChange(rest[1:], "tuntap change_addr")
	}
	return nil, &ParseError{ErrBadOp, fmt.Sprintf("Bad tuntap op : '%s'\n", rest[0])}
}

// parseChange validates "<ifname> <addr> <netmask>".
func (r *Request) parseChange(rest []string, what string) error {
	r.Args = rest
	if len(rest) < 3 {
		return &ParseError{ErrOutput, "uml_net : too few arguments to " + what + "\n"}
	}
	if len(rest) > 3 {
		return &ParseError{ErrOutput, "uml_net : too many arguments to " + what + "\n"}
	}
	if err := ValidIfName(rest[0]); err != nil {
		return &ParseError{ErrOutput, fmt.Sprintf("uml_net : %v\n", err)}
	}
	a, err := ParseDottedQuad(rest[1])
	if err != nil {
		return &ParseError{ErrOutput, fmt.Sprintf("uml_net : bad address : %v\n", err)}
	}
	if err := checkUnicast(a); err != nil {
		return &ParseError{ErrOutput, fmt.Sprintf("uml_net : bad address : %v\n", err)}
	}
	bits, err := ParseNetmask(rest[2])
	if err != nil {
		return &ParseError{ErrOutput, fmt.Sprintf("uml_net : bad netmask : %v\n", err)}
	}
	if bits < 31 && u32(a)|maskOf(bits) == ^uint32(0) {
		return &ParseError{ErrOutput, fmt.Sprintf("uml_net : bad address : %s is the broadcast address of its network\n", a)}
	}
	r.IfName, r.Addr, r.Bits = rest[0], a, bits
	r.Netmask, _ = ParseDottedQuad(rest[2])
	return nil
}

// parseVersion reads the version word like C's strtoul(s, &end, 0) followed by the real
// helper's "did it read anything" test: ok=false means no number at all (the pre-versioned
// command line). Unlike the real helper, trailing garbage after the number is an error.
func parseVersion(s string) (v uint32, ok bool, err error) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && len(t) > 2 && isHex(t[2]):
		base, t = 16, t[2:]
	case len(t) >= 1 && t[0] == '0':
		base = 8
	}
	n := 0
	for n < len(t) && digitOK(t[n], base) {
		n++
	}
	if n == 0 {
		return 0, false, nil
	}
	if n != len(t) {
		return 0, true, fmt.Errorf("uml_net : bad version number '%s'", s)
	}
	u, perr := strconv.ParseUint(t, base, 64)
	if perr != nil {
		u = ^uint64(0) // strtoul saturates
	}
	if neg {
		u = -u
	}
	return uint32(u), true, nil
}

func isHex(c byte) bool { return digitOK(c, 16) }

func digitOK(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f':
		return base == 16
	case c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}

// ValidIfName accepts what the real helper accepts for an interface it configures (letters
// and digits only, which also rules out "/", "..", "%" and spaces), at most 15 bytes.
func ValidIfName(s string) error {
	if s == "" {
		return errors.New("empty interface name")
	}
	if len(s) > IfNameMax {
		return fmt.Errorf("interface name longer than %d characters", IfNameMax)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			//lint:ignore ST1005 the real uml_net's message, word for word
			return fmt.Errorf("Device doesn't contain only alphanumeric characters")
		}
	}
	return nil
}

// ParseDottedQuad accepts exactly four decimal numbers 0-255 separated by dots, without
// signs, spaces or leading zeros (which other parsers read as octal).
func ParseDottedQuad(s string) (netip.Addr, error) {
	if len(s) > len("255.255.255.255") {
		return netip.Addr{}, fmt.Errorf("'%.20s' is not a dotted quad", s)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, fmt.Errorf("'%s' is not a dotted quad", s)
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return netip.Addr{}, fmt.Errorf("'%s' is not a dotted quad", s)
		}
		n := 0
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return netip.Addr{}, fmt.Errorf("'%s' is not a dotted quad", s)
			}
			n = n*10 + int(p[j]-'0')
		}
		if n > 255 {
			return netip.Addr{}, fmt.Errorf("'%s' is not a dotted quad", s)
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}

// ParseNetmask accepts a dotted-quad netmask with contiguous one bits and returns its length.
func ParseNetmask(s string) (int, error) {
	a, err := ParseDottedQuad(s)
	if err != nil {
		return 0, err
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for bits < 32 && m&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && m<<bits != 0 {
		return 0, fmt.Errorf("'%s' is not a contiguous netmask", s)
	}
	if bits == 0 {
		return 0, fmt.Errorf("'%s' would cover every address", s)
	}
	return bits, nil
}

// checkUnicast rejects addresses no guest may claim on the host: unspecified, "this network",
// loopback, link-local, multicast, reserved and broadcast.
func checkUnicast(a netip.Addr) error {
	b := a.As4()
	switch {
	case b[0] == 0:
		return fmt.Errorf("%s is in 0.0.0.0/8", a)
	case a.IsLoopback():
		return fmt.Errorf("%s is a loopback address", a)
	case a.IsLinkLocalUnicast():
		return fmt.Errorf("%s is a link-local address", a)
	case a.IsMulticast():
		return fmt.Errorf("%s is a multicast address", a)
	case b[0] >= 240:
		return fmt.Errorf("%s is a reserved or broadcast address", a)
	}
	return nil
}
