package vswitch_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
)

// tcpGSO builds what a guest's tap hands over for one large TCP send from src to dst: a
// virtio_net_hdr for TCPv4 GSO with segment size mss, and the packet, its TCP checksum
// partial (the pseudo-header's sum).
func tcpGSO(dst, src vswitch.MAC, mss int, payload []byte) []byte {
	const hl = 14 + 20 + 20
	f := make([]byte, hl+len(payload))
	copy(f, dst[:])
	copy(f[6:], src[:])
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	copy(ip[12:], []byte{10, 0, 9, 1, 10, 0, 9, 2})
	binary.BigEndian.PutUint16(ip[10:], vnet.Checksum(ip[:20], 0))
	th := ip[20:]
	binary.BigEndian.PutUint16(th[0:], 40000)
	binary.BigEndian.PutUint16(th[2:], 5201)
	binary.BigEndian.PutUint32(th[4:], 1000)
	binary.BigEndian.PutUint32(th[8:], 77)
	th[12], th[13] = 5<<4, 0x18 // ACK, PSH
	binary.BigEndian.PutUint16(th[14:], 500)
	copy(th[20:], payload)
	binary.BigEndian.PutUint16(th[16:], ^vnet.Checksum(nil, vnet.PseudoSum(ip, len(th))))
	h := make([]byte, vnet.HdrLen)
	h[0] = vnet.FlagNeedsCsum
	if len(payload) > mss {
		h[1] = vnet.GSOTCPv4
	}
	binary.LittleEndian.PutUint16(h[2:], hl)
	binary.LittleEndian.PutUint16(h[4:], uint16(mss))
	binary.LittleEndian.PutUint16(h[6:], 14+20)
	binary.LittleEndian.PutUint16(h[8:], 16)
	return append(h, f...)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// plainTCP checks a frame as a receiving stack would (lengths, both checksums) and returns
// its payload.
func plainTCP(t *testing.T, f []byte) []byte {
	t.Helper()
	if len(f) > vnet.MaxFrame || len(f) < 54 {
		t.Fatalf("a %d-byte frame", len(f))
	}
	ip := f[14:]
	if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) || vnet.Checksum(ip[:20], 0) != 0 {
		t.Fatal("a bad IP length or checksum")
	}
	if vnet.Checksum(ip[20:], vnet.PseudoSum(ip, len(ip)-20)) != 0 {
		t.Fatal("a bad TCP checksum")
	}
	return ip[40:]
}

// recv reads the next datagram on c.
func recv(t *testing.T, c *vswitch.Client, what string) []byte {
	t.Helper()
	buf := make([]byte, vnet.MaxSuper+1)
	n, err := c.Recv(buf, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: nothing came: %v", what, err)
	}
	return buf[:n]
}

// inProcess runs our switch inside the test, with its log in a buffer.
func inProcess(t *testing.T, cfg vswitch.Config) (*vswitch.Server, *testenv.SafeBuffer) {
	t.Helper()
	out := &testenv.SafeBuffer{}
	log := vswitch.NewLog("uml_switch", out, out)
	srv, err := vswitch.Listen(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	t.Cleanup(func() { srv.Close(); log.Close() })
	return srv, out
}

func portOf(t *testing.T, srv *vswitch.Server, m vswitch.MAC) *vswitch.Port {
	t.Helper()
	p := srv.Sw.Lookup(m)
	if p == nil {
		t.Fatalf("%s was not learned", m)
	}
	return p
}

// TestExtSuperFrames attaches two ports that take the extension, as our linux does, and a
// plain one, as the real linux.uml is: a super-frame crosses the switch whole to the
// extended port and cut into checked MTU-sized frames to the plain one; what the plain one
// sends reaches the extended ones with a header of zeros; partial checksums are finished;
// a malformed datagram is dropped and counted, never forwarded; learning stays right; the
// status line shows the super-frames. With -hub, and in switch mode.
func TestExtSuperFrames(t *testing.T) {
	for _, hub := range []bool{false, true} {
		name := "Switch"
		if hub {
			name = "Hub"
		}
		t.Run(name, func(t *testing.T) { extSuperFrames(t, hub) })
	}
}

func extSuperFrames(t *testing.T, hub bool) {
	dir := t.TempDir()
	srv, _ := inProcess(t, vswitch.Config{Ctl: filepath.Join(dir, "ctl"), Hub: hub})
	a, b, c := dial(t, srv.Cfg.Ctl, 3, ""), dial(t, srv.Cfg.Ctl, 3, ""), dial(t, srv.Cfg.Ctl, 3, "")
	for _, p := range []*vswitch.Client{a, b} {
		if ok, err := p.Extend(); !ok || err != nil {
			t.Fatalf("the extension was not granted: %v", err)
		}
	}
	ext := func(f []byte) []byte { return append(make([]byte, vnet.HdrLen), f...) }
	// Each port says who it is; the others see it (a broadcast), with a header of zeros on
	// the extended ports, as it is on the plain one.
	hello := func(from *vswitch.Client, m vswitch.MAC, isExt bool, to ...*vswitch.Client) {
		f := vswitch.Frame(bcast, m, []byte("hello"))
		if isExt {
			from.Send(ext(f))
		} else {
			from.Send(f)
		}
		for _, p := range to {
			want := f
			if p != c {
				want = ext(f)
			}
			if got := recv(t, p, "hello"); !bytes.Equal(got, want) {
				t.Fatalf("hello from %s: got %x", m, got)
			}
		}
	}
	hello(a, mac(1), true, b, c)
	hello(b, mac(2), true, a, c)
	hello(c, mac(3), false, a, b)
	pa, pb, pc := portOf(t, srv, mac(1)), portOf(t, srv, mac(2)), portOf(t, srv, mac(3))
	if !pa.Extended() || !pb.Extended() || pc.Extended() {
		t.Fatalf("extended: a %v b %v c %v", pa.Extended(), pb.Extended(), pc.Extended())
	}

	// a → b: one datagram, as it was sent (in a hub, c gets it cut up too).
	payload := pattern(5000)
	sup := tcpGSO(mac(2), mac(1), 1448, payload)
	a.Send(sup)
	if got := recv(t, b, "the super-frame"); !bytes.Equal(got, sup) {
		t.Fatalf("b got %d bytes, not the %d-byte super-frame", len(got), len(sup))
	}
	// a → c: the same cut into four frames of at most the MTU, every checksum complete.
	cutFor := func(dst vswitch.MAC) {
		var got []byte
		for i := 0; i < 4; i++ {
			f := recv(t, c, "a segment")
			if !bytes.Equal(f[:6], dst[:]) {
				t.Fatalf("segment %d is for %x", i, f[:6])
			}
			got = append(got, plainTCP(t, f)...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatal("the segments' payloads are not the super-frame's")
		}
	}
	if hub {
		cutFor(mac(2))
	}
	sup3 := tcpGSO(mac(3), mac(1), 1448, payload)
	a.Send(sup3)
	cutFor(mac(3))
	if hub {
		if got := recv(t, b, "the super-frame"); !bytes.Equal(got, sup3) {
			t.Fatalf("b got %d bytes, not the %d-byte super-frame", len(got), len(sup3))
		}
	}

	// A partial checksum without GSO is finished for everyone.
	small := tcpGSO(mac(3), mac(1), 1448, pattern(100))
	a.Send(small)
	plainTCP(t, recv(t, c, "the small frame"))
	if hub {
		got := recv(t, b, "the small frame")
		if got[0] != 0 {
			t.Fatalf("b got header flags %#x, want 0 (the checksum finished)", got[0])
		}
		plainTCP(t, got[vnet.HdrLen:])
	}

	// Malformed datagrams from a go nowhere: the broadcast after them is the next thing
	// b and c read.
	bad := append([]byte(nil), sup...)
	bad[vnet.HdrLen+14+2]++ // the IP length no longer says the frame's
	huge := tcpGSO(mac(2), mac(1), 1, pattern(200))
	for _, d := range [][]byte{bad, sup[:20], huge, ext(make([]byte, 1600))} {
		a.Send(d)
	}
	mark := vswitch.Frame(bcast, mac(1), []byte("after"))
	a.Send(ext(mark))
	if got := recv(t, b, "the marker"); !bytes.Equal(got, ext(mark)) {
		t.Fatalf("b got %x, want the marker", got)
	}
	if got := recv(t, c, "the marker"); !bytes.Equal(got, mark) {
		t.Fatalf("c got %x, want the marker", got)
	}
	if n := pa.RxErrors.Load(); n != 4 {
		t.Errorf("a's rx errors: %d, want 4", n)
	}
	// c → b: a plain frame reaches the extended port with a header of zeros.
	uni := vswitch.Frame(mac(2), mac(3), []byte("to b"))
	c.Send(uni)
	if got := recv(t, b, "c's frame"); !bytes.Equal(got, ext(uni)) {
		t.Fatalf("b got %x", got)
	}
	if hub {
		if got := recv(t, a, "c's frame"); !bytes.Equal(got, ext(uni)) {
			t.Fatalf("a got %x", got)
		}
	}
	if p := srv.Sw.Lookup(mac(1)); p != pa {
		t.Error("a's address moved")
	}
	wantB := uint64(1)
	if hub {
		wantB = 2
	}
	if pa.RxSuper.Load() != 2 || pb.TxSuper.Load() != wantB {
		t.Errorf("super-frames: a sent %d (want 2), b got %d (want %d)", pa.RxSuper.Load(), pb.TxSuper.Load(), wantB)
	}
	var st bytes.Buffer
	srv.Sw.WriteStatus(&st)
	if !bytes.Contains(st.Bytes(), []byte("extended: super-frames rx 2 tx 0")) {
		t.Errorf("status:\n%s", st.String())
	}
}

// TestExtNotOfferedByTheRealSwitch: Debian's uml_switch's reply carries no offer, so a
// client never writes the hello to it; ours offers it in its abstract address, and with
// -compat-v0 after its data socket's path.
func TestExtNotOfferedByTheRealSwitch(t *testing.T) {
	for _, im := range impls {
		for _, v0 := range []bool{false, true} {
			dir := t.TempDir()
			ctl, data := filepath.Join(dir, "ctl"), filepath.Join(dir, "data")
			args := []string{"-unix", ctl}
			if v0 {
				args = []string{"-compat-v0", "-unix", ctl, data}
			}
			startSwitch(t, im.binary(t), ctl, args...)
			c := dial(t, ctl, 3, "")
			ok, err := c.Extend()
			if err != nil || ok != im.ours {
				t.Errorf("%s (compat-v0 %v): extended %v (%v), want %v", im.name, v0, ok, err, im.ours)
			}
			if v0 && c.SwitchTo.String() != data {
				t.Errorf("%s: the reply names %q, want %q", im.name, c.SwitchTo.String(), data)
			}
		}
	}
}

// TestExtCaptureIsPlain: the capture records the frames a plain guest would have sent,
// never a super-frame.
func TestExtCaptureIsPlain(t *testing.T) {
	dir := t.TempDir()
	capFile := filepath.Join(dir, "cap.pcap")
	srv, _ := inProcess(t, vswitch.Config{Ctl: filepath.Join(dir, "ctl"), Pcap: capFile})
	a := dial(t, srv.Cfg.Ctl, 3, "")
	if ok, err := a.Extend(); !ok || err != nil {
		t.Fatalf("not extended: %v", err)
	}
	payload := pattern(3000)
	a.Send(tcpGSO(mac(2), mac(1), 1000, payload))
	if !testenv.WaitFor(10*time.Second, func() bool {
		p := srv.Sw.Lookup(mac(1))
		return p != nil && p.RxSuper.Load() == 1
	}) {
		t.Fatal("the switch did not take the super-frame")
	}
	srv.Close()
	b, err := os.ReadFile(capFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 {
		t.Fatalf("a %d-byte capture", len(b))
	}
	var got []byte
	n := 0
	for b = b[24:]; len(b) >= 16; n++ {
		l := int(binary.LittleEndian.Uint32(b[8:]))
		got = append(got, plainTCP(t, b[16:16+l])...)
		b = b[16+l:]
	}
	if n != 3 || !bytes.Equal(got, payload) {
		t.Fatalf("%d frames captured, want 3 carrying the payload", n)
	}
	// Debian's tcpdump reads the same: three TCP segments of 1000 bytes, their TCP
	// checksums correct.
	out, err := exec.Command(testenv.Tool(t, "tcpdump"), "-n", "-vv", "-r", capFile).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	if c := strings.Count(string(out), "(correct)"); c != 3 || strings.Contains(string(out), "incorrect") ||
		strings.Count(string(out), "length 1000") != 3 {
		t.Errorf("tcpdump read:\n%s", out)
	}
}

// TestExtBadHellos: a hello that is not one ends the port as any stray bytes on the
// control connection do, with one line on standard error; so does a hello naming a data
// address that is another port's. A good one after a refused one never comes: the port
// is gone.
func TestExtBadHellos(t *testing.T) {
	dir := t.TempDir()
	srv, log := inProcess(t, vswitch.Config{Ctl: filepath.Join(dir, "ctl")})
	other := dial(t, srv.Cfg.Ctl, 3, "")
	good := vswitch.ExtHello{Version: 1, Features: vswitch.ExtVNet, Sock: other.Addr}
	wrongVersion := good
	wrongVersion.Version = 2
	wrongVersion.Sock.Path[20]++
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"version 2", wrongVersion.Marshal(), "extension hello of version 2, want 1; dropping the port"},
		{"another port's address", good.Marshal(), "is already port"},
		{"cut short", good.Marshal()[:30], "extension hello cut short"},
	} {
		p := dial(t, srv.Cfg.Ctl, 3, "")
		ctl := p.ControlConn()
		ctl.Write(c.b)
		if c.name == "cut short" {
			ctl.(interface{ CloseWrite() error }).CloseWrite()
		}
		ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := ctl.Read(make([]byte, 16)); err != io.EOF {
			t.Errorf("%s: the switch answered %d bytes (%v), want the port closed", c.name, n, err)
		}
		if !testenv.WaitFor(5*time.Second, func() bool { return bytes.Contains([]byte(log.String()), []byte(c.want)) }) {
			t.Errorf("%s: no %q in the log:\n%s", c.name, c.want, log.String())
		}
	}
	if len(srv.Sw.Ports()) != 1 {
		t.Errorf("%d ports left, want the first one", len(srv.Sw.Ports()))
	}
}
