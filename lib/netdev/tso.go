package netdev

import (
	"unsafe"

	"github.com/gouml/gouml/lib/netdev/vnet"

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

// The header, the checks and the cutting are lib/netdev/vnet's, which our uml_switch
// shares.
type vnetHdr = vnet.Hdr

func parseVnetHdr(b []byte) vnetHdr { return vnet.ParseHdr(b) }

func completeCsum(frame []byte, start, offset int) bool {
	return vnet.CompleteCsum(frame, start, offset)
}

func tcp4Layout(frame []byte, h vnetHdr) (ipHL, hl int, ok bool) { return vnet.TCP4Layout(frame, h) }

func segments(frame []byte, hl, gso int) int { return vnet.Segments(frame, hl, gso) }

func segmentTCP4(frame []byte, ipHL, hl, gso int, dst [][]byte, lens []int) {
	vnet.SegmentTCP4(frame, ipHL, hl, gso, dst, lens)
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
const maxGSO = vnet.MaxSuper

func (g *gsoState) init() {
	g.on = true
	g.big = make([]byte, maxGSO)
}

// readTap reads one frame from the tap into slot (a batch buffer), or, if it is longer,
// into slot and the rest of g.big.
func (r *Relay) readTap(slot []byte) (int, error) {
	g := &r.gso
	if !g.on || r.ext {
		return unix.Read(r.tapFD, slot) // an extended transport's slots hold 64 KiB
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
	case h.GSOType == vnetGSONone && m <= len(slot):
		if h.Flags&vnetNeedsCsum == 0 {
			return true, true // flags the relay does not act on (DATA_VALID)
		}
		return completeCsum(slot[vnetHdrLen:m], h.Start, h.Offset), true
	case h.GSOType == vnetGSOTCPv4:
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
		ns = segments(frame, hl, h.GSOSize)
	}
	if !ok || ns > batch {
		r.TxDrops.Add(1)
		g.n = 0
		return 0, true
	}
	if n+ns > f.count {
		return 0, false
	}
	for i := 0; i < ns; i++ {
		g.dst[i] = f.buf(n + i)[f.off:]
	}
	segmentTCP4(frame, ipHL, hl, h.GSOSize, g.dst[:ns], f.lens[n:n+ns])
	for i := 0; i < ns; i++ {
		g.dst[i] = nil
	}
	g.n = 0
	return ns, true
}
