package vswitch

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"time"
)

type sink struct{ got [][]byte }

func testPort(id int, s *sink) *Port {
	p := &Port{ID: id, Kind: KindBESS, Name: "test"}
	p.send = func(f []byte) error { s.got = append(s.got, append([]byte(nil), f...)); return nil }
	return p
}

// TestAging: an address not heard from for more than 100 s is forgotten (its frames are
// flooded again); one refreshed by traffic is kept.
func TestAging(t *testing.T) {
	log := NewLog("test", io.Discard, io.Discard)
	defer log.Close()
	sw := NewSwitch(false, log)
	now := time.Unix(1000, 0)
	sw.now = func() time.Time { return now }
	var s1, s2, s3 sink
	p1, p2, p3 := testPort(1, &s1), testPort(2, &s2), testPort(3, &s3)
	for _, p := range []*Port{p1, p2, p3} {
		sw.AddPort(p)
	}
	m1, m2 := MAC{2, 0, 0, 0, 0, 1}, MAC{2, 0, 0, 0, 0, 2}
	frame := func(dst, src MAC) []byte {
		f := make([]byte, 60)
		copy(f, dst[:])
		copy(f[6:], src[:])
		return f
	}
	sw.Input(p1, frame(MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, m1))
	sw.Input(p2, frame(MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, m2))
	if sw.Lookup(m1) != p1 || sw.Lookup(m2) != p2 {
		t.Fatal("not learned")
	}
	now = now.Add(60 * time.Second)
	sw.Input(p2, frame(m1, m2)) // refreshes m2 only
	now = now.Add(41 * time.Second)
	sw.Expire(now) // m1 is 101 s old, m2 41 s
	if sw.Lookup(m1) != nil {
		t.Error("m1 not aged out after 101 s")
	}
	if sw.Lookup(m2) != p2 {
		t.Error("m2 aged out although refreshed 41 s ago")
	}
	s3.got = nil
	sw.Input(p2, frame(m1, m2))
	if len(s3.got) != 1 || len(s1.got) == 0 {
		t.Error("frame to an aged-out address was not flooded")
	}
	now = now.Add(100 * time.Second)
	sw.Expire(now)
	if sw.Lookup(m2) != p2 {
		t.Error("an entry exactly 100 s old must stay (the limit is 'older than')")
	}
}

// TestMoveAndRemove: an address seen on another port moves there; a removed port's
// addresses are forgotten and it gets no more frames.
func TestMoveAndRemove(t *testing.T) {
	var out bytes.Buffer
	log := NewLog("test", &out, io.Discard)
	sw := NewSwitch(false, log)
	var s1, s2, s3 sink
	p1, p2, p3 := testPort(1, &s1), testPort(2, &s2), testPort(3, &s3)
	for _, p := range []*Port{p1, p2, p3} {
		sw.AddPort(p)
	}
	m := MAC{2, 0, 0, 0, 0, 9}
	f := make([]byte, 60)
	f[0] = 0xff
	copy(f[6:], m[:])
	sw.Input(p1, f)
	sw.Input(p2, f)
	if sw.Lookup(m) != p2 {
		t.Fatal("address did not move")
	}
	sw.RemovePort(p2)
	if sw.Lookup(m) != nil {
		t.Error("removed port's address kept")
	}
	s2.got = nil
	sw.Input(p1, f)
	if len(s2.got) != 0 || len(s3.got) == 0 {
		t.Error("removed port still gets frames, or others do not")
	}
	sw.Input(p1, f[:10]) // runt: dropped, counted
	if p1.RxErrors.Load() != 1 {
		t.Error("runt frame not counted")
	}
	log.Close()
	if want := " Addr: 02:00:00:00:00:09 New port 2 old port 1\n"; !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Errorf("log %q lacks %q", out.String(), want)
	}
}

// TestDeadPortDroppedMidFlood: a daemon port found gone by a failed send is dropped while the
// flood that found it is still going; every port after it must still get the frame.
func TestDeadPortDroppedMidFlood(t *testing.T) {
	log := NewLog("test", io.Discard, io.Discard)
	defer log.Close()
	sw := NewSwitch(false, log)
	var sinks [5]sink
	ports := make([]*Port, len(sinks))
	for i := range ports {
		ports[i] = testPort(i+1, &sinks[i])
		ports[i].Kind = KindDaemon
		ports[i].addr[0] = byte(i + 1)
		sw.AddPort(ports[i])
	}
	ports[1].send = func([]byte) error { return syscall.ECONNREFUSED }
	f := make([]byte, 60)
	f[0], f[6] = 0xff, 2
	sw.Input(ports[0], f)
	for i := 2; i < len(ports); i++ {
		if len(sinks[i].got) != 1 {
			t.Errorf("port %d got %d frames of the flood that dropped port 2, want 1", i+1, len(sinks[i].got))
		}
	}
	if got := len(sw.Ports()); got != 4 {
		t.Errorf("%d ports after the dead one was dropped, want 4", got)
	}
}
