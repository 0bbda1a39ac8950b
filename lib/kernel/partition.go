package kernel

import (
	"bytes"
	"os"
	"sync"

	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// Partition devices (/dev/ubda1 …, from the disk's MBR or GPT table, lib/ubd). A host file
// cannot be a window onto part of another, so the guest's fds of a partition are fds of a
// stand-in: an unlinked file under $TMPDIR holding the partition's bytes (sparse where they
// are zero), made at the first open. Its changes are written into the disk (only the
// blocks that differ) at sync(2), at fsync(2) of one of its fds, before the partition is
// mounted, before the whole disk is opened or its table re-read, and when the machine
// stops; the stand-in is then dropped in the last three cases, so the next open sees the
// disk again. (A guest fd still open on a dropped stand-in is detached from the disk.)

type partStandIn struct {
	p        *ubd.Partition
	f        *os.File
	dev, ino uint64
}

type partTable struct {
	mu    sync.Mutex
	parts map[int]*partStandIn // partition number -> stand-in
}

const standInChunk = 1 << 20

// standIn returns the stand-in of partition n of b, made on first use.
func (b *blockDev) standIn(n int) (*partStandIn, error) {
	b.pt.mu.Lock()
	defer b.pt.mu.Unlock()
	if s := b.pt.parts[n]; s != nil {
		return s, nil
	}
	p := b.dev.Partition(n)
	if p == nil {
		return nil, unix.ENXIO
	}
	f, err := os.CreateTemp("", "gouml-"+p.Name()+"-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if err := f.Truncate(p.Length); err != nil {
		f.Close()
		return nil, err
	}
	buf := make([]byte, standInChunk)
	zero := make([]byte, standInChunk)
	for off := int64(0); off < p.Length; off += standInChunk {
		n := min(int64(standInChunk), p.Length-off)
		if _, err := p.ReadAt(buf[:n], off); err != nil {
			f.Close()
			return nil, err
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	s := &partStandIn{p: p, f: f, dev: st.Dev, ino: st.Ino}
	if b.pt.parts == nil {
		b.pt.parts = map[int]*partStandIn{}
	}
	b.pt.parts[n] = s
	return s, nil
}

// flush writes the blocks of the stand-in that differ from the disk into the disk.
func (s *partStandIn) flush() error {
	a := make([]byte, standInChunk)
	d := make([]byte, standInChunk)
	for off := int64(0); off < s.p.Length; off += standInChunk {
		n := min(int64(standInChunk), s.p.Length-off)
		if _, err := s.f.ReadAt(a[:n], off); err != nil {
			return err
		}
		if _, err := s.p.ReadAt(d[:n], off); err != nil {
			return err
		}
		if !bytes.Equal(a[:n], d[:n]) {
			if _, err := s.p.WriteAt(a[:n], off); err != nil {
				return err
			}
		}
	}
	return s.p.Sync()
}

// flushParts writes every stand-in of b back; drop also forgets them.
func (b *blockDev) flushParts(drop bool) error {
	b.pt.mu.Lock()
	defer b.pt.mu.Unlock()
	var first error
	for n, s := range b.pt.parts {
		if err := s.flush(); err != nil && first == nil {
			first = err
		}
		if drop {
			s.f.Close()
			delete(b.pt.parts, n)
		}
	}
	return first
}

// partOf returns the partition number whose stand-in a stat describes (0: none).
func (b *blockDev) partOf(st *unix.Stat_t) (int, *partStandIn) {
	b.pt.mu.Lock()
	defer b.pt.mu.Unlock()
	for n, s := range b.pt.parts {
		if s.dev == st.Dev && s.ino == st.Ino {
			return n, s
		}
	}
	return 0, nil
}
