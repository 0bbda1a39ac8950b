package netdev

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// startVDESwitch runs Debian's vde_switch on a fresh directory and returns it.
func startVDESwitch(t *testing.T, extra ...string) string {
	t.Helper()
	prog := testenv.Tool(t, "vde_switch")
	dir := filepath.Join(t.TempDir(), "sw")
	// stdin a pipe that stays open: vde_switch reads commands from it, and ends at its EOF
	cmd := exec.Command(prog, append([]string{"-s", dir, "-m", "777", "--dirmode", "777"}, extra...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(filepath.Join(dir, "ctl")) }) {
		t.Fatal("vde_switch did not listen")
	}
	return dir
}

// vdeSwitchMaxFrame is the longest frame vde_switch passes (it cuts longer ones): an
// Ethernet frame with a VLAN tag.
const vdeSwitchMaxFrame = 1518

// Two plugs on Debian's vde_switch exchange frames both ways.
func TestNetVDERelayWithVdeSwitch(t *testing.T) {
	dir := startVDESwitch(t)
	var msgs []string
	a := Parse(0, "vde,"+dir+",,,,,first plug", func(s string) { msgs = append(msgs, s) })
	b := Parse(1, "vde,"+dir, func(string) {})
	if want := []string{"Configured vde device: " + dir}; !equal(msgs, want) {
		t.Errorf("parse messages %q, want %q", msgs, want)
	}
	a.DataDir, b.DataDir = t.TempDir(), t.TempDir()
	ga, gb, ra, rb := startPair(t, a, b)
	exchangeUpTo(t, vdeSwitchMaxFrame, ga, gb, ra, rb)
	// the data sockets are unlinked once the switch has them
	for _, d := range []string{a.DataDir, b.DataDir} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s still holds %v", d, ents)
		}
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestNetVDESpecs(t *testing.T) {
	for spec, want := range map[string][]string{
		"vde":                             {"Configured vde device: (default socket)"},
		"vde,/sw,fe:fd:0:0:0:1,3,7,660,d": {"Configured vde device: /sw"},
		"vde,,,x":                         {"vde_setup - Bad port : 'x'"},
		"vde,,,,,8":                       {"vde_setup - Bad mode : '8'"},
		"vde,/sw,,,,,,,extra":             {"vde_setup - Ignoring extra data :',extra'", "Configured vde device: /sw"},
	} {
		var got []string
		s := Parse(0, spec, func(m string) { got = append(got, m) })
		if !equal(got, want) {
			t.Errorf("%s: %q, want %q", spec, got, want)
		}
		if (s == nil) != strings.Contains(want[0], "Bad") {
			t.Errorf("%s: spec %v", spec, s)
		}
	}
	s := Parse(2, "vde,/sw,fe:fd:0:0:0:1,3,7,660,d", func(string) {})
	if s.Ctl != "/sw" || s.MACField != "fe:fd:0:0:0:1" || s.VdePort != 3 || s.VdeGroup != "7" || s.VdeMode != 0o660 ||
		s.Descr != "d" || s.Backend() != "vde backend - /sw, " {
		t.Errorf("%+v", s)
	}
}

func TestNetVDEOpenErrors(t *testing.T) {
	dir := t.TempDir()
	s := Parse(0, "vde,"+dir+"/none", func(string) {})
	if _, err := Open(s, RandomMAC()); err == nil || err.Error() != "vde_open "+dir+"/none: No such file or directory" {
		t.Errorf("absent switch: %v", err)
	}
	// a switch that answers with something that is not a local socket address
	l, err := (&netListen{}).unix(filepath.Join(dir, "ctl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Read(make([]byte, 512))
			c.Write([]byte{2, 0, 1, 2, 3, 4})
			c.Close()
		}
	}()
	s = Parse(0, "vde,"+dir, func(string) {})
	s.DataDir = t.TempDir()
	if _, err := Open(s, RandomMAC()); err == nil || !strings.Contains(err.Error(), "not a local socket") {
		t.Errorf("bad reply: %v", err)
	}
}

// The request is what libvdeplug sends: magic, version 3, the port in the type's high bits,
// the data socket's address, the description without its NUL.
func TestNetVDERequest(t *testing.T) {
	r := VDERequest(5, "/d/vde.1", "hi")
	if len(r) != vdeReqHead+2 || binary.LittleEndian.Uint32(r) != 0xfeedface || binary.LittleEndian.Uint32(r[4:]) != 3 ||
		binary.LittleEndian.Uint32(r[8:]) != 5<<8 || binary.LittleEndian.Uint16(r[12:]) != unix.AF_UNIX ||
		!bytes.HasPrefix(r[14:], []byte("/d/vde.1\x00")) || string(r[vdeReqHead:]) != "hi" {
		t.Errorf("% x", r)
	}
}

// FuzzParseVDEReply: any reply is refused or gives an AF_UNIX address with a terminated
// path, never a panic.
func FuzzParseVDEReply(f *testing.F) {
	f.Add([]byte{1, 0, '/', 't', 'm', 'p', '/', 's', 0})
	f.Add([]byte{1, 0, 0, 'a', 'b'})
	f.Add([]byte{2, 0, 1, 2})
	f.Add(bytes.Repeat([]byte{1}, 111))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseVDEReply(b)
		if err != nil {
			return
		}
		if binary.LittleEndian.Uint16(a[:]) != unix.AF_UNIX {
			t.Fatalf("family %d accepted", binary.LittleEndian.Uint16(a[:]))
		}
		if a[2] != 0 && bytes.IndexByte(a[2:], 0) < 0 {
			t.Fatal("unterminated path accepted")
		}
	})
}
