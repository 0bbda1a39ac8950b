// slirpstub stands in for a slirp program in the tests of ethN=slirp,MAC,PROGRAM: it speaks
// SLIP on its stdin and stdout, as slirp does for the UML kernel, and answers every IPv4
// ICMP echo request with its reply, whatever the address. It says its arguments on stderr,
// one per line, so the test can see how the command line was split.
//
// Its SLIP codec is written here again on purpose, from RFC 1055, rather than taken from
// lib/netdev: a mistake made the same way on both sides would otherwise go unseen.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
)

const (
	end    = 0xc0
	esc    = 0xdb
	escEnd = 0xdc
	escEsc = 0xdd
)

func main() {
	for i, a := range os.Args[1:] {
		fmt.Fprintf(os.Stderr, "slirpstub: arg %d '%s'\n", i+1, a)
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	var pkt []byte
	escaped := false
	for {
		c, err := in.ReadByte()
		if err != nil {
			return
		}
		switch {
		case c == end:
			if len(pkt) > 0 {
				if reply := answer(pkt); reply != nil {
					send(out, reply)
				}
			}
			pkt, escaped = pkt[:0], false
		case escaped:
			escaped = false
			if c == escEnd {
				c = end
			} else if c == escEsc {
				c = esc
			}
			pkt = append(pkt, c)
		case c == esc:
			escaped = true
		default:
			pkt = append(pkt, c)
		}
	}
}

func send(w *bufio.Writer, p []byte) {
	w.WriteByte(end)
	for _, c := range p {
		switch c {
		case end:
			w.Write([]byte{esc, escEnd})
		case esc:
			w.Write([]byte{esc, escEsc})
		default:
			w.WriteByte(c)
		}
	}
	w.WriteByte(end)
	w.Flush()
}

// answer returns the echo reply to an IPv4 ICMP echo request, or nil.
func answer(p []byte) []byte {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != 1 {
		return nil
	}
	hl := int(p[0]&15) * 4
	if hl < 20 || len(p) < hl+8 || p[hl] != 8 {
		return nil
	}
	r := append([]byte(nil), p...)
	copy(r[12:16], p[16:20])
	copy(r[16:20], p[12:16])
	r[hl] = 0 // echo reply
	r[hl+2], r[hl+3] = 0, 0
	binary.BigEndian.PutUint16(r[hl+2:], checksum(r[hl:]))
	return r
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
