package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// IPForwardEnv names the environment variable that makes "tuntap up" turn on IPv4
// forwarding, as the real helper always does. It is honoured only when uml_net was started
// by root (real uid 0): a setuid uml_net never trusts its environment.
const IPForwardEnv = "UML_NET_IP_FORWARD"

// output is the real helper's log buffer: text the kernel prints, sent NUL-terminated.
type output struct{ b []byte }

func (o *output) add(format string, a ...any) { o.b = append(o.b, fmt.Sprintf(format, a...)...) }

// bytes returns the text with its NUL, or nothing when no text was added.
func (o *output) bytes() []byte {
	if len(o.b) == 0 {
		return nil
	}
	return append(append([]byte(nil), o.b...), 0)
}

// streamReply encodes the add/del reply: a host-order i32 length (counting the NUL), then
// the text.
func streamReply(text []byte) []byte {
	b := make([]byte, 4, 4+len(text))
	binary.NativeEndian.PutUint32(b, uint32(len(text)))
	return append(b, text...)
}

// UmlNetMain is the uml_net program. stdout must be the socket the UML kernel handed over
// (a datagram socketpair for "tuntap up", a stream for add/del).
func UmlNetMain(args []string, stdout *os.File, stderr io.Writer) int {
	// Before anything reads the command line: nothing below needs more than CAP_NET_ADMIN.
	if err := DropPrivileges(); err != nil {
		fmt.Fprintf(stderr, "uml_net : cannot drop privileges : %v\n", err)
		return 1
	}
	uid := unix.Getuid()
	r, err := ParseArgs(args)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			fmt.Fprintf(stderr, "uml_net : %v\n", err)
			return 1
		}
		switch pe.Kind {
		case ErrUnknown, ErrNoHandler:
			io.WriteString(stdout, pe.Msg)
		case ErrOutput:
			writeAll(stdout, stderr, streamReply(append([]byte(pe.Msg), 0)))
		case ErrUpOutput:
			if err := sendUp(stdout, "", nil, append([]byte(pe.Msg), 0)); err != nil {
				fmt.Fprintf(stderr, "sendmsg: %s\n", Strerror(err))
			}
		default:
			io.WriteString(stderr, pe.Msg)
		}
		return 1
	}
	switch r.Op {
	case OpUp:
		return tuntapUp(r, uid, stdout, stderr)
	case OpAdd, OpDel:
		var out output
		err := changeAddr(r, uid, &out)
		writeAll(stdout, stderr, streamReply(out.bytes()))
		if err != nil {
			return 1
		}
		return 0
	case OpEthertap:
		// The kernel reads a status byte (0 = failed), then the log text.
		msg := "uml_net : ethertap is not supported : the host ethertap driver was removed from Linux 2.6; use eth<N>=tuntap\n"
		writeAll(stdout, stderr, append([]byte{0}, streamReply(append([]byte(msg), 0))...))
		return 1
	case OpSlip:
		msg := "uml_net : slip is not supported by this uml_net; use eth<N>=tuntap\n"
		writeAll(stdout, stderr, streamReply(append([]byte(msg), 0)))
		return 1
	}
	return 1
}

func writeAll(w io.Writer, stderr io.Writer, b []byte) {
	if _, err := w.Write(b); err != nil {
		fmt.Fprintf(stderr, "write_output : write failed : %s\n", Strerror(unwrapErrno(err)))
	}
}

func unwrapErrno(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// sendUp sends the one "tuntap up" reply: the 16-byte interface name (only with a tap fd),
// the log text, and the fd as SCM_RIGHTS.
func sendUp(stdout *os.File, name string, tap *os.File, text []byte) error {
	var iov [][]byte
	var oob []byte
	if tap != nil {
		n := make([]byte, unix.IFNAMSIZ)
		copy(n, name)
		iov = append(iov, n)
		oob = unix.UnixRights(int(tap.Fd()))
	}
	iov = append(iov, text)
	_, err := unix.SendmsgBuffers(int(stdout.Fd()), iov, oob, nil, 0)
	return err
}

func tuntapUp(r *Request, uid int, stdout *os.File, stderr io.Writer) int {
	// The reply can only go to a socket; find out before making a tap that nobody would get.
	if _, err := unix.GetsockoptInt(int(stdout.Fd()), unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		fmt.Fprintf(stderr, "sendmsg: %s\n", Strerror(unwrapErrno(err)))
		return 1
	}
	var out output
	tap, name, err := createTap(r, uid, &out)
	if err != nil {
		name, tap = "", nil
	}
	if serr := sendUp(stdout, name, tap, out.bytes()); serr != nil {
		fmt.Fprintf(stderr, "sendmsg: %s\n", Strerror(serr))
		return 1
	}
	if tap != nil {
		tap.Close()
	}
	if err != nil {
		return 1
	}
	return 0
}

// createTap makes a non-persistent tap the kernel names, owned by the calling user, gives it
// the gateway address and brings it up. On failure the tap is closed, and so gone.
func createTap(r *Request, uid int, out *output) (*os.File, string, error) {
	tap, name, err := OpenTap(TunDevice, "")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			out.add("Opening %s failed : %s\n", TunDevice, Strerror(pe.Err))
		} else {
			out.add("TUNSETIFF : %s\n", Strerror(unwrapErrno(err)))
		}
		return nil, "", err
	}
	fail := func(format string, err error) (*os.File, string, error) {
		out.add(format, Strerror(unwrapErrno(err)))
		tap.Close()
		return nil, "", err
	}
	// The owner is what lets a later "add"/"del" from the same user prove the tap is theirs.
	if err := tunIoctl(tap, unix.TUNSETOWNER, uintptr(uid)); err != nil {
		return fail("TUNSETOWNER : %s\n", err)
	}
	if !r.GateGiven {
		return tap, name, nil
	}
	out.add("* ifconfig %s %s netmask 255.255.255.255 up\n", name, r.Gate)
	l, err := LinkByName(name)
	if err != nil {
		return fail("uml_net : cannot find the new tap : %s\n", err)
	}
	if err := addHostAddr(l.Index, r.Gate); err != nil {
		return fail("SIOCSIFADDR: %s\n", err)
	}
	if err := setLinkUp(l.Index); err != nil {
		return fail("SIOCSIFFLAGS: %s\n", err)
	}
	if forwardingRequested() {
		out.add("* bash -c echo 1 > /proc/sys/net/ipv4/ip_forward\n")
		if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1\n"); err != nil {
			out.add("uml_net : enabling ip_forward failed : %s\n", Strerror(unwrapErrno(err)))
		}
	}
	return tap, name, nil
}

// forwardingRequested reports whether IPForwardEnv asks for forwarding and may be believed.
func forwardingRequested() bool {
	if unix.Getuid() != 0 {
		return false
	}
	return os.Getenv(IPForwardEnv) == "1"
}

func writeSysctl(path, val string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(val)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CheckOwnTap is the rule for add/del: uml_net only changes an interface that is a tun/tap
// device of type tap, not persistent (so made by uml_net "tuntap up", not by tunctl or an
// administrator), and owned by the calling user's real uid (uml_net sets that owner when it
// creates the tap).
func CheckOwnTap(l *Link, uid int) error {
	switch {
	case l.Kind != "tun":
		kind := l.Kind
		if kind == "" {
			kind = "non-tun"
		}
		return fmt.Errorf("'%s' is a %s device, not a tap created by uml_net", l.Name, kind)
	case l.TunType != unix.IFF_TAP:
		return fmt.Errorf("'%s' is a tun device, not a tap created by uml_net", l.Name)
	case l.TunPersist:
		return fmt.Errorf("'%s' is a persistent tap, not one created by uml_net", l.Name)
	case l.TunOwner != int64(uid):
		return fmt.Errorf("'%s' is not owned by uid %d", l.Name, uid)
	}
	return nil
}

// changeAddr is add/del: the host route to the guest address through its tap, proxy ARP on
// the tap, and published ARP entries on the other interfaces whose routes cover the guest's
// network, as the real helper does with route(8), /proc/sys and arp(8).
func changeAddr(r *Request, uid int, out *output) error {
	l, err := LinkByName(r.IfName)
	if err != nil {
		out.add("uml_net : interface '%s' : %s\n", r.IfName, Strerror(unwrapErrno(err)))
		return err
	}
	if err := CheckOwnTap(l, uid); err != nil {
		out.add("uml_net : refusing to change '%s' : %v\n", r.IfName, err)
		return err
	}
	if r.Op == OpAdd {
		if err := checkClaimable(r.Addr); err != nil {
			out.add("uml_net : refusing address %s : %v\n", r.Addr, err)
			return err
		}
		out.add("* route add -host %s dev %s\n", r.Addr, l.Name)
		if err := addHostRoute(l.Index, r.Addr); err != nil {
			out.add("SIOCADDRT: %s\n", Strerror(unwrapErrno(err)))
			return err
		}
		out.add("* bash -c echo 1 > /proc/sys/net/ipv4/conf/%s/proxy_arp\n", l.Name)
		if err := writeSysctl("/proc/sys/net/ipv4/conf/"+l.Name+"/proxy_arp", "1\n"); err != nil {
			out.add("uml_net : proxy_arp : %s\n", Strerror(unwrapErrno(err)))
		}
		return publish(true, l, r, out)
	}
	out.add("* route del -host %s dev %s\n", r.Addr, l.Name)
	if err := delHostRoute(l.Index, r.Addr); err != nil {
		out.add("SIOCDELRT: %s\n", Strerror(unwrapErrno(err)))
		// No route of ours: there is nothing of ours to undo on other interfaces either.
		return err
	}
	out.add("* bash -c echo 0 > /proc/sys/net/ipv4/conf/%s/proxy_arp\n", l.Name)
	if err := writeSysctl("/proc/sys/net/ipv4/conf/"+l.Name+"/proxy_arp", "0\n"); err != nil {
		out.add("uml_net : proxy_arp : %s\n", Strerror(unwrapErrno(err)))
	}
	return publish(false, l, r, out)
}

// checkClaimable refuses guest addresses that would take traffic away from the host: its own
// addresses and the gateways its routes use.
func checkClaimable(a netip.Addr) error {
	addrs, err := hostAddrs()
	if err != nil {
		return err
	}
	for _, h := range addrs {
		if h == a {
			return errors.New("it is an address of this host")
		}
	}
	routes, err := mainRoutes()
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if rt.Gateway == a {
			return errors.New("it is a gateway of this host's routes")
		}
	}
	return nil
}

// publish adds or removes published ARP entries for the guest address on every other
// interface with a main-table route whose destination lies in the guest's network (the real
// helper's reading of /proc/net/route: destination & netmask == address & netmask).
func publish(add bool, l *Link, r *Request, out *output) error {
	routes, err := mainRoutes()
	if err != nil {
		out.add("uml_net : reading routes : %s\n", Strerror(unwrapErrno(err)))
		return err
	}
	mask := maskOf(r.Bits)
	seen := map[int32]bool{}
	var firstErr error
	for _, rt := range routes {
		if rt.OIF == 0 || rt.OIF == l.Index || seen[rt.OIF] {
			continue
		}
		if u32(rt.Dst)&mask != u32(r.Addr)&mask {
			continue
		}
		seen[rt.OIF] = true
		name, err := linkName(rt.OIF)
		if err != nil || ValidIfName(name) != nil {
			continue
		}
		op := "SIOCDARP" // the ioctl names arp(8) reports its failures under
		if add {
			op = "SIOCSARP"
			out.add("* arp -Ds %s %s pub\n", r.Addr, name)
		} else {
			out.add("* arp -i %s -d %s pub\n", name, r.Addr)
		}
		if err := proxyNeigh(add, rt.OIF, r.Addr); err != nil {
			out.add("%s: %s\n", op, Strerror(unwrapErrno(err)))
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func maskOf(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}
