package vswitch

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/gouml/gouml/lib/netdev/vnet"
)

// FuzzInputExt feeds a hostile guest's datagram from an extended port into a switch (and
// a hub) with one more extended port and a plain one: the plain port only ever gets frames
// of at most vnet.MaxFrame bytes, the extended one only datagrams that pass vnet.Check, and
// neither gets anything from a datagram Check refuses.
func FuzzInputExt(f *testing.F) {
	gso := func(mss, n int) []byte {
		const hl = 14 + 20 + 20
		d := make([]byte, vnet.HdrLen+hl+n)
		d[0], d[1] = vnet.FlagNeedsCsum, vnet.GSOTCPv4
		binary.LittleEndian.PutUint16(d[2:], hl)
		binary.LittleEndian.PutUint16(d[4:], uint16(mss))
		binary.LittleEndian.PutUint16(d[6:], 34)
		binary.LittleEndian.PutUint16(d[8:], 16)
		fr := d[vnet.HdrLen:]
		copy(fr, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0, 0, 0, 1, 0x08, 0})
		ip := fr[14:]
		ip[0], ip[9] = 0x45, 6
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		ip[32] = 5 << 4
		return d
	}
	f.Add(gso(1448, 4000), false)
	f.Add(gso(100, 101), true)
	f.Add(append(make([]byte, vnet.HdrLen), bytes.Repeat([]byte{0xff}, 60)...), false)
	f.Fuzz(func(t *testing.T, d []byte, hub bool) {
		s := NewSwitch(hub, NewLog("uml_switch", io.Discard, io.Discard))
		in, ext, plain := &Port{ID: 1}, &Port{ID: 2}, &Port{ID: 3}
		for i, p := range []*Port{in, ext, plain} {
			p.addr[3] = byte(i + 1)
			s.AddPort(p)
		}
		in.ext.Store(true)
		ext.ext.Store(true)
		_, bad := vnet.Check(d)
		got := 0
		plain.send = func(fr []byte) error {
			got++
			if len(fr) > vnet.MaxFrame || len(fr) < 14 {
				t.Fatalf("the plain port got a %d-byte frame", len(fr))
			}
			return nil
		}
		ext.sendv = func(h, fr []byte) error {
			got++
			if _, err := vnet.Check(append(append([]byte(nil), h...), fr...)); err != nil {
				t.Fatalf("the extended port got a bad datagram: %v", err)
			}
			return nil
		}
		in.sendv = ext.sendv // a frame for its own source address goes back, as in the real switch
		s.InputBatch([]Dgram{{From: &in.addr, Data: bytes.Clone(d)}}, nil)
		if bad != nil && got > 0 {
			t.Fatalf("a datagram Check refuses (%v) was forwarded", bad)
		}
	})
}
