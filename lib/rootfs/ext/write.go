package ext

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

type writer struct {
	out   sink
	g     *geometry
	o     Options
	a     *allocator
	infos map[*fstree.Inode]*inodeInfo
	order []*inodeInfo
	done  int64
	total int64
	buf   []byte
}

// sink is where the image's blocks go. All metadata (inode tables, bitmaps, superblocks,
// group descriptors, attribute blocks, extent leaves, indirect blocks) is given before any
// file data, and file data comes in increasing block order (the allocator only moves
// forward), so a stream can emit the image front to back. p is a whole number of blocks,
// except that a file's last run may end early.
type sink interface {
	meta(p []byte, b int64) error
	data(p []byte, b int64) error
	finish() error
}

var zeroBlock [blockSize]byte

// fileSink writes into a file truncated to the image size, leaving all-zero blocks
// unwritten so the image stays sparse (unwritten blocks read as zeros).
type fileSink struct{ f *os.File }

func (s fileSink) meta(p []byte, b int64) error { return s.data(p, b) }
func (s fileSink) finish() error                { return nil }

func (s fileSink) data(p []byte, b int64) error {
	for len(p) > 0 {
		// coalesce runs of non-zero blocks into one write
		n := 0
		for n < len(p) && !bytes.Equal(p[n:min(n+blockSize, len(p))], zeroBlock[:min(blockSize, len(p)-n)]) {
			n += blockSize
		}
		n = min(n, len(p))
		if n > 0 {
			if _, err := s.f.WriteAt(p[:n], b*blockSize); err != nil {
				return err
			}
			p = p[n:]
			b += int64(n / blockSize)
			continue
		}
		k := min(blockSize, len(p))
		p = p[k:]
		b++
	}
	return nil
}

// streamSink emits the image front to back to a writer that cannot seek (a pipe): metadata
// is held in memory (all-zero blocks left out) until the data reaches it, and every block
// nothing was written to goes out as zeros.
type streamSink struct {
	w      io.Writer
	blocks int64 // image size in blocks
	next   int64 // the next block to emit
	staged map[int64][]byte
	keys   []int64 // staged block numbers in order, once data starts
	zeros  []byte
}

func newStreamSink(w io.Writer, blocks int64) *streamSink {
	return &streamSink{w: w, blocks: blocks, staged: map[int64][]byte{}}
}

func (s *streamSink) meta(p []byte, b int64) error {
	if s.keys != nil {
		return fmt.Errorf("internal error: metadata block %d after file data on a stream", b)
	}
	for ; len(p) > 0; b++ {
		k := min(blockSize, len(p))
		if !bytes.Equal(p[:k], zeroBlock[:k]) {
			blk := make([]byte, blockSize)
			copy(blk, p[:k])
			s.staged[b] = blk
		}
		p = p[k:]
	}
	return nil
}

func (s *streamSink) data(p []byte, b int64) error {
	if s.keys == nil {
		s.keys = make([]int64, 0, len(s.staged))
		for k := range s.staged {
			s.keys = append(s.keys, k)
		}
		sort.Slice(s.keys, func(i, j int) bool { return s.keys[i] < s.keys[j] })
	}
	if b < s.next {
		return fmt.Errorf("internal error: block %d written after block %d on a stream", b, s.next)
	}
	if err := s.fill(b); err != nil {
		return err
	}
	n := (int64(len(p)) + blockSize - 1) / blockSize
	if len(s.keys) > 0 && s.keys[0] < b+n {
		return fmt.Errorf("internal error: file data over metadata block %d", s.keys[0])
	}
	if _, err := s.w.Write(p); err != nil {
		return err
	}
	if tail := int(n*blockSize) - len(p); tail > 0 {
		if _, err := s.w.Write(zeroBlock[:tail]); err != nil {
			return err
		}
	}
	s.next = b + n
	return nil
}

// fill emits staged blocks and zeros up to block end.
func (s *streamSink) fill(end int64) error {
	if s.zeros == nil {
		s.zeros = make([]byte, 1<<20)
	}
	for s.next < end {
		if len(s.keys) > 0 && s.keys[0] == s.next {
			if _, err := s.w.Write(s.staged[s.next]); err != nil {
				return err
			}
			delete(s.staged, s.next)
			s.keys = s.keys[1:]
			s.next++
			continue
		}
		stop := end
		if len(s.keys) > 0 && s.keys[0] < stop {
			stop = s.keys[0]
		}
		k := min((stop-s.next)*blockSize, int64(len(s.zeros)))
		if _, err := s.w.Write(s.zeros[:k]); err != nil {
			return err
		}
		s.next += k / blockSize
	}
	return nil
}

func (s *streamSink) finish() error {
	if err := s.data(nil, s.blocks); err != nil {
		return err
	}
	if len(s.keys) > 0 {
		return fmt.Errorf("internal error: metadata block %d beyond the image's %d blocks", s.keys[0], s.blocks)
	}
	return nil
}

func (w *writer) write() (*Result, error) {
	for _, in := range w.order {
		if in.in.Type() == fstree.TypeReg && in.ino != journalIno {
			w.total += in.in.Size
		}
	}
	for _, in := range w.order {
		if err := w.writeInodeMeta(in); err != nil {
			return nil, err
		}
	}
	res, err := w.writeMetadata()
	if err != nil {
		return nil, err
	}
	w.buf = make([]byte, 1<<20)
	for _, in := range w.order {
		if err := w.writeInodeData(in); err != nil {
			return nil, err
		}
	}
	return res, w.out.finish()
}

func (w *writer) writeRuns(in *inodeInfo, r io.Reader, size int64) error {
	var written int64
	for _, run := range in.runs {
		blk := int64(run.start)
		left := int64(run.len) * blockSize
		for left > 0 {
			chunk := min(left, int64(len(w.buf)))
			want := min(chunk, size-written)
			if want < 0 {
				want = 0
			}
			n, err := io.ReadFull(r, w.buf[:want])
			if err != nil {
				if err == io.ErrUnexpectedEOF || err == io.EOF {
					return fmt.Errorf("%s: file shrank while being read (%d of %d bytes)", in.node.Path(), written+int64(n), size)
				}
				return fmt.Errorf("%s: %w", in.node.Path(), err)
			}
			clear(w.buf[n:chunk])
			if err := w.out.data(w.buf[:chunk], blk); err != nil {
				return err
			}
			written += int64(n)
			if in.in.Type() == fstree.TypeReg && in.ino != journalIno {
				w.done += int64(n)
				if w.o.Progress != nil {
					w.o.Progress(w.done, w.total)
				}
			}
			blk += chunk / blockSize
			left -= chunk
		}
	}
	return nil
}

func (w *writer) writeInodeData(in *inodeInfo) error {
	switch in.in.Type() {
	case fstree.TypeReg:
		if in.in.Size > 0 {
			if in.in.Data == nil {
				return fmt.Errorf("%s: no content for %d bytes", in.node.Path(), in.in.Size)
			}
			rc, err := in.in.Data.Open()
			if err != nil {
				return fmt.Errorf("%s: %w", in.node.Path(), err)
			}
			err = w.writeRuns(in, rc, in.in.Size)
			rc.Close()
			if err != nil {
				return err
			}
		}
	case fstree.TypeDir:
		if err := w.writeRuns(in, bytes.NewReader(in.dir), int64(len(in.dir))); err != nil {
			return err
		}
	case fstree.TypeLink:
		if len(in.runs) > 0 {
			if err := w.writeRuns(in, bytes.NewReader([]byte(in.in.Target)), int64(len(in.in.Target))); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeInodeMeta writes an inode's attribute block, extent leaves and indirect blocks.
func (w *writer) writeInodeMeta(in *inodeInfo) error {
	if in.xblock != 0 {
		if err := w.out.meta(in.xattr, int64(in.xblock)); err != nil {
			return err
		}
	}
	if w.o.Ext4 && len(in.meta) > 0 {
		if err := w.writeExtentLeaves(in); err != nil {
			return err
		}
	}
	for b, c := range in.metaData {
		if err := w.out.meta(c, int64(b)); err != nil {
			return err
		}
	}
	return nil
}

// writeExtentLeaves writes the leaf blocks extentTree allocated.
func (w *writer) writeExtentLeaves(in *inodeInfo) error {
	all := extents(in.runs)
	for l, b := range in.meta {
		leaf := make([]byte, blockSize)
		n := extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: perLeaf},
			Extents: all[l*perLeaf : min(len(all), (l+1)*perLeaf)]}
		n.MarshalTo(leaf)
		if err := w.out.meta(leaf, int64(b)); err != nil {
			return err
		}
	}
	return nil
}

// times returns the inode's access and change times, each defaulting to the modification
// time when the tree leaves it unset.
func times(in *fstree.Inode) (a, c, m time.Time) {
	a, c, m = in.Atime, in.Ctime, in.Mtime
	if a.IsZero() {
		a = m
	}
	if c.IsZero() {
		c = m
	}
	return a, c, m
}

func (w *writer) inodeBytes(in *inodeInfo) []byte {
	b := make(extfmt.Inode, inodeSize)
	b.SetMode(uint16(in.in.Mode))
	b.SetUID(in.in.UID)
	b.SetGID(in.in.GID)
	size := uint64(0)
	switch in.in.Type() {
	case fstree.TypeReg:
		size = uint64(in.in.Size)
	case fstree.TypeDir:
		size = uint64(len(in.dir))
	case fstree.TypeLink:
		size = uint64(len(in.in.Target))
	}
	b.SetSize(size)
	b.SetExtraIsize(extraIsize)
	a, c, m := times(in.in)
	b.SetTime(extfmt.Atime, a)
	b.SetTime(extfmt.Ctime, c)
	b.SetTime(extfmt.Mtime, m)
	b.SetTime(extfmt.Crtime, c) // when the file was made is unknown; use ctime
	b.SetLinks(uint16(in.nlink))
	b.SetBlocksRaw(uint64(in.blocks))
	slow := in.in.Type() == fstree.TypeLink && len(in.runs) > 0
	flags := uint32(0)
	if w.o.Ext4 && (in.in.Type() == fstree.TypeReg || in.in.Type() == fstree.TypeDir || slow) {
		flags |= extfmt.FlagExtents
	}
	if w.o.Ext4 && slow {
		// slow symlink with extents: i_block holds an extent header for its one block
		extfmt.ExtentNode{Header: extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries}, Extents: extents(in.runs[:1])}.MarshalTo(in.iblock[:])
	} else if !w.o.Ext4 && slow {
		le.PutUint32(in.iblock[0:], in.runs[0].start)
	}
	b.SetFlags(flags)
	copy(b.IBlock(), in.iblock[:])
	if t := in.in.Type(); t == fstree.TypeChr || t == fstree.TypeBlk {
		b.SetDev(in.in.Major, in.in.Minor)
	}
	b.SetFileACL(uint64(in.xblock))
	return b
}

func (w *writer) writeMetadata() (*Result, error) {
	g := w.g
	a := w.a
	// inode tables
	var maxIno uint32
	dirsPerGroup := make([]int64, g.groups)
	tables := map[int64][]byte{}
	for _, in := range w.order {
		grp := int64(in.ino-1) / g.ipg
		idx := int64(in.ino-1) % g.ipg
		t := tables[grp]
		if t == nil {
			t = make([]byte, g.itBlocks*blockSize)
			tables[grp] = t
		}
		copy(t[idx*inodeSize:], w.inodeBytes(in))
		if in.isDir {
			dirsPerGroup[grp]++
		}
		maxIno = max(maxIno, in.ino)
	}
	for grp, t := range tables {
		if err := w.out.meta(t, g.inodeTable(grp)); err != nil {
			return nil, err
		}
	}
	// bitmaps and descriptors
	gdt := make([]byte, g.gdtBlocks*blockSize)
	var freeBlocks, freeInodes int64
	for grp := int64(0); grp < g.groups; grp++ {
		start := grp * blocksPerGrp
		gb := g.groupBlocks(grp)
		var used int64
		switch {
		case grp < a.group:
			used = gb
		case grp == a.group:
			used = a.next - start
		default:
			used = g.overhead(grp)
		}
		bb := make([]byte, blockSize)
		setBits(bb, 0, used)
		setBits(bb, gb, blocksPerGrp) // padding past the end of a short last group
		ib := make([]byte, blockSize)
		firstIn := grp*g.ipg + 1
		var usedIn int64
		if int64(maxIno) >= firstIn {
			usedIn = min(g.ipg, int64(maxIno)-firstIn+1)
		}
		setBits(ib, 0, usedIn)
		setBits(ib, g.ipg, blockSize*8)
		if err := w.out.meta(bb, g.blockBitmap(grp)); err != nil {
			return nil, err
		}
		if err := w.out.meta(ib, g.inodeBitmap(grp)); err != nil {
			return nil, err
		}
		d := extfmt.GroupDesc{BlockBitmap: uint64(g.blockBitmap(grp)), InodeBitmap: uint64(g.inodeBitmap(grp)),
			InodeTable: uint64(g.inodeTable(grp)), FreeBlocks: uint32(gb - used), FreeInodes: uint32(g.ipg - usedIn),
			UsedDirs: uint32(dirsPerGroup[grp])}
		d.MarshalTo(gdt[grp*extfmt.GroupDescSize:][:extfmt.GroupDescSize])
		freeBlocks += gb - used
		freeInodes += g.ipg - usedIn
	}
	sb := w.superblock(freeBlocks, freeInodes)
	for grp := int64(0); grp < g.groups; grp++ {
		if !hasSuper(grp) {
			continue
		}
		sb.BlockGroupNr = uint16(grp)
		blk := make([]byte, blockSize)
		off := 0
		if grp == 0 {
			off = extfmt.SuperblockOffset
		}
		sb.MarshalTo(blk[off:])
		if err := w.out.meta(blk, grp*blocksPerGrp); err != nil {
			return nil, err
		}
		if err := w.out.meta(gdt, grp*blocksPerGrp+1); err != nil {
			return nil, err
		}
	}
	return &Result{Size: g.blocks * blockSize, Blocks: g.blocks, FreeBlocks: freeBlocks,
		Inodes: g.inodes, FreeInodes: freeInodes}, nil
}

func setBits(b []byte, from, to int64) {
	for i := from; i < to && i < int64(len(b))*8; i++ {
		b[i/8] |= 1 << (i % 8)
	}
}

func (w *writer) superblock(freeBlocks, freeInodes int64) *extfmt.Superblock {
	g := w.g
	now := uint32(w.o.Now.Unix())
	sb := &extfmt.Superblock{
		InodesCount:      uint32(g.inodes),
		BlocksCount:      uint64(g.blocks),
		RBlocksCount:     uint64(float64(g.blocks) * w.o.ReservedPercent / 100),
		FreeBlocksCount:  uint64(freeBlocks),
		FreeInodesCount:  uint32(freeInodes),
		FirstDataBlock:   0, // with 4 KiB blocks
		LogBlockSize:     logBlockSize,
		LogClusterSize:   logBlockSize,
		BlocksPerGroup:   blocksPerGrp,
		ClustersPerGroup: blocksPerGrp,
		InodesPerGroup:   uint32(g.ipg),
		Wtime:            now,
		MaxMntCount:      0xFFFF, // -1: no forced checks
		Magic:            extfmt.SuperMagic,
		State:            extfmt.StateValid,
		Errors:           1, // continue
		Lastcheck:        now,
		RevLevel:         1, // dynamic
		FirstIno:         firstIno,
		InodeSize:        inodeSize,
		FeatureCompat:    extfmt.CompatExtAttr,
		FeatureIncompat:  extfmt.IncompatFiletype,
		FeatureRoCompat:  extfmt.RoCompatSparseSuper | extfmt.RoCompatLargeFile,
		UUID:             w.o.UUID,
		DescSize:         0, // 32-byte group descriptors
		MkfsTime:         now,
		MinExtraIsize:    extraIsize,
		WantExtraIsize:   extraIsize,
	}
	copy(sb.VolumeName[:], w.o.Label)
	if j := w.journal(); j != nil {
		sb.FeatureCompat |= extfmt.CompatHasJournal
		sb.JournalInum = journalIno
		sb.JnlBackupType = 1 // s_jnl_blocks holds a copy of the journal inode's i_block and size
		for i := 0; i < 15; i++ {
			sb.JnlBlocks[i] = le.Uint32(j.iblock[4*i:])
		}
		sb.JnlBlocks[15] = uint32(uint64(j.in.Size) >> 32)
		sb.JnlBlocks[16] = uint32(j.in.Size)
	}
	if w.o.Ext4 {
		sb.FeatureIncompat |= extfmt.IncompatExtents
		sb.FeatureRoCompat |= extfmt.RoCompatDirNlink | extfmt.RoCompatExtraIsize
	}
	return sb
}

func (w *writer) journal() *inodeInfo {
	if len(w.order) > 0 && w.order[0].ino == journalIno {
		return w.order[0]
	}
	return nil
}
