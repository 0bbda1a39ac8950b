package netdev

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// fakeTap is one end of a datagram socket pair standing in for a tap device (read and write
// move one frame each, as on a tap); the test holds the other end, as the guest would.
func fakeTap(t testing.TB) (tap *os.File, guest int) {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(sp[0], true)
	t.Cleanup(func() { unix.Close(sp[1]) })
	return os.NewFile(uintptr(sp[0]), "tap"), sp[1]
}

// readFrame waits (bounded) for a frame on the guest side of a fake tap.
func readFrame(t *testing.T, guest int) []byte {
	t.Helper()
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(guest, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	b := make([]byte, 4096)
	n, err := unix.Read(guest, b)
	for end := time.Now().Add(10 * time.Second); err == unix.EINTR && time.Now().Before(end); {
		// a read with SO_RCVTIMEO is not restarted after a signal (the runtime's SIGURG)
		n, err = unix.Read(guest, b)
	}
	if err != nil {
		t.Fatalf("no frame reached the guest: %v", err)
	}
	return b[:n]
}

func frame(src byte, size int) []byte {
	f := make([]byte, size)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0, 0, 0, src, 0x08, 0x00})
	for i := 14; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

func startPair(t testing.TB, a, b *Spec) (ga, gb int, ra, rb *Relay) {
	t.Helper()
	ta, err := Open(a, [6]byte{0xfe, 0xfd, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Open(b, [6]byte{0xfe, 0xfd, 0, 0, 0, 2})
	if err != nil {
		ta.Close()
		t.Fatal(err)
	}
	tapA, ga := fakeTap(t)
	tapB, gb := fakeTap(t)
	if ra, err = Start(tapA, ta); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ra.Stop)
	if rb, err = Start(tapB, tb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rb.Stop)
	return ga, gb, ra, rb
}

// exchange sends frames both ways, including the largest the relay passes; frames outside
// the limits are dropped and counted.
func exchange(t *testing.T, ga, gb int, ra, rb *Relay) {
	t.Helper()
	exchangeUpTo(t, MaxFrame, ga, gb, ra, rb)
}

// exchangeUpTo is exchange through a wire whose largest frame is largest.
func exchangeUpTo(t *testing.T, largest int, ga, gb int, ra, rb *Relay) {
	t.Helper()
	for _, size := range []int{42, 1514, largest} {
		f := frame(1, size)
		unix.Write(ga, f)
		if got := readFrame(t, gb); !bytes.Equal(got, f) {
			t.Fatalf("a→b %d bytes: got %d bytes", size, len(got))
		}
		g := frame(2, size)
		unix.Write(gb, g)
		if got := readFrame(t, ga); !bytes.Equal(got, g) {
			t.Fatalf("b→a %d bytes: got %d bytes", size, len(got))
		}
	}
	unix.Write(ga, frame(1, MaxFrame+1))
	unix.Write(ga, frame(1, 10))
	unix.Write(ga, frame(1, 60))
	if got := readFrame(t, gb); len(got) != 60 {
		t.Fatalf("after bad frames: got %d bytes, want the 60-byte one", len(got))
	}
	// the counters move just after the system call that moved the frame: b's tap may
	// have it before a's sendmmsg has returned
	for end := time.Now().Add(5 * time.Second); (rb.RxFrames.Load() < 4 || ra.TxFrames.Load() < 4) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if ra.TxDrops.Load() != 2 || ra.TxFrames.Load() != 4 || rb.RxFrames.Load() != 4 {
		t.Errorf("a: tx %d drops %d; b: rx %d", ra.TxFrames.Load(), ra.TxDrops.Load(), rb.RxFrames.Load())
	}
}

func TestNetUcastRelay(t *testing.T) {
	p1, p2 := freeUDPPort(t), freeUDPPort(t)
	a := Parse(0, "ucast,,127.0.0.1,"+itoa(p1)+","+itoa(p2), func(string) {})
	b := Parse(0, "ucast,,127.0.0.1,"+itoa(p2)+","+itoa(p1), func(string) {})
	ga, gb, ra, rb := startPair(t, a, b)
	exchange(t, ga, gb, ra, rb)
}

func TestNetDaemonRelay(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	srv, err := vswitch.Listen(vswitch.Config{Ctl: ctl}, vswitch.NewLog("uml_switch", io.Discard, io.Discard), nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(srv.Close)
	a := Parse(0, "daemon,,unix,"+ctl, func(string) {})
	b := Parse(1, "daemon,,unix,"+ctl, func(string) {})
	ga, gb, ra, rb := startPair(t, a, b)
	exchange(t, ga, gb, ra, rb)
}

func TestNetDaemonOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for spec, want := range map[string]string{
		"daemon,,unix," + dir + "/none": "daemon_open : control connect failed, errno = 2",
		"daemon,,tcp," + dir + "/none":  "daemon_open : control connect failed, errno = 14",
	} {
		if _, err := Open(Parse(0, spec, func(string) {}), RandomMAC()); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", spec, err, want)
		}
	}
	// A switch that accepts and answers short must not hold the boot, nor crash it.
	l, err := (&netListen{}).unix(filepath.Join(dir, "mute.ctl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			// the request first (closing before it arrives would be EPIPE, another failure)
			c.Read(make([]byte, 512))
			c.Write([]byte{1, 0, 2})
			c.Close()
		}
	}()
	if _, err := Open(Parse(0, "daemon,,unix,"+filepath.Join(dir, "mute.ctl"), func(string) {}), RandomMAC()); err == nil ||
		err.Error() != "daemon_open : read of data socket failed" {
		t.Errorf("short reply: %v", err)
	}
}

// The built-in NAT answers an ARP request for its gateway address.
func TestNetUsernetRelay(t *testing.T) {
	tr, err := Open(Parse(0, "usernet", func(string) {}), [6]byte{0xfe, 0xfd, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	tap, guest := fakeTap(t)
	r, err := Start(tap, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	arp := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0, 0, 0, 1, 0x08, 0x06,
		0, 1, 8, 0, 6, 4, 0, 1, 0xfe, 0xfd, 0, 0, 0, 1, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2}
	unix.Write(guest, arp)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got := readFrame(t, guest)
		if len(got) >= 42 && got[12] == 8 && got[13] == 6 && got[21] == 2 {
			return // an ARP reply
		}
	}
	t.Fatal("no ARP reply from the gateway")
}

// FuzzRelayFromWire: whatever datagrams arrive, the relay survives and passes the guest only
// frames of a length a tap takes.
func FuzzRelayFromWire(f *testing.F) {
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Add(frame(1, 60), frame(2, MaxFrame+1))
	f.Add(frame(1, MaxFrame), frame(1, 13))
	var (
		r     *Relay
		guest int
		peer  *net.UDPConn
	)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if r == nil {
			p := freeUDPPort(t)
			tr, err := Open(Parse(0, "ucast,,127.0.0.1,"+itoa(p)+","+itoa(p+1), func(string) {}), RandomMAC())
			if err != nil {
				t.Skip(err)
			}
			sp, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			unix.SetNonblock(sp[0], true)
			unix.SetNonblock(sp[1], true)
			guest = sp[1]
			if r, err = Start(os.NewFile(uintptr(sp[0]), "tap"), tr); err != nil {
				t.Fatal(err)
			}
			if peer, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); err != nil {
				t.Fatal(err)
			}
		}
		marker := frame(9, 64) // sent last: everything before it has been handled
		if bytes.Equal(a, marker) || bytes.Equal(b, marker) {
			return
		}
		want := uint64(0)
		for _, d := range [][]byte{a, b} {
			peer.Write(d)
			if len(d) >= minFrame && len(d) <= MaxFrame {
				want++
			}
		}
		peer.Write(marker)
		buf := make([]byte, 4096)
		got := uint64(0)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			n, err := unix.Read(guest, buf)
			if err != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			if n < minFrame || n > MaxFrame {
				t.Fatalf("a %d-byte frame reached the guest", n)
			}
			if bytes.Equal(buf[:n], marker) {
				if got != want {
					t.Fatalf("%d frames reached the guest, want %d", got, want)
				}
				return
			}
			got++
		}
		t.Fatal("the marker frame never arrived")
	})
}

// A host tap (here a socket pair standing in for one) relays both ways, and survives the
// relay's stop for the next boot's.
func TestNetDeviceRelay(t *testing.T) {
	dev, host := fakeTap(t)
	defer dev.Close()
	s := Parse(0, "tuntap,tap9", func(string) {})
	for boot := 0; boot < 2; boot++ {
		tr, err := OpenDevice(s, dev)
		if err != nil {
			t.Fatal(err)
		}
		tap, guest := fakeTap(t)
		r, err := Start(tap, tr)
		if err != nil {
			t.Fatal(err)
		}
		f := frame(1, 100)
		unix.Write(guest, f)
		if got := readFrame(t, host); !bytes.Equal(got, f) {
			t.Fatalf("boot %d: guest→host: %d bytes", boot, len(got))
		}
		g := frame(2, 1514)
		unix.Write(host, g)
		if got := readFrame(t, guest); !bytes.Equal(got, g) {
			t.Fatalf("boot %d: host→guest: %d bytes", boot, len(got))
		}
		r.Stop()
	}
}

// BenchmarkRelayFrames64: 64-byte frames from one guest's tap to another's through two
// relays and a ucast link on loopback; frames/s is what reaches the far guest (the relay
// drops what a full queue cannot take, as a NIC does, so delivered frames are what count).
func BenchmarkRelayFrames64(b *testing.B) {
	p1, p2 := freeUDPPort(b), freeUDPPort(b)
	sa := Parse(0, "ucast,,127.0.0.1,"+itoa(p1)+","+itoa(p2), func(string) {})
	sb := Parse(0, "ucast,,127.0.0.1,"+itoa(p2)+","+itoa(p1), func(string) {})
	ga, gb, _, _ := startPair(b, sa, sb)
	unix.SetNonblock(gb, true)
	f := frame(1, 64)
	done := make(chan struct{})
	got := 0
	var last time.Time // when the last frame arrived
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for got < b.N {
			pfd := []unix.PollFd{{Fd: int32(gb), Events: unix.POLLIN}}
			if n, _ := unix.Poll(pfd, 300); n == 0 {
				return // the rest were dropped
			}
			for {
				if _, err := unix.Read(gb, buf); err != nil {
					break
				}
				got++
			}
			last = time.Now()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for {
			_, err := unix.Write(ga, f)
			if err != unix.EAGAIN && err != unix.ENOBUFS {
				break
			}
			pfd := []unix.PollFd{{Fd: int32(ga), Events: unix.POLLOUT}}
			unix.Poll(pfd, 100)
		}
	}
	<-done
	b.StopTimer()
	if got == 0 {
		b.Fatal("no frame arrived")
	}
	b.ReportMetric(float64(got)/last.Sub(start).Seconds(), "frames/s")
	b.ReportMetric(100*float64(b.N-got)/float64(b.N), "%lost")
}

// TestNetRelayWaitsForTheSocket: frames the socket has no room for are held back and sent
// in order once it has, not dropped.
func TestNetRelayWaitsForTheSocket(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	wire := sp[1]
	t.Cleanup(func() { unix.Close(wire) })
	unix.SetNonblock(sp[0], true)
	// The smallest send buffer the host allows: a few frames fill it.
	unix.SetsockoptInt(sp[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 1)
	sock := os.NewFile(uintptr(sp[0]), "wire")
	rc, err := sock.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	tr := &Transport{spec: &Spec{Transport: Daemon}, sock: sock, rc: rc}
	tap, guest := fakeTap(t)
	r, err := Start(tap, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	const n = 50
	for i := 0; i < n; i++ {
		f := frame(1, 1000)
		f[14], f[15] = byte(i), 0xaa
		if _, err := unix.Write(guest, f); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(func() bool { return r.TxWaits.Load() > 0 }) {
		t.Fatalf("the relay never found the socket full (%d sent)", r.TxFrames.Load())
	}
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(wire, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	b := make([]byte, 2048)
	for i := 0; i < n; i++ {
		m, err := unix.Read(wire, b)
		for err == unix.EINTR {
			m, err = unix.Read(wire, b)
		}
		if err != nil {
			t.Fatalf("frame %d: %v (drops %d)", i, err, r.TxDrops.Load())
		}
		if m != 1000 || b[14] != byte(i) || b[15] != 0xaa {
			t.Fatalf("frame %d: got %d bytes, number %d", i, m, b[14])
		}
	}
	if d := r.TxDrops.Load(); d != 0 {
		t.Errorf("%d frames dropped", d)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
