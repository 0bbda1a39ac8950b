package channel

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// readUntil reads from c until s was seen (telnet negotiation bytes included).
func readUntil(t *testing.T, r *bufio.Reader, s string) string {
	t.Helper()
	var got strings.Builder
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(got.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q; got %q", s, got.String())
		}
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading: %v; got %q", err, got.String())
		}
		got.WriteByte(b)
	}
	return got.String()
}

// TestPortSharedAndReconnect: two lines on one port, each connection to the line waiting
// longest; a connection nobody waits for gets the real kernel's message and is taken by the
// next line that waits; a line whose client left takes the next client.
func TestPortSharedAndReconnect(t *testing.T) {
	p := &Ports{Addr: "127.0.0.1"}
	var logMu sync.Mutex
	var logs []string
	p.Log = func(s string) { logMu.Lock(); logs = append(logs, s); logMu.Unlock() }
	n := freePort(t)
	for i := 0; i < 2; i++ {
		if err := p.Listen(n); err != nil {
			t.Fatal(err)
		}
	}
	defer p.Close()
	addr := "127.0.0.1:" + strconv.Itoa(n)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c, bufio.NewReader(c)
	}
	// nobody waits: the message, and the connection waits
	early, er := dial()
	defer early.Close()
	got := readUntil(t, er, "****\n\x00")
	if !strings.HasSuffix(got, NoWaiterMessage) {
		t.Errorf("no-waiter message: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	line1, err := p.Wait(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	line1.Write([]byte("to-early\xff\n"))
	if got := readUntil(t, er, "to-early"); strings.Contains(got, "There are") && !strings.Contains(got, "to-early") {
		t.Fatal(got)
	}
	if b, _ := er.Peek(3); string(b) != "\xff\xff\n" {
		t.Errorf("IAC not escaped: %q", b)
	}
	// the client's Enter (CR LF) reaches the line as CR; its window size is known
	early.Write([]byte{tIAC, tWILL, OptNAWS, tIAC, tSB, OptNAWS, 0, 100, 0, 30, tIAC, tSE})
	early.Write([]byte("root\r\n"))
	buf := make([]byte, 64)
	var in string
	for !strings.Contains(in, "root\r") {
		k, err := line1.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		in += string(buf[:k])
	}
	if in != "root\r" {
		t.Errorf("line read %q, want %q", in, "root\r")
	}
	select {
	case <-line1.Resized():
	case <-time.After(10 * time.Second):
		t.Fatal("no window size")
	}
	if c, r, ok := line1.Window(); !ok || c != 100 || r != 30 {
		t.Errorf("window %dx%d %v", c, r, ok)
	}
	// a second line waits; the next client goes to it
	got2 := make(chan *Conn)
	go func() {
		c, err := p.Wait(ctx, n)
		if err != nil {
			t.Error(err)
		}
		got2 <- c
	}()
	time.Sleep(50 * time.Millisecond) // let it queue (the test holds either way)
	second, sr := dial()
	line2 := <-got2
	line2.Write([]byte("line2"))
	readUntil(t, sr, "line2")
	// the first client leaves: its line reads EOF, waits again, and takes a new client
	early.Close()
	for {
		if _, err := line1.Read(buf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	line1.Close()
	third, tr := dial()
	defer third.Close()
	again, err := p.Wait(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	again.Write([]byte("welcome-back"))
	readUntil(t, tr, "welcome-back")
	second.Close()
	// the first client's message, and the third's if it was accepted before the line waited
	logMu.Lock()
	defer logMu.Unlock()
	if len(logs) == 0 || logs[0] != "No one waiting for port" {
		t.Errorf("kernel messages %q", logs)
	}
}

// TestPortWaitCancelled: a line that stops waiting leaves no trace; the next connection
// waits for a line.
func TestPortWaitCancelled(t *testing.T) {
	p := &Ports{Addr: "127.0.0.1"}
	n := freePort(t)
	if err := p.Listen(n); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Wait(ctx, n); err == nil {
		t.Fatal("cancelled wait returned a connection")
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readUntil(t, bufio.NewReader(c), "There are currently no UML consoles")
	if _, err := p.Wait(context.Background(), 12345); err == nil {
		t.Error("wait on a port not listened on succeeded")
	}
}

// TestPortPendingBounded: beyond MaxPending waiting connections, a client gets the message
// and is disconnected.
func TestPortPendingBounded(t *testing.T) {
	p := &Ports{Addr: "127.0.0.1"}
	n := freePort(t)
	if err := p.Listen(n); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr := "127.0.0.1:" + strconv.Itoa(n)
	for i := 0; i < MaxPending; i++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		readUntil(t, bufio.NewReader(c), "****\n\x00")
	}
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	readUntil(t, r, "****\n\x00")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("connection beyond the bound: %v, want EOF", err)
	}
}
