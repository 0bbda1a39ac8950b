package netdev

import (
	"bytes"
	"testing"
)

// Packets with END and ESC inside survive encoding and decoding, fed in pieces of any size.
func TestSLIPRoundTrip(t *testing.T) {
	pkts := [][]byte{
		{0x45, 0, slipEnd, 1, slipEsc, 2, slipEscEnd, slipEscEsc},
		bytes.Repeat([]byte{slipEnd}, MaxPacket),
		{1},
	}
	var stream []byte
	for _, p := range pkts {
		stream = SLIPEncode(stream, p)
	}
	for _, step := range []int{1, 3, len(stream)} {
		var d SLIPDecoder
		var got [][]byte
		for i := 0; i < len(stream); i += step {
			d.Feed(stream[i:min(i+step, len(stream))], func(p []byte) { got = append(got, append([]byte(nil), p...)) })
		}
		if len(got) != len(pkts) || d.Dropped != 0 {
			t.Fatalf("step %d: %d packets, %d dropped", step, len(got), d.Dropped)
		}
		for i := range pkts {
			if !bytes.Equal(got[i], pkts[i]) {
				t.Errorf("step %d: packet %d differs", step, i)
			}
		}
	}
}

// Too long a packet and a bad escape are dropped whole; the decoder goes on at the next END.
func TestSLIPDecoderDrops(t *testing.T) {
	var d SLIPDecoder
	var got [][]byte
	stream := append([]byte{slipEnd}, bytes.Repeat([]byte{7}, MaxPacket+1)...)
	stream = append(stream, slipEnd, 1, slipEsc, 9, 2, slipEnd, 3, slipEsc, slipEnd, slipEnd, 4, 5, slipEnd)
	d.Feed(stream, func(p []byte) { got = append(got, append([]byte(nil), p...)) })
	if len(got) != 1 || !bytes.Equal(got[0], []byte{4, 5}) || d.Dropped != 3 {
		t.Errorf("got %v, dropped %d", got, d.Dropped)
	}
}

// FuzzSLIPDecoder: any stream, in any pieces, gives packets of 1 to MaxPacket bytes and
// never a panic; and a packet's encoding decodes to itself.
func FuzzSLIPDecoder(f *testing.F) {
	f.Add([]byte{slipEnd, 0x45, slipEsc, slipEscEnd, slipEnd}, uint8(1))
	f.Add([]byte{slipEsc, slipEsc, slipEnd, slipEnd}, uint8(2))
	f.Add(bytes.Repeat([]byte{slipEsc, slipEscEsc}, 800), uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		n := int(step) + 1
		var d SLIPDecoder
		for i := 0; i < len(b); i += n {
			d.Feed(b[i:min(i+n, len(b))], func(p []byte) {
				if len(p) < 1 || len(p) > MaxPacket {
					t.Fatalf("packet of %d bytes", len(p))
				}
			})
		}
		if len(b) == 0 || len(b) > MaxPacket {
			return
		}
		var e SLIPDecoder
		var got []byte
		calls := 0
		e.Feed(SLIPEncode(nil, b), func(p []byte) { got = append(got, p...); calls++ })
		if calls != 1 || !bytes.Equal(got, b) {
			t.Fatalf("round trip of % x gave % x (%d packets)", b, got, calls)
		}
	})
}
