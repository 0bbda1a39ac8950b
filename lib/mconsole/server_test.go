package mconsole

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startServer runs a server on a fresh socket until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mconsole")
	if err := s.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return path
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 5 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

func mustCommand(t *testing.T, c *Client, cmd string) Response {
	t.Helper()
	r, err := c.Command(cmd)
	if err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	return r
}

func TestServerCommandTable(t *testing.T) {
	s := NewServer()
	var (
		mu  sync.Mutex
		got []string
	)
	for _, n := range CommandNames {
		if n == "help" || n == "stop" || n == "go" {
			continue
		}
		s.Handle(n, func(c *Call) {
			mu.Lock()
			got = append(got, c.Name+"|"+c.Args)
			mu.Unlock()
			c.OK(c.Name)
		})
	}
	c := dial(t, startServer(t, s))
	for _, cw := range [][2]string{
		{"versionXYZ", "version"},
		{"sysrq  \t h", "sysrq"},
		{"config ubd1=x", "config"},
		{"procmeminfo", "proc"},
		{"stack 1", "stack"},
	} {
		if r := mustCommand(t, c, cw[0]); r.Err != 0 || r.Text != cw[1] {
			t.Errorf("%q -> %+v, want %q", cw[0], r, cw[1])
		}
	}
	if r := mustCommand(t, c, " version"); r.Err != 1 || r.Text != "Unknown command" {
		t.Errorf("leading space must not match: %+v", r)
	}
	if r := mustCommand(t, c, ""); r.Err != 1 || r.Text != "Unknown command" {
		t.Errorf("empty command: %+v", r)
	}
	mustCommand(t, c, "log  two spaces")
	mustCommand(t, c, "log")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"version|XYZ", "sysrq|h", "config|ubd1=x", "proc|meminfo", "stack|1", "log| two spaces", "log|"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handlers saw %q, want %q", got, want)
	}
	if r := mustCommand(t, c, "help"); r.Text != HelpText || len(r.Packets) != 2 {
		t.Errorf("help: %d packets", len(r.Packets))
	}
}

func TestServerErrorReplies(t *testing.T) {
	s := NewServer()
	s.Handle("version", func(c *Call) { c.OK("V") })
	c := dial(t, startServer(t, s))

	// No magic: raw text, no header.
	if err := c.SendRaw([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReceivePacket()
	if err != nil || string(b) != textVersion0 {
		t.Errorf("version 0 client: %q %v", b, err)
	}
	// len >= 512.
	req, _ := NewRequest("version").Marshal()
	le.PutUint32(req[8:], 512)
	c.SendRaw(req)
	b, _ = c.ReceivePacket()
	if r, err := UnmarshalReply(b); err != nil || r != (Reply{Err: 1, Data: "Request too large"}) {
		t.Errorf("too large: %+v %v", r, err)
	}
	// Wrong version: an error reply, then the command still runs.
	req, _ = Request{Magic: Magic, Version: 1, Command: "version"}.Marshal()
	c.SendRaw(req)
	r1, err := c.receive()
	if err != nil || r1.Err != 1 || r1.Text != "This driver only supports version 2 clients" {
		t.Errorf("wrong version: %+v %v", r1, err)
	}
	r2, err := c.receive()
	if err != nil || r2.Err != 0 || r2.Text != "V" {
		t.Errorf("wrong version, command reply: %+v %v", r2, err)
	}
	// Short and empty datagrams are dropped; the server keeps answering.
	for _, junk := range [][]byte{{}, {0xbe}, []byte("\xbe\xba\xfe\xca\x02\x00\x00")} {
		c.SendRaw(junk)
	}
	if r := mustCommand(t, c, "version"); r.Text != "V" {
		t.Errorf("after junk: %+v", r)
	}
	// A request shorter than its len field: the command is what arrived.
	c.SendRaw([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x64\x00\x00\x00version"))
	if r, err := c.receive(); err != nil || r.Text != "V" {
		t.Errorf("short data: %+v %v", r, err)
	}
	// Oversized datagrams are cut to 524 bytes like the kernel's recvfrom.
	big := append(append([]byte{}, req...), make([]byte, 4000)...)
	le.PutUint32(big[4:], Version)
	c.SendRaw(big)
	if r, err := c.receive(); err != nil || r.Text != "V" {
		t.Errorf("oversized datagram: %+v %v", r, err)
	}
}

func TestServerStopGo(t *testing.T) {
	s := NewServer()
	var stops, goes atomic.Int32
	s.OnStop = func() { stops.Add(1) }
	s.OnGo = func() { goes.Add(1) }
	s.Handle("version", func(c *Call) { c.OK("V") })
	c := dial(t, startServer(t, s))
	steps := []struct {
		cmd  string
		want Reply
	}{
		{"go", Reply{Err: 1, Data: "Not stopped"}},
		{"stop", Reply{Data: "stopped"}},
		{"stop", Reply{Err: 1, Data: "Already stopped"}},
		{"version", Reply{Data: "V"}},
		{"go", Reply{Data: ""}},
		{"go", Reply{Err: 1, Data: "Not stopped"}},
	}
	for i, st := range steps {
		r := mustCommand(t, c, st.cmd)
		if r.Err != st.want.Err || r.Text != st.want.Data {
			t.Errorf("step %d %q: %+v want %+v", i, st.cmd, r, st.want)
		}
		if i == 3 && !s.Stopped() {
			t.Error("not stopped after stop")
		}
	}
	if stops.Load() != 1 || goes.Load() != 1 || s.Stopped() {
		t.Errorf("stop hooks %d, go hooks %d, stopped %v", stops.Load(), goes.Load(), s.Stopped())
	}
}

func TestServerMultiPacketAndRobustness(t *testing.T) {
	s := NewServer()
	long := strings.Repeat("0123456789abcdef", 200) // 3200 bytes: 7 packets
	s.Handle("proc", func(c *Call) {
		c.Reply("\n", 0, true)
		c.Reply(long, 0, true)
		c.Reply("", 0, false)
	})
	s.Handle("remove", func(c *Call) { c.Error("Device doesn't exist", -19) })
	s.Handle("halt", func(c *Call) {}) // forgets to reply
	s.Handle("reboot", func(c *Call) { panic("boom") })
	c := dial(t, startServer(t, s))
	r := mustCommand(t, c, "proc x")
	if r.Text != "\n"+long || len(r.Packets) != 1+7+1 || r.Err != 0 {
		t.Errorf("proc: %d packets, %d bytes", len(r.Packets), len(r.Text))
	}
	if r := mustCommand(t, c, "remove ubd5"); r.Err != -19 || r.Text != "Device doesn't exist" {
		t.Errorf("remove: %+v", r)
	}
	if r := mustCommand(t, c, "halt"); r.Err != 0 || r.Text != "" {
		t.Errorf("handler without reply: %+v", r)
	}
	if r := mustCommand(t, c, "reboot"); r.Err != 1 || !strings.Contains(r.Text, "boom") {
		t.Errorf("panicking handler: %+v", r)
	}
	if r := mustCommand(t, c, "help"); r.Text != HelpText {
		t.Error("server dead after a panicking handler")
	}
}

func TestClientTimeout(t *testing.T) {
	// A bound socket nobody reads: the real uml_mconsole would hang forever.
	path := filepath.Join(t.TempDir(), "silent")
	a, _ := fullAddr(path)
	d, err := newDgram(&a)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := dial(t, path)
	c.Timeout = 200 * time.Millisecond
	_, err = c.Command("version")
	if _, ok := err.(*TimeoutError); !ok || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want a timeout naming %s", err, path)
	}
	c.SetTarget(filepath.Join(t.TempDir(), "none"))
	if _, err := c.Command("version"); err == nil || !strings.Contains(err.Error(), "Sending command to") ||
		!strings.Contains(err.Error(), "No such file or directory") {
		t.Errorf("missing socket: %v", err)
	}
}

func TestClientsInOneProcess(t *testing.T) {
	s := NewServer()
	path := startServer(t, s)
	a, b := dial(t, path), dial(t, path)
	if a.local == b.local {
		t.Fatal("two clients share an address")
	}
	if !strings.HasPrefix(a.local, "\x00") || !strings.HasPrefix(b.local, "\x00") {
		t.Fatal("clients must bind abstract addresses")
	}
	for _, c := range []*Client{a, b} {
		if r := mustCommand(t, c, "help"); r.Text != HelpText {
			t.Error("help")
		}
	}
}

func TestServerNotify(t *testing.T) {
	dir := t.TempDir()
	np := filepath.Join(dir, "notify")
	na, _ := fullAddr(np)
	l, err := newDgram(&na)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := NewServer()
	if err := s.Listen(filepath.Join(dir, "mconsole"), np); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.NotifyUser([]byte("x\n"))
	s.NotifyPanic("bad")
	want := []Notification{
		NewNotification(NotifySocket, []byte(filepath.Join(dir, "mconsole")+"\x00")),
		NewNotification(NotifyUserNotify, []byte("x\n")),
		NewNotification(NotifyPanic, []byte("bad\x00")),
	}
	l.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, w := range want {
		buf := make([]byte, 1024)
		n, _, err := l.recvFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		wb, _ := w.Marshal()
		if string(buf[:n]) != string(wb) {
			t.Errorf("notification %d: %q want %q", i, buf[:n], wb)
		}
	}
}
