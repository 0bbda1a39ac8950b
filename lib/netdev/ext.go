package netdev

import (
	"fmt"
	"os"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// The extended daemon transport (lib/vswitch/ext.go, docs/interfaces.md §3.4). When our
// uml_switch offers it and the tap hands over virtio headers, the relay asks for it: every
// datagram is then the tap's header and frame as they are, so a TSO send of up to 64 KiB
// crosses the switch as one datagram instead of some 45, and reaches a peer of ours as one
// GSO frame that its tap takes whole: no cutting, no checksumming, no merging between two
// of our guests. The switch cuts the super-frames for real UML peers, which get the frames
// they always got. Datagrams from the switch are checked again (vnet.Check) before they
// reach the tap.

// Batches of an extended transport: fewer frames, each with room for 64 KiB.
const (
	extTxBatch = 16
	extRxBatch = 32
)

// extend asks the switch for the extended transport on a data socket of its own (frames
// the switch sent to the first one before are never read as extended ones). Not offered,
// refused, or a socket that cannot be made: the transport stays as it was. An error: the
// switch may have moved the port, which is then unusable.
func (t *Transport) extend() error {
	fd, err := newSocket(unix.AF_UNIX)
	if err != nil {
		return nil
	}
	a, err := bindData(fd)
	if err != nil || !roomForSuper(fd) {
		unix.Close(fd)
		return nil
	}
	sock, _ := vswitch.UnmarshalSockaddr(a[:])
	got, err := vswitch.ExtendPort(t.ctl, sock, vswitch.ExtVNet, dialTimeout)
	if err == nil && got != 0 {
		err = sockcall(unix.SYS_CONNECT, fd, &t.swData)
	}
	if err != nil || got == 0 {
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("daemon_open : the switch's extended transport: %v", err)
		}
		return nil
	}
	f := os.NewFile(uintptr(fd), "daemon-data")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	t.sock.Close()
	t.sock, t.rc, t.ext = f, rc, true
	return nil
}

// roomForSuper reports whether the socket fd may send a 64 KiB super-frame: a unix
// datagram longer than the send buffer is refused (EMSGSIZE), and the host's
// net.core.wmem_max caps the buffer asked for.
func roomForSuper(fd int) bool {
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	return err == nil && n >= 2*vnet.MaxSuper
}

// fromExt takes datagram i of f, m bytes from an extended transport, as the k'th frame
// for the guest; it returns 1, or 0 for a datagram dropped. Only frames with a header of
// zeros may be merged; the rest go to the tap as they came.
func (r *Relay) fromExt(f *frames, i, k, m int) int {
	full := f.buf(i)[:min(m, f.size)]
	s, err := vnet.Check(full)
	if err != nil || f.msgs[i].hdr.Flags&unix.MSG_TRUNC != 0 {
		r.RxDrops.Add(1)
		return 0
	}
	f.out[k], f.full[k] = s.Frame, full
	r.merge.hold[k] = [vnetHdrLen]byte(full) != [vnetHdrLen]byte{}
	if s.GSO() {
		r.RxSuper.Add(1)
	}
	return 1
}
