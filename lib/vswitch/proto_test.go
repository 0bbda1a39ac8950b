package vswitch

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// capturedV3 is the request linux.uml 6.1 wrote to a control socket (captured by
// TestRequestFromRealUML; also in testdata/fuzz/FuzzUnmarshalRequest): magic, version 3,
// REQ_NEW_CONTROL, then its data address — abstract, pid, microseconds, and 96 bytes of
// uninitialised stack.
func capturedV3(t testing.TB) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(capturedV3Hex), ""))
	if err != nil || len(b) != 124 {
		t.Fatalf("bad captured request constant: %v (%d bytes)", err, len(b))
	}
	return b
}

func TestUnmarshalCapturedRequest(t *testing.T) {
	b := capturedV3(t)
	r, err := UnmarshalRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 || r.Type != ReqNewControl || r.Sock.Family != afUnix || r.Sock.Path[0] != 0 {
		t.Fatalf("parsed %+v", r)
	}
	if !bytes.Equal(r.Sock.Marshal(), b[12:122]) {
		t.Fatal("address not kept verbatim")
	}
	out, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[:122], b[:122]) {
		t.Fatalf("re-marshalled request differs:\n%x\n%x", out, b)
	}
}

func TestRequestLayouts(t *testing.T) {
	var sock Sockaddr
	sock.Family = afUnix
	for i := range sock.Path {
		sock.Path[i] = byte(i * 7)
	}
	sock.Path[0] = 0
	for _, v := range []int{0, 1, 3} {
		r := Request{Version: v, Sock: sock, MAC: MAC{1, 2, 3, 4, 5, 6}}
		if v == 3 {
			r.MAC = MAC{}
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]int{0: 120, 1: 124, 3: 124}[v]
		if len(b) != want {
			t.Errorf("v%d: %d bytes, want %d", v, len(b), want)
		}
		got, err := UnmarshalRequest(b)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if got != r {
			t.Errorf("v%d round trip: %+v != %+v", v, got, r)
		}
	}
	// The v1 layout's sockaddr sits at byte 14, the v0 one at byte 10 (C struct offsets).
	b, _ := Request{Version: 1, Sock: sock}.Marshal()
	if binary.LittleEndian.Uint16(b[14:]) != afUnix || b[14+2+5] != sock.Path[5] {
		t.Error("v1 sockaddr offset")
	}
	b, _ = Request{Version: 0, Sock: sock}.Marshal()
	if binary.LittleEndian.Uint16(b[10:]) != afUnix {
		t.Error("v0 sockaddr offset")
	}
}

func TestRefusedRequests(t *testing.T) {
	good := capturedV3(t)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"v2", mod(func(b []byte) []byte { b[4] = 2; return b }), "Version 2 is not supported"},
		{"v7", mod(func(b []byte) []byte { b[4] = 7; return b }), "Request for a version 7 port, which this uml_switch doesn't support"},
		{"badtype", mod(func(b []byte) []byte { b[8] = 5; return b }), "Bad request type : 5"},
		{"v1badtype", mod(func(b []byte) []byte { b[4] = 1; return b }), "Bad request type : 1"},
		{"short", good[:3], "request too short (3 bytes)"},
		{"shortv3", good[:100], "version 3 request too short (100 bytes, want 124)"},
		{"family", mod(func(b []byte) []byte { b[12] = 2; return b }), "address family 2"},
		{"v0short", []byte{0, 0, 0, 0, 1, 2, 3}, "version 0 request too short"},
	}
	for _, c := range cases {
		_, err := UnmarshalRequest(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := UnmarshalRequest(mod(func(b []byte) []byte { b[4] = 2; return b })); !errors.Is(err, ErrVersion2) {
		t.Errorf("v2 not ErrVersion2: %v", err)
	}
}

func TestReadRequestFromStream(t *testing.T) {
	good := capturedV3(t)
	r, raw, err := ReadRequest(bytes.NewReader(append(append([]byte(nil), good...), 0xee)))
	if err != nil || r.Version != 3 || !bytes.Equal(raw, good) {
		t.Fatalf("ReadRequest: %v %+v", err, r)
	}
	if _, _, err := ReadRequest(bytes.NewReader(nil)); err == nil || err.Error() != "EOF" {
		t.Errorf("empty stream: %v", err)
	}
	if _, _, err := ReadRequest(bytes.NewReader(good[:50])); err == nil || !strings.Contains(err.Error(), "closed after the header") {
		t.Errorf("truncated stream: %v", err)
	}
}

// FuzzUnmarshalRequest: any bytes give a request or a one-line error, never a panic; what
// parses re-marshals to the same leading bytes.
func FuzzUnmarshalRequest(f *testing.F) {
	f.Add(capturedV3(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalRequest(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		n := len(out)
		if r.Version == 3 {
			n -= 2 // padding is not kept
		}
		if !bytes.Equal(out[:n], b[:n]) {
			t.Fatalf("round trip differs:\n in %x\nout %x", b[:n], out[:n])
		}
		if _, _, err := ReadRequest(bytes.NewReader(b)); err != nil && len(b) >= len(out) {
			t.Fatalf("ReadRequest refused what UnmarshalRequest took: %v", err)
		}
	})
}
