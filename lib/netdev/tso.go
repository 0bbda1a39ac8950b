package netdev

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Send offloads. The guest's tap offers checksum offload and TCPv4 segmentation
// (TUNSETOFFLOAD with TUN_F_CSUM|TUN_F_TSO4): the guest's stack then hands the relay a
// whole TCP send of up to 64 KiB as one frame, and the relay cuts it into frames of the
// guest's MSS, as a NIC does. One tap read brings some 45 frames, and they cross the
// transport as one batch, so the switch and the peer's relay move them with one wake-up
// each instead of one per frame. The frames on the wire are the ones the guest's own
// segmentation would have made: at most the MTU, every checksum complete, so real UML
// peers see no difference.
//
// The virtio header and the frame come from the guest (a packet socket can write any
// header), so both are checked: a frame that is not what the header says is dropped.

// virtio_net_hdr's GSO type for none, and TUNSETOFFLOAD's flags.
const (
	vnetGSONone = 0
	tunFCsum    = 0x01
	tunFTSO4    = 0x02
)

// tunSetOffload asks the tap fd to hand over partial checksums and TCPv4 GSO frames.
func tunSetOffload(fd int) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4)
	if e != 0 {
		return e
	}
	return nil
}

// vnetHdr is a decoded struct virtio_net_hdr.
type vnetHdr struct {
	flags, gsoType                 byte
	hdrLen, gsoSize, start, offset int
}

func parseVnetHdr(b []byte) vnetHdr {
	return vnetHdr{flags: b[0], gsoType: b[1], hdrLen: int(binary.LittleEndian.Uint16(b[2:])),
		gsoSize: int(binary.LittleEndian.Uint16(b[4:])), start: int(binary.LittleEndian.Uint16(b[6:])),
		offset: int(binary.LittleEndian.Uint16(b[8:]))}
}

// completeCsum finishes a partial checksum in place: the one's-complement sum of frame from
// start on, stored at start+offset (the guest's kernel put the pseudo-header's sum there).
// It reports whether the offsets fit the frame.
func completeCsum(frame []byte, start, offset int) bool {
	if start < ethHdrLen || start+offset+2 > len(frame) || offset < 0 {
		return false
	}
	c := checksum(frame[start:], 0)
	if c == 0 {
		c = 0xffff // as the kernel's skb_checksum_help: a UDP checksum of 0 means none
	}
	binary.BigEndian.PutUint16(frame[start+offset:], c)
	return true
}

// tcp4Layout checks that frame is an IPv4 TCP packet that a TCPv4 GSO header with
// segment size gso may describe, and returns its IP header length and its headers' length.
func tcp4Layout(frame []byte, h vnetHdr) (ipHL, hl int, ok bool) {
	if len(frame) < ethHdrLen+ipv4Len+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return 0, 0, false
	}
	ip := frame[ethHdrLen:]
	ipHL = int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ipHL < ipv4Len || ip[9] != unix.IPPROTO_TCP || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) ||
		binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || ipHL+20 > len(ip) {
		return 0, 0, false
	}
	thLen := int(ip[ipHL+12]>>4) * 4
	hl = ethHdrLen + ipHL + thLen
	// Without NEEDS_CSUM (a forwarded packet whose checksum was already checked, which the
	// kernel marks DATA_VALID) the checksum offsets mean nothing; each segment's checksum
	// is computed whole either way.
	if thLen < 20 || hl >= len(frame) || h.gsoSize <= 0 || hl+h.gsoSize > MaxFrame ||
		h.flags&vnetNeedsCsum != 0 && (h.start != ethHdrLen+ipHL || h.offset != 16) {
		return 0, 0, false
	}
	return ipHL, hl, true
}

// segments is how many frames a TCPv4 GSO frame of headers hl becomes.
func segments(frame []byte, hl, gso int) int { return (len(frame) - hl + gso - 1) / gso }

// segmentTCP4 cuts a TCPv4 GSO frame (checked by tcp4Layout) into frames of at most gso
// payload bytes, written into dst[k] (each at least hl+gso bytes long); it returns their
// lengths in lens. Each gets its own IP length, ID, checksum, sequence number and a
// complete TCP checksum; FIN and PSH stay on the last, CWR on the first, as the kernel's
// tcp_gso_segment does.
func segmentTCP4(frame []byte, ipHL, hl, gso int, dst [][]byte, lens []int) {
	ip0 := frame[ethHdrLen:]
	id := binary.BigEndian.Uint16(ip0[4:])
	seq := binary.BigEndian.Uint32(ip0[ipHL+4:])
	payload := frame[hl:]
	n := len(dst)
	for k := 0; k < n; k++ {
		p := payload[k*gso : min((k+1)*gso, len(payload))]
		d := dst[k]
		copy(d, frame[:hl])
		copy(d[hl:], p)
		size := hl + len(p)
		ip := d[ethHdrLen:size]
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:], id+uint16(k))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ipHL], 0))
		th := ip[ipHL:]
		binary.BigEndian.PutUint32(th[4:], seq+uint32(k*gso))
		if k < n-1 {
			th[13] &^= 0x01 | 0x08 // FIN, PSH
		}
		if k > 0 {
			th[13] &^= 0x80 // CWR
		}
		th[16], th[17] = 0, 0
		binary.BigEndian.PutUint16(th[16:], checksum(th, pseudoSum(ip, len(th))))
		lens[k] = size
	}
}

// gsoState is what the relay's tap reader needs for the send offloads.
type gsoState struct {
	on  bool
	big []byte // a frame longer than a batch slot: the slot's part, then the rest
	n   int    // length of the GSO frame in big (with its virtio header) not yet cut up
	iov [2]unix.Iovec
	dst [batch][]byte
}

// maxGSO is the longest frame the tap hands over with TSO: a 64 KiB IPv4 packet and its
// Ethernet and virtio headers.
const maxGSO = vnetHdrLen + ethHdrLen + 65535

func (g *gsoState) init() {
	g.on = true
	g.big = make([]byte, maxGSO)
}

// readTap reads one frame from the tap into slot (a batch buffer), or, if it is longer,
// into slot and the rest of g.big.
func (r *Relay) readTap(slot []byte) (int, error) {
	g := &r.gso
	if !g.on {
		return unix.Read(r.tapFD, slot)
	}
	g.iov[0].Base, g.iov[1].Base = &slot[0], &g.big[len(slot)]
	g.iov[0].SetLen(len(slot))
	g.iov[1].SetLen(len(g.big) - len(slot))
	n, _, e := unix.Syscall(unix.SYS_READV, uintptr(r.tapFD), uintptr(unsafe.Pointer(&g.iov[0])), 2)
	g.iov[0].Base, g.iov[1].Base = nil, nil
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// offloaded handles a frame of m bytes read into slot whose virtio header asks for work:
// a partial checksum is completed in place (whole: it is then an ordinary frame in slot),
// a GSO frame is kept in g.big for segmentPending. ok is false for a frame to drop.
func (r *Relay) offloaded(slot []byte, m int) (whole, ok bool) {
	g := &r.gso
	if !g.on {
		return false, false
	}
	h := parseVnetHdr(slot)
	switch {
	case h.gsoType == vnetGSONone && m <= len(slot):
		if h.flags&vnetNeedsCsum == 0 {
			return true, true // flags the relay does not act on (DATA_VALID)
		}
		return completeCsum(slot[vnetHdrLen:m], h.start, h.offset), true
	case h.gsoType == vnetGSOTCPv4:
		copy(g.big, slot[:min(m, len(slot))])
		g.n = m
		return false, true
	}
	return false, false
}

// segmentPending cuts the GSO frame in g.big into the batch's slots from n on; k: how
// many it filled; fits is false if they are too few (send the batch first). A frame that
// is not what its header says is dropped.
func (r *Relay) segmentPending(f *frames, n int) (k int, fits bool) {
	g := &r.gso
	h := parseVnetHdr(g.big)
	frame := g.big[vnetHdrLen:g.n]
	ipHL, hl, ok := tcp4Layout(frame, h)
	ns := 0
	if ok {
		ns = segments(frame, hl, h.gsoSize)
	}
	if !ok || ns > batch {
		r.TxDrops.Add(1)
		g.n = 0
		return 0, true
	}
	if n+ns > batch {
		return 0, false
	}
	for i := 0; i < ns; i++ {
		g.dst[i] = f.buf(n + i)[f.off:]
	}
	segmentTCP4(frame, ipHL, hl, h.gsoSize, g.dst[:ns], f.lens[n:n+ns])
	for i := 0; i < ns; i++ {
		g.dst[i] = nil
	}
	g.n = 0
	return ns, true
}
