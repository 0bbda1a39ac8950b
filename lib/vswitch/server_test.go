package vswitch

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestServerInProcess runs the whole server inside the test (so -race sees it): ports of
// every request layout attach, exchange frames, churn, and a BESS port joins; Close removes
// the sockets.
func TestServerInProcess(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	log := NewLog("uml_switch", &safeWriter{w: &out}, io.Discard)
	defer log.Close()
	cfg := Config{Ctl: filepath.Join(dir, "ctl"), BESS: filepath.Join(dir, "bess")}
	srv, err := Listen(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	a, err := Dial(cfg.Ctl, 3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(cfg.Ctl, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.SwitchTo != srv.DataAddr() {
		t.Fatalf("reply %v, want the data address %v", a.SwitchTo, srv.DataAddr())
	}
	bess, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: cfg.BESS, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer bess.Close()
	if !waitTrue(func() bool { return len(srv.Sw.Ports()) == 3 }) {
		t.Fatalf("%d ports attached, want 3", len(srv.Sw.Ports()))
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := Dial(cfg.Ctl, 3, "")
			if err != nil {
				t.Error(err)
				return
			}
			_ = c.Send(Frame(MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, MAC{2, 0, 0, 0, 1, byte(i)}, []byte("churn")))
			c.Close()
		}(i)
	}
	wg.Wait()
	buf := make([]byte, 4096)
	drain := func(c *Client) {
		for {
			if _, err := c.Recv(buf, 200*time.Millisecond); err != nil {
				return
			}
		}
	}
	drain(a)
	drain(b)
	_ = bess.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		if _, err := bess.Read(buf); err != nil {
			break
		}
	}
	f := Frame(MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, MAC{2, 0, 0, 0, 0, 1}, []byte("from a"))
	_ = a.Send(f)
	for _, c := range []*Client{b} {
		n, err := c.Recv(buf, 5*time.Second)
		if err != nil || !bytes.Equal(buf[:n], f) {
			t.Fatalf("b: %v %q", err, buf[:n])
		}
	}
	_ = bess.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := bess.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], f) {
		t.Fatalf("bess: %v %q", err, buf[:n])
	}
	g := Frame(MAC{2, 0, 0, 0, 0, 1}, MAC{2, 0, 0, 0, 0, 4}, []byte("from bess"))
	if _, err := bess.Write(g); err != nil {
		t.Fatal(err)
	}
	n, err = a.Recv(buf, 5*time.Second)
	if err != nil || !bytes.Equal(buf[:n], g) {
		t.Fatalf("a from bess: %v %q", err, buf[:n])
	}
	srv.Close()
	closed = true
	for _, p := range []string{cfg.Ctl, cfg.BESS} {
		if _, err := net.Dial("unix", p); err == nil {
			t.Errorf("%s still served after Close", p)
		}
	}
}

func waitTrue(f func() bool) bool {
	for i := 0; i < 250; i++ {
		if f() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f()
}

type safeWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *safeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
