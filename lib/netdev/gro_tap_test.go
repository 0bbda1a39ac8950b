package netdev

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestNetMergeIntoTap hands a real tap (IFF_VNET_HDR, in a network namespace of its own:
// root only) a merged GSO frame, as the relay does, on a TCP connection the test drives by
// hand, and checks that the host kernel's stack takes it whole: the listener reads every
// byte, and the ACK covers all the segments.
func TestNetMergeIntoTap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a tap device in a network namespace)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
	errc := make(chan error, 1)
	go func() {
		// The thread enters a network namespace of its own and goes back before it is
		// unlocked. (Were it left there, it could be the main thread, which the runtime
		// keeps: /proc/self/net, which other tests read, would then be the new namespace.)
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(home)
		errc <- mergeIntoTap()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the exchange with the tap did not end")
	}
}

func mergeIntoTap() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %v", err)
	}
	tap, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tap)
	ifr, _ := unix.NewIfreq("eth0")
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(tap, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF: %v", err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	for _, step := range []struct {
		req uint
		set func(*unix.Ifreq) error
	}{
		{unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr([]byte{10, 0, 9, 1}) }},
		{unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr([]byte{255, 255, 255, 0}) }},
		{unix.SIOCSIFFLAGS, func(r *unix.Ifreq) error { r.SetUint16(unix.IFF_UP); return nil }},
	} {
		r, _ := unix.NewIfreq("eth0")
		if err := step.set(r); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(s, step.req, r); err != nil {
			return fmt.Errorf("configuring eth0: %v", err)
		}
	}
	hw, _ := unix.NewIfreq("eth0")
	if err := unix.IoctlIfreq(s, unix.SIOCGIFHWADDR, hw); err != nil {
		return err
	}
	tapMAC := rawHWAddr(hw)
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Port: 5201, Addr: [4]byte{10, 0, 9, 1}}); err != nil {
		return err
	}
	if err := unix.Listen(l, 1); err != nil {
		return err
	}
	// The wire side: our frames come from 10.0.9.2 (fe:fd:0:0:0:1), without TCP options.
	write := func(f []byte) error {
		copy(f, tapMAC)
		copy(f[6:], []byte{0xfe, 0xfd, 0, 0, 0, 1})
		_, err := unix.Write(tap, append(make([]byte, vnetHdrLen), f...))
		return err
	}
	const isn = 5000
	if err := write(tcpSegment(isn, 0, 0x02, nil, nil)); err != nil {
		return fmt.Errorf("SYN: %v", err)
	}
	synack, err := readTCP(tap, func(th []byte) bool { return th[13] == 0x12 })
	if err != nil {
		return fmt.Errorf("waiting for the SYN-ACK: %v", err)
	}
	srvSeq := binary.BigEndian.Uint32(synack[4:]) + 1
	if err := write(tcpSegment(isn+1, srvSeq, 0x10, nil, nil)); err != nil {
		return err
	}
	pfd := []unix.PollFd{{Fd: int32(l), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 10000); n != 1 {
		return fmt.Errorf("the listener accepted no connection")
	}
	c, _, err := unix.Accept(l)
	if err != nil {
		return err
	}
	defer unix.Close(c)
	// Eight segments; the last short and pushed.
	var frames [][]byte
	var want []byte
	seq := uint32(isn + 1)
	for k := 0; k < 8; k++ {
		n, flags := 1000, byte(0x10)
		if k == 7 {
			n, flags = 400, 0x18
		}
		p := payload(n, byte(k))
		want = append(want, p...)
		f := tcpSegment(seq, srvSeq, flags, nil, p)
		copy(f, tapMAC)
		copy(f[6:], []byte{0xfe, 0xfd, 0, 0, 0, 1})
		frames = append(frames, f)
		seq += uint32(n)
	}
	var m merger
	var gs [][3]int
	m.groups(frames, func(i, j int, mg bool) { gs = append(gs, [3]int{i, j, 0}) })
	if len(gs) != 1 || gs[0][1] != 8 {
		return fmt.Errorf("groups %v, want one of eight", gs)
	}
	if err := m.writeMerged(tap, frames, 0, 8); err != nil {
		return fmt.Errorf("writing the merged frame: %v", err)
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 65536)
	for len(got) < len(want) {
		pfd := []unix.PollFd{{Fd: int32(c), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 10000); n != 1 {
			return fmt.Errorf("the connection got %d of %d bytes", len(got), len(want))
		}
		n, err := unix.Read(c, buf)
		if err != nil || n == 0 {
			return fmt.Errorf("reading the connection: %v (after %d bytes)", err, len(got))
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("the connection read other bytes than were sent")
	}
	if _, err := readTCP(tap, func(th []byte) bool { return binary.BigEndian.Uint32(th[8:]) == seq }); err != nil {
		return fmt.Errorf("no ACK of all %d bytes: %v", len(want), err)
	}
	return nil
}

// rawHWAddr is the MAC in an SIOCGIFHWADDR reply.
func rawHWAddr(r *unix.Ifreq) []byte {
	b := (*[unix.IFNAMSIZ + 24]byte)(unsafe.Pointer(r))
	return append([]byte(nil), b[unix.IFNAMSIZ+2:unix.IFNAMSIZ+8]...)
}

// readTCP reads frames from the tap, answering ARP requests for 10.0.9.2, until a TCP
// segment that match accepts; it returns that segment's TCP header and payload.
func readTCP(tap int, match func(th []byte) bool) ([]byte, error) {
	buf := make([]byte, 70000)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		pfd := []unix.PollFd{{Fd: int32(tap), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 1000); n != 1 {
			continue
		}
		n, err := unix.Read(tap, buf)
		if err != nil {
			return nil, err
		}
		f := buf[vnetHdrLen:n]
		switch {
		case len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 && bytes.Equal(f[38:42], []byte{10, 0, 9, 2}):
			// who-has 10.0.9.2: it is at fe:fd:0:0:0:1
			r := make([]byte, vnetHdrLen+42)
			a := r[vnetHdrLen:]
			copy(a, f[6:12])
			copy(a[6:], []byte{0xfe, 0xfd, 0, 0, 0, 1})
			copy(a[12:], []byte{0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2, 0xfe, 0xfd, 0, 0, 0, 1, 10, 0, 9, 2})
			copy(a[32:], f[22:32])
			if _, err := unix.Write(tap, r); err != nil {
				return nil, err
			}
		case len(f) >= ethHdrLen+ipv4Len+20 && f[12] == 0x08 && f[13] == 0 && f[ethHdrLen+9] == unix.IPPROTO_TCP:
			th := f[ethHdrLen+int(f[ethHdrLen]&0x0f)*4:]
			if match(th) {
				return append([]byte(nil), th...), nil
			}
		}
	}
	return nil, fmt.Errorf("timed out")
}
