package kernel

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestPlugNetBeforeInit: a device plugged by the management console before init exists is
// answered at once and holds its name (the real kernel answers a config at once too; ours
// used to hold the answer until init appeared, and uml_mconsole gave up on a slow boot):
// a second config of it is "already configured", and a remove takes it back.
func TestPlugNetBeforeInit(t *testing.T) {
	k := &Kernel{cfg: Config{Stderr: io.Discard}, loopDone: make(chan struct{}), tasks: map[int]*Task{}, procs: map[int]*Process{}}
	defer k.dying.Store(true) // ends the goroutine waiting for init
	port := func() string {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	}
	spec := "ucast,,127.0.0.1," + port() + "," + port()
	answered := make(chan string, 1)
	go func() {
		msg, code := k.plugNet(1, spec)
		answered <- msg + "/" + strconv.Itoa(int(code))
	}()
	select {
	case got := <-answered:
		if got != "/0" {
			t.Fatalf("config eth1 before init: %q, want OK", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("config eth1 before init: no answer while the machine has no init")
	}
	if msg, _ := k.plugNet(1, spec); msg != mcDevExists {
		t.Errorf("second config eth1 before init: %q, want %q", msg, mcDevExists)
	}
	if msg, code := k.unplugNet("eth1"); msg != "" || code != 0 {
		t.Errorf("remove eth1 before init: %q %d, want OK", msg, code)
	}
	if msg, _ := k.unplugNet("eth1"); msg != mcDevNotExist {
		t.Errorf("remove of a removed eth1: %q, want %q", msg, mcDevNotExist)
	}
}
