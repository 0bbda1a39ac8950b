// Package ext writes an fstree.Tree as an ext2 or ext4 file system image, without root and
// without mounting anything.
//
// The layout is deliberately plain, so that it is easy to verify and hard to get wrong:
// 4 KiB blocks, 32768 blocks per group, 256-byte inodes, every group's bitmaps and inode
// table inside the group (no flex_bg), backup superblocks in groups 0, 1 and powers of 3, 5
// and 7 (sparse_super), linear directories, no journal. ext2 files are mapped with direct and
// indirect blocks; ext4 files with extents. Extended attributes go to one attribute block per
// inode. Every block is allocated by one forward-moving allocator, so file data is laid out
// contiguously in tree order, and blocks that are all zero are never written: the image file
// stays sparse. The same order lets WriteStream emit an image front to back, to a pipe.
//
// What the writer stores is exactly what the tree says: owners, modes (setuid included),
// device numbers, fast and slow symbolic links, hard link counts, times with nanoseconds and
// extended attributes.
package ext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

const (
	blockSize     = 4096
	logBlockSize  = 2 // 1024 << 2
	blocksPerGrp  = 32768
	inodeSize     = 256
	extraIsize    = 32
	firstIno      = 11
	journalIno    = 8
	rootIno       = 2
	lostFoundSize = 4 * blockSize // what mke2fs gives lost+found: room to reconnect files

	// feature flags
	compatExtAttr      = 0x0008
	compatHasJournal   = 0x0004
	incompatFiletype   = 0x0002
	incompatExtents    = 0x0040
	roCompatSparse     = 0x0001
	roCompatLargeFile  = 0x0002
	roCompatDirNlink   = 0x0020
	roCompatExtraIsize = 0x0040

	inodeFlagExtents = 0x80000
)

// Options tune the image.
type Options struct {
	Ext4 bool // extents (ext4) instead of block maps (ext2)
	// Size is the image size in bytes; 0 sizes it from the content plus headroom.
	Size int64
	// Inodes is the number of inodes; 0 chooses one inode per 16 KiB, at least the tree's
	// count plus a quarter.
	Inodes int64
	// ReservedPercent is the share of blocks reserved for root (mke2fs's -m); default 0.
	ReservedPercent float64
	// Journal adds a jbd2 journal (inode 8) to ext4 images, sized as mke2fs does.
	Journal bool
	Label   string
	UUID    [16]byte
	Now     time.Time
	// Progress, when set, is told the number of data bytes written so far and the total.
	Progress func(done, total int64)
}

// Result describes the image written.
type Result struct {
	Size       int64 // image size in bytes
	Blocks     int64
	FreeBlocks int64
	Inodes     int64
	FreeInodes int64
}

// ErrTooSmall is wrapped by the error returned when the content does not fit in Options.Size.
var ErrTooSmall = errors.New("image too small")

// inode numbering and per-inode layout
type inodeInfo struct {
	ino      uint32
	in       *fstree.Inode
	node     *fstree.Node // first name seen (for errors and directories)
	nlink    int
	dir      []byte            // directory content, built when laid out
	runs     []run             // data blocks
	meta     []uint32          // extent leaf or indirect blocks
	metaData map[uint32][]byte // indirect blocks' contents
	xblock   uint32            // extended attribute block, 0 if none
	xattr    []byte
	iblock   [60]byte // i_block contents
	blocks   int64    // 512-byte sectors counted in i_blocks
	isDir    bool
	lostAdd  bool // lost+found: preallocated so e2fsck can reconnect files without allocating
}

type run struct {
	start uint32 // physical block
	len   uint32
}

type geometry struct {
	blocks    int64
	groups    int64
	ipg       int64 // inodes per group
	itBlocks  int64 // inode table blocks per group
	gdtBlocks int64
	inodes    int64
}

func hasSuper(g int64) bool {
	if g <= 1 {
		return true
	}
	for _, b := range []int64{3, 5, 7} {
		n := b
		for n < g {
			n *= b
		}
		if n == g {
			return true
		}
	}
	return false
}

func newGeometry(blocks, inodes int64) (*geometry, error) {
	g := &geometry{blocks: blocks}
	g.groups = (blocks + blocksPerGrp - 1) / blocksPerGrp
	perBlock := int64(blockSize / inodeSize)
	g.ipg = (inodes + g.groups - 1) / g.groups
	g.ipg = (g.ipg + perBlock - 1) / perBlock * perBlock
	if g.ipg < perBlock {
		g.ipg = perBlock
	}
	if g.ipg > blocksPerGrp {
		g.ipg = blocksPerGrp
	}
	g.inodes = g.ipg * g.groups
	if g.inodes > 1<<32-1 {
		return nil, fmt.Errorf("too many inodes (%d)", g.inodes)
	}
	g.itBlocks = g.ipg * inodeSize / blockSize
	g.gdtBlocks = (g.groups*32 + blockSize - 1) / blockSize
	// The last group must hold its own metadata and some data, as mke2fs insists.
	last := blocks - (g.groups-1)*blocksPerGrp
	if last < g.overhead(g.groups-1)+64 {
		if g.groups == 1 {
			return nil, fmt.Errorf("%w: %d blocks cannot hold the file system's own metadata", ErrTooSmall, blocks)
		}
		return newGeometry((g.groups-1)*blocksPerGrp, inodes)
	}
	return g, nil
}

// overhead is the number of metadata blocks at the start of group n.
func (g *geometry) overhead(n int64) int64 {
	o := 2 + g.itBlocks // bitmaps + inode table
	if hasSuper(n) {
		o += 1 + g.gdtBlocks
	}
	return o
}

func (g *geometry) groupBlocks(n int64) int64 {
	if n == g.groups-1 {
		return g.blocks - n*blocksPerGrp
	}
	return blocksPerGrp
}

// metadata block numbers of group n
func (g *geometry) blockBitmap(n int64) int64 {
	b := n * blocksPerGrp
	if hasSuper(n) {
		b += 1 + g.gdtBlocks
	}
	return b
}
func (g *geometry) inodeBitmap(n int64) int64 { return g.blockBitmap(n) + 1 }
func (g *geometry) inodeTable(n int64) int64  { return g.blockBitmap(n) + 2 }

// allocator hands out data blocks in increasing order, skipping group metadata.
type allocator struct {
	g     *geometry
	group int64
	next  int64 // next free block
	used  int64
}

func newAllocator(g *geometry) *allocator {
	return &allocator{g: g, next: g.overhead(0)}
}

var errFull = errors.New("no space left")

// alloc returns n blocks as runs of at most maxRun blocks.
func (a *allocator) alloc(n int64, maxRun int64) ([]run, error) {
	var out []run
	for n > 0 {
		end := a.group*blocksPerGrp + a.g.groupBlocks(a.group)
		if a.next >= end {
			a.group++
			if a.group >= a.g.groups {
				return nil, errFull
			}
			a.next = a.group*blocksPerGrp + a.g.overhead(a.group)
			continue
		}
		k := min(n, end-a.next, maxRun)
		if len(out) > 0 && int64(out[len(out)-1].start)+int64(out[len(out)-1].len) == a.next && int64(out[len(out)-1].len)+k <= maxRun {
			out[len(out)-1].len += uint32(k)
		} else {
			out = append(out, run{uint32(a.next), uint32(k)})
		}
		a.next += k
		a.used += k
		n -= k
	}
	return out, nil
}

func (a *allocator) one() (uint32, error) {
	r, err := a.alloc(1, 1)
	if err != nil {
		return 0, err
	}
	return r[0].start, nil
}

// Write lays the tree out into f, which it truncates to the image size.
func Write(f *os.File, t *fstree.Tree, o Options) (*Result, error) {
	w, err := plan(t, o)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	if err := f.Truncate(w.g.blocks * blockSize); err != nil {
		return nil, err
	}
	w.out = fileSink{f}
	return w.write()
}

// WriteStream writes the image front to back to out, for outputs that cannot seek (a pipe):
// the blocks a file image leaves as holes are written as zeros, so all Result.Size bytes
// go out. Metadata is held in memory until the data reaches it.
func WriteStream(out io.Writer, t *fstree.Tree, o Options) (*Result, error) {
	w, err := plan(t, o)
	if err != nil {
		return nil, err
	}
	w.out = newStreamSink(out, w.g.blocks)
	return w.write()
}

// plan sizes the image and allocates every block; nothing is written yet.
func plan(t *fstree.Tree, o Options) (*writer, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	infos, order, err := collect(t)
	if err != nil {
		return nil, err
	}
	// Size the image: data blocks plus generous metadata, then headroom unless given.
	var need int64
	for _, in := range order {
		need += blocksFor(in, o.Ext4)
	}
	n := int64(len(order))
	inodes := o.Inodes
	size := o.Size
	if size == 0 {
		est := need*blockSize + need*blockSize/64 + (n*inodeSize)*5/4
		size = est + est/2 + 64<<20
		if o.Ext4 && o.Journal {
			size += journalBlocks(size/blockSize) * blockSize
		}
		size = (size + 1<<20 - 1) &^ (1<<20 - 1)
	}
	if inodes == 0 {
		inodes = max(size/16384, n+n/4+64)
	}
	if inodes < n+firstIno {
		return nil, fmt.Errorf("%w: %d inodes requested, the tree needs %d", ErrTooSmall, inodes, n+firstIno)
	}
	blocks := size / blockSize
	if blocks > 1<<32-1 {
		return nil, fmt.Errorf("image size %d too large for 32-bit block numbers", size)
	}
	g, err := newGeometry(blocks, inodes)
	if err != nil {
		return nil, err
	}
	if g.inodes < n+firstIno {
		return nil, fmt.Errorf("%w: %d bytes hold %d inodes, the tree needs %d", ErrTooSmall, size, g.inodes, n+firstIno)
	}
	if o.Ext4 && o.Journal {
		if jb := journalBlocks(g.blocks); jb > 0 {
			jin := &fstree.Inode{Mode: fstree.TypeReg | 0o600, Size: jb * blockSize,
				Data: journalContent{blocks: jb, uuid: o.UUID}, Mtime: o.Now, Atime: o.Now, Ctime: o.Now}
			j := &inodeInfo{ino: journalIno, in: jin, nlink: 1, node: &fstree.Node{Name: "<journal>", Inode: jin}}
			order = append([]*inodeInfo{j}, order...)
		}
	}
	a := newAllocator(g)
	for _, in := range order {
		if err := layout(in, a, o.Ext4, infos); err != nil {
			if errors.Is(err, errFull) {
				return nil, fmt.Errorf("%w: %d bytes (%d blocks) cannot hold %d blocks of content and metadata; try a larger --size", ErrTooSmall, g.blocks*blockSize, g.blocks, need)
			}
			return nil, err
		}
	}
	return &writer{g: g, a: a, o: o, infos: infos, order: order}, nil
}

// collect numbers the inodes: root 2, lost+found 11, the rest from 12 in tree order.
func collect(t *fstree.Tree) (map[*fstree.Inode]*inodeInfo, []*inodeInfo, error) {
	infos := map[*fstree.Inode]*inodeInfo{}
	var order []*inodeInfo
	next := uint32(firstIno + 1)
	lf, hasLF := t.Root.Children["lost+found"]
	if hasLF && !lf.Inode.IsDir() {
		return nil, nil, fmt.Errorf("/lost+found: must be a directory")
	}
	if !hasLF {
		lf = &fstree.Node{Name: "lost+found", Parent: t.Root, Children: map[string]*fstree.Node{},
			Inode: &fstree.Inode{Mode: fstree.TypeDir | 0o700, Mtime: t.Now, Atime: t.Now, Ctime: t.Now}}
		t.Root.Children["lost+found"] = lf
	}
	err := t.Walk(func(n *fstree.Node) error {
		if in, ok := infos[n.Inode]; ok {
			in.nlink++
			return nil
		}
		in := &inodeInfo{in: n.Inode, node: n, nlink: 1, isDir: n.Inode.IsDir()}
		switch {
		case n == t.Root:
			in.ino = rootIno
		case n == lf:
			in.ino = firstIno
			in.lostAdd = true
		default:
			in.ino = next
			next++
		}
		if in.isDir {
			in.nlink = 2
			for _, c := range n.Children {
				if c.Inode.IsDir() {
					in.nlink++
				}
			}
		}
		switch n.Inode.Type() {
		case fstree.TypeDir, fstree.TypeReg, fstree.TypeLink, fstree.TypeChr, fstree.TypeBlk, fstree.TypeFifo, fstree.TypeSock:
		default:
			return fmt.Errorf("%s: unknown file type %#o", n.Path(), n.Inode.Mode)
		}
		infos[n.Inode] = in
		order = append(order, in)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// Directories must not be hard links: every directory inode has one name.
	dirs := map[*fstree.Inode]int{}
	_ = t.Walk(func(n *fstree.Node) error {
		if n.Inode.IsDir() {
			dirs[n.Inode]++
		}
		return nil
	})
	for in, c := range dirs {
		if c > 1 {
			return nil, nil, fmt.Errorf("%s: directory has %d names (directories cannot be hard links)", infos[in].node.Path(), c)
		}
	}
	for _, in := range order {
		if in.nlink > 65000 {
			if in.isDir {
				in.nlink = 1 // dir_nlink: the count overflowed
			} else {
				return nil, nil, fmt.Errorf("%s: %d hard links (ext4 allows 65000)", in.node.Path(), in.nlink)
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].ino < order[j].ino })
	return infos, order, nil
}

// buildDir builds a directory's linear entries; it needs the child inode numbers.
func buildDir(in *inodeInfo, infos map[*fstree.Inode]*inodeInfo) ([]byte, error) {
	type ent struct {
		ino  uint32
		name string
		typ  byte
	}
	parent := in.node.Parent
	if parent == nil {
		parent = in.node
	}
	ents := []ent{{in.ino, ".", 2}, {infos[parent.Inode].ino, "..", 2}}
	for _, c := range in.node.SortedChildren() {
		if len(c.Name) > 255 {
			return nil, fmt.Errorf("%s: name longer than 255 bytes", c.Path())
		}
		ents = append(ents, ent{infos[c.Inode].ino, c.Name, fileType(c.Inode.Mode)})
	}
	var out []byte
	blk := make([]byte, 0, blockSize)
	lastOff := -1
	flush := func() {
		if lastOff >= 0 {
			// the last entry of a block reaches to the block's end
			binary.LittleEndian.PutUint16(blk[lastOff+4:], uint16(blockSize-lastOff))
		}
		blk = blk[:blockSize]
		out = append(out, blk...)
		blk = make([]byte, 0, blockSize)
		lastOff = -1
	}
	for _, e := range ents {
		rec := (8 + len(e.name) + 3) &^ 3
		if len(blk)+rec > blockSize {
			flush()
		}
		lastOff = len(blk)
		var h [8]byte
		binary.LittleEndian.PutUint32(h[0:], e.ino)
		binary.LittleEndian.PutUint16(h[4:], uint16(rec))
		h[6] = byte(len(e.name))
		h[7] = e.typ
		blk = append(blk, h[:]...)
		blk = append(blk, e.name...)
		for len(blk) < lastOff+rec {
			blk = append(blk, 0)
		}
	}
	flush()
	if in.lostAdd {
		for len(out) < lostFoundSize {
			var empty [blockSize]byte
			binary.LittleEndian.PutUint16(empty[4:], blockSize)
			out = append(out, empty[:]...)
		}
	}
	return out, nil
}

func fileType(mode uint32) byte {
	switch mode & fstree.TypeMask {
	case fstree.TypeReg:
		return 1
	case fstree.TypeDir:
		return 2
	case fstree.TypeChr:
		return 3
	case fstree.TypeBlk:
		return 4
	case fstree.TypeFifo:
		return 5
	case fstree.TypeSock:
		return 6
	case fstree.TypeLink:
		return 7
	}
	return 0
}

// blocksFor estimates the blocks an inode needs (exact for data, an upper bound for mapping).
func blocksFor(in *inodeInfo, ext4 bool) int64 {
	var d int64
	switch in.in.Type() {
	case fstree.TypeReg:
		d = (in.in.Size + blockSize - 1) / blockSize
	case fstree.TypeDir:
		// upper bound: every entry at its largest
		var b int64 = 24
		for _, c := range in.node.Children {
			b += int64(8+len(c.Name)+3) &^ 3
		}
		d = b/blockSize + 1 + int64(len(in.node.Children))/(blockSize/16)
		if in.lostAdd {
			d = max(d, lostFoundSize/blockSize)
		}
	case fstree.TypeLink:
		if len(in.in.Target) >= 60 {
			d = 1
		}
	}
	var m int64
	if ext4 {
		m = d/(blocksPerGrp-1024) + 1
	} else if d > 12 {
		m = (d-12)/1023 + 2
	}
	if len(in.in.Xattrs) > 0 {
		m++
	}
	return d + m
}

// layout allocates an inode's blocks and fills in its i_block.
func layout(in *inodeInfo, a *allocator, ext4 bool, infos map[*fstree.Inode]*inodeInfo) error {
	var nblocks int64
	switch in.in.Type() {
	case fstree.TypeReg:
		nblocks = (in.in.Size + blockSize - 1) / blockSize
	case fstree.TypeDir:
		d, err := buildDir(in, infos)
		if err != nil {
			return err
		}
		in.dir = d
		nblocks = int64(len(d)) / blockSize
	case fstree.TypeLink:
		if len(in.in.Target) > blockSize-1 {
			return fmt.Errorf("%s: symbolic link target longer than %d bytes", in.node.Path(), blockSize-1)
		}
		if len(in.in.Target) < 60 {
			copy(in.iblock[:], in.in.Target) // fast symlink: the target lives in i_block
		} else {
			nblocks = 1
		}
	case fstree.TypeChr, fstree.TypeBlk:
		maj, mnr := in.in.Major, in.in.Minor
		if maj < 256 && mnr < 256 {
			binary.LittleEndian.PutUint32(in.iblock[0:], maj<<8|mnr)
		} else {
			binary.LittleEndian.PutUint32(in.iblock[4:], (mnr&0xff)|(maj&0xfff)<<8|(mnr&^0xff)<<12)
		}
	}
	if len(in.in.Xattrs) > 0 {
		x, err := xattrBlock(in.in.Xattrs)
		if err != nil {
			return fmt.Errorf("%s: %w", in.node.Path(), err)
		}
		in.xattr = x
		b, err := a.one()
		if err != nil {
			return err
		}
		in.xblock = b
		in.blocks += blockSize / 512
	}
	if nblocks == 0 {
		if ext4 && (in.in.Type() == fstree.TypeReg || in.in.Type() == fstree.TypeDir) {
			putExtentHeader(in.iblock[:], 0, 4, 0)
		}
		return nil
	}
	in.blocks += nblocks * blockSize / 512
	if ext4 {
		runs, err := a.alloc(nblocks, 32768)
		if err != nil {
			return err
		}
		in.runs = runs
		if len(runs) <= 4 {
			putExtentHeader(in.iblock[:], uint16(len(runs)), 4, 0)
			logical := uint32(0)
			for i, r := range runs {
				putExtent(in.iblock[12+12*i:], logical, r)
				logical += r.len
			}
			return nil
		}
		perLeaf := (blockSize - 12) / 12
		leaves := (len(runs) + perLeaf - 1) / perLeaf
		if leaves > 4 {
			return fmt.Errorf("%s: too fragmented (%d extents)", in.node.Path(), len(runs))
		}
		putExtentHeader(in.iblock[:], uint16(leaves), 4, 1)
		logical := uint32(0)
		for l := 0; l < leaves; l++ {
			b, err := a.one()
			if err != nil {
				return err
			}
			in.meta = append(in.meta, b)
			in.blocks += blockSize / 512
			// index entry: ei_block, ei_leaf_lo, ei_leaf_hi(16), unused(16)
			e := in.iblock[12+12*l:]
			binary.LittleEndian.PutUint32(e[0:], logical)
			binary.LittleEndian.PutUint32(e[4:], b)
			for _, r := range runs[l*perLeaf : min(len(runs), (l+1)*perLeaf)] {
				logical += r.len
			}
		}
		return nil
	}
	runs, err := a.alloc(nblocks, 1<<31)
	if err != nil {
		return err
	}
	in.runs = runs
	// Block map: 12 direct pointers, then single, double and triple indirect blocks.
	phys := make([]uint32, 0, nblocks)
	for _, r := range runs {
		for i := uint32(0); i < r.len; i++ {
			phys = append(phys, r.start+i)
		}
	}
	for i := 0; i < 12 && i < len(phys); i++ {
		binary.LittleEndian.PutUint32(in.iblock[4*i:], phys[i])
	}
	rest := phys[min(12, len(phys)):]
	const per = blockSize / 4
	for level := 1; level <= 3 && len(rest) > 0; level++ {
		span := 1
		for i := 1; i < level; i++ {
			span *= per
		}
		take := min(len(rest), span*per)
		top, err := indirect(in, a, rest[:take], level)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(in.iblock[4*(11+level):], top)
		rest = rest[take:]
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: too large for an ext2 block map", in.node.Path())
	}
	return nil
}

// indirect allocates a level-deep tree of indirect blocks over phys and returns its top
// block; the blocks' contents wait in in.metaData until the image is written.
func indirect(in *inodeInfo, a *allocator, phys []uint32, level int) (uint32, error) {
	b, err := a.one()
	if err != nil {
		return 0, err
	}
	in.meta = append(in.meta, b)
	in.blocks += blockSize / 512
	const per = blockSize / 4
	content := make([]byte, blockSize)
	if level == 1 {
		for i, p := range phys {
			binary.LittleEndian.PutUint32(content[4*i:], p)
		}
	} else {
		span := 1
		for i := 1; i < level; i++ {
			span *= per
		}
		for i := 0; len(phys) > 0; i++ {
			take := min(len(phys), span)
			c, err := indirect(in, a, phys[:take], level-1)
			if err != nil {
				return 0, err
			}
			binary.LittleEndian.PutUint32(content[4*i:], c)
			phys = phys[take:]
		}
	}
	if in.metaData == nil {
		in.metaData = map[uint32][]byte{}
	}
	in.metaData[b] = content
	return b, nil
}

func putExtentHeader(b []byte, entries, max, depth uint16) {
	binary.LittleEndian.PutUint16(b[0:], 0xF30A)
	binary.LittleEndian.PutUint16(b[2:], entries)
	binary.LittleEndian.PutUint16(b[4:], max)
	binary.LittleEndian.PutUint16(b[6:], depth)
	binary.LittleEndian.PutUint32(b[8:], 0)
}

func putExtent(b []byte, logical uint32, r run) {
	binary.LittleEndian.PutUint32(b[0:], logical)
	binary.LittleEndian.PutUint16(b[4:], uint16(r.len))
	binary.LittleEndian.PutUint16(b[6:], 0) // start_hi: 32-bit block numbers
	binary.LittleEndian.PutUint32(b[8:], r.start)
}

// xattr name prefixes and their on-disk index numbers
var xattrPrefixes = []struct {
	prefix string
	index  byte
}{
	{"system.posix_acl_access", 2},
	{"system.posix_acl_default", 3},
	{"user.", 1},
	{"trusted.", 4},
	{"security.", 6},
	{"system.", 7},
}

func xattrBlock(xs map[string][]byte) ([]byte, error) {
	type ent struct {
		index byte
		name  string
		value []byte
	}
	var ents []ent
	for full, v := range xs {
		found := false
		for _, p := range xattrPrefixes {
			if strings.HasPrefix(full, p.prefix) {
				name := full[len(p.prefix):]
				if p.index == 2 || p.index == 3 {
					if name != "" {
						continue
					}
					var err error
					v, err = aclToDisk(v)
					if err != nil {
						return nil, fmt.Errorf("xattr %s: %w", full, err)
					}
				}
				if len(name) > 255 {
					return nil, fmt.Errorf("xattr name %q too long", full)
				}
				ents = append(ents, ent{p.index, name, v})
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("xattr %q: namespace not storable in ext2/ext4", full)
		}
	}
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if a.index != b.index {
			return a.index < b.index
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	blk := make([]byte, blockSize)
	binary.LittleEndian.PutUint32(blk[0:], 0xEA020000)
	binary.LittleEndian.PutUint32(blk[4:], 1) // refcount
	binary.LittleEndian.PutUint32(blk[8:], 1) // blocks
	off := 32
	valEnd := blockSize
	var hashes []uint32
	for _, e := range ents {
		esz := (16 + len(e.name) + 3) &^ 3
		vsz := (len(e.value) + 3) &^ 3
		if off+esz+4 > valEnd-vsz {
			return nil, fmt.Errorf("extended attributes do not fit in one %d-byte block", blockSize)
		}
		valEnd -= vsz
		copy(blk[valEnd:], e.value)
		blk[off] = byte(len(e.name))
		blk[off+1] = e.index
		if len(e.value) > 0 {
			binary.LittleEndian.PutUint16(blk[off+2:], uint16(valEnd))
		}
		binary.LittleEndian.PutUint32(blk[off+8:], uint32(len(e.value)))
		h := entryHash(e.name, blk[valEnd:valEnd+vsz])
		binary.LittleEndian.PutUint32(blk[off+12:], h)
		hashes = append(hashes, h)
		copy(blk[off+16:], e.name)
		off += esz
	}
	var bh uint32
	for _, h := range hashes {
		if h == 0 {
			bh = 0
			break
		}
		bh = (bh << 16) ^ (bh >> 16) ^ h
	}
	binary.LittleEndian.PutUint32(blk[12:], bh)
	return blk, nil
}

func entryHash(name string, padded []byte) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = (h << 5) ^ (h >> 27) ^ uint32(name[i])
	}
	for i := 0; i+4 <= len(padded); i += 4 {
		h = (h << 16) ^ (h >> 16) ^ binary.LittleEndian.Uint32(padded[i:])
	}
	return h
}

// aclToDisk converts the kernel's POSIX ACL xattr format (version 2, 8-byte entries) into
// ext4's on-disk one (version 1, 4-byte entries for the owner, group, mask and other).
func aclToDisk(v []byte) ([]byte, error) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || binary.LittleEndian.Uint32(v) != 2 {
		return nil, errors.New("malformed POSIX ACL")
	}
	out := binary.LittleEndian.AppendUint32(nil, 1)
	for p := 4; p < len(v); p += 8 {
		tag := binary.LittleEndian.Uint16(v[p:])
		out = binary.LittleEndian.AppendUint16(out, tag)
		out = binary.LittleEndian.AppendUint16(out, binary.LittleEndian.Uint16(v[p+2:]))
		if tag == 0x02 || tag == 0x08 { // ACL_USER, ACL_GROUP carry an id
			out = binary.LittleEndian.AppendUint32(out, binary.LittleEndian.Uint32(v[p+4:]))
		}
	}
	return out, nil
}

// journalBlocks is mke2fs's default journal size for a file system of n blocks.
func journalBlocks(n int64) int64 {
	switch {
	case n < 2048:
		return 0
	case n < 32768:
		return 1024
	case n < 256*1024:
		return 4096
	case n < 512*1024:
		return 8192
	case n < 4096*1024:
		return 16384
	case n < 8192*1024:
		return 32768
	case n < 16384*1024:
		return 65536
	case n < 32768*1024:
		return 131072
	}
	return 262144
}

// journalContent is an empty jbd2 journal: a version 2 superblock saying "clean, nothing to
// replay" followed by zeros (left as holes in the image).
type journalContent struct {
	blocks int64
	uuid   [16]byte
}

func (j journalContent) Open() (io.ReadCloser, error) {
	sb := make([]byte, blockSize)
	be := binary.BigEndian
	be.PutUint32(sb[0:], 0xC03B3998) // magic
	be.PutUint32(sb[4:], 4)          // superblock v2
	be.PutUint32(sb[12:], blockSize)
	be.PutUint32(sb[16:], uint32(j.blocks)) // maxlen
	be.PutUint32(sb[20:], 1)                // first log block
	be.PutUint32(sb[24:], 1)                // sequence
	be.PutUint32(sb[28:], 0)                // start 0: the journal is empty
	copy(sb[48:64], j.uuid[:])
	be.PutUint32(sb[64:], 1) // users
	copy(sb[256:272], j.uuid[:])
	return io.NopCloser(io.MultiReader(bytes.NewReader(sb), io.LimitReader(zeroReader{}, (j.blocks-1)*blockSize))), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
