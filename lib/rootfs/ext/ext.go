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
// The structures are encoded by lib/extfmt, the format layer the kernel's driver (lib/ext4)
// reads them back with.
//
// What the writer stores is exactly what the tree says: owners, modes (setuid included),
// device numbers, fast and slow symbolic links, hard link counts, times with nanoseconds and
// extended attributes.
package ext

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
	"github.com/gouml/gouml/lib/rootfs/fstree"
)

const (
	blockSize     = 4096
	logBlockSize  = 2 // 1024 << 2
	blocksPerGrp  = 32768
	inodeSize     = 256
	extraIsize    = 32
	firstIno      = extfmt.GoodOldFirstIno
	journalIno    = extfmt.JournalIno
	rootIno       = extfmt.RootIno
	lostFoundSize = 4 * blockSize // what mke2fs gives lost+found: room to reconnect files
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

func hasSuper(g int64) bool { return extfmt.HasSuperSparse(uint64(g)) }

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
	g.gdtBlocks = (g.groups*extfmt.GroupDescSize + blockSize - 1) / blockSize
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
