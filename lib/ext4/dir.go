package ext4

import (
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

type dirent struct {
	ino    Ino
	recLen int
	name   []byte
	ftype  uint8
}

func (fs *FS) recLen(b []byte, off int) int { return extfmt.RecLen(b, off, int(fs.bs)) }

func (fs *FS) putRecLen(b []byte, off, rl int) { extfmt.PutRecLen(b, off, rl) }

// parseDirent validates and returns the entry at off within a directory region b.
func (fs *FS) parseDirent(b []byte, off int) (dirent, error) {
	e, err := extfmt.ParseDirent(b, off, int(fs.bs), fs.incompat&extfmt.IncompatFiletype != 0)
	if err != nil {
		return dirent{}, corrupt("%v", err)
	}
	ino, name := Ino(e.Inode), e.Name
	if ino != 0 {
		// A live entry's name reaches callers that turn it into host paths: it must be one
		// path component, as the kernel's verify_dirent_name insists.
		if len(name) == 0 || len(name) > extfmt.MaxNameLen {
			return dirent{}, corrupt("directory entry at offset %d has a name of %d bytes", off, len(name))
		}
		for _, c := range name {
			if c == '/' || c == 0 {
				return dirent{}, corrupt("directory entry at offset %d has an invalid name %q", off, name)
			}
		}
		if err := fs.checkEntryIno(ino); err != nil {
			return dirent{}, corrupt("directory entry %q at offset %d: %s", name, off, err.(*Error).Msg)
		}
	}
	return dirent{ino: ino, recLen: e.RecLen, name: name, ftype: e.FileType}, nil
}

// checkEntryIno: a name may only refer to the root or to an ordinary inode; the reserved ones
// (journal, resize inode, ...) are never in a directory, as Linux's ext4 refuses too.
func (fs *FS) checkEntryIno(ino Ino) error {
	if ino == 0 || uint32(ino) > fs.inodes {
		return corrupt("inode %d is out of range (1..%d)", ino, fs.inodes)
	}
	if ino != RootIno && uint32(ino) < fs.firstIno {
		return corrupt("inode %d is reserved", ino)
	}
	return nil
}

// checkDots keeps "." and ".." where they belong: the first two entries of a block-based
// directory's first block, "." naming the directory itself. Anywhere else (and in an inline
// directory, whose dot entries are not stored as entries) such a name would let a walker
// revisit a directory or step out of the tree. want is the dot name the position must hold,
// or "" for a position that must not hold one.
func checkDots(dir *inode, d dirent, want string) error {
	name := string(d.name)
	if want == "" {
		if d.ino != 0 && (name == "." || name == "..") {
			return corrupt("directory inode %d has a stray %q entry", dir.ino, name)
		}
		return nil
	}
	if d.ino == 0 || name != want {
		return corrupt("directory inode %d does not start with %q", dir.ino, want)
	}
	if want == "." && d.ino != dir.ino {
		return corrupt("directory inode %d: \".\" names inode %d", dir.ino, d.ino)
	}
	return nil
}

func (fs *FS) hasTail(b []byte) bool { return fs.csum && extfmt.HasDirTail(b) }

func (fs *FS) dirCsum(in *inode, b []byte) {
	if fs.hasTail(b) {
		extfmt.SetDirTailCsum(fs.inodeSeed(in.ino, in.generation()), b)
	}
}

func (fs *FS) dirNBlocks(in *inode) (uint64, error) {
	sz := in.size()
	if sz%uint64(fs.bs) != 0 {
		return 0, corrupt("directory inode %d size %d is not a multiple of the block size", in.ino, sz)
	}
	n := sz / uint64(fs.bs)
	if n > fs.blocks {
		return 0, corrupt("directory inode %d is larger than the file system", in.ino)
	}
	return n, nil
}

// dirBlock returns directory block lblk (cached) and its physical number.
func (fs *FS) dirBlock(in *inode, lblk uint64) ([]byte, uint64, error) {
	p, _, unwritten, err := fs.mapBlock(in, lblk)
	if err != nil {
		return nil, 0, err
	}
	if p == 0 || unwritten {
		return nil, 0, corrupt("directory inode %d has a hole at block %d", in.ino, lblk)
	}
	b, err := fs.bread(p)
	if err != nil {
		return nil, 0, err
	}
	err = fs.verifyOnce(p, func() error {
		// leaf blocks carry a tail; htree index blocks (which have none) are not checked
		if fs.hasTail(b) && extfmt.DirTailCsum(b) != extfmt.DirBlockCsum(fs.inodeSeed(in.ino, in.generation()), b) {
			return corrupt("directory inode %d block %d: checksum mismatch", in.ino, lblk)
		}
		return nil
	})
	return b, p, err
}

// inlineDir returns the inline directory's two regions (after the parent inode number).
func (fs *FS) inlineDir(in *inode) (parent Ino, regions [][]byte, err error) {
	// i_block holds the parent's inode number, then entries
	parent = Ino(le.Uint32(in.raw.IBlock()))
	regions = [][]byte{in.raw.IBlock()[4:]}
	xs, _, err := fs.readXattrs(in)
	if err != nil {
		return 0, nil, err
	}
	for _, x := range xs {
		if x.Index == extfmt.XattrIndexSystem && x.Name == "data" && len(x.Value) > 0 {
			regions = append(regions, x.Value)
		}
	}
	return parent, regions, nil
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  Ino
	Type uint8  // DT_* value (as in getdents64): 1 fifo, 2 chr, 4 dir, 6 blk, 8 reg, 10 lnk, 12 sock; 0 unknown
	Next uint64 // cookie to continue after this entry
}

// scanDir calls fn for each live entry from position cookie, in on-disk order. Positions are
// byte offsets in the directory (for inline directories: 1 for "..", then offsets+2 into the
// inline regions, with "." at 0).
func (fs *FS) scanDir(in *inode, cookie uint64, fn func(e dirent, pos, next uint64) bool) error {
	if !in.isDir() {
		return syscall.ENOTDIR
	}
	if in.flags()&extfmt.FlagInline != 0 {
		parent, regions, err := fs.inlineDir(in)
		if err != nil {
			return err
		}
		if err := fs.checkEntryIno(parent); err != nil {
			return corrupt("inline directory inode %d: parent: %s", in.ino, err.(*Error).Msg)
		}
		if cookie == 0 && !fn(dirent{ino: in.ino, name: []byte("."), ftype: extfmt.FTDir}, 0, 1) {
			return nil
		}
		if cookie <= 1 && !fn(dirent{ino: parent, name: []byte(".."), ftype: extfmt.FTDir}, 1, 2) {
			return nil
		}
		base := uint64(2)
		for _, r := range regions {
			for off := 0; off < len(r); {
				d, err := fs.parseDirent(r, off)
				if err == nil {
					err = checkDots(in, d, "")
				}
				if err != nil {
					return corrupt("inline directory inode %d: %s", in.ino, err.(*Error).Msg)
				}
				pos := base + uint64(off)
				if d.ino != 0 && pos >= cookie && !fn(d, pos, pos+uint64(d.recLen)) {
					return nil
				}
				off += d.recLen
			}
			base += uint64(len(r))
		}
		return nil
	}
	n, err := fs.dirNBlocks(in)
	if err != nil {
		return err
	}
	for lb := cookie / uint64(fs.bs); lb < n; lb++ {
		b, _, err := fs.dirBlock(in, lb)
		if err != nil {
			return err
		}
		for off, k := 0, 0; off < len(b); k++ {
			d, err := fs.parseDirent(b, off)
			if err == nil {
				want := ""
				if lb == 0 && k < 2 {
					want = [2]string{".", ".."}[k]
				}
				err = checkDots(in, d, want)
			}
			if err != nil {
				return &Error{syscall.EUCLEAN, "directory inode " + uitoa(uint64(in.ino), 10) + " block " + uitoa(lb, 10) + ": " + err.(*Error).Msg}
			}
			pos := lb*uint64(fs.bs) + uint64(off)
			if d.ino != 0 && pos >= cookie && !fn(d, pos, pos+uint64(d.recLen)) {
				return nil
			}
			off += d.recLen
			if lb == 0 && k == 0 && off >= len(b) {
				return corrupt("directory inode %d block 0: no \"..\" entry", in.ino)
			}
		}
	}
	return nil
}

// dirCache speeds up big directories: the names (built by one scan) and the first block
// that may have room for a new entry.
type dirCache struct {
	names    map[string]nameEnt
	freeHint uint64 // blocks before it have no room for an entry of hintNeed bytes or more
	hintNeed int
}

type nameEnt struct {
	ino Ino
	ft  uint8
}

const maxCachedNames = 1 << 18

func (fs *FS) dirCacheFor(dir *inode) (*dirCache, error) {
	if c := fs.dcache[dir.ino]; c != nil {
		return c, nil
	}
	if dir.flags()&extfmt.FlagInline != 0 {
		return nil, nil
	}
	c := &dirCache{names: map[string]nameEnt{}}
	err := fs.scanDir(dir, 0, func(d dirent, _, _ uint64) bool {
		c.names[string(d.name)] = nameEnt{d.ino, d.ftype}
		return true
	})
	if err != nil {
		return nil, err
	}
	fs.dcacheNames += len(c.names)
	fs.dcache[dir.ino] = c
	return c, nil
}

func (fs *FS) lookup(dir *inode, name string) (Ino, uint8, error) {
	if len(name) > 255 {
		return 0, 0, syscall.ENAMETOOLONG
	}
	if !dir.isDir() {
		return 0, 0, syscall.ENOTDIR
	}
	if c, err := fs.dirCacheFor(dir); err != nil {
		return 0, 0, err
	} else if c != nil {
		if e, ok := c.names[name]; ok {
			return e.ino, e.ft, nil
		}
		return 0, 0, syscall.ENOENT
	}
	var found Ino
	var ft uint8
	err := fs.scanDir(dir, 0, func(d dirent, _, _ uint64) bool {
		if string(d.name) == name {
			found, ft = d.ino, d.ftype
			return false
		}
		return true
	})
	if err != nil {
		return 0, 0, err
	}
	if found == 0 {
		return 0, 0, syscall.ENOENT
	}
	return found, ft, nil
}

// deindex turns an htree directory into a linear one: the index blocks become empty
// directory blocks (with checksum tails when metadata_csum is on).
func (fs *FS) deindex(in *inode) error {
	b0, p0, err := fs.dirBlock(in, 0)
	if err != nil {
		return err
	}
	n, err := fs.dirNBlocks(in)
	if err != nil {
		return err
	}
	var nodes []uint64
	levels := int(b0[extfmt.DxRootLevelsOff])
	if levels > 2 {
		return corrupt("directory inode %d: htree depth %d", in.ino, levels)
	}
	var walk func(b []byte, at int, level int) error
	walk = func(b []byte, at int, level int) error {
		if at+8 > len(b) {
			return corrupt("directory inode %d: bad htree node", in.ino)
		}
		limit, count := int(le.Uint16(b[at:])), int(le.Uint16(b[at+2:]))
		if count > limit || at+8*limit > len(b) {
			return corrupt("directory inode %d: bad htree count/limit", in.ino)
		}
		if level == 0 {
			return nil
		}
		for i := 0; i < count; i++ {
			lb := uint64(le.Uint32(b[at+8*i+4:])) & 0x0FFFFFFF
			if lb >= n || lb == 0 {
				return corrupt("directory inode %d: htree points to block %d", in.ino, lb)
			}
			nodes = append(nodes, lb)
			if len(nodes) > int(n) {
				return corrupt("directory inode %d: htree loops", in.ino)
			}
			cb, _, err := fs.dirBlock(in, lb)
			if err != nil {
				return err
			}
			if err := walk(cb, extfmt.DxNodeEntriesOff, level-1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(b0, extfmt.DxRootEntriesOff, levels); err != nil {
		return err
	}
	tail := 0
	if fs.csum {
		tail = extfmt.DirTailSize
	}
	putTail := func(b []byte) {
		if tail > 0 {
			extfmt.PutDirTail(b)
		}
	}
	for _, lb := range nodes {
		b, p, err := fs.dirBlock(in, lb)
		if err != nil {
			return err
		}
		for i := range b {
			b[i] = 0
		}
		fs.putRecLen(b, 0, len(b)-tail)
		putTail(b)
		fs.dirCsum(in, b)
		fs.bdirty(p)
	}
	for i := 24; i < len(b0); i++ {
		b0[i] = 0
	}
	fs.putRecLen(b0, 12, len(b0)-12-tail)
	putTail(b0)
	fs.dirCsum(in, b0)
	fs.bdirty(p0)
	in.setFlags(in.flags() &^ extfmt.FlagIndex)
	return fs.iput(in)
}

func (fs *FS) direntSize(nameLen int) int { return extfmt.DirentSize(nameLen) }

func (fs *FS) putDirent(b []byte, off, rl int, ino Ino, name string, ft uint8) {
	extfmt.PutDirent(b, off, rl, uint32(ino), name, ft, fs.incompat&extfmt.IncompatFiletype != 0)
}

// addEntry links name to ino in dir (the name must not exist yet).
func (fs *FS) addEntry(dir *inode, name string, ino Ino, ft uint8) error {
	if err := fs.uninline(dir); err != nil {
		return err
	}
	if dir.flags()&extfmt.FlagIndex != 0 {
		if err := fs.deindex(dir); err != nil {
			return err
		}
	}
	need := fs.direntSize(len(name))
	n, err := fs.dirNBlocks(dir)
	if err != nil {
		return err
	}
	c, err := fs.dirCacheFor(dir)
	if err != nil {
		return err
	}
	start := uint64(0)
	if c != nil {
		c.names[name] = nameEnt{ino, ft}
		fs.dcacheNames++
		if need >= c.hintNeed {
			start = c.freeHint
		} else {
			c.freeHint, c.hintNeed = 0, need
		}
	}
	contiguousFull := true
	for lb := start; lb < n; lb++ {
		b, p, err := fs.dirBlock(dir, lb)
		if err != nil {
			return err
		}
		end := len(b)
		if fs.hasTail(b) {
			end -= extfmt.DirTailSize
		}
		maxFree := 0
		for off := 0; off < end; {
			d, err := fs.parseDirent(b[:end], off)
			if err != nil {
				return err
			}
			used := 0
			if d.ino != 0 {
				used = fs.direntSize(len(d.name))
			}
			maxFree = max(maxFree, d.recLen-used)
			if d.recLen-used >= need {
				if used == 0 {
					fs.putDirent(b, off, d.recLen, ino, name, ft)
				} else {
					fs.putRecLen(b, off, used)
					fs.putDirent(b, off+used, d.recLen-used, ino, name, ft)
				}
				fs.dirCsum(dir, b)
				fs.bdirty(p)
				return nil
			}
			off += d.recLen
		}
		if contiguousFull && maxFree < need && c != nil {
			c.freeHint, c.hintNeed = lb+1, need
		} else {
			contiguousFull = false
		}
	}
	// append a block
	goal := uint64(0)
	if n > 0 {
		goal, _, _, _ = fs.mapBlock(dir, n-1)
	}
	if goal == 0 {
		goal = fs.gdInodeTable((uint32(dir.ino) - 1) / fs.ipg)
	}
	p, err := fs.mapNewBlock(dir, n, goal)
	if err != nil {
		return err
	}
	b := fs.bnew(p)
	fs.initDirBlock(b)
	fs.putDirent(b, 0, fs.recLen(b, 0), ino, name, ft)
	fs.dirCsum(dir, b)
	dir.setSize(dir.size() + uint64(fs.bs))
	return fs.iput(dir)
}

// initDirBlock makes b an empty directory block (one free entry plus the checksum tail).
func (fs *FS) initDirBlock(b []byte) {
	tail := 0
	if fs.csum {
		tail = extfmt.DirTailSize
		extfmt.PutDirTail(b)
	}
	fs.putRecLen(b, 0, len(b)-tail)
}

// mapNewBlock allocates a block for logical block lblk of a directory or symlink.
func (fs *FS) mapNewBlock(in *inode, lblk, goal uint64) (uint64, error) {
	p, _, err := fs.allocBlocks(goal, 1)
	if err != nil {
		return 0, err
	}
	if err := fs.setMapping(in, lblk, p, 1); err != nil {
		fs.freeBlocks(p, 1)
		return 0, err
	}
	fs.addBlocks(in, 1)
	return p, nil
}

// setMapping maps n logical blocks from lblk to fresh physical blocks from pblk.
func (fs *FS) setMapping(in *inode, lblk, pblk, n uint64) error {
	if in.flags()&extfmt.FlagExtents != 0 {
		if err := fs.loadExtents(in); err != nil {
			return err
		}
		if lblk+n > 1<<32-1 {
			return syscall.EFBIG
		}
		old := in.ext
		in.ext = setExtent(append([]extent(nil), old...), lblk, n, pblk)
		if err := fs.storeExtents(in); err != nil {
			in.ext = old
			return err
		}
		return nil
	}
	for i := uint64(0); i < n; i++ {
		if err := fs.indSet(in, lblk+i, pblk+i); err != nil {
			return err
		}
	}
	return nil
}

// removeEntry unlinks name from dir and returns the inode it named.
func (fs *FS) removeEntry(dir *inode, name string) (Ino, error) {
	if err := fs.uninline(dir); err != nil {
		return 0, err
	}
	if dir.flags()&extfmt.FlagIndex != 0 {
		if err := fs.deindex(dir); err != nil {
			return 0, err
		}
	}
	n, err := fs.dirNBlocks(dir)
	if err != nil {
		return 0, err
	}
	for lb := uint64(0); lb < n; lb++ {
		b, p, err := fs.dirBlock(dir, lb)
		if err != nil {
			return 0, err
		}
		prev := -1
		for off := 0; off < len(b); {
			d, err := fs.parseDirent(b, off)
			if err != nil {
				return 0, err
			}
			if d.ino != 0 && string(d.name) == name {
				if c := fs.dcache[dir.ino]; c != nil {
					delete(c.names, name)
					c.freeHint = min(c.freeHint, lb)
				}
				if prev >= 0 {
					fs.putRecLen(b, prev, fs.recLen(b, prev)+d.recLen)
				} else {
					le.PutUint32(b[off:], 0)
				}
				fs.dirCsum(dir, b)
				fs.bdirty(p)
				return d.ino, nil
			}
			prev = off
			off += d.recLen
		}
	}
	return 0, syscall.ENOENT
}

// setEntryIno repoints an existing name to another inode (rename over, "..").
func (fs *FS) setEntryIno(dir *inode, name string, ino Ino, ft uint8) error {
	if err := fs.uninline(dir); err != nil {
		return err
	}
	n, err := fs.dirNBlocks(dir)
	if err != nil {
		return err
	}
	for lb := uint64(0); lb < n; lb++ {
		b, p, err := fs.dirBlock(dir, lb)
		if err != nil {
			return err
		}
		for off := 0; off < len(b); {
			d, err := fs.parseDirent(b, off)
			if err != nil {
				return err
			}
			if d.ino != 0 && string(d.name) == name {
				if c := fs.dcache[dir.ino]; c != nil {
					c.names[name] = nameEnt{ino, ft}
				}
				le.PutUint32(b[off:], uint32(ino))
				if fs.incompat&extfmt.IncompatFiletype != 0 {
					b[off+7] = ft
				}
				fs.dirCsum(dir, b)
				fs.bdirty(p)
				return nil
			}
			off += d.recLen
		}
	}
	return syscall.ENOENT
}

// dirEmpty reports whether dir holds only "." and "..".
func (fs *FS) dirEmpty(dir *inode) (bool, error) {
	empty := true
	err := fs.scanDir(dir, 0, func(d dirent, _, _ uint64) bool {
		if s := string(d.name); s != "." && s != ".." {
			empty = false
			return false
		}
		return true
	})
	return empty, err
}
