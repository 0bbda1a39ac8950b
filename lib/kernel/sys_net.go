package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Sockets. A guest socket is a host socket fd, so data calls run natively. What would reach
// the host's namespaces is refused until the guest network stack exists: other families than
// AF_UNIX, and Unix socket addresses (both path names, which the host would resolve, and the
// host-global abstract namespace). socketpair and unnamed Unix sockets work.

func sysSocket(c *Call) result {
	if c.Int(0) != unix.AF_UNIX {
		return errno(unix.EAFNOSUPPORT) // guest networking: not supported yet
	}
	return cont()
}

// sysBindConnect: addresses are not supported yet (see above).
func sysBindConnect(c *Call) result {
	if c.Arg(1) == 0 {
		return errno(unix.EFAULT)
	}
	var fam [2]byte
	if err := c.Read(c.Arg(1), fam[:]); err != nil {
		return fail(err)
	}
	if binary.LittleEndian.Uint16(fam[:]) != unix.AF_UNIX {
		return errno(unix.EAFNOSUPPORT)
	}
	return errno(unix.EACCES) // Unix socket names: not supported yet
}

func sysSendto(c *Call) result {
	if c.Arg(4) == 0 {
		return cont() // no address: the connected peer (the registers cannot change under us)
	}
	return errno(unix.EISCONN)
}

func sysSendmsg(c *Call) result {
	var hdr [8]byte
	if err := c.Read(c.Arg(1), hdr[:]); err != nil {
		return fail(err)
	}
	if binary.LittleEndian.Uint64(hdr[:]) == 0 {
		// No msg_name. A racing guest thread could set one before the host reads the header;
		// it would still only name a host Unix socket, never a file. Known limitation.
		return cont()
	}
	return errno(unix.EISCONN)
}
