package tap

import (
	"errors"
	"strings"
	"testing"
)

func TestParseArgsAccepts(t *testing.T) {
	// The command lines the real UML 6.1 kernel runs (docs/interfaces.md, recipe R6).
	r, err := ParseArgs([]string{"4", "tuntap", "up", "192.168.250.1"})
	if err != nil || r.Op != OpUp || !r.GateGiven || r.Gate.String() != "192.168.250.1" {
		t.Errorf("up: %+v %v", r, err)
	}
	r, err = ParseArgs([]string{"4", "add", "tap0", "192.168.250.2", "255.255.255.0"})
	if err != nil || r.Op != OpAdd || r.IfName != "tap0" || r.Addr.String() != "192.168.250.2" || r.Bits != 24 {
		t.Errorf("add: %+v %v", r, err)
	}
	r, err = ParseArgs([]string{"4", "del", "tap12", "10.0.0.2", "255.255.255.255"})
	if err != nil || r.Op != OpDel || r.Bits != 32 {
		t.Errorf("del: %+v %v", r, err)
	}
	r, err = ParseArgs([]string{"4", "tuntap", "add", "tap0", "10.0.0.2", "255.0.0.0"})
	if err != nil || r.Op != OpAdd || r.Bits != 8 {
		t.Errorf("tuntap add: %+v %v", r, err)
	}
	r, err = ParseArgs([]string{"4", "tuntap", "up", ""})
	if err != nil || r.GateGiven {
		t.Errorf("up with empty gate: %+v %v", r, err)
	}
}

func TestParseArgsRejects(t *testing.T) {
	long := strings.Repeat("a", 16)
	for _, c := range []struct {
		args []string
		kind ErrorKind
		msg  string
	}{
		{nil, ErrBadArgList, "bad argument list"},
		{[]string{"4"}, ErrBadArgList, "bad argument list"},
		{[]string{"5", "tuntap"}, ErrVersion, "Version mismatch - requested version 5, uml_net supports up to version 4\n"},
		{[]string{"-1", "tuntap"}, ErrVersion, "requested version -1,"},
		{[]string{"99999999999999999999999", "add"}, ErrVersion, "requested version -1,"},
		{[]string{"4x", "tuntap"}, ErrVersion, "bad version number '4x'"},
		{[]string{"4", "foo"}, ErrUnknown, "Unknown transport : 'foo'\n"},
		{[]string{"abc", "tuntap"}, ErrUnknown, "Unknown transport : 'abc'\n"},
		{[]string{"tuntap", "up", "1.2.3.4"}, ErrNoHandler, "No version #0 handler for 'tuntap'\n"},
		{[]string{"3", "add", "tap0"}, ErrNoHandler, "No version #3 handler for 'add'\n"},
		{[]string{"4", "tuntap"}, ErrOutput, "uml_net : too few arguments to tuntap_v4\n"},
		{[]string{"4", "tuntap", "bogus"}, ErrBadOp, "Bad tuntap op : 'bogus'\n"},
		{[]string{"4", "tuntap", "up"}, ErrUpOutput, "Too few arguments to tuntap_up\n"},
		{[]string{"4", "tuntap", "up", "1.2.3.4", "extra"}, ErrUpOutput, "too many arguments"},
		{[]string{"4", "tuntap", "up", "gate.example.com"}, ErrUpOutput, "not a dotted quad"},
		{[]string{"4", "tuntap", "up", "127.0.0.1"}, ErrUpOutput, "loopback"},
		{[]string{"4", "tuntap", "up", "224.0.0.1"}, ErrUpOutput, "multicast"},
		{[]string{"4", "tuntap", "up", "255.255.255.255"}, ErrUpOutput, "broadcast"},
		{[]string{"4", "add", "tap0", "10.0.0.2"}, ErrOutput, "too few arguments to add"},
		{[]string{"4", "del", "tap0", "10.0.0.2", "255.255.255.0", "x"}, ErrOutput, "too many arguments to del"},
		{[]string{"4", "add", long, "10.0.0.2", "255.255.255.0"}, ErrOutput, "longer than 15"},
		{[]string{"4", "add", "../eth0", "10.0.0.2", "255.255.255.0"}, ErrOutput, "alphanumeric"},
		{[]string{"4", "add", "tap0/../..", "10.0.0.2", "255.255.255.0"}, ErrOutput, "alphanumeric"},
		{[]string{"4", "add", "tap0 ", "10.0.0.2", "255.255.255.0"}, ErrOutput, "alphanumeric"},
		{[]string{"4", "add", "", "10.0.0.2", "255.255.255.0"}, ErrOutput, "empty interface name"},
		{[]string{"4", "add", "tap0", "10.0.0.256", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "10.0.0", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "10.0.0.02", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "+10.0.0.2", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "10.0.0.2 ", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "0x0a.0.0.2", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "::1", "255.255.255.0"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "add", "tap0", "0.0.0.0", "255.255.255.0"}, ErrOutput, "0.0.0.0/8"},
		{[]string{"4", "add", "tap0", "169.254.1.1", "255.255.0.0"}, ErrOutput, "link-local"},
		{[]string{"4", "add", "tap0", "10.0.0.255", "255.255.255.0"}, ErrOutput, "broadcast address of its network"},
		{[]string{"4", "add", "tap0", "10.0.0.2", "255.0.255.0"}, ErrOutput, "not a contiguous netmask"},
		{[]string{"4", "add", "tap0", "10.0.0.2", "0.0.0.0"}, ErrOutput, "every address"},
		{[]string{"4", "add", "tap0", "10.0.0.2", "24"}, ErrOutput, "not a dotted quad"},
		{[]string{"4", "ethertap", "tap0", "3"}, 0, ""},
	} {
		r, err := ParseArgs(c.args)
		if c.kind == 0 {
			if err != nil || r.Op != OpEthertap {
				t.Errorf("%q: %+v %v, want the ethertap op (refused later)", c.args, r, err)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: accepted (%+v), want an error", c.args, r)
			continue
		}
		if pe.Kind != c.kind || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%q: kind %d %q, want kind %d containing %q", c.args, pe.Kind, pe.Msg, c.kind, c.msg)
		}
		if !strings.HasSuffix(pe.Msg, "\n") || strings.Count(strings.TrimSuffix(pe.Msg, "\n"), "\n") > 0 && pe.Kind != ErrBadArgList {
			t.Errorf("%q: message %q is not one line", c.args, pe.Msg)
		}
	}
}

func TestParseNetmask(t *testing.T) {
	for s, want := range map[string]int{"255.255.255.255": 32, "255.255.255.0": 24, "255.128.0.0": 9, "128.0.0.0": 1} {
		if got, err := ParseNetmask(s); err != nil || got != want {
			t.Errorf("ParseNetmask(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

// FuzzParseArgs feeds uml_net command lines (words separated by NUL in the corpus) to the
// parser: it must never panic, every refusal is one clear message, and whatever it accepts
// is a valid interface name and unicast address the rest of uml_net can use unchecked.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"4\x00tuntap\x00up\x00192.168.250.1",
		"4\x00add\x00tap0\x00192.168.250.2\x00255.255.255.0",
		"4\x00del\x00tap0\x00192.168.250.2\x00255.255.255.0",
		"4\x00tuntap\x00add\x00tap0\x0010.0.0.2\x00255.0.0.0",
		"5\x00tuntap", "abc\x00tuntap", "0x4\x00tuntap\x00up\x001.2.3.4", "4\x00add\x00../x\x001.2.3.4\x00255.255.255.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var args []string
		if s != "" {
			args = strings.Split(s, "\x00")
		}
		r, err := ParseArgs(args)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Msg == "" || !strings.HasSuffix(pe.Msg, "\n") {
				t.Fatalf("%q: bad error %v", args, err)
			}
			return
		}
		switch r.Op {
		case OpAdd, OpDel:
			if ValidIfName(r.IfName) != nil || checkUnicast(r.Addr) != nil || r.Bits < 1 || r.Bits > 32 {
				t.Fatalf("%q: accepted bad request %+v", args, r)
			}
			if a, err := ParseDottedQuad(r.Addr.String()); err != nil || a != r.Addr {
				t.Fatalf("%q: address does not round-trip", args)
			}
		case OpUp:
			if r.GateGiven && checkUnicast(r.Gate) != nil {
				t.Fatalf("%q: accepted gate %s", args, r.Gate)
			}
		case OpEthertap, OpSlip:
		default:
			t.Fatalf("%q: no op", args)
		}
	})
}
