package mconsole

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// seed returns the bytes of a committed fuzz seed file (go test fuzz v1, one []byte value).
// The "real-*" seeds are datagrams captured from the real uml_mconsole and linux.uml.
func seed(t testing.TB, fuzzer, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", fuzzer, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a one-value fuzz seed", name)
	}
	v := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
	s, err := strconv.Unquote(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

func TestRequestMarshalMatchesRealClient(t *testing.T) {
	for name, cmd := range map[string]string{
		"real-req-0":  "version",
		"real-req-1":  "config ubd1=/tmp/a.cow,/tmp/b.img",
		"real-req-2":  "log hello",
		"real-req-2b": "log \n",
		"real-req-4":  "proc meminfo",
	} {
		real := seed(t, "FuzzParseRequest", name)
		ours, err := NewRequest(cmd).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, real) {
			t.Errorf("%s: our request for %q differs from the real client's:\nours %x\nreal %x", name, cmd, ours, real)
		}
		r, err := UnmarshalRequest(real)
		if err != nil || r.Command != cmd || r.Version != Version {
			t.Errorf("%s: UnmarshalRequest = %+v, %v", name, r, err)
		}
	}
	// The real client cuts a long command to 511 bytes.
	real := seed(t, "FuzzParseRequest", "real-req-5")
	r, err := UnmarshalRequest(real)
	if err != nil || r.Command != strings.Repeat("x", 511) {
		t.Errorf("long request: %d bytes, %v", len(r.Command), err)
	}
	if _, err := NewRequest(strings.Repeat("x", 512)).Marshal(); err == nil {
		t.Error("a 512-byte command must not marshal")
	}
}

func TestParseRequestLenient(t *testing.T) {
	h, cmd, err := ParseRequest([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x64\x00\x00\x00version"))
	if err != nil || cmd != "version" || h.Len != 100 {
		t.Errorf("len beyond datagram: %+v %q %v", h, cmd, err)
	}
	if _, err := UnmarshalRequest([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x64\x00\x00\x00version")); err == nil {
		t.Error("UnmarshalRequest accepted a truncated request")
	}
	if _, _, err := ParseRequest([]byte{0xbe, 0xba}); err == nil {
		t.Error("ParseRequest accepted 2 bytes")
	}
	_, cmd, _ = ParseRequest([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x09\x00\x00\x00ver\x00sion!"))
	if cmd != "ver" {
		t.Errorf("command must stop at NUL like the kernel's C string, got %q", cmd)
	}
}

func TestReplyDecodeRealKernel(t *testing.T) {
	cases := []struct {
		name string
		want Reply
	}{
		{"real-rep-version-0", Reply{Data: "Linux (none) 6.1.176 #1 Sat Jul  4 15:38:16 UTC 2026 x86_64"}},
		{"real-rep-remove5-0", Reply{Err: -19, Data: "Device doesn't exist"}},
		{"real-rep-unknown-0", Reply{Err: 1, Data: "Unknown command"}},
		{"real-rep-toolarge-0", Reply{Err: 1, Data: "Request too large"}},
		{"real-rep-v1-0", Reply{Err: 1, Data: "This driver only supports version 2 clients"}},
		{"real-rep-proc-0", Reply{More: true, Data: "\n"}},
		{"real-rep-proc-4", Reply{Data: ""}},
	}
	for _, c := range cases {
		real := seed(t, "FuzzUnmarshalReply", c.name)
		got, err := UnmarshalReply(real)
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
		b, _ := got.Marshal()
		if !bytes.Equal(b, real) {
			t.Errorf("%s: re-marshalled bytes differ from the kernel's:\nours %x\nreal %x", c.name, b, real)
		}
	}
	if _, err := UnmarshalReply(seed(t, "FuzzUnmarshalReply", "real-rep-v0-0")); err == nil {
		t.Error("the raw version-0 text must not decode as a reply")
	}
}

// The kernel splits long answers into 511-byte chunks; ours must produce the same packets.
func TestSplitReplyMatchesKernel(t *testing.T) {
	var real [][]byte
	for _, n := range []string{"real-rep-help-0", "real-rep-help-1"} {
		real = append(real, seed(t, "FuzzUnmarshalReply", n))
	}
	ours := marshalAll(SplitReply(HelpText, 0, false))
	if len(ours) != len(real) {
		t.Fatalf("help: %d packets, kernel sent %d", len(ours), len(real))
	}
	for i := range ours {
		if !bytes.Equal(ours[i], real[i]) {
			t.Errorf("help packet %d differs:\nours %q\nreal %q", i, ours[i], real[i])
		}
	}
	// proc: "\n" (more), content chunks (more), "" (last).
	var content strings.Builder
	for i := 1; i <= 3; i++ {
		r, err := UnmarshalReply(seed(t, "FuzzUnmarshalReply", "real-rep-proc-"+strconv.Itoa(i)))
		if err != nil || !r.More {
			t.Fatalf("proc packet %d: %+v %v", i, r, err)
		}
		content.WriteString(r.Data)
	}
	var ourProc [][]byte
	ourProc = append(ourProc, marshalAll(SplitReply("\n", 0, true))...)
	ourProc = append(ourProc, marshalAll(SplitReply(content.String(), 0, true))...)
	ourProc = append(ourProc, marshalAll(SplitReply("", 0, false))...)
	for i := range ourProc {
		if !bytes.Equal(ourProc[i], seed(t, "FuzzUnmarshalReply", "real-rep-proc-"+strconv.Itoa(i))) {
			t.Errorf("proc packet %d differs from the kernel's", i)
		}
	}
	if got := SplitReply("", 5, false); len(got) != 1 || got[0] != (Reply{Err: 5}) {
		t.Errorf("empty reply: %+v", got)
	}
	got := SplitReply(strings.Repeat("a", 1022), -19, false)
	if len(got) != 2 || got[0].Err != -19 || got[1].Err != 0 || !got[0].More || got[1].More || len(got[0].Data) != 511 {
		t.Errorf("1022-byte reply split wrong: %d packets", len(got))
	}
}

func TestNotificationRealKernel(t *testing.T) {
	want := []Notification{
		NewNotification(NotifySocket, []byte("/tmp/mcx/ud/n1/mconsole\x00")),
		NewNotification(NotifyUserNotify, []byte("x\n")),
		NewNotification(NotifyUserNotify, []byte("two words")),
		NewNotification(NotifyPanic, []byte("Attempted to kill init! exitcode=0x00000300\x00")),
	}
	for i, w := range want {
		real := seed(t, "FuzzUnmarshalNotification", "real-notify-"+strconv.Itoa(i))
		got, err := UnmarshalNotification(real)
		if err != nil || got.Type != w.Type || !bytes.Equal(got.Data, w.Data) || got.Magic != Magic || got.Version != Version {
			t.Errorf("notify %d: %+v %v", i, got, err)
		}
		b, _ := w.Marshal()
		if !bytes.Equal(b, real) {
			t.Errorf("notify %d: ours %x, real %x", i, b, real)
		}
	}
	// uml_watchdog's 64-bit packet: magic as u64, so the kernel layout reads version 0, type 2.
	wd := []byte("\xbe\xba\xfe\xca\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\xde\xad\xbe\xef")
	n, err := UnmarshalNotification(wd)
	if err != nil || n.Version != 0 || n.Type != NotifyHang || len(n.Data) != 2 {
		t.Errorf("watchdog packet: %+v %v", n, err)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x07\x00\x00\x00version"))
	f.Add([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, cmd, err := ParseRequest(b)
		if err != nil {
			return
		}
		if len(cmd) >= MaxData || uint64(len(cmd)) > uint64(h.Len) || strings.IndexByte(cmd, 0) >= 0 {
			t.Fatalf("command of %d bytes from len %d", len(cmd), h.Len)
		}
		r, err := UnmarshalRequest(b)
		if err != nil {
			return
		}
		m, err := r.Marshal()
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		r2, err := UnmarshalRequest(m)
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v -> %+v, %v", r, r2, err)
		}
	})
}

func FuzzUnmarshalReply(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x00\x00\x00\x01\x00\x00\x00\x00\x02\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalReply(b)
		if err != nil {
			return
		}
		if len(r.Data) > MaxData || strings.IndexByte(r.Data, 0) >= 0 {
			t.Fatalf("data of %d bytes", len(r.Data))
		}
		if len(r.Data) > MaxChunk {
			return // 512 chars without a NUL: decodable, but not something we send
		}
		m, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := UnmarshalReply(m)
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v -> %+v, %v", r, r2, err)
		}
	})
}

func FuzzUnmarshalNotification(f *testing.F) {
	f.Add([]byte("\xbe\xba\xfe\xca\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := UnmarshalNotification(b)
		if err != nil {
			return
		}
		m, err := n.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m, b[:16+len(n.Data)]) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzServerRequest feeds the server's request checks and command lookup: whatever arrives,
// the server answers with well-formed packets (or the raw version-0 text) or drops it.
func FuzzServerRequest(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte("\xbe\xba\xfe\xca\x01\x00\x00\x00\x07\x00\x00\x00version"))
	f.Add([]byte("\xbe\xba\xfe\xca\x02\x00\x00\x00\x00\x02\x00\x00"))
	s := NewServer()
	f.Fuzz(func(t *testing.T, b []byte) {
		pre, cmd, run := checkRequest(b)
		for _, p := range pre {
			if string(p) == textVersion0 {
				continue
			}
			if _, err := UnmarshalReply(p); err != nil {
				t.Fatalf("server would send a malformed packet: %v", err)
			}
		}
		if run {
			if len(cmd) >= MaxData {
				t.Fatalf("ran a %d-byte command", len(cmd))
			}
			name, _ := s.lookup(cmd)
			if name != "" && !strings.HasPrefix(cmd, name) {
				t.Fatalf("lookup(%q) = %q", cmd, name)
			}
		}
	})
}
