package netdev

// SLIP framing (RFC 1055) as the real kernel's slirp transport uses it on the stream to the
// slirp program (docs/interfaces.md §4.4): each IP packet is sent between two END bytes,
// with END and ESC inside it escaped as ESC ESC_END and ESC ESC_ESC.
const (
	slipEnd    = 0xc0
	slipEsc    = 0xdb
	slipEscEnd = 0xdc
	slipEscEsc = 0xdd
)

// MaxPacket is the longest IP packet the slirp link carries: the real kernel's slirp
// device has an MTU of 1500 and receives into a buffer of that size.
const MaxPacket = 1500

// SLIPEncode appends the encoding of packet to dst: END, the escaped bytes, END.
func SLIPEncode(dst, packet []byte) []byte {
	dst = append(dst, slipEnd)
	for _, c := range packet {
		switch c {
		case slipEnd:
			dst = append(dst, slipEsc, slipEscEnd)
		case slipEsc:
			dst = append(dst, slipEsc, slipEscEsc)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, slipEnd)
}

// SLIPDecoder takes the bytes of a SLIP stream in pieces of any size and gives back whole
// packets. Its buffer is allocated once. A packet longer than MaxPacket is dropped whole
// (counted in Dropped), as is an escape followed by anything but ESC_END or ESC_ESC, which
// means the stream is not what it should be; the decoder finds its feet at the next END.
type SLIPDecoder struct {
	buf     [MaxPacket]byte
	n       int
	esc     bool
	bad     bool // the packet in progress is being dropped
	Dropped uint64
}

// Feed decodes b, calling packet for each whole packet (the slice is valid only during the
// call). Empty packets (END END) are skipped, as the real kernel skips them.
func (d *SLIPDecoder) Feed(b []byte, packet func([]byte)) {
	for _, c := range b {
		if c == slipEnd {
			switch {
			case d.bad:
				d.Dropped++
			case d.esc:
				d.Dropped++ // END just after ESC: a cut packet
			case d.n > 0:
				packet(d.buf[:d.n])
			}
			d.n, d.esc, d.bad = 0, false, false
			continue
		}
		if d.bad {
			continue
		}
		if d.esc {
			d.esc = false
			switch c {
			case slipEscEnd:
				c = slipEnd
			case slipEscEsc:
				c = slipEsc
			default:
				d.bad = true
				continue
			}
		} else if c == slipEsc {
			d.esc = true
			continue
		}
		if d.n == len(d.buf) {
			d.bad = true
			continue
		}
		d.buf[d.n] = c
		d.n++
	}
}
