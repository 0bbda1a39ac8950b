package vswitch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
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
	pcapSnapLen     = 65536 // a longer jumbo frame is recorded cut, with its whole length
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

// Capture records frames into a pcap stream from a goroutine of its own, so that the
// switch never waits for the capture's reader: a live capture in a pipe (uml_switch -pcap
// - | tcpdump -r -) is read as slowly as its reader reads, and a reader that stops or goes
// away must not stop the forwarding. Frames that find the queue full are dropped and
// counted; what is queued is written and flushed as soon as the queue runs empty, so a
// reader sees each frame as it passes. When the destination fails (EPIPE: the reader went
// away), the capture stops with one message and the switch goes on.
type Capture struct {
	mu      sync.RWMutex
	closed  bool
	q       chan capFrame
	stopped atomic.Bool
	dropped atomic.Uint64
	done    chan struct{}
	onErr   func(error)
}

type capFrame struct {
	t     time.Time
	frame []byte
}

// captureQueue is how many frames may wait for a slow capture reader.
const captureQueue = 4096

// NewCapture starts the writer: it calls open (which may block, as opening a FIFO for
// writing waits for a reader; frames queue meanwhile), writes the pcap file header and then
// the frames. onErr is called once, from the writer's goroutine, when opening or writing
// fails.
func NewCapture(open func() (io.Writer, error), onErr func(error)) *Capture {
	c := &Capture{q: make(chan capFrame, captureQueue), done: make(chan struct{}), onErr: onErr}
	go c.run(open)
	return c
}

// Add queues a copy of frame; it never blocks.
func (c *Capture) Add(t time.Time, frame []byte) {
	if c.stopped.Load() {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return
	}
	select {
	case c.q <- capFrame{t, append([]byte(nil), frame...)}:
	default:
		c.dropped.Add(1)
	}
}

// Dropped is the number of frames left out because the reader was too slow.
func (c *Capture) Dropped() uint64 { return c.dropped.Load() }

func (c *Capture) fail(err error) {
	if !c.stopped.Swap(true) && c.onErr != nil {
		c.onErr(err)
	}
}

func (c *Capture) run(open func() (io.Writer, error)) {
	defer close(c.done)
	var p *PcapWriter
	w, err := open()
	if err == nil {
		p, err = NewPcapWriter(w)
	}
	if err == nil {
		// the header at once: a reader (wireshark -k -i -) starts on it, not on a frame
		err = p.Flush()
	}
	if err != nil {
		c.fail(err)
	}
	for f := range c.q {
		if c.stopped.Load() {
			continue // drain what is queued
		}
		p.WritePacket(f.t, f.frame)
		if len(c.q) > 0 {
			continue
		}
		if err := p.Flush(); err != nil {
			c.fail(err)
		}
	}
	if !c.stopped.Load() {
		if err := p.Flush(); err != nil {
			c.fail(err)
		}
	}
}

// Close writes out what is queued, waiting at most wait for a reader that does not read.
func (c *Capture) Close(wait time.Duration) {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.q)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(wait):
	}
}

// IsReaderGone reports whether a capture write failed because nobody reads the pipe any more.
func IsReaderGone(err error) bool { return errors.Is(err, syscall.EPIPE) }

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
