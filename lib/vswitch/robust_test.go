package vswitch_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
)

// TestSurvivesGarbageAndChurn throws at our switch (bounded: 64 port lifetimes, a few hundred
// bad requests and datagrams) ports that come and go, requests that are garbage, refused or
// cut short, bytes after a request, runt frames and datagrams from addresses that are no
// port. A port attached before all this must still get frames afterwards, and new ports must
// still attach and talk.
func TestSurvivesGarbageAndChurn(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl")
	sw := startSwitch(t, testenv.Program(t, "uml_switch"), ctl, "-unix", ctl)
	old := dial(t, ctl, 3, "")
	rng := rand.New(rand.NewSource(1))

	var wg sync.WaitGroup
	errs := make(chan error, 256)
	// ports that sent runts or control garbage stay attached to the end: closed at once,
	// the switch may see them go before it reads what they sent (runts then count as
	// strays, and the garbage arrives with the end of the connection)
	// They read what the switch floods to them meanwhile: unread, it would stay charged to the
	// switch's one data socket, and with the send buffer of a default host (wmem_max 208 KiB)
	// exhausted the switch could send no port anything until they went away.
	keep := make(chan interface{ Close() error }, 64)
	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	keepReading := func(c *vswitch.Client) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 2048)
			for {
				select {
				case <-stopReading:
					return
				default:
				}
				_, _ = c.Recv(buf, 50*time.Millisecond)
			}
		}()
	}
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := vswitch.Dial(ctl, 3, "")
			if err != nil {
				errs <- fmt.Errorf("port %d: %v", i, err)
				return
			}
			closeIt := true
			defer func() {
				if closeIt {
					c.Close()
				}
			}()
			_ = c.Send(vswitch.Frame(bcast, mac(byte(100+i)), []byte("churn")))
			switch i % 4 {
			case 1: // runt frames from a real port
				for n := 0; n < 14; n++ {
					_ = c.Send(make([]byte, n))
				}
				closeIt = false
				keep <- c
				keepReading(c)
			case 2: // garbage after the request on the control connection
				_, _ = c.ControlConn().Write([]byte("garbage"))
				closeIt = false // (kept for the same reason as the runt senders)
				keep <- c
				keepReading(c)
			case 3: // control gone, data socket still sending
				_ = c.CloseControl()
				_ = c.Send(vswitch.Frame(bcast, mac(byte(100+i)), []byte("orphan")))
			}
		}(i)
	}
	bad := [][]byte{nil, {1}, {0xce, 0xfa, 0xed, 0xfe}, make([]byte, 50)}
	for _, v := range []uint32{2, 3, 4, 0xffffffff} {
		b := make([]byte, 124)
		binary.LittleEndian.PutUint32(b, vswitch.Magic)
		binary.LittleEndian.PutUint32(b[4:], v)
		binary.LittleEndian.PutUint32(b[8:], 7) // bad type for v3
		bad = append(bad, b)
	}
	for i := 0; i < 100; i++ {
		b := make([]byte, rng.Intn(300))
		rng.Read(b)
		bad = append(bad, b)
	}
	for _, b := range bad {
		wg.Add(1)
		go func(b []byte) {
			defer wg.Done()
			c, err := net.Dial("unix", ctl)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_, _ = c.Write(b)
			if len(b) > 0 && len(b)%3 == 0 {
				_, _ = c.Write([]byte("trailing garbage on the control connection"))
			}
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = c.Read(make([]byte, 200))
		}(b)
	}
	// Datagrams from an address that is no (longer a) port, of every odd size.
	stray := dial(t, ctl, 3, "")
	_ = stray.CloseControl()
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 300; i++ {
		b := make([]byte, rng.Intn(2000))
		rng.Read(b)
		_ = stray.Send(b)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Drain what the flood sent to the old port, then prove it is still served.
	buf := make([]byte, 70000)
	for {
		if _, err := old.Recv(buf, 300*time.Millisecond); err != nil {
			break
		}
	}
	// A port whose data socket vanished while its control connection stays open is dropped
	// at the first frame the switch cannot deliver to it.
	ghost := dial(t, ctl, 3, "")
	_ = ghost.CloseData()
	a, b := dial(t, ctl, 3, ""), dial(t, ctl, 1, "")
	// A v1 port gets no answer to its request: until a frame of b's reaches a, the loaded
	// switch may not have read b's request yet (and would drop frames to and from it).
	hello := vswitch.Frame(bcast, mac(2), []byte("b is attached"))
	attached := false
	for i := 0; i < 100 && !attached; i++ {
		_ = b.Send(hello)
		n, err := a.Recv(buf, 200*time.Millisecond)
		attached = err == nil && bytes.Equal(buf[:n], hello)
	}
	if !attached {
		t.Fatal("a v1 port's frames never reached another port")
	}
	for _, c := range []*vswitch.Client{a, old} {
		for {
			if _, err := c.Recv(buf, 300*time.Millisecond); err != nil {
				break
			}
		}
	}
	f := vswitch.Frame(bcast, mac(1), []byte("after the storm"))
	if err := a.Send(f); err != nil {
		t.Fatal(err)
	}
	expect(t, b, "new port", f)
	expect(t, old, "old port", f)
	g := vswitch.Frame(mac(1), mac(2), []byte("unicast after the storm"))
	_ = b.Send(g)
	expect(t, a, "new port", g)
	_ = ghost.ControlConn().SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ghost.ControlConn().Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the switch kept the control connection of a port whose data socket is gone: %v", err)
	}
	if sw.cmd.ProcessState != nil {
		t.Fatalf("switch exited: %v", sw.cmd.ProcessState)
	}
	wants := []string{"EOF from new port", "Bad request type : 7", "Version 2 is not supported",
		"bytes on its control connection; dropping the port", "Unknown connection for packet, shouldn't happen.", "shorter than an Ethernet header",
		"is gone; dropping the port"}
	// the switch's stderr reaches sw.out through a pipe: the last lines may still be on
	// their way when the connection they speak of is already closed
	deadline := time.Now().Add(10 * time.Second)
	for {
		log, missing := sw.out.String(), ""
		for _, want := range wants {
			if !strings.Contains(log, want) {
				missing = want
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			for _, want := range wants {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q", want)
				}
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stopReading)
	readers.Wait()
	close(keep)
	for c := range keep {
		c.Close()
	}
}
