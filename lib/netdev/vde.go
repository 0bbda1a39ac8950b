package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// The vde transport speaks the control protocol of VDE's vde_switch itself, as libvdeplug
// does (the real kernel links libvdeplug): a stream connection to DIR/ctl carrying one
// request that names the plug's data socket, the switch's data socket's address in reply,
// and then one Ethernet frame per datagram between the two data sockets, with no header.
// The connection stays open for the port's life; closing it frees the port.

// vdeMagic and vdeVersion open every request.
const (
	vdeMagic   = 0xfeedface
	vdeVersion = 3
	// vdeReqNewControl asks for any free port; a port number goes in the bits above it,
	// and vdeReqNewPort0 asks for port 0 itself.
	vdeReqNewControl = 0
	vdeReqNewPort0   = 1
	// vdeDescrMax is the longest description the switch keeps.
	vdeDescrMax = 128
	// vdeReqHead is the request without its description: magic, version, type, the
	// plug's struct sockaddr_un.
	vdeReqHead  = 12 + sockaddrLen
	sockaddrLen = vswitch.SockaddrLen
)

// vdeDefaultSwitches are libvdeplug's switches when the spec names none, tried in order.
var vdeDefaultSwitches = []string{"/var/run/vde.ctl", "/tmp/vde.ctl"}

// vdeDefaultDescr is the real kernel's description of its ports.
const vdeDefaultDescr = "UML vde_transport"

// VDERequest encodes the request for a port (0: any) with the plug's data socket path and
// description.
func VDERequest(port uint32, dataPath, descr string) []byte {
	if len(descr) > vdeDescrMax {
		descr = descr[:vdeDescrMax]
	}
	b := make([]byte, vdeReqHead, vdeReqHead+len(descr))
	binary.LittleEndian.PutUint32(b[0:], vdeMagic)
	binary.LittleEndian.PutUint32(b[4:], vdeVersion)
	typ := uint32(vdeReqNewControl)
	if port != 0 {
		typ |= port << 8
	}
	binary.LittleEndian.PutUint32(b[8:], typ)
	binary.LittleEndian.PutUint16(b[12:], unix.AF_UNIX)
	copy(b[14:vdeReqHead], dataPath)
	return append(b, descr...)
}

// ParseVDEReply checks the switch's reply, its data socket's struct sockaddr_un, and returns
// it padded to the full structure (the plug connects with the whole of it). A reply the
// switch sent with a family other than AF_UNIX, an empty path or no NUL within the
// structure is refused: nothing but a local socket may become the guest's wire.
func ParseVDEReply(b []byte) ([sockaddrLen]byte, error) {
	var a [sockaddrLen]byte
	if len(b) < 3 {
		return a, fmt.Errorf("short reply (%d bytes)", len(b))
	}
	if len(b) > sockaddrLen {
		return a, fmt.Errorf("reply of %d bytes, longer than a socket address", len(b))
	}
	if f := binary.LittleEndian.Uint16(b); f != unix.AF_UNIX {
		return a, fmt.Errorf("reply names address family %d, not a local socket", f)
	}
	copy(a[:], b)
	path := a[2:]
	if path[0] != 0 {
		n := 0
		for n < len(path) && path[n] != 0 {
			n++
		}
		if n == len(path) {
			return a, errors.New("reply's socket path has no end")
		}
	} else if len(b) == 2+1 {
		return a, errors.New("reply names no socket")
	}
	return a, nil
}

// vdePlugSeq numbers this process's data sockets, as libvdeplug's do.
var vdePlugSeq uint32

// openVDE attaches to a vde_switch. The data socket is bound to a path in dataDir (the
// kernel's own work directory: the kernel may make sockets nowhere else) and unlinked once
// the switch is connected to it.
func (t *Transport) openVDE() error {
	s := t.spec
	dataDir := s.DataDir
	if dataDir == "" {
		dataDir = os.TempDir()
	}
	name := s.Ctl
	if name == "" {
		name = "default switch"
	}
	fail := func(err error) error {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("vde_open %s: %s", name, strerror(errno))
		}
		return fmt.Errorf("vde_open %s: %v", name, err)
	}
	ctl, ctlPath, err := vdeConnect(s.Ctl)
	if err != nil {
		return fail(err)
	}
	t.ctl = ctl
	fd, err := newSocket(unix.AF_UNIX)
	if err != nil {
		return fail(err)
	}
	t.sock = os.NewFile(uintptr(fd), "vde-data")
	var path string
	for {
		vdePlugSeq++
		path = filepath.Join(dataDir, fmt.Sprintf("vde.%05d-%05d", os.Getpid(), vdePlugSeq))
		if len(path) >= sockaddrLen-2 {
			return fail(fmt.Errorf("data socket path %s is too long", path))
		}
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EADDRINUSE {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	defer os.Remove(path)
	if err := vdeDataPerms(path, ctlPath, s); err != nil {
		return fail(err)
	}
	descr := s.Descr
	if descr == "" {
		descr = vdeDefaultDescr
	}
	_ = ctl.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := ctl.Write(VDERequest(s.VdePort, path, descr)); err != nil {
		return fail(err)
	}
	buf := make([]byte, sockaddrLen+1)
	n, err := ctl.Read(buf)
	if err != nil {
		return fail(err)
	}
	_ = ctl.SetDeadline(time.Time{})
	raw, err := ParseVDEReply(buf[:n])
	if err != nil {
		return fail(err)
	}
	a := rawAddr110(raw)
	if err := sockcall(unix.SYS_CONNECT, fd, &a); err != nil {
		return fail(err)
	}
	return nil
}

// vdeConnect connects to the switch's control socket: DIR/ctl, or DIR itself for a switch
// of the old kind whose control socket is the path; the defaults in turn when no switch is
// named.
func vdeConnect(dir string) (net.Conn, string, error) {
	cands := []string{dir}
	if dir == "" {
		cands = vdeDefaultSwitches
	}
	var last error = unix.ENOENT
	d := net.Dialer{Timeout: dialTimeout}
	for _, c := range cands {
		for _, p := range []string{filepath.Join(c, "ctl"), c} {
			conn, err := d.Dial("unix", p)
			if err == nil {
				return conn, p, nil
			}
			// the most telling error: anything but "no such socket here"
			var errno unix.Errno
			if errors.As(err, &errno) && errno != unix.ENOENT && errno != unix.ENOTDIR {
				last = errno
			}
		}
	}
	return nil, "", last
}

// vdeDataPerms gives the data socket the group and mode asked for; without them, as
// libvdeplug does, the switch's own group when it runs as another user than root and us.
func vdeDataPerms(path, ctlPath string, s *Spec) error {
	mode := uint32(0o700)
	if s.VdeModeGiven {
		mode = s.VdeMode
	}
	if s.VdeGroup != "" {
		gid, err := strconv.Atoi(s.VdeGroup)
		if err != nil || gid < 0 {
			return fmt.Errorf("group %q: only a numeric group can be given", s.VdeGroup)
		}
		if err := os.Chown(path, -1, gid); err != nil {
			return err
		}
	} else if mode&0o77 == 0 {
		var st unix.Stat_t
		if unix.Stat(ctlPath, &st) == nil && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
			if os.Chown(path, -1, int(st.Gid)) == nil {
				mode |= 0o70
			} else {
				mode |= 0o77
			}
		}
	}
	return os.Chmod(path, os.FileMode(mode&0o777))
}

// strerror spells an errno as the C library does.
func strerror(e unix.Errno) string {
	s := e.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
