package kernel

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev"
	"golang.org/x/sys/unix"
)

// Vector devices (vecN:transport=tap|raw|bess,...). Each one's host side is a host object
// the kernel could not open: a tap or a packet socket of the host's network namespace, or
// a socket bound at a path the user names. The outer process opens it at start, as it opens
// ethN=tuntap,IFNAME's tap, and hands the fd in; the kernel relays its frames to a tap
// named vecN in the guest's namespace. What takes host privilege (making a tap, a packet
// socket) fails for an ordinary user with a one-line message saying so, and the machine
// boots without the device. The real kernel makes the device at boot and opens its host
// side when the guest brings it up; here a device that could not be opened is left out.

// vecFDsEnv tells the kernel which inherited fds are the vector devices' host sides:
// "N=FD,…".
const vecFDsEnv = "GOUML_VEC_FDS"

// openVecs opens the host side of each vector device; first is the fd number the first
// returned file will have in the kernel. Failures are reported on stderr.
func openVecs(vec map[int]string, first int, stderr io.Writer) ([]*os.File, string) {
	idx := make([]int, 0, len(vec))
	for n := range vec {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	var files []*os.File
	var ents []string
	for _, n := range idx {
		s, err := netdev.ParseVec(n, vec[n])
		if err != nil {
			fmt.Fprintf(stderr, "linux: %v\n", err)
			continue
		}
		f, err := openVec(s)
		if err != nil {
			fmt.Fprintf(stderr, "linux: vec%d: %v\n", n, err)
			continue
		}
		ents = append(ents, fmt.Sprintf("%d=%d", n, first+len(files)))
		files = append(files, f)
	}
	return files, vecFDsEnv + "=" + strings.Join(ents, ",")
}

func openVec(s *netdev.Spec) (*os.File, error) {
	switch s.VecKind {
	case netdev.VecTap:
		return openVecTap(s)
	case netdev.VecRaw:
		return openVecRaw(s)
	case netdev.VecBess:
		return openVecBess(s)
	}
	return nil, fmt.Errorf("transport=%s is not supported", s.VecKind)
}

// openVecTap attaches to host tap ifname, made if missing (non-persistent, as the real
// kernel makes it), or to a new one of a random name tapXXXXXX.
func openVecTap(s *netdev.Spec) (*os.File, error) {
	name := s.Vec["ifname"]
	if name == "" {
		name = "tap" + randomName(6)
	}
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("transport=tap: %s: %v", tunDevice, err)
	}
	var r ifreq
	copy(r.name[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&r.data[0])) = unix.IFF_TAP | unix.IFF_NO_PI
	if err := ioctlIfreq(fd, unix.TUNSETIFF, &r); err != nil {
		unix.Close(fd)
		if err == unix.EPERM || err == unix.EACCES {
			return nil, fmt.Errorf("transport=tap: host tap %s: %v (making a tap, or using one that is not yours, "+
				"takes CAP_NET_ADMIN in the host's network namespace: run linux as root, or give ifname= a tap "+
				"made for you with tunctl -u USER)", name, err)
		}
		return nil, fmt.Errorf("transport=tap: host tap %s: %v", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := runIfup(s, name); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openVecRaw opens a packet socket on host interface ifname, promiscuous (the guest's MAC
// is not the interface's), not hearing its own frames again.
func openVecRaw(s *netdev.Spec) (*os.File, error) {
	name := s.Vec["ifname"]
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("transport=raw: host interface %s: %v", name, err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if err == unix.EPERM || err == unix.EACCES {
			return nil, fmt.Errorf("transport=raw: a packet socket on %s takes CAP_NET_RAW in the host's network "+
				"namespace: run linux as root", name)
		}
		return nil, fmt.Errorf("transport=raw: packet socket: %v", err)
	}
	fail := func(what string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("transport=raw: %s on %s: %v", what, name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := runIfup(s, name); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openVecBess connects a SOCK_SEQPACKET socket, bound to src when given, to dst (a BESS
// unix port, or uml_switch -bess): each message one frame.
func openVecBess(s *netdev.Spec) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("transport=bess: %v", err)
	}
	if src := s.Vec["src"]; src != "" {
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: src}); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("transport=bess: binding %s: %v", src, err)
		}
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: s.Vec["dst"]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("transport=bess: connecting to %s: %v", s.Vec["dst"], err)
	}
	return os.NewFile(uintptr(fd), "bess"), nil
}

// runIfup runs the ifup= program with the interface's name, as the real kernel does after
// making the interface.
func runIfup(s *netdev.Spec, ifname string) error {
	prog := s.Vec["ifup"]
	if prog == "" {
		return nil
	}
	cmd := exec.Command(prog, ifname)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ifup %s %s: %v", prog, ifname, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// randomName is n characters of [0-9A-Z], as the real kernel names the taps it makes.
func randomName(n int) string {
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// vecFiles are the vector devices' host sides.
var vecFiles = &handedFDs{env: vecFDsEnv, name: "vec"}

// vecTransport returns the transport of vector device s: the fd the outer process opened.
func vecTransport(s *netdev.Spec) (*netdev.Transport, error) {
	if f := vecFiles.get(s.Index); f != nil {
		return netdev.OpenDevice(s, f)
	}
	return nil, errors.New("") // the outer process said why
}
