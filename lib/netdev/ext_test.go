package netdev

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// daemonDevice opens a daemon device on the switch at ctl and starts its relay on a fake
// tap that does (withHdr, as our linux's taps) or does not carry virtio headers.
func daemonDevice(t *testing.T, ctl string, n byte, withHdr bool) (guest int, r *Relay) {
	t.Helper()
	tr, err := Open(Parse(int(n), "daemon,,unix,"+ctl, func(string) {}), [6]byte{0xfe, 0xfd, 0, 0, 0, n})
	if err != nil {
		t.Fatal(err)
	}
	tap, guest := fakeTap(t)
	rc, _ := tap.SyscallConn()
	if r, err = start(tap, rc, tr, withHdr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return guest, r
}

// readGuest waits (bounded) for what the relay writes to a fake tap.
func readGuest(t *testing.T, guest int, what string) []byte {
	t.Helper()
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(guest, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	b := make([]byte, vnet.MaxSuper+1)
	for {
		n, err := unix.Read(guest, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("%s: nothing reached the guest: %v", what, err)
		}
		return b[:n]
	}
}

// TestNetDaemonExtended: two of our devices on our uml_switch take the extended transport
// and a TSO send crosses from one tap to the other as one frame, header and all; a device
// whose tap has no virtio headers stays plain and gets the send cut into checked frames
// of at most the MTU; its frames reach the others with a header of zeros; a frame whose
// header lies is dropped at the relay.
func TestNetDaemonExtended(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	srv, err := vswitch.Listen(vswitch.Config{Ctl: ctl}, vswitch.NewLog("uml_switch", io.Discard, io.Discard), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	t.Cleanup(srv.Close)
	ga, ra := daemonDevice(t, ctl, 1, true)
	gb, rb := daemonDevice(t, ctl, 2, true)
	gc, rc := daemonDevice(t, ctl, 3, false)
	if !ra.ext || !rb.ext || rc.ext {
		t.Fatalf("extended: a %v b %v c %v, want true true false", ra.ext, rb.ext, rc.ext)
	}
	// a's send, for an address nobody has shown yet: flooded.
	p := payload(6000, 5)
	sup := gsoFrame(1448, 0x18, p)
	copy(sup[vnetHdrLen:], []byte{0xfe, 0xfd, 0, 0, 0, 9, 0xfe, 0xfd, 0, 0, 0, 1})
	unix.Write(ga, sup)
	if got := readGuest(t, gb, "the super-frame"); !bytes.Equal(got, sup) {
		t.Fatalf("b's tap got %d bytes, not a's %d-byte frame", len(got), len(sup))
	}
	var data []byte
	for len(data) < len(p) {
		f := readGuest(t, gc, "a segment")
		if len(f) > MaxFrame {
			t.Fatalf("c got a %d-byte frame", len(f))
		}
		ip := f[ethHdrLen:]
		if checksum(ip[:ipv4Len], 0) != 0 || checksum(ip[ipv4Len:], pseudoSum(ip, len(ip)-ipv4Len)) != 0 {
			t.Fatal("c got a frame with a bad checksum")
		}
		data = append(data, f[ethHdrLen+ipv4Len+32:]...)
	}
	if !bytes.Equal(data, p) {
		t.Fatal("c's frames do not carry a's payload")
	}
	if ra.TxSuper.Load() != 1 || rb.RxSuper.Load() != 1 {
		t.Errorf("super-frames: a sent %d, b got %d; want 1, 1", ra.TxSuper.Load(), rb.RxSuper.Load())
	}
	// A lying header from a's guest goes nowhere: c's broadcast is what b reads next.
	bad := append([]byte(nil), sup...)
	binary.LittleEndian.PutUint16(bad[4:], 1) // a 1-byte MSS: 6000 segments
	unix.Write(ga, bad)
	f := frame(3, 60)
	unix.Write(gc, f)
	if got := readGuest(t, gb, "c's frame"); !bytes.Equal(got, append(make([]byte, vnetHdrLen), f...)) {
		t.Fatalf("b got %x, want c's frame after a header of zeros", got)
	}
	if got := readGuest(t, ga, "c's frame"); !bytes.Equal(got, append(make([]byte, vnetHdrLen), f...)) {
		t.Fatalf("a got %x, want c's frame after a header of zeros", got)
	}
	if ra.TxDrops.Load() != 1 {
		t.Errorf("a's tx drops: %d, want 1", ra.TxDrops.Load())
	}
}

// TestNetDaemonNotExtendedByTheRealSwitch: Debian's uml_switch offers nothing, so our
// device speaks plain protocol v3 to it (the tap's headers stay between the tap and the
// relay) and frames pass both ways.
func TestNetDaemonNotExtendedByTheRealSwitch(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	cmd := exec.Command(testenv.Tool(t, "uml_switch"), "-unix", ctl)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(ctl) }) {
		t.Fatal("the switch did not listen")
	}
	ga, ra := daemonDevice(t, ctl, 1, true)
	gb, rb := daemonDevice(t, ctl, 2, true)
	if ra.ext || rb.ext || ra.tr.extOffered {
		t.Fatal("extended on the real switch")
	}
	f := append(make([]byte, vnetHdrLen), frame(1, 1514)...)
	unix.Write(ga, f)
	if got := readGuest(t, gb, "a's frame"); !bytes.Equal(got, f) {
		t.Fatalf("b got %d bytes", len(got))
	}
}

// FuzzRelayFromExtWire: whatever datagrams come in on an extended transport (the switch
// checks them, but the relay trusts nothing), the relay survives, and everything it
// writes to the tap is a virtio header and a frame that vnet.Check takes (merged frames
// included); a marker sent last arrives.
func FuzzRelayFromExtWire(f *testing.F) {
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Add(gsoFrame(1448, 0x18, payload(4000, 1)), append(make([]byte, vnetHdrLen), frame(2, 60)...))
	f.Add(append(make([]byte, vnetHdrLen), tcpFrame(1, 0x10, payload(100, 1))...),
		append(make([]byte, vnetHdrLen), tcpFrame(101, 0x10, payload(100, 2))...))
	var (
		r     *Relay
		guest int
		wire  int
	)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if r == nil {
			sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.SetNonblock(sp[0], true)
			wire = sp[1]
			sock := os.NewFile(uintptr(sp[0]), "wire")
			rc, _ := sock.SyscallConn()
			tr := &Transport{spec: &Spec{Transport: Daemon}, sock: sock, rc: rc, ext: true}
			// A fake tap of the whole run (fakeTap's would close with the first input's t).
			tp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.SetNonblock(tp[0], true)
			tap, g := os.NewFile(uintptr(tp[0]), "tap"), tp[1]
			guest = g
			trc, _ := tap.SyscallConn()
			if r, err = start(tap, trc, tr, true); err != nil || !r.ext {
				t.Fatalf("not extended: %v", err)
			}
		}
		marker := append(make([]byte, vnetHdrLen), frame(9, 64)...)
		if bytes.Equal(a, marker) || bytes.Equal(b, marker) {
			return
		}
		for _, d := range [][]byte{a, b, marker} {
			unix.Write(wire, d)
		}
		buf := make([]byte, vnet.MaxSuper+1)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			n, err := unix.Read(guest, buf)
			if err != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			if bytes.Equal(buf[:n], marker) {
				return
			}
			if _, err := vnet.Check(buf[:n]); err != nil {
				t.Fatalf("the guest got a datagram Check refuses: %v", err)
			}
		}
		t.Fatal("the marker never arrived")
	})
}
