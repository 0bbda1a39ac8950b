package ext4

import (
	"io"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// ReadAt reads file data; holes read as zeros. Like io.ReaderAt it returns io.EOF when
// fewer than len(p) bytes are available.
func (fs *FS) ReadAt(ino Ino, p []byte, off int64) (n int, err error) {
	if err := fs.begin(false); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return 0, err
	}
	if in.isDir() {
		return 0, syscall.EISDIR
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	return fs.readCached(in, p, uint64(off))
}

// read-ahead: a small read that starts where the previous one on the same inode ended
// is served from a window read in one go.
const (
	raWindow = 128 << 10
	raSmall  = 64 << 10
	raMax    = 256 // inodes with a window
)

type readAhead struct {
	next  uint64 // where the last read ended
	start uint64 // file offset of data
	data  []byte
}

func (fs *FS) readCached(in *inode, p []byte, off uint64) (int, error) {
	if len(p) >= raSmall || in.flags()&extfmt.FlagInline != 0 {
		return fs.readData(in, p, off)
	}
	ra := fs.ra[in.ino]
	if ra != nil && off >= ra.start && off+uint64(len(p)) <= ra.start+uint64(len(ra.data)) {
		n := copy(p, ra.data[off-ra.start:])
		ra.next = off + uint64(n)
		if sz := in.size(); off+uint64(n) > sz {
			n = int(max(sz, off) - off)
		}
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if ra == nil || ra.next != off {
		n, err := fs.readData(in, p, off)
		if ra == nil {
			if len(fs.ra) >= raMax {
				fs.ra = map[Ino]*readAhead{}
			}
			ra = &readAhead{}
			fs.ra[in.ino] = ra
		}
		ra.next, ra.data = off+uint64(n), nil
		return n, err
	}
	// sequential: read a window
	win := make([]byte, raWindow)
	n, err := fs.readData(in, win, off)
	if err != nil && err != io.EOF {
		return 0, err
	}
	ra.start, ra.data = off, win[:n]
	m := copy(p, ra.data)
	ra.next = off + uint64(m)
	if m < len(p) {
		return m, io.EOF
	}
	return m, nil
}

// dropReadAhead forgets the window of an inode whose data or size changes.
func (fs *FS) dropReadAhead(ino Ino) { delete(fs.ra, ino) }

func (fs *FS) readData(in *inode, p []byte, off uint64) (int, error) {
	size := in.size()
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := off + uint64(len(p))
	if end > size || end < off {
		end = size
	}
	if in.flags()&extfmt.FlagInline != 0 {
		data := append([]byte(nil), in.raw.IBlock()...)
		xs, _, err := fs.readXattrs(in)
		if err != nil {
			return 0, err
		}
		for _, x := range xs {
			if isInlineData(x) {
				data = append(data, x.Value...)
			}
		}
		if uint64(len(data)) < end {
			return 0, corrupt("inode %d: inline data shorter than the file size", in.ino)
		}
		n := copy(p, data[off:end])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	bs := uint64(fs.bs)
	pos := off
	for pos < end {
		lblk := pos / bs
		pb, run, unwritten, err := fs.mapBlock(in, lblk)
		if err != nil {
			return int(pos - off), err
		}
		if in.flags()&extfmt.FlagExtents == 0 && pb != 0 {
			for run < 256 && (lblk+run)*bs < end {
				q, _, _, err := fs.mapBlock(in, lblk+run)
				if err != nil || q != pb+run {
					break
				}
				run++
			}
		}
		runEnd := (lblk + run) * bs
		if runEnd > end || runEnd < pos {
			runEnd = end
		}
		dst := p[pos-off : runEnd-off]
		if pb == 0 || unwritten {
			clear(dst)
		} else if _, err := fs.dev.ReadAt(dst, int64(pb*bs+pos%bs)); err != nil {
			return int(pos - off), ioErr("reading block %d: %v", pb, err)
		}
		pos = runEnd
	}
	n := int(end - off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes file data, allocating blocks for holes, and extends the file if needed.
func (fs *FS) WriteAt(ino Ino, p []byte, off int64) (n int, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return 0, err
	}
	switch {
	case in.isDir():
		return 0, syscall.EISDIR
	case in.ftype() != extfmt.S_IFREG:
		return 0, syscall.EINVAL
	case off < 0:
		return 0, syscall.EINVAL
	}
	if uint64(off)+uint64(len(p)) > fs.maxSize() {
		return 0, syscall.EFBIG
	}
	if err := fs.uninline(in); err != nil {
		return 0, err
	}
	fs.dropReadAhead(ino)
	n, err = fs.writeData(in, p, uint64(off))
	if n > 0 {
		if end := uint64(off) + uint64(n); end > in.size() {
			in.setSize(end)
			fs.noteSize(end)
		}
		now := time.Now()
		in.raw.SetTime(extfmt.Mtime, now)
		in.raw.SetTime(extfmt.Ctime, now)
		if e := fs.iput(in); e != nil && err == nil {
			err = e
		}
	}
	return n, err
}

func (fs *FS) writeData(in *inode, p []byte, off uint64) (int, error) {
	bs := uint64(fs.bs)
	pos, end := off, off+uint64(len(p))
	lastP := uint64(0)
	for pos < end {
		lblk := pos / bs
		pb, run, unwritten, err := fs.mapBlock(in, lblk)
		if err != nil {
			return int(pos - off), err
		}
		if pb != 0 && !unwritten {
			runEnd := (lblk + run) * bs
			if runEnd > end || runEnd < pos {
				runEnd = end
			}
			if _, err := fs.dev.WriteAt(p[pos-off:runEnd-off], int64(pb*bs+pos%bs)); err != nil {
				return int(pos - off), ioErr("writing block %d: %v", pb, err)
			}
			lastP = pb + (runEnd-1)/bs - lblk
			pos = runEnd
			continue
		}
		want := (end+bs-1)/bs - lblk
		if want > run {
			want = run
		}
		if want > 8192 {
			want = 8192
		}
		start, cnt := pb, want
		fresh := pb == 0
		if fresh {
			goal := lastP + 1
			if lastP == 0 {
				if lblk > 0 {
					if q, _, _, err := fs.mapBlock(in, lblk-1); err == nil && q != 0 {
						goal = q + 1
					}
				}
				if goal <= 1 {
					goal = fs.gdInodeTable((uint32(in.ino) - 1) / fs.ipg)
				}
			}
			start, cnt, err = fs.allocBlocks(goal, want)
			if err != nil {
				return int(pos - off), err
			}
		}
		buf := make([]byte, cnt*bs)
		m := copy(buf[pos%bs:], p[pos-off:])
		if _, err := fs.dev.WriteAt(buf, int64(start*bs)); err != nil {
			if fresh {
				fs.freeBlocks(start, cnt)
			}
			return int(pos - off), ioErr("writing block %d: %v", start, err)
		}
		if err := fs.setMapping(in, lblk, start, cnt); err != nil {
			if fresh {
				fs.freeBlocks(start, cnt)
			}
			return int(pos - off), err
		}
		if fresh {
			fs.addBlocks(in, int64(cnt))
		}
		lastP = start + cnt - 1
		pos += uint64(m)
	}
	return len(p), nil
}

// SeekData returns the first offset >= off that holds data (hole=false) or lies in a hole
// (hole=true), as lseek(2) SEEK_DATA / SEEK_HOLE do (ENXIO past the end for SEEK_DATA;
// the end of the file counts as a hole). Unwritten extents count as holes.
func (fs *FS) SeekData(ino Ino, off int64, hole bool) (pos int64, err error) {
	if err := fs.begin(false); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return 0, err
	}
	size := in.size()
	if off < 0 || uint64(off) >= size {
		return 0, syscall.ENXIO
	}
	if in.flags()&extfmt.FlagInline != 0 {
		if hole {
			return int64(size), nil
		}
		return off, nil
	}
	bs := uint64(fs.bs)
	if in.flags()&extfmt.FlagExtents == 0 {
		lblk, found, err := fs.indSeek(in, uint64(off)/bs, hole)
		if err != nil {
			return 0, err
		}
		switch {
		case found && lblk*bs < size:
			return max(int64(lblk*bs), off), nil
		case hole:
			return int64(size), nil
		}
		return 0, syscall.ENXIO
	}
	for p := uint64(off); p < size; {
		lblk := p / bs
		pb, run, unwritten, err := fs.mapBlock(in, lblk)
		if err != nil {
			return 0, err
		}
		isData := pb != 0 && !unwritten
		if isData != hole {
			return int64(p), nil
		}
		next := (lblk + run) * bs
		if next <= p {
			break
		}
		p = next
	}
	if hole {
		return int64(size), nil
	}
	return 0, syscall.ENXIO
}
