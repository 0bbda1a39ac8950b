package netdev

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// gsoFrame is what a tap with TSO hands over for one large TCP send: a virtio header for
// TCPv4 GSO with segment size gso, and the packet, whose TCP checksum field holds the
// pseudo-header's sum (CHECKSUM_PARTIAL).
func gsoFrame(gso int, flags byte, payload []byte) []byte {
	f := tcpSegment(1000, 777, flags, []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7}, payload)
	ip := f[ethHdrLen:]
	th := ip[ipv4Len:]
	binary.BigEndian.PutUint16(th[16:], ^checksum(nil, pseudoSum(ip, len(th))))
	h := make([]byte, vnetHdrLen)
	h[0], h[1] = vnetNeedsCsum, vnetGSOTCPv4
	binary.LittleEndian.PutUint16(h[2:], uint16(ethHdrLen+ipv4Len+32))
	binary.LittleEndian.PutUint16(h[4:], uint16(gso))
	binary.LittleEndian.PutUint16(h[6:], ethHdrLen+ipv4Len)
	binary.LittleEndian.PutUint16(h[8:], 16)
	return append(h, f...)
}

// cut runs the segmenter on a frame with its virtio header and checks every segment as a
// receiver would; it returns the segments, or nil if the frame is refused.
func cut(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) < vnetHdrLen {
		return nil
	}
	h, frame := parseVnetHdr(b), b[vnetHdrLen:]
	ipHL, hl, ok := tcp4Layout(frame, h)
	if !ok {
		return nil
	}
	ns := segments(frame, hl, h.GSOSize)
	if ns > batch {
		return nil
	}
	dst := make([][]byte, ns)
	for i := range dst {
		dst[i] = make([]byte, bufSize)
	}
	lens := make([]int, ns)
	segmentTCP4(frame, ipHL, hl, h.GSOSize, dst, lens)
	seq := binary.BigEndian.Uint32(frame[ethHdrLen+ipHL+4:])
	var out [][]byte
	for i := range dst {
		s := dst[i][:lens[i]]
		if len(s) > MaxFrame {
			t.Fatalf("segment %d: %d bytes", i, len(s))
		}
		ip := s[ethHdrLen:]
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) || checksum(ip[:ipHL], 0) != 0 {
			t.Fatalf("segment %d: bad IP length or checksum", i)
		}
		th := ip[ipHL:]
		if checksum(th, pseudoSum(ip, len(th))) != 0 {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		if got := binary.BigEndian.Uint32(th[4:]); got != seq {
			t.Fatalf("segment %d: seq %d, want %d", i, got, seq)
		}
		seq += uint32(len(s) - hl)
		out = append(out, s)
	}
	return out
}

func TestNetSegmentGSO(t *testing.T) {
	p := payload(5000, 3)
	segs := cut(t, gsoFrame(1448, 0x80|0x10|0x08|0x01, p)) // CWR, ACK, PSH, FIN
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	var got []byte
	hl := ethHdrLen + ipv4Len + 32
	for i, s := range segs {
		got = append(got, s[hl:]...)
		flags := s[ethHdrLen+ipv4Len+13]
		want := byte(0x10)
		if i == 0 {
			want |= 0x80
		}
		if i == 3 {
			want |= 0x08 | 0x01
		}
		if flags != want {
			t.Errorf("segment %d: flags %#x, want %#x", i, flags, want)
		}
		if id := binary.BigEndian.Uint16(s[ethHdrLen+4:]); id != uint16(1000+i) {
			t.Errorf("segment %d: IP ID %d", i, id)
		}
	}
	if !bytes.Equal(got, p) {
		t.Error("the segments' payloads differ from the frame's")
	}
}

func TestNetSegmentRefuses(t *testing.T) {
	good := gsoFrame(1448, 0x10, payload(3000, 1))
	bad := map[string]func([]byte){
		"segment too large":  func(b []byte) { binary.LittleEndian.PutUint16(b[4:], 1600) },
		"no segment size":    func(b []byte) { binary.LittleEndian.PutUint16(b[4:], 0) },
		"checksum elsewhere": func(b []byte) { binary.LittleEndian.PutUint16(b[8:], 6) },
		"IP length":          func(b []byte) { b[vnetHdrLen+ethHdrLen+3]++ },
		"UDP":                func(b []byte) { b[vnetHdrLen+ethHdrLen+9] = 17 },
		"IPv6 ethertype":     func(b []byte) { b[vnetHdrLen+12], b[vnetHdrLen+13] = 0x86, 0xdd },
		"fragment":           func(b []byte) { b[vnetHdrLen+ethHdrLen+6] |= 0x20 },
		"TCP header too long": func(b []byte) {
			b[vnetHdrLen+ethHdrLen+ipv4Len+12] = 0xf0
			binary.BigEndian.PutUint16(b[vnetHdrLen+ethHdrLen+2:], ipv4Len+60) // 60 > what is there
		},
	}
	if cut(t, good) == nil {
		t.Fatal("a good frame was refused")
	}
	// DATA_VALID instead of NEEDS_CSUM (forwarded): the offsets do not matter.
	valid := append([]byte(nil), good...)
	valid[0] = 2
	binary.LittleEndian.PutUint16(valid[8:], 6)
	if cut(t, valid) == nil {
		t.Error("a forwarded (DATA_VALID) frame was refused")
	}
	for name, spoil := range bad {
		b := append([]byte(nil), good...)
		spoil(b)
		if segs := cut(t, b); segs != nil {
			t.Errorf("%s: cut into %d segments", name, len(segs))
		}
	}
	// More segments than a batch holds
	if cut(t, gsoFrame(100, 0x10, payload(100*batch+1, 1))) != nil {
		t.Error("a frame of more segments than a batch was cut")
	}
}

func TestNetCompleteChecksum(t *testing.T) {
	// A UDP datagram whose checksum field holds the pseudo-header's sum.
	f := tcpSegment(1, 2, 0x10, nil, payload(333, 5))
	ip := f[ethHdrLen:]
	ip[9] = 17
	u := ip[ipv4Len:]
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	u[6], u[7] = 0, 0
	sum := pseudoSum(ip, len(u)) - 6 + 17
	binary.BigEndian.PutUint16(u[6:], ^checksum(nil, sum))
	if !completeCsum(f, ethHdrLen+ipv4Len, 6) {
		t.Fatal("refused")
	}
	if checksum(u, sum) != 0 {
		t.Error("the completed UDP checksum is wrong")
	}
	for _, c := range [][2]int{{0, 6}, {ethHdrLen + ipv4Len, len(f)}, {len(f), 0}, {ethHdrLen, -1}} {
		if completeCsum(f, c[0], c[1]) {
			t.Errorf("offsets %v taken", c)
		}
	}
}

// FuzzSegment: the virtio header and the frame come from the guest. Whatever they say,
// the segmenter never panics, and what it cuts is valid and carries the frame's payload.
func FuzzSegment(f *testing.F) {
	f.Add(gsoFrame(1448, 0x18, payload(4000, 1)))
	f.Add(gsoFrame(536, 0x10, payload(536, 2)))
	f.Add(gsoFrame(1000, 0x11, payload(1, 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		segs := cut(t, b)
		if segs == nil {
			if len(b) >= vnetHdrLen {
				h := parseVnetHdr(b)
				completeCsum(b[vnetHdrLen:], h.Start, h.Offset)
			}
			return
		}
		frame := b[vnetHdrLen:]
		ipHL := int(frame[ethHdrLen]&0x0f) * 4
		hl := ethHdrLen + ipHL + int(frame[ethHdrLen+ipHL+12]>>4)*4
		var got []byte
		for _, s := range segs {
			got = append(got, s[hl:]...)
		}
		if !bytes.Equal(got, frame[hl:]) {
			t.Fatal("the segments' payloads differ from the frame's")
		}
	})
}
