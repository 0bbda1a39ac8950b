package vswitch_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/vswitch"
)

var bcast = vswitch.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func mac(n byte) vswitch.MAC { return vswitch.MAC{0xfe, 0xfd, 0x0a, 0, 0, n} }

func dial(t *testing.T, ctl string, version int, data string) *vswitch.Client {
	t.Helper()
	c, err := vswitch.Dial(ctl, version, data)
	if err != nil {
		t.Fatalf("attaching a v%d port: %v", version, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads the next frame on c and requires it to be want.
func expect(t *testing.T, c *vswitch.Client, name string, want []byte) {
	t.Helper()
	buf := make([]byte, 2048)
	n, err := c.Recv(buf, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: no frame (want %q): %v", name, want[14:], err)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("%s got %q, want %q", name, buf[14:n], want[14:])
	}
}

// TestForwardingWithFakePorts checks the forwarding rules with programs speaking the daemon
// protocol, against the real uml_switch and ours. "Does not get a frame" is shown without
// timing: a broadcast marker sent right after must be the next thing the port reads.
func TestForwardingWithFakePorts(t *testing.T) {
	for _, im := range impls {
		for _, hub := range []bool{false, true} {
			name := im.name + "/Switch"
			if hub {
				name = im.name + "/Hub"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				ctl := filepath.Join(dir, "ctl")
				args := []string{"-unix", ctl}
				if hub {
					args = append(args, "-hub")
				}
				startSwitch(t, im.binary(t), ctl, args...)
				p1, p2, p3 := dial(t, ctl, 3, ""), dial(t, ctl, 3, ""), dial(t, ctl, 1, "")
				ports := []*vswitch.Client{p1, p2, p3}
				// Every port broadcasts once: flooded to the others, never back; all learned.
				for i, p := range ports {
					f := vswitch.Frame(bcast, mac(byte(i+1)), []byte(fmt.Sprintf("hello from %d", i+1)))
					if err := p.Send(f); err != nil {
						t.Fatal(err)
					}
					for j, q := range ports {
						if j != i {
							expect(t, q, fmt.Sprintf("port %d", j+1), f)
						}
					}
				}
				marker := func(n int) []byte {
					return vswitch.Frame(bcast, mac(1), []byte(fmt.Sprintf("marker %d", n)))
				}
				// Learned unicast 1 -> 2: port 3 sees it only in hub mode.
				uni := vswitch.Frame(mac(2), mac(1), []byte("unicast to 2"))
				_ = p1.Send(uni)
				_ = p1.Send(marker(1))
				expect(t, p2, "port 2", uni)
				expect(t, p2, "port 2", marker(1))
				if hub {
					expect(t, p3, "port 3 (hub)", uni)
				}
				expect(t, p3, "port 3", marker(1))
				// Unknown destination: flooded, not back to the sender.
				unk := vswitch.Frame(mac(9), mac(1), []byte("to nobody"))
				_ = p1.Send(unk)
				_ = p1.Send(marker(2))
				expect(t, p2, "port 2", unk)
				expect(t, p3, "port 3", unk)
				expect(t, p2, "port 2", marker(2))
				expect(t, p3, "port 3", marker(2))
				// A learned destination on the ingress port itself is sent back there (switch mode).
				self := vswitch.Frame(mac(1), mac(1), []byte("to myself"))
				_ = p1.Send(self)
				_ = p2.Send(vswitch.Frame(bcast, mac(2), []byte("marker from 2")))
				if !hub {
					expect(t, p1, "port 1 (own address)", self)
				} else {
					expect(t, p2, "port 2 (hub)", self)
					expect(t, p3, "port 3 (hub)", self)
				}
				expect(t, p1, "port 1", vswitch.Frame(bcast, mac(2), []byte("marker from 2")))
			})
		}
	}
}

// TestOldRequestLayouts attaches v0 and v1 ports to -compat-v0 switches (filesystem data
// socket, no reply to v0) and checks refused versions close the connection.
func TestOldRequestLayouts(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl, data := filepath.Join(dir, "ctl"), filepath.Join(dir, "data")
			sw := startSwitch(t, im.binary(t), ctl, "-compat-v0", "-unix", ctl, data)
			p0, p1 := dial(t, ctl, 0, data), dial(t, ctl, 1, "")
			if got := p1.SwitchTo.String(); got != data {
				t.Errorf("v1 reply names %q, want the data socket %q", got, data)
			}
			// A v0 port gets no reply, so its dial returns before the switch has read the
			// request; on a loaded machine its first frame can arrive first and count as
			// from an unknown sender. Rounds repeat until the switch knows the v0 port.
			got := false
			for round := 0; round < 5 && !got; round++ {
				f := vswitch.Frame(bcast, mac(1), []byte("from v0"))
				if err := p0.Send(f); err != nil {
					t.Fatal(err)
				}
				expect(t, p1, "v1 port", f)
				f = vswitch.Frame(mac(1), mac(2), []byte("to v0"))
				_ = p1.Send(f)
				buf := make([]byte, 2048)
				n, err := p0.Recv(buf, 3*time.Second)
				if err != nil {
					continue
				}
				if !bytes.Equal(buf[:n], f) {
					t.Fatalf("v0 port got %q, want %q", buf[14:n], f[14:])
				}
				got = true
			}
			if !got {
				t.Fatalf("v0 port never got the frame addressed to it")
			}
			for _, v := range []uint32{2, 4} {
				c, err := net.Dial("unix", ctl)
				if err != nil {
					t.Fatal(err)
				}
				req := make([]byte, 124)
				binary.LittleEndian.PutUint32(req, vswitch.Magic)
				binary.LittleEndian.PutUint32(req[4:], v)
				binary.LittleEndian.PutUint16(req[12:], 1)
				_, _ = c.Write(req)
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				if n, err := io.ReadFull(c, make([]byte, 110)); err == nil {
					t.Errorf("version %d request was answered (%d bytes)", v, n)
				}
				c.Close()
			}
			if im.ours {
				if !waitLog(sw, "Version 2 is not supported") || !waitLog(sw, "Request for a version 4 port") {
					t.Errorf("refusal messages missing:\n%s", sw.out.String())
				}
				if !strings.Contains(sw.out.String(), "Control protocol 0 compatibility") ||
					!strings.Contains(sw.out.String(), "attached to unix sockets '"+ctl+"' and '"+data+"'") {
					t.Errorf("compat-v0 messages missing:\n%s", sw.out.String())
				}
			}
		})
	}
}

func waitLog(sw *switchProc, s string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(sw.out.String(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
