package ext4

import (
	"sort"
	"sync"
	"syscall"
	"time"
)

// feature flags (superblock s_feature_*)
const (
	compatHasJournal = 0x4
	compatExtAttr    = 0x8
	compatResizeIno  = 0x10
	compatDirIndex   = 0x20
	compatSparse2    = 0x200

	incompatFiletype   = 0x2
	incompatRecover    = 0x4
	incompatJournalDev = 0x8
	incompatMetaBG     = 0x10
	incompatExtents    = 0x40
	incompat64bit      = 0x80
	incompatMMP        = 0x100
	incompatFlexBG     = 0x200
	incompatCsumSeed   = 0x2000
	incompatLargedir   = 0x4000
	incompatInline     = 0x8000

	rocompatSparse    = 0x1
	rocompatLargeFile = 0x2
	rocompatBtreeDir  = 0x4
	rocompatHugeFile  = 0x8
	rocompatGdtCsum   = 0x10
	rocompatDirNlink  = 0x20
	rocompatExtraIsz  = 0x40
	rocompatCsum      = 0x400
	rocompatOrphanPr  = 0x10000
)

const supportedIncompat = incompatFiletype | incompatRecover | incompatMetaBG | incompatExtents |
	incompat64bit | incompatFlexBG | incompatCsumSeed | incompatLargedir | incompatInline | incompatMMP

// read-only compat features whose on-disk structures we keep consistent when writing
const writableRocompat = rocompatSparse | rocompatLargeFile | rocompatBtreeDir | rocompatHugeFile |
	rocompatGdtCsum | rocompatDirNlink | rocompatExtraIsz | rocompatCsum

// group descriptor flags
const (
	bgInodeUninit = 1
	bgBlockUninit = 2
)

// Options tune Mount.
type Options struct {
	// ReadOnly mounts without writing anything to the device.
	ReadOnly bool
	// NoLoad skips journal replay (like mount -o noload); only allowed with ReadOnly, and
	// the file system is then read as it is on disk, without the journal's changes.
	NoLoad bool
	// CacheBlocks bounds the metadata block cache (default 8192 blocks).
	CacheBlocks int
	// CacheInodes bounds the inode cache (default 16384 inodes).
	CacheInodes int

	skipChecksums bool // fuzzing: verify no checksums, to reach the structures behind them
}

// FS is a mounted file system.
type FS struct {
	mu  sync.Mutex
	dev Device
	ro  bool

	sb        []byte // primary superblock (1024 bytes)
	sbDirty   bool
	bs        int64 // block size
	blocks    uint64
	firstData uint64
	bpg       uint32 // blocks per group
	ipg       uint32 // inodes per group
	inodes    uint32
	isize     int // on-disk inode size
	dsize     int // group descriptor size
	groups    uint32
	firstIno  uint32
	compat    uint32
	incompat  uint32
	rocompat  uint32
	csum      bool   // metadata_csum
	gdtCsum   bool   // uninit_bg (crc16 descriptors)
	seed      uint32 // metadata_csum seed
	gdtBlocks uint64
	resGdt    uint64
	gdt       []byte // all group descriptors
	gdDirty   map[uint32]bool
	gdtBlock0 uint64 // first primary descriptor block (non-meta_bg layout)

	cache       map[uint64]*cblock
	cacheMax    int
	icache      map[Ino]*inode
	icacheMax   int
	open        map[Ino]int
	orphans     map[Ino]bool // nlink 0 but still open
	allocGoal   uint32       // group where the last inode was allocated
	unmounted   bool
	skipCsum    bool
	dcache      map[Ino]*dirCache
	dcacheNames int
	ra          map[Ino]*readAhead
	pendingFree map[uint32][]byte // blocks freed since the last sync, per group
}

type cblock struct {
	b        []byte
	dirty    bool
	verified bool // its checksum was checked when it was read
}

// verifyOnce runs check on cached block n the first time it is used after being read from
// the device (blocks we wrote ourselves are trusted).
func (fs *FS) verifyOnce(n uint64, check func() error) error {
	c := fs.cache[n]
	if c == nil || c.verified || c.dirty || !fs.csum || fs.skipCsum {
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	c.verified = true
	return nil
}

// Mount reads the file system on dev. Unless opts.ReadOnly, it replays the journal if the
// superblock says it needs recovery and marks the file system not-clean until Unmount.
func Mount(dev Device, opts Options) (*FS, error) {
	fs := &FS{dev: dev, ro: opts.ReadOnly, gdDirty: map[uint32]bool{}, cache: map[uint64]*cblock{},
		icache: map[Ino]*inode{}, open: map[Ino]int{}, orphans: map[Ino]bool{}, dcache: map[Ino]*dirCache{}, ra: map[Ino]*readAhead{},
		pendingFree: map[uint32][]byte{}}
	fs.skipCsum = opts.skipChecksums
	fs.cacheMax = opts.CacheBlocks
	if fs.cacheMax <= 0 {
		fs.cacheMax = 8192
	}
	fs.icacheMax = opts.CacheInodes
	if fs.icacheMax <= 0 {
		fs.icacheMax = 16384
	}
	if opts.NoLoad && !opts.ReadOnly {
		return nil, &Error{syscall.EINVAL, "NoLoad needs ReadOnly"}
	}
	if err := fs.loadSuper(); err != nil {
		return nil, err
	}
	if fs.incompat&incompatRecover != 0 && fs.compat&compatHasJournal != 0 {
		if opts.ReadOnly && !opts.NoLoad {
			return nil, &Error{syscall.EROFS, "file system needs journal recovery, which a read-only mount cannot do (use NoLoad to ignore the journal)"}
		}
		if !opts.ReadOnly {
			if err := fs.replayJournal(); err != nil {
				return nil, err
			}
			// The journal may have rewritten the superblock and descriptors.
			fs.cache = map[uint64]*cblock{}
			fs.icache = map[Ino]*inode{}
			if err := fs.loadSuper(); err != nil {
				return nil, err
			}
			fs.incompat &^= incompatRecover
			le.PutUint32(fs.sb[0x60:], fs.incompat)
			fs.sbDirty = true
		}
	}
	if !fs.ro {
		if fs.incompat&incompatMetaBG != 0 || fs.incompat&incompatMMP != 0 || fs.rocompat&^writableRocompat != 0 {
			return nil, &Error{syscall.EROFS, "file system has features this driver cannot keep consistent when writing (meta_bg, mmp or an unknown ro_compat feature); mount it read-only"}
		}
		if fs.compat&compatHasJournal != 0 && fs.incompat&incompatRecover == 0 {
			// Writes are not journaled: the journal must stay empty, which it is once replayed.
		}
		st := le.Uint16(fs.sb[0x3A:])
		le.PutUint16(fs.sb[0x3A:], st&^1) // not clean while mounted
		le.PutUint16(fs.sb[0x34:], le.Uint16(fs.sb[0x34:])+1)
		le.PutUint32(fs.sb[0x2C:], uint32(time.Now().Unix()))
		fs.sbDirty = true
		if err := fs.flush(true); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

func (fs *FS) loadSuper() error {
	sb := make([]byte, 1024)
	if fs.dev.Size() < 2048 {
		return corrupt("device too small (%d bytes) for an ext2/3/4 superblock", fs.dev.Size())
	}
	if _, err := fs.dev.ReadAt(sb, 1024); err != nil {
		return ioErr("reading superblock: %v", err)
	}
	if le.Uint16(sb[0x38:]) != 0xEF53 {
		return corrupt("no ext2/3/4 superblock (bad magic %#x)", le.Uint16(sb[0x38:]))
	}
	fs.sb = sb
	fs.compat = le.Uint32(sb[0x5C:])
	fs.incompat = le.Uint32(sb[0x60:])
	fs.rocompat = le.Uint32(sb[0x64:])
	if le.Uint32(sb[0x4C:]) == 0 { // good old revision
		fs.compat, fs.incompat, fs.rocompat = 0, 0, 0
	}
	fs.csum = fs.rocompat&rocompatCsum != 0
	fs.gdtCsum = !fs.csum && fs.rocompat&rocompatGdtCsum != 0
	if fs.csum {
		if sb[0x175] != 1 {
			return corrupt("unknown metadata checksum type %d", sb[0x175])
		}
		if want, got := crc32c(^uint32(0), sb[:0x3FC]), le.Uint32(sb[0x3FC:]); want != got && !fs.skipCsum {
			return corrupt("superblock checksum %#x does not match its contents (%#x)", got, want)
		}
		if fs.incompat&incompatCsumSeed != 0 {
			fs.seed = le.Uint32(sb[0x270:])
		} else {
			fs.seed = crc32c(^uint32(0), sb[0x68:0x78])
		}
	}
	if un := fs.incompat &^ supportedIncompat; un != 0 {
		return &Error{syscall.EINVAL, "unsupported incompatible features " + hex(un)}
	}
	if fs.incompat&incompatJournalDev != 0 {
		return &Error{syscall.EINVAL, "this is an external journal device, not a file system"}
	}
	lbs := le.Uint32(sb[0x18:])
	if lbs > 6 {
		return corrupt("block size 1024<<%d out of range", lbs)
	}
	fs.bs = 1024 << lbs
	if le.Uint32(sb[0x1C:]) != lbs && fs.rocompat&0x200 == 0 {
		return corrupt("cluster size differs from block size without bigalloc")
	}
	if fs.rocompat&0x200 != 0 {
		return &Error{syscall.EINVAL, "bigalloc is not supported"}
	}
	fs.blocks = uint64(le.Uint32(sb[0x4:]))
	if fs.incompat&incompat64bit != 0 {
		fs.blocks |= uint64(le.Uint32(sb[0x150:])) << 32
	}
	fs.firstData = uint64(le.Uint32(sb[0x14:]))
	fs.bpg = le.Uint32(sb[0x20:])
	fs.ipg = le.Uint32(sb[0x28:])
	fs.inodes = le.Uint32(sb[0x0:])
	fs.isize = 128
	fs.firstIno = 11
	if le.Uint32(sb[0x4C:]) >= 1 {
		fs.isize = int(le.Uint16(sb[0x58:]))
		fs.firstIno = le.Uint32(sb[0x54:])
	}
	fs.dsize = 32
	if fs.incompat&incompat64bit != 0 {
		fs.dsize = int(le.Uint16(sb[0xFE:]))
		if fs.dsize < 64 || fs.dsize > 1024 || fs.dsize&(fs.dsize-1) != 0 {
			return corrupt("group descriptor size %d invalid", fs.dsize)
		}
	}
	devBlocks := uint64(fs.dev.Size()) / uint64(fs.bs)
	switch {
	case fs.blocks == 0 || fs.blocks > devBlocks:
		return corrupt("block count %d does not fit the %d-byte device", fs.blocks, fs.dev.Size())
	case fs.isize < 128 || fs.isize > int(fs.bs) || fs.isize&(fs.isize-1) != 0:
		return corrupt("inode size %d invalid", fs.isize)
	case fs.bpg == 0 || uint64(fs.bpg) > uint64(fs.bs)*8 || fs.bpg%8 != 0:
		return corrupt("blocks per group %d invalid", fs.bpg)
	case fs.ipg == 0 || uint64(fs.ipg) > uint64(fs.bs)*8 || fs.ipg%8 != 0:
		return corrupt("inodes per group %d invalid", fs.ipg)
	case fs.firstData >= fs.blocks || (fs.bs == 1024) != (fs.firstData == 1):
		return corrupt("first data block %d invalid for block size %d", fs.firstData, fs.bs)
	case fs.firstIno < 11 || fs.firstIno >= fs.inodes:
		return corrupt("first inode %d invalid", fs.firstIno)
	}
	g := (fs.blocks - fs.firstData + uint64(fs.bpg) - 1) / uint64(fs.bpg)
	if g == 0 || g > 1<<32-1 || uint64(fs.inodes) != g*uint64(fs.ipg) {
		return corrupt("inode count %d is not groups (%d) times inodes per group (%d)", fs.inodes, g, fs.ipg)
	}
	fs.groups = uint32(g)
	dpb := uint64(fs.bs) / uint64(fs.dsize)
	fs.gdtBlocks = (g + dpb - 1) / dpb
	fs.resGdt = uint64(le.Uint16(sb[0xCE:]))
	fs.gdtBlock0 = fs.firstData + 1
	if fs.gdtBlock0+fs.gdtBlocks > fs.blocks {
		return corrupt("group descriptors do not fit in the file system")
	}
	fs.gdt = make([]byte, g*uint64(fs.dsize))
	for i := uint64(0); i < fs.gdtBlocks; i++ {
		blk, err := fs.gdtBlockLoc(i)
		if err != nil {
			return err
		}
		buf := make([]byte, fs.bs)
		if _, err := fs.dev.ReadAt(buf, int64(blk)*fs.bs); err != nil {
			return ioErr("reading group descriptors at block %d: %v", blk, err)
		}
		copy(fs.gdt[i*uint64(fs.bs):], buf)
	}
	itBlocks := (uint64(fs.ipg)*uint64(fs.isize) + uint64(fs.bs) - 1) / uint64(fs.bs)
	for i := uint32(0); i < fs.groups; i++ {
		bb, ib, it := fs.gdBlockBitmap(i), fs.gdInodeBitmap(i), fs.gdInodeTable(i)
		if bb < fs.firstData || bb >= fs.blocks || ib < fs.firstData || ib >= fs.blocks ||
			it < fs.firstData || it+itBlocks > fs.blocks {
			return corrupt("group %d: bitmap or inode table location out of range (%d, %d, %d)", i, bb, ib, it)
		}
		if (fs.csum || fs.gdtCsum) && !fs.skipCsum {
			if want, got := fs.gdChecksum(i), le.Uint16(fs.gd(i)[0x1E:]); want != got {
				return corrupt("group %d descriptor checksum %#x does not match its contents (%#x)", i, got, want)
			}
		}
	}
	return nil
}

func hex(v uint32) string { return "0x" + uitoa(uint64(v), 16) }

func uitoa(v uint64, base uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{digits[v%base]}, b...)
		v /= base
	}
	return string(b)
}

func (fs *FS) hasSuper(g uint64) bool {
	if g <= 1 {
		return true
	}
	if fs.compat&compatSparse2 != 0 {
		return g == uint64(le.Uint32(fs.sb[0x24C:])) || g == uint64(le.Uint32(fs.sb[0x250:]))
	}
	if fs.rocompat&rocompatSparse == 0 {
		return true
	}
	for _, b := range []uint64{3, 5, 7} {
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

// gdtBlockLoc is the block holding descriptor block i (meta_bg aware).
func (fs *FS) gdtBlockLoc(i uint64) (uint64, error) {
	if fs.incompat&incompatMetaBG == 0 || i < uint64(le.Uint32(fs.sb[0x104:])) {
		return fs.gdtBlock0 + i, nil
	}
	dpb := uint64(fs.bs) / uint64(fs.dsize)
	grp := i * dpb
	blk := fs.firstData + grp*uint64(fs.bpg)
	if fs.hasSuper(grp) {
		blk++
	}
	if blk >= fs.blocks {
		return 0, corrupt("meta_bg descriptor block %d beyond the end", blk)
	}
	return blk, nil
}

func (fs *FS) gd(g uint32) []byte { return fs.gdt[uint64(g)*uint64(fs.dsize):][:fs.dsize] }

func (fs *FS) gd64(g uint32, lo, hi int, hiSize int) uint64 {
	d := fs.gd(g)
	var v uint64
	if hiSize == 4 {
		v = uint64(le.Uint32(d[lo:]))
		if fs.dsize >= 64 {
			v |= uint64(le.Uint32(d[hi:])) << 32
		}
	} else {
		v = uint64(le.Uint16(d[lo:]))
		if fs.dsize >= 64 {
			v |= uint64(le.Uint16(d[hi:])) << 16
		}
	}
	return v
}

func (fs *FS) setGd64(g uint32, lo, hi int, hiSize int, v uint64) {
	d := fs.gd(g)
	if hiSize == 4 {
		le.PutUint32(d[lo:], uint32(v))
		if fs.dsize >= 64 {
			le.PutUint32(d[hi:], uint32(v>>32))
		}
	} else {
		le.PutUint16(d[lo:], uint16(v))
		if fs.dsize >= 64 {
			le.PutUint16(d[hi:], uint16(v>>16))
		}
	}
	fs.gdDirty[g] = true
}

func (fs *FS) gdBlockBitmap(g uint32) uint64 { return fs.gd64(g, 0x0, 0x20, 4) }
func (fs *FS) gdInodeBitmap(g uint32) uint64 { return fs.gd64(g, 0x4, 0x24, 4) }
func (fs *FS) gdInodeTable(g uint32) uint64  { return fs.gd64(g, 0x8, 0x28, 4) }
func (fs *FS) gdFreeBlocks(g uint32) uint64  { return fs.gd64(g, 0xC, 0x2C, 2) }
func (fs *FS) gdFreeInodes(g uint32) uint64  { return fs.gd64(g, 0xE, 0x2E, 2) }
func (fs *FS) gdUsedDirs(g uint32) uint64    { return fs.gd64(g, 0x10, 0x30, 2) }
func (fs *FS) gdItableUnused(g uint32) uint64 {
	return fs.gd64(g, 0x1C, 0x32, 2)
}
func (fs *FS) gdFlags(g uint32) uint16 { return le.Uint16(fs.gd(g)[0x12:]) }
func (fs *FS) setGdFlags(g uint32, f uint16) {
	le.PutUint16(fs.gd(g)[0x12:], f)
	fs.gdDirty[g] = true
}

func (fs *FS) gdChecksum(g uint32) uint16 {
	d := fs.gd(g)
	if fs.csum {
		c := crc32cU32(fs.seed, g)
		c = crc32c(c, d[:0x1E])
		c = crc32c(c, []byte{0, 0})
		c = crc32c(c, d[0x20:])
		return uint16(c)
	}
	if fs.gdtCsum {
		c := crc16(0xFFFF, fs.sb[0x68:0x78])
		var b [4]byte
		le.PutUint32(b[:], g)
		c = crc16(c, b[:])
		c = crc16(c, d[:0x1E])
		if fs.dsize > 0x20 && fs.incompat&incompat64bit != 0 {
			c = crc16(c, d[0x20:])
		}
		return c
	}
	return 0
}

func (fs *FS) sbFreeBlocks() uint64 {
	v := uint64(le.Uint32(fs.sb[0xC:]))
	if fs.incompat&incompat64bit != 0 {
		v |= uint64(le.Uint32(fs.sb[0x158:])) << 32
	}
	return v
}

func (fs *FS) setSbFreeBlocks(v uint64) {
	le.PutUint32(fs.sb[0xC:], uint32(v))
	if fs.incompat&incompat64bit != 0 {
		le.PutUint32(fs.sb[0x158:], uint32(v>>32))
	}
	fs.sbDirty = true
}

func (fs *FS) reservedBlocks() uint64 {
	v := uint64(le.Uint32(fs.sb[0x8:]))
	if fs.incompat&incompat64bit != 0 {
		v |= uint64(le.Uint32(fs.sb[0x154:])) << 32
	}
	return v
}

// --- block cache ---

func (fs *FS) checkBlock(n uint64, what string) error {
	if n < fs.firstData || n >= fs.blocks {
		return corrupt("%s block %d outside the file system (%d blocks)", what, n, fs.blocks)
	}
	return nil
}

// bread returns the cached contents of metadata block n. The slice stays valid until the
// end of the current operation (the cache is trimmed only between operations).
func (fs *FS) bread(n uint64) ([]byte, error) {
	if c := fs.cache[n]; c != nil {
		return c.b, nil
	}
	if n >= fs.blocks {
		return nil, corrupt("block %d outside the file system (%d blocks)", n, fs.blocks)
	}
	b := make([]byte, fs.bs)
	if _, err := fs.dev.ReadAt(b, int64(n)*fs.bs); err != nil {
		return nil, ioErr("reading block %d: %v", n, err)
	}
	fs.cache[n] = &cblock{b: b}
	return b, nil
}

// bnew returns a zeroed, dirty cache buffer for block n without reading it.
func (fs *FS) bnew(n uint64) []byte {
	b := make([]byte, fs.bs)
	fs.cache[n] = &cblock{b: b, dirty: true}
	return b
}

func (fs *FS) bdirty(n uint64) {
	if c := fs.cache[n]; c != nil {
		c.dirty = true
	}
}

// bforget drops block n from the cache (it was freed: a stale dirty copy must never be
// written over whatever the block holds next).
func (fs *FS) bforget(n uint64) { delete(fs.cache, n) }

// flush writes dirty metadata: blocks in order, then group descriptors, then the superblock.
func (fs *FS) flush(sync bool) error {
	if fs.ro {
		return nil
	}
	var dirty []uint64
	for n, c := range fs.cache {
		if c.dirty {
			dirty = append(dirty, n)
		}
	}
	sort.Slice(dirty, func(i, j int) bool { return dirty[i] < dirty[j] })
	if sync && (len(dirty) > 0 || len(fs.gdDirty) > 0 || fs.sbDirty) {
		// ordered: file data (written straight to the device) is durable before the
		// metadata that points at it
		if err := fs.dev.Sync(); err != nil {
			return ioErr("sync: %v", err)
		}
	}
	for _, n := range dirty {
		c := fs.cache[n]
		if _, err := fs.dev.WriteAt(c.b, int64(n)*fs.bs); err != nil {
			return ioErr("writing block %d: %v", n, err)
		}
		c.dirty = false
	}
	if len(fs.gdDirty) > 0 {
		dpb := uint64(fs.bs) / uint64(fs.dsize)
		blocks := map[uint64]bool{}
		for g := range fs.gdDirty {
			if fs.csum || fs.gdtCsum {
				le.PutUint16(fs.gd(g)[0x1E:], fs.gdChecksum(g))
			}
			blocks[uint64(g)/dpb] = true
		}
		for i := range blocks {
			blk, err := fs.gdtBlockLoc(i)
			if err != nil {
				return err
			}
			buf := make([]byte, fs.bs)
			copy(buf, fs.gdt[i*uint64(fs.bs):])
			if _, err := fs.dev.WriteAt(buf, int64(blk)*fs.bs); err != nil {
				return ioErr("writing group descriptors: %v", err)
			}
		}
		fs.gdDirty = map[uint32]bool{}
	}
	if fs.sbDirty {
		le.PutUint32(fs.sb[0x30:], uint32(time.Now().Unix()))
		if fs.csum {
			le.PutUint32(fs.sb[0x3FC:], crc32c(^uint32(0), fs.sb[:0x3FC]))
		}
		if _, err := fs.dev.WriteAt(fs.sb, 1024); err != nil {
			return ioErr("writing superblock: %v", err)
		}
		fs.sbDirty = false
	}
	if sync {
		if err := fs.dev.Sync(); err != nil {
			return ioErr("sync: %v", err)
		}
		fs.pendingFree = map[uint32][]byte{}
	}
	return nil
}

// trim bounds the caches; called at the end of every operation.
func (fs *FS) trim() error {
	if fs.dcacheNames > maxCachedNames {
		fs.dcache = map[Ino]*dirCache{}
		fs.dcacheNames = 0
	}
	if len(fs.icache) > fs.icacheMax {
		fs.icache = map[Ino]*inode{}
	}
	if len(fs.cache) > fs.cacheMax {
		if err := fs.flush(false); err != nil {
			return err
		}
		fs.cache = map[uint64]*cblock{}
	}
	return nil
}

// Sync writes all cached changes to the device and syncs it.
func (fs *FS) Sync() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.unmounted {
		return syscall.EIO
	}
	return fs.flush(true)
}

// Unmount frees inodes unlinked while open, writes everything, marks the file system clean
// and syncs the device. The FS must not be used afterwards.
func (fs *FS) Unmount() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.unmounted {
		return nil
	}
	if !fs.ro {
		for ino := range fs.orphans {
			in, err := fs.iget(ino)
			if err == nil {
				err = fs.freeInode(in)
			}
			if err != nil {
				return err
			}
		}
		fs.orphans = map[Ino]bool{}
		le.PutUint16(fs.sb[0x3A:], le.Uint16(fs.sb[0x3A:])|1)
		fs.sbDirty = true
		if err := fs.flush(true); err != nil {
			return err
		}
	}
	fs.unmounted = true
	return nil
}

// Statfs describes the file system as statfs(2) does.
type Statfs struct {
	Bsize   int64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Namelen int64
	Fsid    [2]uint32
}

// Statfs returns block and inode counts.
func (fs *FS) Statfs() (Statfs, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	free := fs.sbFreeBlocks()
	res := fs.reservedBlocks()
	avail := uint64(0)
	if free > res {
		avail = free - res
	}
	var st Statfs
	st.Bsize = fs.bs
	st.Blocks = fs.blocks - fs.firstData
	st.Bfree = free
	st.Bavail = avail
	st.Files = uint64(fs.inodes)
	st.Ffree = uint64(le.Uint32(fs.sb[0x10:]))
	st.Namelen = 255
	u := fs.sb[0x68:0x78]
	st.Fsid[0] = le.Uint32(u[0:]) ^ le.Uint32(u[4:])
	st.Fsid[1] = le.Uint32(u[8:]) ^ le.Uint32(u[12:])
	return st, nil
}

// BlockSize is the file system's block size in bytes.
func (fs *FS) BlockSize() int64 { return fs.bs }
