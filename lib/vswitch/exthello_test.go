package vswitch

import (
	"bytes"
	"testing"
)

// FuzzExtHello: a control connection's bytes after the reply, split at any point into the
// first read and the rest, are either not a hello (the port is dropped as before), or a
// hello read whole and refused in one line, or a valid one that marshals back the same.
func FuzzExtHello(f *testing.F) {
	var sock Sockaddr
	sock.Family, sock.Path[4] = afUnix, 7
	good := ExtHello{Version: extVersion, Features: ExtVNet, Sock: sock}.Marshal()
	f.Add(good, 16)
	f.Add(good[:40], 8)
	f.Add([]byte("gouml-x2 and more"), 3)
	f.Add([]byte{1, 2, 3}, 1)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		if split < 1 || split > len(b) {
			split = len(b)
		}
		if split == 0 {
			return
		}
		h, isHello, err := readHello(bytes.NewReader(b[split:]), b[:split])
		if !isHello {
			if err != nil {
				t.Fatalf("not a hello, yet an error: %v", err)
			}
			return
		}
		if err != nil {
			if bytes.ContainsRune([]byte(err.Error()), '\n') {
				t.Fatalf("a multi-line error: %q", err)
			}
			return
		}
		if !bytes.Equal(h.Marshal(), b[:extHelloLen]) {
			t.Fatal("a hello that does not marshal back")
		}
	})
}
