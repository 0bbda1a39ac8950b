package netdev

import (
	"encoding/binary"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"golang.org/x/sys/unix"
)

// Receive coalescing. A guest's tap is made with IFF_VNET_HDR, so each frame written to it
// starts with a struct virtio_net_hdr, which can describe a GSO frame: several TCP segments
// of one flow as one large packet. The host kernel then runs the guest's receive path
// (IP, TCP, the ACK it sends back) once for the whole group instead of once per segment,
// as a NIC's GRO does. Frames on the wire stay at most MaxFrame, so real UML peers see
// nothing different; only what is written into our own guest's tap is merged.
//
// Only frames that merge back into exactly what was received are taken: IPv4 without
// options, not fragmented, TCP with ACK and no flag but PSH on the last segment, equal
// headers apart from the sequence number, the IP ID and the checksums, consecutive
// sequence numbers, every segment but the last of the first one's size, and both checksums
// correct (the guest's stack does not check a GSO frame's again). Anything else is written
// as it came.

// vnetHdrLen is the size of struct virtio_net_hdr, which IFF_VNET_HDR puts before frames.
const vnetHdrLen = vnet.HdrLen

// virtio_net_hdr's flags and GSO types.
const (
	vnetNeedsCsum = vnet.FlagNeedsCsum
	vnetGSOTCPv4  = vnet.GSOTCPv4
)

const (
	ethHdrLen  = vnet.EthHdrLen
	ipv4Len    = 20          // no options
	tcpFlagsOK = 0x10 | 0x08 // ACK, PSH
	// maxIPLen bounds a merged packet: its IPv4 total length is 16 bits.
	maxIPLen = 65535
)

// tcpSeg is what merging needs of a frame that may be merged.
type tcpSeg struct {
	thLen  int    // TCP header length
	seq    uint32 // sequence number
	payLen int    // payload bytes, after the headers
	psh    bool
}

// parseSeg reports whether frame is a TCP segment that may be merged (see above) and, if
// so, its layout. frame is hostile: every offset is checked.
func parseSeg(frame []byte) (tcpSeg, bool) {
	var s tcpSeg
	if len(frame) < ethHdrLen+ipv4Len+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return s, false
	}
	ip := frame[ethHdrLen:]
	if ip[0] != 0x45 || ip[9] != unix.IPPROTO_TCP || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) ||
		binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || checksum(ip[:ipv4Len], 0) != 0 {
		return s, false // options, another protocol, padding, a fragment, a bad checksum
	}
	th := ip[ipv4Len:]
	s.thLen = int(th[12]>>4) * 4
	flags := th[13]
	if s.thLen < 20 || s.thLen > len(th) || flags&0x10 == 0 || flags&^tcpFlagsOK != 0 || th[12]&0x0f != 0 {
		return s, false
	}
	s.payLen = len(th) - s.thLen
	if s.payLen == 0 || checksum(th, pseudoSum(ip, len(th))) != 0 {
		return s, false
	}
	s.seq = binary.BigEndian.Uint32(th[4:])
	s.psh = flags&0x08 != 0
	return s, true
}

// follows reports whether b (a segment parseSeg took) continues the group that a starts,
// whose segments so far carry total payload bytes and end at sequence number next.
func follows(a, b []byte, sa, sb tcpSeg, next uint32, total int) bool {
	if sb.thLen != sa.thLen || sb.payLen > sa.payLen || sb.seq != next ||
		ipv4Len+sa.thLen+total+sb.payLen > maxIPLen {
		return false
	}
	// Ethernet header; IP version to TOS, flags and fragment, TTL, protocol, addresses;
	// TCP ports, then acknowledgement number to the end of the options (flags but PSH).
	const ip, tcp = ethHdrLen, ethHdrLen + ipv4Len
	if string(a[:ethHdrLen]) != string(b[:ethHdrLen]) || a[ip] != b[ip] || a[ip+1] != b[ip+1] ||
		string(a[ip+6:ip+10]) != string(b[ip+6:ip+10]) || string(a[ip+12:tcp]) != string(b[ip+12:tcp]) ||
		string(a[tcp:tcp+4]) != string(b[tcp:tcp+4]) || string(a[tcp+8:tcp+13]) != string(b[tcp+8:tcp+13]) ||
		string(a[tcp+14:tcp+16]) != string(b[tcp+14:tcp+16]) || string(a[tcp+20:tcp+sa.thLen]) != string(b[tcp+20:tcp+sa.thLen]) {
		return false
	}
	return true
}

func checksum(b []byte, sum uint64) uint16 { return vnet.Checksum(b, sum) }

func pseudoSum(ip []byte, n int) uint64 { return vnet.PseudoSum(ip, n) }

// merger writes frames to a tap with IFF_VNET_HDR, merging what it can; its buffers are
// allocated once.
type merger struct {
	hdr  [vnetHdrLen + ethHdrLen + ipv4Len + 60]byte
	segs [batch]tcpSeg
	ok   [batch]bool
	hold [batch]bool // set by the caller: the frame is not to be merged (ext.go)
	iovs [batch + 1]unix.Iovec
}

// mergedHeader fills m.hdr with the virtio header and the headers of the packet made of
// the group that frame first starts, with total payload bytes, the last segment's PSH,
// and returns its length.
func (m *merger) mergedHeader(first []byte, s tcpSeg, total int, psh bool) int {
	h := m.hdr[:vnetHdrLen+ethHdrLen+ipv4Len+s.thLen]
	hl := ethHdrLen + ipv4Len + s.thLen
	h[0], h[1] = vnetNeedsCsum, vnetGSOTCPv4
	binary.LittleEndian.PutUint16(h[2:], uint16(hl))
	binary.LittleEndian.PutUint16(h[4:], uint16(s.payLen))
	binary.LittleEndian.PutUint16(h[6:], ethHdrLen+ipv4Len)
	binary.LittleEndian.PutUint16(h[8:], 16) // offsetof(struct tcphdr, check)
	copy(h[vnetHdrLen:], first[:hl])
	ip := h[vnetHdrLen+ethHdrLen:]
	binary.BigEndian.PutUint16(ip[2:], uint16(ipv4Len+s.thLen+total))
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ipv4Len], 0))
	th := ip[ipv4Len:]
	if psh {
		th[13] |= 0x08
	}
	// CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, the rest is summed by
	// whoever finishes the checksum (the guest's kernel, if it forwards the packet).
	binary.BigEndian.PutUint16(th[16:], ^checksum(nil, pseudoSum(ip, s.thLen+total)))
	return len(h)
}

// groups calls write for every run of frames: either one frame as it is (merged false), or
// frames[i:j] merged (true). frames are hostile.
func (m *merger) groups(frames [][]byte, write func(i, j int, merged bool)) {
	for i := range frames {
		m.segs[i], m.ok[i] = parseSeg(frames[i])
		if m.hold[i] {
			m.ok[i], m.hold[i] = false, false
		}
	}
	for i := 0; i < len(frames); {
		j := i + 1
		if m.ok[i] && !m.segs[i].psh {
			next, total := m.segs[i].seq+uint32(m.segs[i].payLen), m.segs[i].payLen
			for j < len(frames) && m.ok[j] && m.segs[j-1].payLen == m.segs[i].payLen &&
				follows(frames[i], frames[j], m.segs[i], m.segs[j], next, total) {
				next += uint32(m.segs[j].payLen)
				total += m.segs[j].payLen
				j++
				if m.segs[j-1].psh {
					break
				}
			}
		}
		write(i, j, j-i > 1)
		i = j
	}
}

// writeMerged writes frames[i:j] (a group that groups found) to the tap fd as one GSO
// frame: the merged headers, then each segment's payload where it lies.
func (m *merger) writeMerged(fd int, frames [][]byte, i, j int) error {
	s := m.segs[i]
	hl := ethHdrLen + ipv4Len + s.thLen
	total := 0
	for k := i; k < j; k++ {
		total += m.segs[k].payLen
	}
	n := m.mergedHeader(frames[i], s, total, m.segs[j-1].psh)
	m.iovs[0].Base = &m.hdr[0]
	m.iovs[0].SetLen(n)
	for k := i; k < j; k++ {
		m.iovs[1+k-i].Base = &frames[k][hl]
		m.iovs[1+k-i].SetLen(m.segs[k].payLen)
	}
	for {
		_, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&m.iovs[0])), uintptr(1+j-i))
		if e == unix.EINTR {
			continue
		}
		for k := range m.iovs[:1+j-i] {
			m.iovs[k].Base = nil
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
