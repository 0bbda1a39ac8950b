package vswitch_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
)

// startCapturingSwitch runs our uml_switch with -pcap - and its standard output piped into
// reader (started here too); the switch's messages are returned separately.
func startCapturingSwitch(t *testing.T, ctl string, reader *exec.Cmd) (*switchProc, *testenv.SafeBuffer) {
	t.Helper()
	sw := exec.Command(testenv.Program(t, "uml_switch"), "-unix", ctl, "-pcap", "-")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	msgs := &testenv.SafeBuffer{}
	sw.Stdout, sw.Stderr = pw, msgs
	reader.Stdin = pr
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Close()
	p := &switchProc{cmd: sw, out: msgs, ctl: ctl}
	t.Cleanup(func() { p.stop(t) })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(ctl) }) {
		t.Fatalf("switch did not listen on %s; messages:\n%s", ctl, msgs.String())
	}
	return p, msgs
}

// TestLiveCaptureOfRealUMLGuestsReadByTcpdump: two real linux.uml guests ping each other
// through our switch while Debian's tcpdump reads `uml_switch -pcap -` from a pipe; the ICMP
// echo requests and replies show up in tcpdump's output while the switch still runs, and
// the switch's own messages stay out of the capture (on standard error).
func TestLiveCaptureOfRealUMLGuestsReadByTcpdump(t *testing.T) {
	tcpdump := testenv.Tool(t, "tcpdump")
	dir := t.TempDir()
	ctl := filepath.Join(dir, "sw.ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	td := exec.CommandContext(ctx, tcpdump, "-l", "-n", "-e", "-r", "-")
	tdOut := &testenv.SafeBuffer{}
	td.Stdout, td.Stderr = tdOut, tdOut
	sw, msgs := startCapturingSwitch(t, ctl, td)

	root := testenv.BusyboxRoot(t, map[string]string{"/g.sh": guestScript})
	daemon := func(mac string) string { return "eth0=daemon," + mac + ",unix," + ctl }
	a := bootGuest(t, root, "a", daemon("fe:fd:0a:00:00:01"), "dev=eth0", "myip=10.0.0.1", "waitfor=b")
	a.waitFor(t, "NETUP", 60*time.Second)
	b := bootGuest(t, root, "b", daemon("fe:fd:0a:00:00:02"), "dev=eth0", "myip=10.0.0.2", "peer=10.0.0.1")
	b.wait(t)
	a.wait(t)
	b.checkPing(t)
	// The switch is still running: what tcpdump has printed came through the pipe live.
	for _, want := range []string{
		`fe:fd:0a:00:00:02 > fe:fd:0a:00:00:01, .*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo request`,
		`fe:fd:0a:00:00:01 > fe:fd:0a:00:00:02, .*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo reply`,
	} {
		re := regexp.MustCompile(want)
		if !testenv.WaitFor(10*time.Second, func() bool { return re.MatchString(tdOut.String()) }) {
			t.Errorf("tcpdump has not shown %s while the switch runs:\n%s", want, tdOut.String())
		}
	}
	if sw.cmd.ProcessState != nil {
		t.Fatalf("the switch ended early: %v\n%s", sw.cmd.ProcessState, msgs.String())
	}
	sw.stop(t)
	if err := td.Wait(); err != nil {
		t.Errorf("tcpdump after the switch ended: %v\n%s", err, tdOut.String())
	}
	if !strings.Contains(msgs.String(), "attached to unix socket '"+ctl+"'") || !strings.Contains(msgs.String(), "New connection") {
		t.Errorf("the switch's messages are not on its standard error:\n%s", msgs.String())
	}
}

// TestCaptureReaderGoingAwayKeepsSwitching: when the capture's reader exits, the switch says
// so once on standard error and goes on forwarding; it still ends cleanly on SIGINT.
func TestCaptureReaderGoingAwayKeepsSwitching(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "sw.ctl")
	// head reads the pcap file header and a little more, then exits
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reader := exec.CommandContext(ctx, "head", "-c", "30")
	reader.Stdout = io.Discard
	sw, msgs := startCapturingSwitch(t, ctl, reader)
	a, b := dial(t, ctl, 3, ""), dial(t, ctl, 3, "")
	for i := 0; i < 200; i++ {
		f := vswitch.Frame(mac(2), mac(1), bytes.Repeat([]byte{byte(i)}, 1000))
		if i == 0 {
			f = vswitch.Frame(bcast, mac(1), []byte("first"))
		}
		_ = a.Send(f)
		expect(t, b, "b", f)
		if i == 0 {
			_ = reader.Wait() // the reader is gone from here on
		}
	}
	if !testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(msgs.String(), "capture's reader went away") }) {
		t.Errorf("no message about the reader:\n%s", msgs.String())
	}
	if n := strings.Count(msgs.String(), "reader went away"); n != 1 {
		t.Errorf("%d messages about the reader, want 1:\n%s", n, msgs.String())
	}
	st := sw.stop(t)
	if ws, ok := st.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("switch ended with %v, want killed by SIGINT (not SIGPIPE)\n%s", st, msgs.String())
	}
}

// TestCaptureIntoFIFOReadByTcpdump: -pcap FIFO waits for the FIFO's reader without holding up
// the switch, then streams the frames to it (tcpdump -r FIFO) as they pass.
func TestCaptureIntoFIFOReadByTcpdump(t *testing.T) {
	tcpdump := testenv.Tool(t, "tcpdump")
	dir := t.TempDir()
	ctl, fifo := filepath.Join(dir, "sw.ctl"), filepath.Join(dir, "cap.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sw := startSwitch(t, testenv.Program(t, "uml_switch"), ctl, "-unix", ctl, "-pcap", fifo)
	a, b := dial(t, ctl, 3, ""), dial(t, ctl, 3, "")
	early := vswitch.Frame(bcast, mac(1), []byte("before any reader"))
	_ = a.Send(early)
	expect(t, b, "b", early) // forwarded although nobody reads the capture yet

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	td := exec.CommandContext(ctx, tcpdump, "-l", "-n", "-e", "-r", fifo)
	tdOut := &testenv.SafeBuffer{}
	td.Stdout, td.Stderr = tdOut, tdOut
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	g := vswitch.Frame(mac(1), mac(2), []byte("after the reader came"))
	_ = b.Send(g)
	expect(t, a, "a", g)
	want := "fe:fd:0a:00:00:02 > fe:fd:0a:00:00:01"
	if !testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(tdOut.String(), want) }) {
		t.Errorf("tcpdump has not shown %q while the switch runs:\n%s", want, tdOut.String())
	}
	sw.stop(t)
	if err := td.Wait(); err != nil {
		t.Errorf("tcpdump: %v\n%s", err, tdOut.String())
	}
	if !strings.Contains(tdOut.String(), "fe:fd:0a:00:00:01 > ff:ff:ff:ff:ff:ff") {
		t.Errorf("the frame sent before the reader came was not kept for it:\n%s", tdOut.String())
	}
}

// TestCaptureHeaderAtOnce: the pcap file header reaches a pipe's reader as soon as the switch
// runs, before any frame, since capture tools (wireshark -k -i -) start on it.
func TestCaptureHeaderAtOnce(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "sw.ctl")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	sw := exec.Command(testenv.Program(t, "uml_switch"), "-unix", ctl, "-pcap", "-")
	msgs := &testenv.SafeBuffer{}
	sw.Stdout, sw.Stderr = pw, msgs
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	p := &switchProc{cmd: sw, out: msgs, ctl: ctl}
	t.Cleanup(func() { p.stop(t) })
	_ = pr.SetReadDeadline(time.Now().Add(20 * time.Second))
	h := make([]byte, 24)
	if _, err := io.ReadFull(pr, h); err != nil {
		t.Fatalf("no pcap header without frames: %v\nmessages:\n%s", err, msgs.String())
	}
	if !bytes.Equal(h[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) || h[20] != 1 {
		t.Errorf("header %x", h)
	}
}
