package vnet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// gsoDatagram is what a tap with TSO hands over for one TCP send of payload: a header for
// TCPv4 GSO of segment size mss, the packet with its TCP checksum partial.
func gsoDatagram(mss int, flags byte, payload []byte) []byte {
	const hl = EthHdrLen + 20 + 20
	f := make([]byte, hl+len(payload))
	copy(f, []byte{0xfe, 0xfd, 0, 0, 0, 2, 0xfe, 0xfd, 0, 0, 0, 1, 0x08, 0x00})
	ip := f[EthHdrLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, protoTCP
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	copy(ip[12:], []byte{10, 0, 9, 1, 10, 0, 9, 2})
	binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:20], 0))
	th := ip[20:]
	binary.BigEndian.PutUint32(th[4:], 1000)
	th[12], th[13] = 5<<4, flags
	copy(th[20:], payload)
	binary.BigEndian.PutUint16(th[16:], ^Checksum(nil, PseudoSum(ip, len(th))))
	h := make([]byte, HdrLen)
	h[0], h[1] = FlagNeedsCsum, GSOTCPv4
	binary.LittleEndian.PutUint16(h[2:], hl)
	binary.LittleEndian.PutUint16(h[4:], uint16(mss))
	binary.LittleEndian.PutUint16(h[6:], EthHdrLen+20)
	binary.LittleEndian.PutUint16(h[8:], 16)
	return append(h, f...)
}

func TestCheck(t *testing.T) {
	good := gsoDatagram(1448, 0x18, make([]byte, 5000))
	if s, err := Check(good); err != nil || !s.GSO() || s.Segs != 4 {
		t.Fatalf("a good GSO frame: %+v %v", s, err)
	}
	plain := make([]byte, HdrLen+60)
	plain[HdrLen+12] = 0x08
	for _, c := range []struct {
		name string
		d    []byte
		ok   bool
	}{
		{"plain", plain, true},
		{"short", plain[:HdrLen+13], false},
		{"long plain", make([]byte, HdrLen+MaxFrame+1), false},
		{"unknown flag", append([]byte{4}, plain[1:]...), false},
		{"unknown GSO", append([]byte{0, 3}, plain[2:]...), false},
		{"checksum outside", append([]byte{1, 0, 0, 0, 0, 0, 50, 0, 20, 0}, plain[HdrLen:]...), false},
		{"checksum inside", append([]byte{1, 0, 0, 0, 0, 0, 34, 0, 16, 0}, plain[HdrLen:]...), true},
		{"too many segments", gsoDatagram(10, 0x10, make([]byte, 10*MaxSegs+1)), false},
		{"as many as allowed", gsoDatagram(10, 0x10, make([]byte, 10*MaxSegs)), true},
		{"GSO of a plain frame", append([]byte{1, 1}, plain[2:]...), false},
	} {
		if _, err := Check(c.d); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// FuzzCheck: whatever Check takes is safe to pass on: a GSO frame cuts into frames of at
// most MaxFrame with correct checksums that carry its payload, a partial checksum
// finishes inside the frame.
func FuzzCheck(f *testing.F) {
	f.Add(gsoDatagram(1448, 0x18, make([]byte, 4000)))
	f.Add(gsoDatagram(536, 0x11, make([]byte, 537)))
	f.Add(append(make([]byte, HdrLen), make([]byte, 60)...))
	f.Fuzz(func(t *testing.T, d []byte) {
		s, err := Check(d)
		if err != nil {
			return
		}
		if !s.GSO() {
			if len(s.Frame) > MaxFrame || len(s.Frame) < EthHdrLen {
				t.Fatalf("a %d-byte plain frame passed", len(s.Frame))
			}
			if s.Flags&FlagNeedsCsum != 0 && !CompleteCsum(s.Frame, s.Start, s.Offset) {
				t.Fatal("a partial checksum that does not fit passed")
			}
			return
		}
		dst := make([][]byte, s.Segs)
		for i := range dst {
			dst[i] = make([]byte, MaxFrame)
		}
		lens := make([]int, s.Segs)
		SegmentTCP4(s.Frame, s.IPHL, s.HL, s.GSOSize, dst, lens)
		var got []byte
		for i := range dst {
			seg := dst[i][:lens[i]]
			if len(seg) > MaxFrame {
				t.Fatalf("a %d-byte segment", len(seg))
			}
			ip := seg[EthHdrLen:]
			if Checksum(ip[:s.IPHL], 0) != 0 || Checksum(ip[s.IPHL:], PseudoSum(ip, len(ip)-s.IPHL)) != 0 {
				t.Fatalf("segment %d: a bad checksum", i)
			}
			got = append(got, seg[s.HL:]...)
		}
		if !bytes.Equal(got, s.Frame[s.HL:]) {
			t.Fatal("the segments do not carry the frame's payload")
		}
	})
}
