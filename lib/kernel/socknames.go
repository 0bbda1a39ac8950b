package kernel

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// The names of path-bound Unix sockets. The kernel binds a guest's socket through a name of
// its own, "/proc/self/fd/N/NAME" (N: its fd of the directory it resolved), and the host
// keeps that string as the socket's address. getsockname and getpeername trap, and a Unix
// socket's kernel name is shown as the path the guest bound it with, as Linux shows it.
//
// Known limits: N is a small fd number the kernel reuses, so two sockets bound at the same
// time in different directories under the same NAME through the same N are told apart only
// by which was bound last; the sender address recvfrom and recvmsg give for a Unix datagram
// is still the kernel's name (those calls run natively).

// sockNamesMax bounds the names remembered; the oldest are forgotten first.
const sockNamesMax = 4096

// sockNames maps the kernel's names of bound sockets to the guests'.
type sockNames struct {
	mu    sync.Mutex
	guest map[string]string
	order []string
}

// bound records that the kernel bound a guest socket as host for the guest's name.
func (n *sockNames) bound(host, guest string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.guest == nil {
		n.guest = map[string]string{}
	}
	if _, ok := n.guest[host]; !ok {
		n.order = append(n.order, host)
	}
	n.guest[host] = guest
	if len(n.order) > sockNamesMax {
		delete(n.guest, n.order[0])
		n.order = n.order[1:]
	}
}

func (n *sockNames) lookup(host string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g, ok := n.guest[host]
	return g, ok
}

func sysGetsockname(c *Call) result { return c.sockName(false) }
func sysGetpeername(c *Call) result { return c.sockName(true) }

// sockName answers getsockname or getpeername (peer) of a Unix socket bound by the kernel;
// every other socket's call runs natively.
func (c *Call) sockName(peer bool) result {
	s, err := c.guestSocket(c.Int(0))
	if err != nil {
		return fail(err)
	}
	defer unix.Close(s)
	if fam, err := socketFamily(s); err != nil || fam != unix.AF_UNIX {
		return cont()
	}
	var sa unix.Sockaddr
	if peer {
		sa, err = unix.Getpeername(s)
	} else {
		sa, err = unix.Getsockname(s)
	}
	su, isUnix := sa.(*unix.SockaddrUnix)
	if err != nil || !isUnix || su.Name == "" || su.Name[0] == '@' {
		return cont() // unnamed, abstract, or the host's error
	}
	name, known := c.k.socks.lookup(su.Name)
	if !known {
		return cont()
	}
	addrPtr, lenPtr := c.Arg(1), c.Arg(2)
	var lb [4]byte
	if err := c.Read(lenPtr, lb[:]); err != nil {
		return fail(err)
	}
	have := int32(binary.LittleEndian.Uint32(lb[:]))
	if have < 0 {
		return errno(unix.EINVAL)
	}
	// struct sockaddr_un as Linux returns it: the family, the path and its NUL
	full := make([]byte, 2+len(name)+1)
	binary.LittleEndian.PutUint16(full, unix.AF_UNIX)
	copy(full[2:], name)
	if err := c.Write(addrPtr, full[:min(len(full), int(have))]); err != nil {
		return fail(err)
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(len(full)))
	if err := c.Write(lenPtr, lb[:]); err != nil {
		return fail(err)
	}
	return ok(0)
}
