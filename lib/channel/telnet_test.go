package channel

import (
	"bytes"
	"testing"
)

func TestTelnetNegotiation(t *testing.T) {
	var tn Telnet
	start := tn.Start()
	want := []byte{tIAC, tWILL, OptEcho, tIAC, tWILL, OptSGA, tIAC, tWILL, OptBinary,
		tIAC, tDO, OptSGA, tIAC, tDO, OptBinary, tIAC, tDO, OptNAWS}
	if !bytes.Equal(start, want) {
		t.Fatalf("Start = %v, want %v", start, want)
	}
	// a client agreeing to what we asked: no replies (no negotiation loop)
	in := []byte{tIAC, tDO, OptEcho, tIAC, tDO, OptSGA, tIAC, tWILL, OptNAWS, tIAC, tWILL, OptSGA}
	data, reply := tn.Feed(in, nil, nil)
	if len(data) != 0 || len(reply) != 0 {
		t.Fatalf("acks: data %v reply %v, want none", data, reply)
	}
	if us, _ := tn.Enabled(OptEcho); !us {
		t.Error("echo not in effect after DO ECHO")
	}
	// a repeated request is not answered again
	if _, reply = tn.Feed([]byte{tIAC, tDO, OptEcho}, nil, nil); len(reply) != 0 {
		t.Errorf("repeated DO ECHO answered %v", reply)
	}
	// unknown options are refused, once
	_, reply = tn.Feed([]byte{tIAC, tDO, 24, tIAC, tWILL, 24}, nil, nil)
	if want := []byte{tIAC, tWONT, 24, tIAC, tDONT, 24}; !bytes.Equal(reply, want) {
		t.Errorf("unknown options: reply %v, want %v", reply, want)
	}
	// the client turning echo off: acknowledged
	_, reply = tn.Feed([]byte{tIAC, tDONT, OptEcho}, nil, nil)
	if want := []byte{tIAC, tWONT, OptEcho}; !bytes.Equal(reply, want) {
		t.Errorf("DONT ECHO: reply %v, want %v", reply, want)
	}
	// window size, with an escaped 255 inside
	data, _ = tn.Feed([]byte{'a', tIAC, tSB, OptNAWS, 0, 255, 255, 0, 40, tIAC, tSE, 'b'}, nil, nil)
	if string(data) != "ab" {
		t.Errorf("data around NAWS: %q", data)
	}
	if c, r, set, changed := tn.Window(); !set || !changed || c != 255 || r != 40 {
		t.Errorf("window %dx%d set=%v changed=%v, want 255x40", c, r, set, changed)
	}
	if _, _, _, changed := tn.Window(); changed {
		t.Error("window reported changed twice")
	}
}

func TestTelnetData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		binary bool
		in     []byte
		want   string
	}{
		{"CR LF is one CR", false, []byte("ls\r\nx"), "ls\rx"},
		{"CR NUL is one CR", false, []byte("ls\r\x00x"), "ls\rx"},
		{"bare LF kept", false, []byte("ls\n"), "ls\n"},
		{"binary keeps CR LF", true, []byte("ls\r\n"), "ls\r\n"},
		{"IAC IAC is 255", false, []byte{'a', tIAC, tIAC, 'b'}, "a\xffb"},
		{"IP is ^C", false, []byte{tIAC, tIP}, "\x03"},
		{"CR split across feeds", false, nil, ""},
	} {
		var tn Telnet
		tn.Start()
		if tc.binary {
			tn.Feed([]byte{tIAC, tWILL, OptBinary}, nil, nil)
		}
		got, _ := tn.Feed(tc.in, nil, nil)
		if string(got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	var tn Telnet
	a, _ := tn.Feed([]byte("x\r"), nil, nil)
	b, _ := tn.Feed([]byte("\ny"), nil, nil)
	if string(a)+string(b) != "x\ry" {
		t.Errorf("CR LF split across reads: %q %q", a, b)
	}
}

func TestEscape(t *testing.T) {
	if got := Escape(nil, []byte{1, 255, 2}); !bytes.Equal(got, []byte{1, 255, 255, 2}) {
		t.Errorf("Escape = %v", got)
	}
}

// FuzzTelnet feeds arbitrary client bytes, split at an arbitrary point: the parser must not
// panic, must give no more data than it got, must answer a bounded amount, and must give the
// same data whether the input came in one piece or two.
func FuzzTelnet(f *testing.F) {
	f.Add([]byte{tIAC, tDO, OptEcho, 'h', 'i', '\r', '\n'}, 3)
	f.Add([]byte{tIAC, tSB, OptNAWS, 0, 80, 0, 24, tIAC, tSE}, 4)
	f.Add([]byte{tIAC, tSB, OptNAWS, tIAC, tIAC, tIAC, tIAC, tIAC, tIAC, tIAC, tIAC, tIAC, tSE}, 7)
	f.Add([]byte{tIAC, tWILL, 24, tIAC, tWONT, 24, tIAC, tDONT, 1, tIAC, tIP, tIAC, tIAC}, 0)
	f.Add([]byte{tIAC, tSB, 1, 2, 3, tIAC, 7, 'x'}, 5)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		var one Telnet
		one.Start()
		whole, reply := one.Feed(in, nil, nil)
		if len(whole) > len(in) {
			t.Fatalf("%d data bytes from %d input bytes", len(whole), len(in))
		}
		if len(reply) > 3*len(in) {
			t.Fatalf("%d reply bytes for %d input bytes", len(reply), len(in))
		}
		if split < 0 || split > len(in) {
			return
		}
		var two Telnet
		two.Start()
		a, _ := two.Feed(in[:split], nil, nil)
		b, _ := two.Feed(in[split:], nil, nil)
		if string(a)+string(b) != string(whole) {
			t.Fatalf("split at %d: %q+%q, whole %q", split, a, b, whole)
		}
		c1, r1, s1, _ := one.Window()
		c2, r2, s2, _ := two.Window()
		if c1 != c2 || r1 != r2 || s1 != s2 {
			t.Fatalf("window differs when split")
		}
	})
}
