// Package vnet is what our relay (lib/netdev) and our uml_switch (lib/vswitch) share about
// frames that carry a struct virtio_net_hdr: decoding the header, checking that a frame is
// what its header says, finishing partial checksums and cutting a TCPv4 GSO frame into
// MTU-sized frames, as a NIC does.
//
// Every frame handled here comes from a guest, which can write any header and any bytes
// (a packet socket in the guest reaches its tap as is): every offset is checked before it
// is used, and a frame that is not what its header says is refused, never cut or passed on.
package vnet

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes.
const (
	// HdrLen is the size of struct virtio_net_hdr (without num_buffers), which a tap made
	// with IFF_VNET_HDR puts before every frame.
	HdrLen = 10
	// EthHdrLen is an Ethernet header's size.
	EthHdrLen = 14
	// MaxFrame is the longest plain frame: the real UML kernel's limit for frames from its
	// transports (ETH_MAX_PACKET + ETH_HEADER_OTHER).
	MaxFrame = 1526
	// MaxGSOFrame is the longest GSO frame: a 64 KiB IPv4 packet and its Ethernet header.
	MaxGSOFrame = EthHdrLen + 65535
	// MaxSuper is the longest header and frame together.
	MaxSuper = HdrLen + MaxGSOFrame
	// MaxSegs bounds the frames one GSO frame may be cut into. A 64 KiB send with the MSS
	// of a 1500-byte MTU is 46 segments; a header asking for more (a tiny gso_size) would
	// make the cutter's work and buffers grow with what a guest chose.
	MaxSegs = 64
)

// virtio_net_hdr's flags and GSO types.
const (
	FlagNeedsCsum = 1 // the checksum at Start+Offset is partial: finish it
	FlagDataValid = 2 // the checksums were checked (a forwarded packet)
	GSONone       = 0
	GSOTCPv4      = 1
)

// Hdr is a decoded struct virtio_net_hdr.
type Hdr struct {
	Flags, GSOType                 byte
	HdrLen, GSOSize, Start, Offset int
}

// ParseHdr decodes the first HdrLen bytes of b (which must hold them).
func ParseHdr(b []byte) Hdr {
	le := binary.LittleEndian
	return Hdr{Flags: b[0], GSOType: b[1], HdrLen: int(le.Uint16(b[2:])), GSOSize: int(le.Uint16(b[4:])),
		Start: int(le.Uint16(b[6:])), Offset: int(le.Uint16(b[8:]))}
}

// Checksum adds b to the one's-complement sum sum and returns the complement of the folded
// result: 0 when b, with the checksum it holds, is correct.
func Checksum(b []byte, sum uint64) uint16 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>32 + v&0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return ^Fold(sum)
}

// Fold folds a one's-complement sum to 16 bits.
func Fold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// PseudoSum is the unfolded sum of the TCP pseudo-header of the IPv4 header ip, for a TCP
// length of n.
func PseudoSum(ip []byte, n int) uint64 {
	return uint64(binary.BigEndian.Uint16(ip[12:])) + uint64(binary.BigEndian.Uint16(ip[14:])) +
		uint64(binary.BigEndian.Uint16(ip[16:])) + uint64(binary.BigEndian.Uint16(ip[18:])) +
		protoTCP + uint64(n)
}

const protoTCP = 6

// CompleteCsum finishes a partial checksum in place: the one's-complement sum of frame from
// start on, stored at start+offset (the guest's kernel put the pseudo-header's sum there).
// It reports whether the offsets fit the frame.
func CompleteCsum(frame []byte, start, offset int) bool {
	if !csumFits(frame, start, offset) {
		return false
	}
	c := Checksum(frame[start:], 0)
	if c == 0 {
		c = 0xffff // as the kernel's skb_checksum_help: a UDP checksum of 0 means none
	}
	binary.BigEndian.PutUint16(frame[start+offset:], c)
	return true
}

func csumFits(frame []byte, start, offset int) bool {
	return start >= EthHdrLen && offset >= 0 && start+offset+2 <= len(frame)
}

// TCP4Layout checks that frame is an IPv4 TCP packet that a TCPv4 GSO header h may
// describe, and returns its IP header length and its headers' length.
func TCP4Layout(frame []byte, h Hdr) (ipHL, hl int, ok bool) {
	if len(frame) < EthHdrLen+20+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return 0, 0, false
	}
	ip := frame[EthHdrLen:]
	ipHL = int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ipHL < 20 || ip[9] != protoTCP || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) ||
		binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 || ipHL+20 > len(ip) {
		return 0, 0, false
	}
	thLen := int(ip[ipHL+12]>>4) * 4
	hl = EthHdrLen + ipHL + thLen
	// Without NEEDS_CSUM (a forwarded packet whose checksum was already checked, which the
	// kernel marks DATA_VALID) the checksum offsets mean nothing; each segment's checksum
	// is computed whole either way.
	if thLen < 20 || hl >= len(frame) || h.GSOSize <= 0 || hl+h.GSOSize > MaxFrame ||
		h.Flags&FlagNeedsCsum != 0 && (h.Start != EthHdrLen+ipHL || h.Offset != 16) {
		return 0, 0, false
	}
	return ipHL, hl, true
}

// Segments is how many frames a TCPv4 GSO frame of headers hl becomes.
func Segments(frame []byte, hl, gso int) int { return (len(frame) - hl + gso - 1) / gso }

// SegmentTCP4 cuts a TCPv4 GSO frame (checked by TCP4Layout) into frames of at most gso
// payload bytes, written into dst[k] (each at least hl+gso bytes long); it returns their
// lengths in lens. Each gets its own IP length, ID, checksum, sequence number and a
// complete TCP checksum; FIN and PSH stay on the last, CWR on the first, as the kernel's
// tcp_gso_segment does.
func SegmentTCP4(frame []byte, ipHL, hl, gso int, dst [][]byte, lens []int) {
	ip0 := frame[EthHdrLen:]
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
		ip := d[EthHdrLen:size]
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		binary.BigEndian.PutUint16(ip[4:], id+uint16(k))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:ipHL], 0))
		th := ip[ipHL:]
		binary.BigEndian.PutUint32(th[4:], seq+uint32(k*gso))
		if k < n-1 {
			th[13] &^= 0x01 | 0x08 // FIN, PSH
		}
		if k > 0 {
			th[13] &^= 0x80 // CWR
		}
		th[16], th[17] = 0, 0
		binary.BigEndian.PutUint16(th[16:], Checksum(th, PseudoSum(ip, len(th))))
		lens[k] = size
	}
}

// Super is a checked datagram of the extended daemon transport: a virtio_net_hdr and the
// frame it describes.
type Super struct {
	Hdr
	Frame []byte // after the header
	// For a GSO frame: its IP header length, headers' length and number of segments.
	IPHL, HL, Segs int
}

// GSO reports whether the frame is a TCPv4 GSO frame, to be cut for a plain peer.
func (s *Super) GSO() bool { return s.GSOType == GSOTCPv4 }

// Check checks a datagram of the extended daemon transport (a virtio_net_hdr, then a
// frame) and says what is wrong with it in one line. Accepted: a plain frame of 14 to
// MaxFrame bytes, with no flags, DATA_VALID, or NEEDS_CSUM with offsets inside it; or a
// TCPv4 GSO frame whose headers are what TCP4Layout takes and that is at most MaxSegs
// segments.
func Check(d []byte) (Super, error) {
	var s Super
	if len(d) < HdrLen+EthHdrLen {
		return s, fmt.Errorf("a %d-byte datagram is too short for a header and a frame", len(d))
	}
	if len(d) > MaxSuper {
		return s, fmt.Errorf("a %d-byte datagram is longer than %d", len(d), MaxSuper)
	}
	s.Hdr, s.Frame = ParseHdr(d), d[HdrLen:]
	if s.Flags&^(FlagNeedsCsum|FlagDataValid) != 0 {
		return s, fmt.Errorf("unknown header flags %#x", s.Flags)
	}
	switch s.GSOType {
	case GSONone:
		if len(s.Frame) > MaxFrame {
			return s, fmt.Errorf("a %d-byte frame without GSO is longer than %d", len(s.Frame), MaxFrame)
		}
		if s.Flags&FlagNeedsCsum != 0 && !csumFits(s.Frame, s.Start, s.Offset) {
			return s, errors.New("the partial checksum's offsets are outside the frame")
		}
		return s, nil
	case GSOTCPv4:
		var ok bool
		if s.IPHL, s.HL, ok = TCP4Layout(s.Frame, s.Hdr); !ok {
			return s, errors.New("a TCPv4 GSO frame that is not what its header says")
		}
		if s.Segs = Segments(s.Frame, s.HL, s.GSOSize); s.Segs > MaxSegs {
			return s, fmt.Errorf("a TCPv4 GSO frame of %d segments (at most %d)", s.Segs, MaxSegs)
		}
		return s, nil
	}
	return s, fmt.Errorf("unknown GSO type %d", s.GSOType)
}
