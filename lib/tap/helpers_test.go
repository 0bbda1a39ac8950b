package tap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireNetAdmin skips tests that change network state when we cannot: they need root
// (CAP_NET_ADMIN to make taps and routes, CAP_SYS_ADMIN for a private network namespace).
func requireNetAdmin(t testing.TB) {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Skipf("needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN): capget: %v", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if os.Geteuid() != 0 || !has(unix.CAP_NET_ADMIN) || !has(unix.CAP_SYS_ADMIN) {
		t.Skip("needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN) to create taps in a private network namespace")
	}
	if _, err := os.Stat(TunDevice); err != nil {
		t.Skipf("needs %s: %v", TunDevice, err)
	}
}

// enterNetns moves the calling test goroutine into a fresh network namespace for the rest of
// the test. The OS thread stays locked and is never unlocked, so the runtime discards it when
// the test goroutine ends; programs started from this goroutine (os/exec forks on the calling
// thread) live in the namespace too. Everything the test changes (taps, routes, proxy ARP,
// ip_forward) disappears with the namespace, and no traffic leaves it.
func enterNetns(t testing.TB) {
	t.Helper()
	requireNetAdmin(t)
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	// A fresh namespace has lo down; bring it up so local sockets work.
	if l, err := LinkByNameAny("lo"); err == nil {
		_ = setLinkUp(l.Index)
	}
}

// LinkByNameAny is LinkByName for names tests make up (no alphanumeric rule).
func LinkByNameAny(name string) (*Link, error) {
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
		if m.typ == unix.RTM_NEWLINK && len(m.data) >= unix.SizeofIfInfomsg {
			return &Link{Name: name, Index: int32(binary.NativeEndian.Uint32(m.data[4:]))}, nil
		}
	}
	return nil, unix.ENODEV
}

// newLink creates a dummy interface, or a veth pair when peer is given.
func newLink(t testing.TB, kind, name, peer string) *Link {
	t.Helper()
	c, err := dialRoute()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info := attrs(nil).str(unix.IFLA_INFO_KIND, kind)
	if peer != "" {
		const vethInfoPeer = 1
		p := attrs(ifinfomsg(0, 0, 0)).str(unix.IFLA_IFNAME, peer)
		info = info.add(unix.IFLA_INFO_DATA, attrs(nil).add(vethInfoPeer, p))
	}
	body := attrs(ifinfomsg(0, 0, 0)).str(unix.IFLA_IFNAME, name).add(unix.IFLA_LINKINFO, info)
	if _, err := c.request(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body); err != nil {
		t.Fatalf("creating %s %s: %v", kind, name, err)
	}
	l, err := LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := setLinkUp(l.Index); err != nil {
		t.Fatal(err)
	}
	return l
}

// proxyEntries lists the published (proxy) ARP entries as "addr@ifindex".
func proxyEntries(t testing.TB) []string {
	t.Helper()
	c, err := dialRoute()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = unix.AF_INET
	b[10] = unix.NTF_PROXY
	msgs, err := c.request(unix.RTM_GETNEIGH, unix.NLM_F_DUMP, b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if len(m.data) < unix.SizeofNdMsg || m.data[10]&unix.NTF_PROXY == 0 {
			continue
		}
		at := parseAttrs(m.data[unix.SizeofNdMsg:])
		if v := at[unix.NDA_DST]; len(v) == 4 {
			idx := int32(binary.NativeEndian.Uint32(m.data[4:]))
			out = append(out, netip.AddrFrom4([4]byte(v)).String()+"@"+strconv.Itoa(int(idx)))
		}
	}
	return out
}

// hasRoute reports whether the main table routes dst/32 through ifindex.
func hasRoute(t testing.TB, dst netip.Addr, index int32) bool {
	t.Helper()
	rs, err := mainRoutes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Dst == dst && r.DstLen == 32 && r.OIF == index {
			return true
		}
	}
	return false
}

// helperResult is one run of a uml_net binary with a socketpair as its stdout.
type helperResult struct {
	Name   string   // interface name from a "tuntap up" reply
	Text   string   // log text without the NUL
	Tap    *os.File // the received tap fd, if any
	Stderr string
	Code   int
	Raw    []byte // everything read from the stream, for stream replies
}

// runHelper runs prog args with stdout = one end of a socketpair of type typ and reads the
// reply the way the UML kernel does.
func runHelper(t testing.TB, prog string, typ int, attr *syscall.SysProcAttr, args ...string) helperResult {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	me := os.NewFile(uintptr(fds[0]), "me")
	remote := os.NewFile(uintptr(fds[1]), "remote")
	defer me.Close()
	cmd := exec.Command(prog, args...)
	cmd.Stdout = remote
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if attr != nil {
		cmd.SysProcAttr = attr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	remote.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res helperResult
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish", prog, args)
	}
	res.Code = cmd.ProcessState.ExitCode()
	res.Stderr = stderr.String()
	_ = unix.SetNonblock(fds[0], true)
	if typ == unix.SOCK_DGRAM {
		buf := make([]byte, 16+8192)
		oob := make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, 0)
		if err == nil {
			data := buf[:n]
			if oobn > 0 {
				msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
				for _, m := range msgs {
					if rights, err := unix.ParseUnixRights(&m); err == nil && len(rights) > 0 {
						res.Tap = os.NewFile(uintptr(rights[0]), "tap")
						t.Cleanup(func() { res.Tap.Close() })
					}
				}
				if len(data) >= unix.IFNAMSIZ {
					res.Name = cstring(data[:unix.IFNAMSIZ])
					data = data[unix.IFNAMSIZ:]
				}
			}
			res.Text = strings.TrimRight(string(data), "\x00")
		}
		return res
	}
	var all []byte
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fds[0], buf)
		if n <= 0 || err != nil {
			break
		}
		all = append(all, buf[:n]...)
	}
	res.Raw = all
	if len(all) >= 4 {
		l := int(binary.NativeEndian.Uint32(all))
		if l <= len(all)-4 {
			res.Text = strings.TrimRight(string(all[4:4+l]), "\x00")
		}
	}
	return res
}
