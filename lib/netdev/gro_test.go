package netdev

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// tcpFrame builds a checksummed IPv4 TCP frame of one flow: seq, flags and payload as
// given, a 12-byte timestamp option.
func tcpFrame(seq uint32, flags byte, payload []byte) []byte {
	return tcpSegment(seq, 777, flags, []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7}, payload)
}

// tcpSegment builds a checksummed IPv4 TCP frame from 10.0.9.2:40000 to 10.0.9.1:5201.
func tcpSegment(seq, ack uint32, flags byte, opts, payload []byte) []byte {
	thLen := 20 + len(opts)
	f := make([]byte, ethHdrLen+ipv4Len+thLen+len(payload))
	copy(f, []byte{0xfe, 0xfd, 0, 0, 0, 2, 0xfe, 0xfd, 0, 0, 0, 1, 0x08, 0x00})
	ip := f[ethHdrLen:]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[4:], uint16(seq)) // an ID that changes
	ip[6] = 0x40                                    // DF
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 0, 9, 2, 10, 0, 9, 1})
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ipv4Len], 0))
	th := ip[ipv4Len:]
	binary.BigEndian.PutUint16(th[0:], 40000)
	binary.BigEndian.PutUint16(th[2:], 5201)
	binary.BigEndian.PutUint32(th[4:], seq)
	binary.BigEndian.PutUint32(th[8:], ack)
	th[12], th[13] = byte(thLen/4<<4), flags
	binary.BigEndian.PutUint16(th[14:], 500)
	copy(th[20:], opts)
	copy(th[thLen:], payload)
	binary.BigEndian.PutUint16(th[16:], checksum(th, pseudoSum(ip, len(th))))
	return f
}

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

// merged returns what writeMerged would write for frames[i:j] (the virtio header, then the
// packet), without a tap.
func merged(m *merger, frames [][]byte, i, j int) []byte {
	total := 0
	for k := i; k < j; k++ {
		total += m.segs[k].payLen
	}
	n := m.mergedHeader(frames[i], m.segs[i], total, m.segs[j-1].psh)
	out := append([]byte(nil), m.hdr[:n]...)
	hl := ethHdrLen + ipv4Len + m.segs[i].thLen
	for k := i; k < j; k++ {
		out = append(out, frames[k][hl:]...)
	}
	return out
}

// resegment does what the host kernel does with a GSO frame the guest forwards: finishes
// the checksum and cuts the packet into segments of gso_size. It fails the test where the
// frame is not valid.
func resegment(t *testing.T, b []byte) [][]byte {
	t.Helper()
	h, pkt := b[:vnetHdrLen], b[vnetHdrLen:]
	if h[0] != vnetNeedsCsum || h[1] != vnetGSOTCPv4 {
		t.Fatalf("virtio header %x", h)
	}
	hl := int(binary.LittleEndian.Uint16(h[2:]))
	mss := int(binary.LittleEndian.Uint16(h[4:]))
	cs, co := int(binary.LittleEndian.Uint16(h[6:])), int(binary.LittleEndian.Uint16(h[8:]))
	if cs != ethHdrLen+ipv4Len || co != 16 {
		t.Fatalf("checksum at %d+%d", cs, co)
	}
	ip := pkt[ethHdrLen:]
	if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) || checksum(ip[:ipv4Len], 0) != 0 {
		t.Fatalf("merged IP header: length %d of %d, checksum %#x", binary.BigEndian.Uint16(ip[2:]), len(ip), checksum(ip[:ipv4Len], 0))
	}
	// Finish the partial checksum as the kernel would, then check it as the receiver.
	full := append([]byte(nil), pkt...)
	th := full[cs:]
	binary.BigEndian.PutUint16(th[16:], checksum(th, 0))
	if checksum(th, pseudoSum(full[ethHdrLen:], len(th))) != 0 {
		t.Fatal("merged packet's TCP checksum is wrong once finished")
	}
	var segs [][]byte
	seq := binary.BigEndian.Uint32(pkt[cs+4:])
	data := pkt[hl:]
	for len(data) > 0 {
		n := min(mss, len(data))
		segs = append(segs, append(append([]byte(nil), pkt[:hl]...), data[:n]...))
		binary.BigEndian.PutUint32(segs[len(segs)-1][cs+4:], seq)
		seq += uint32(n)
		data = data[n:]
	}
	return segs
}

// run groups frames and returns the groups as [i, j, merged] triples.
func runGroups(m *merger, frames [][]byte) [][3]int {
	var gs [][3]int
	m.groups(frames, func(i, j int, mg bool) {
		b := 0
		if mg {
			b = 1
		}
		gs = append(gs, [3]int{i, j, b})
	})
	return gs
}

func TestNetMergeSegments(t *testing.T) {
	var frames [][]byte
	seq := uint32(1000)
	for k := 0; k < 5; k++ {
		n := 1448
		if k == 4 {
			n = 300 // a shorter last segment
		}
		flags := byte(0x10)
		if k == 4 {
			flags |= 0x08
		}
		frames = append(frames, tcpFrame(seq, flags, payload(n, byte(k))))
		seq += uint32(n)
	}
	var m merger
	gs := runGroups(&m, frames)
	if len(gs) != 1 || gs[0] != [3]int{0, 5, 1} {
		t.Fatalf("groups %v, want one of all five", gs)
	}
	segs := resegment(t, merged(&m, frames, 0, 5))
	if len(segs) != 5 {
		t.Fatalf("%d segments back, want 5", len(segs))
	}
	for k, s := range segs {
		want := frames[k]
		// Only the payload, the sequence number and (on the last) PSH must come back; the
		// IP ID, lengths and checksums are the segmenter's business.
		if !bytes.Equal(s[ethHdrLen+ipv4Len+32:], want[ethHdrLen+ipv4Len+32:]) ||
			!bytes.Equal(s[ethHdrLen+ipv4Len+4:ethHdrLen+ipv4Len+8], want[ethHdrLen+ipv4Len+4:ethHdrLen+ipv4Len+8]) {
			t.Errorf("segment %d differs", k)
		}
	}
	if segs[0][ethHdrLen+ipv4Len+13]&0x08 == 0 {
		t.Error("the last segment's PSH was lost")
	}
}

func TestNetMergeRefuses(t *testing.T) {
	a := tcpFrame(1000, 0x10, payload(1000, 1))
	next := uint32(2000)
	cases := map[string][]byte{
		"gap":      tcpFrame(next+1, 0x10, payload(1000, 2)),
		"longer":   tcpFrame(next, 0x10, payload(1001, 2)),
		"fin":      tcpFrame(next, 0x11, payload(1000, 2)),
		"syn":      tcpFrame(next, 0x12, payload(1000, 2)),
		"no ack":   tcpFrame(next, 0x00, payload(1000, 2)),
		"urg":      tcpFrame(next, 0x30, payload(1000, 2)),
		"bad csum": func() []byte { f := tcpFrame(next, 0x10, payload(1000, 2)); f[len(f)-1] ^= 1; return f }(),
		"bad ip csum": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+8]-- // TTL
			return f
		}(),
		"other ack": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+ipv4Len+11]++
			fixTCP(f)
			return f
		}(),
		"other window": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+ipv4Len+15]++
			fixTCP(f)
			return f
		}(),
		"other timestamp": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+ipv4Len+27]++
			fixTCP(f)
			return f
		}(),
		"other port": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+ipv4Len+1]++
			fixTCP(f)
			return f
		}(),
		"other mac": func() []byte { f := tcpFrame(next, 0x10, payload(1000, 2)); f[5]++; return f }(),
		"fragment": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+6] |= 0x20 // MF
			fixIP(f)
			return f
		}(),
		"padded": append(tcpFrame(next, 0x10, payload(1000, 2)), 0),
		"udp": func() []byte {
			f := tcpFrame(next, 0x10, payload(1000, 2))
			f[ethHdrLen+9] = 17
			fixIP(f)
			return f
		}(),
		"empty": tcpFrame(next, 0x10, nil),
	}
	for name, b := range cases {
		var m merger
		if gs := runGroups(&m, [][]byte{a, b}); len(gs) != 2 {
			t.Errorf("%s: groups %v, want each alone", name, gs)
		}
	}
	// A PSH ends a group; a short segment may only be the last.
	var m merger
	psh := [][]byte{tcpFrame(1000, 0x18, payload(1000, 1)), tcpFrame(2000, 0x10, payload(1000, 2))}
	if gs := runGroups(&m, psh); len(gs) != 2 {
		t.Errorf("PSH first: groups %v", gs)
	}
	short := [][]byte{a, tcpFrame(next, 0x10, payload(500, 2)), tcpFrame(next+500, 0x10, payload(500, 3))}
	if gs := runGroups(&m, short); len(gs) != 2 || gs[0] != [3]int{0, 2, 1} {
		t.Errorf("short middle: groups %v", gs)
	}
}

func fixIP(f []byte) {
	ip := f[ethHdrLen:]
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ipv4Len], 0))
}

func fixTCP(f []byte) {
	ip := f[ethHdrLen:]
	th := ip[ipv4Len:]
	th[16], th[17] = 0, 0
	binary.BigEndian.PutUint16(th[16:], checksum(th, pseudoSum(ip, len(th))))
}

// FuzzMerge: frames from the wire are hostile. Grouping never panics, covers every frame
// once, in order, and what it merges resegments into the payloads that came in.
func FuzzMerge(f *testing.F) {
	seed := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			b = binary.BigEndian.AppendUint16(b, uint16(len(fr)))
			b = append(b, fr...)
		}
		return b
	}
	f.Add(seed(tcpFrame(1, 0x10, payload(100, 1)), tcpFrame(101, 0x10, payload(100, 2)), tcpFrame(201, 0x18, payload(50, 3))))
	f.Add(seed(tcpFrame(1, 0x10, payload(100, 1)), tcpFrame(102, 0x10, payload(100, 2))))
	f.Add(seed(frame(1, 60), tcpFrame(1, 0x10, payload(10, 1))))
	f.Fuzz(func(t *testing.T, b []byte) {
		var frames [][]byte
		for len(b) >= 2 && len(frames) < batch {
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			n = min(n, len(b))
			frames = append(frames, b[:n])
			b = b[n:]
		}
		var m merger
		next := 0
		m.groups(frames, func(i, j int, mg bool) {
			if i != next || j <= i || j > len(frames) || mg != (j-i > 1) {
				t.Fatalf("group [%d,%d) merged %v after %d of %d", i, j, mg, next, len(frames))
			}
			next = j
			if !mg {
				return
			}
			segs := resegment(t, merged(&m, frames, i, j))
			var in, out []byte
			for k := i; k < j; k++ {
				in = append(in, frames[k][ethHdrLen+ipv4Len+m.segs[k].thLen:]...)
			}
			for _, s := range segs {
				out = append(out, s[ethHdrLen+ipv4Len+m.segs[i].thLen:]...)
			}
			if !bytes.Equal(in, out) {
				t.Fatal("merged payload differs")
			}
		})
		if next != len(frames) {
			t.Fatalf("groups covered %d of %d frames", next, len(frames))
		}
	})
}
