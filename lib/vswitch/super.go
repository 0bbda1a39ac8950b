package vswitch

import (
	"github.com/gouml/gouml/lib/netdev/vnet"
)

// Datagrams of extended ports (ext.go): checked, learned from, and passed on whole to other
// extended ports; cut into plain frames for the other ports and the capture.

// packet is one frame being forwarded.
type packet struct {
	frame []byte // the Ethernet frame
	// From an extended port: dgram is the whole datagram (its virtio_net_hdr, then frame)
	// and sup what Check found; dgram is nil for a plain frame.
	dgram []byte
	sup   vnet.Super
	segs  [][]byte // a GSO frame cut up, once something needs it (s.cut's buffers)
}

// gso reports whether the packet is a TCPv4 GSO frame.
func (pk *packet) gso() bool { return pk.dgram != nil && pk.sup.GSO() }

// cutter holds the plain frames of the last GSO frame cut.
type cutter struct {
	bufs []byte // vnet.MaxSegs frames of vnet.MaxFrame bytes, made at the first cut
	dst  [vnet.MaxSegs][]byte
	lens [vnet.MaxSegs]int
	segs [vnet.MaxSegs][]byte
	// queued: frames of bufs wait in an OutBatch; the batch goes before bufs are reused.
	queued bool
}

// zeroHdr is the virtio_net_hdr of a plain frame sent to an extended port.
var zeroHdr [vnet.HdrLen]byte

// inputExt takes a datagram from an extended port. A datagram that is not what its header
// says is dropped and counted (logged once per port): a guest is hostile, and whatever
// reaches another port must be a frame its stack would have made.
func (s *Switch) inputExt(in *Port, d []byte, out *OutBatch) {
	if in.closed {
		return
	}
	sup, err := vnet.Check(d)
	if err != nil {
		in.RxErrors.Add(1)
		if !in.errLogged.Swap(true) {
			s.log.Errorf("port %d sent a bad extended datagram (%v); dropping such datagrams\n", in.ID, err)
		}
		return
	}
	pk := &packet{frame: sup.Frame, dgram: d, sup: sup}
	if !sup.GSO() && sup.Flags&vnet.FlagNeedsCsum != 0 {
		// A partial checksum is finished here, once, for every port: plain ports must get
		// complete frames, and for extended ones a complete checksum is as good.
		vnet.CompleteCsum(sup.Frame, sup.Start, sup.Offset)
		d[0] &^= vnet.FlagNeedsCsum
	}
	in.RxFrames.Add(1)
	in.RxBytes.Add(uint64(len(sup.Frame)))
	if sup.GSO() {
		in.RxSuper.Add(1)
	}
	if s.pcap != nil {
		// The capture shows the frames a plain guest would have put on the wire.
		if pk.gso() {
			for _, f := range s.segments(pk, out) {
				s.pcap.Add(s.now(), f)
			}
		} else {
			s.pcap.Add(s.now(), pk.frame)
		}
	}
	s.forward(in, pk, out)
}

// outputPacket sends a packet to one port: whole to an extended port, else as plain
// frames (a GSO frame cut up).
func (s *Switch) outputPacket(p *Port, pk *packet, out *OutBatch) {
	switch {
	case p.ext.Load():
		hdr, frame := zeroHdr[:], pk.frame
		if pk.dgram != nil {
			hdr = pk.dgram[:vnet.HdrLen]
		}
		if pk.gso() {
			p.TxSuper.Add(1)
		}
		if out != nil {
			if out.full() {
				s.flush(out)
			}
			out.add(p, hdr, frame)
			return
		}
		s.sent(p, frame, p.sendv(hdr, frame))
	case pk.gso():
		for _, f := range s.segments(pk, out) {
			s.output(p, f, out)
		}
	default:
		s.output(p, pk.frame, out)
	}
}

// segments cuts a GSO packet into plain frames, once per packet. The frames live in the
// switch's cutter until the next packet is cut; frames of an earlier packet still waiting
// in out are sent first.
func (s *Switch) segments(pk *packet, out *OutBatch) [][]byte {
	if pk.segs != nil {
		return pk.segs
	}
	c := &s.cut
	if c.queued {
		s.flush(out)
	}
	if c.bufs == nil {
		c.bufs = make([]byte, vnet.MaxSegs*vnet.MaxFrame)
	}
	n := pk.sup.Segs
	for i := 0; i < n; i++ {
		c.dst[i] = c.bufs[i*vnet.MaxFrame : (i+1)*vnet.MaxFrame]
	}
	vnet.SegmentTCP4(pk.frame, pk.sup.IPHL, pk.sup.HL, pk.sup.GSOSize, c.dst[:n], c.lens[:n])
	pk.segs = c.segs[:n]
	for i := 0; i < n; i++ {
		pk.segs[i] = c.dst[i][:c.lens[i]]
	}
	c.queued = out != nil
	return pk.segs
}
