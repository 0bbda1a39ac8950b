package vswitch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// PcapWriter writes the classic libpcap file format (what tcpdump -r and tshark read):
// microsecond time stamps, link type Ethernet, whole frames.
type PcapWriter struct {
	w   *bufio.Writer
	err error
}

const (
	pcapMagic       = 0xa1b2c3d4
	linkTypeEther   = 1
	pcapSnapLen     = maxFrame
	pcapRecordHdrSz = 16
)

// NewPcapWriter writes the file header.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	p := &PcapWriter{w: bufio.NewWriterSize(w, 256<<10)}
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], linkTypeEther)
	if _, err := p.w.Write(h[:]); err != nil {
		return nil, err
	}
	return p, nil
}

// WritePacket appends one frame; errors are kept for Flush.
func (p *PcapWriter) WritePacket(t time.Time, frame []byte) {
	if p.err != nil {
		return
	}
	var h [pcapRecordHdrSz]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(t.Unix()))
	le.PutUint32(h[4:], uint32(t.Nanosecond()/1000))
	le.PutUint32(h[8:], uint32(len(frame)))
	le.PutUint32(h[12:], uint32(len(frame)))
	if _, err := p.w.Write(h[:]); err != nil {
		p.err = err
		return
	}
	_, p.err = p.w.Write(frame)
}

// Flush writes buffered records out.
func (p *PcapWriter) Flush() error {
	if p.err != nil {
		return p.err
	}
	p.err = p.w.Flush()
	return p.err
}

// PcapRecord is one frame read back from a capture.
type PcapRecord struct {
	Time  time.Time
	Frame []byte
}

// ReadPcap parses a classic little-endian microsecond pcap file (as PcapWriter writes).
func ReadPcap(r io.Reader) ([]PcapRecord, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(h[0:]) != pcapMagic {
		return nil, errors.New("not a little-endian microsecond pcap file")
	}
	if lt := le.Uint32(h[20:]); lt != linkTypeEther {
		return nil, fmt.Errorf("pcap link type %d, want Ethernet", lt)
	}
	var recs []PcapRecord
	for {
		var rh [pcapRecordHdrSz]byte
		if _, err := io.ReadFull(r, rh[:]); err == io.EOF {
			return recs, nil
		} else if err != nil {
			return recs, fmt.Errorf("pcap record header: %w", err)
		}
		n := le.Uint32(rh[8:])
		if n > pcapSnapLen {
			return recs, fmt.Errorf("pcap record of %d bytes", n)
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(r, f); err != nil {
			return recs, fmt.Errorf("pcap record: %w", err)
		}
		recs = append(recs, PcapRecord{Time: time.Unix(int64(le.Uint32(rh[0:])), int64(le.Uint32(rh[4:]))*1000), Frame: f})
	}
}
