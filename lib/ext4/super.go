package ext4

import (
	"sort"

	"sync"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

const supportedIncompat = extfmt.IncompatFiletype | extfmt.IncompatRecover | extfmt.IncompatMetaBG | extfmt.IncompatExtents |
	extfmt.Incompat64bit | extfmt.IncompatFlexBG | extfmt.IncompatCsumSeed | extfmt.IncompatLargedir | extfmt.IncompatInlineData | extfmt.IncompatMMP

// read-only compat features whose on-disk structures we keep consistent when writing
const writableRocompat = extfmt.RoCompatSparseSuper | extfmt.RoCompatLargeFile | extfmt.RoCompatBtreeDir | extfmt.RoCompatHugeFile |
	extfmt.RoCompatGdtCsum | extfmt.RoCompatDirNlink | extfmt.RoCompatExtraIsize | extfmt.RoCompatMetadataCsum

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

	sb        []byte            // primary superblock as read (1024 bytes)
	super     extfmt.Superblock // its decoded fields; encoded back into sb when written
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
	if fs.incompat&extfmt.IncompatRecover != 0 && fs.compat&extfmt.CompatHasJournal != 0 {
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
			fs.incompat &^= extfmt.IncompatRecover
			fs.super.FeatureIncompat &^= extfmt.IncompatRecover
			fs.sbDirty = true
		}
	}
	if !fs.ro {
		if fs.incompat&extfmt.IncompatMetaBG != 0 || fs.incompat&extfmt.IncompatMMP != 0 || fs.rocompat&^writableRocompat != 0 {
			return nil, &Error{syscall.EROFS, "file system has features this driver cannot keep consistent when writing (meta_bg, mmp or an unknown ro_compat feature); mount it read-only"}
		}
		if fs.compat&extfmt.CompatHasJournal != 0 && fs.incompat&extfmt.IncompatRecover == 0 {
			// Writes are not journaled: the journal must stay empty, which it is once replayed.
		}
		fs.super.State &^= extfmt.StateValid // not clean while mounted
		fs.super.MntCount++
		fs.super.Mtime = uint32(time.Now().Unix())
		fs.sbDirty = true
		if err := fs.flush(true); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

func (fs *FS) loadSuper() error {
	sb := make([]byte, extfmt.SuperblockSize)
	if fs.dev.Size() < 2048 {
		return corrupt("device too small (%d bytes) for an ext2/3/4 superblock", fs.dev.Size())
	}
	if _, err := fs.dev.ReadAt(sb, extfmt.SuperblockOffset); err != nil {
		return ioErr("reading superblock: %v", err)
	}
	s, err := extfmt.ParseSuperblock(sb)
	if err != nil {
		return corrupt("%v", err)
	}
	fs.sb, fs.super = sb, s
	fs.compat, fs.incompat, fs.rocompat = s.FeatureCompat, s.FeatureIncompat, s.FeatureRoCompat
	if s.RevLevel == 0 { // good old revision
		fs.compat, fs.incompat, fs.rocompat = 0, 0, 0
	}
	fs.csum = fs.rocompat&extfmt.RoCompatMetadataCsum != 0
	fs.gdtCsum = !fs.csum && fs.rocompat&extfmt.RoCompatGdtCsum != 0
	if fs.csum {
		if s.ChecksumType != extfmt.CsumTypeCrc32c {
			return corrupt("unknown metadata checksum type %d", s.ChecksumType)
		}
		if want, got := extfmt.SuperblockChecksum(sb), s.Checksum; want != got && !fs.skipCsum {
			return corrupt("superblock checksum %#x does not match its contents (%#x)", got, want)
		}
		fs.seed = s.MetadataCsumSeed()
	}
	if un := fs.incompat &^ supportedIncompat; un != 0 {
		return &Error{syscall.EINVAL, "unsupported incompatible features " + hex(un)}
	}
	if fs.incompat&extfmt.IncompatJournalDev != 0 {
		return &Error{syscall.EINVAL, "this is an external journal device, not a file system"}
	}
	fs.bs = s.BlockSize()
	if fs.bs == 0 {
		return corrupt("block size 1024<<%d out of range", s.LogBlockSize)
	}
	if s.LogClusterSize != s.LogBlockSize && fs.rocompat&extfmt.RoCompatBigalloc == 0 {
		return corrupt("cluster size differs from block size without bigalloc")
	}
	if fs.rocompat&extfmt.RoCompatBigalloc != 0 {
		return &Error{syscall.EINVAL, "bigalloc is not supported"}
	}
	fs.blocks = s.BlocksCount
	if fs.incompat&extfmt.Incompat64bit == 0 {
		fs.blocks &= 1<<32 - 1
	}
	fs.firstData = uint64(s.FirstDataBlock)
	fs.bpg = s.BlocksPerGroup
	fs.ipg = s.InodesPerGroup
	fs.inodes = s.InodesCount
	fs.isize = extfmt.GoodOldInodeSize
	fs.firstIno = extfmt.GoodOldFirstIno
	if s.RevLevel >= 1 {
		fs.isize = int(s.InodeSize)
		fs.firstIno = s.FirstIno
	}
	fs.dsize = extfmt.GroupDescSize
	if fs.incompat&extfmt.Incompat64bit != 0 {
		fs.dsize = int(s.DescSize)
		if fs.dsize < extfmt.GroupDescSize64 || fs.dsize > 1024 || fs.dsize&(fs.dsize-1) != 0 {
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
	fs.resGdt = uint64(s.ReservedGdtBlocks)
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
			if want, got := fs.gdChecksum(i), fs.gdesc(i).Checksum; want != got {
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
	if fs.compat&extfmt.CompatSparse2 != 0 {
		return g == uint64(fs.super.BackupBgs[0]) || g == uint64(fs.super.BackupBgs[1])
	}
	if fs.rocompat&extfmt.RoCompatSparseSuper == 0 {
		return true
	}
	return extfmt.HasSuperSparse(g)
}

// gdtBlockLoc is the block holding descriptor block i (meta_bg aware).
func (fs *FS) gdtBlockLoc(i uint64) (uint64, error) {
	if fs.incompat&extfmt.IncompatMetaBG == 0 || i < uint64(fs.super.FirstMetaBg) {
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

// gdesc decodes group g's descriptor (its size was checked at mount).
func (fs *FS) gdesc(g uint32) extfmt.GroupDesc {
	d, _ := extfmt.ParseGroupDesc(fs.gd(g))
	return d
}

// updateGd changes group g's descriptor through fn and marks it for writing.
func (fs *FS) updateGd(g uint32, fn func(d *extfmt.GroupDesc)) {
	d := fs.gdesc(g)
	fn(&d)
	d.MarshalTo(fs.gd(g))
	fs.gdDirty[g] = true
}

func (fs *FS) gdBlockBitmap(g uint32) uint64 { return fs.gdesc(g).BlockBitmap }
func (fs *FS) gdInodeBitmap(g uint32) uint64 { return fs.gdesc(g).InodeBitmap }
func (fs *FS) gdInodeTable(g uint32) uint64  { return fs.gdesc(g).InodeTable }
func (fs *FS) gdFreeBlocks(g uint32) uint64  { return uint64(fs.gdesc(g).FreeBlocks) }
func (fs *FS) gdFreeInodes(g uint32) uint64  { return uint64(fs.gdesc(g).FreeInodes) }
func (fs *FS) gdUsedDirs(g uint32) uint64    { return uint64(fs.gdesc(g).UsedDirs) }
func (fs *FS) gdItableUnused(g uint32) uint64 {
	return uint64(fs.gdesc(g).ItableUnused)
}
func (fs *FS) gdFlags(g uint32) uint16 { return fs.gdesc(g).Flags }
func (fs *FS) setGdFlags(g uint32, f uint16) {
	fs.updateGd(g, func(d *extfmt.GroupDesc) { d.Flags = f })
}

func (fs *FS) gdChecksum(g uint32) uint16 {
	switch {
	case fs.csum:
		return extfmt.GroupDescCsum(fs.seed, g, fs.gd(g))
	case fs.gdtCsum:
		return extfmt.GroupDescCsum16(fs.super.UUID, g, fs.gd(g), fs.incompat&extfmt.Incompat64bit != 0)
	}
	return 0
}

func (fs *FS) sbFreeBlocks() uint64 { return fs.super.FreeBlocksCount }

func (fs *FS) setSbFreeBlocks(v uint64) {
	fs.super.FreeBlocksCount = v
	fs.sbDirty = true
}

func (fs *FS) reservedBlocks() uint64 { return fs.super.RBlocksCount }

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
				d := fs.gdesc(g)
				d.Checksum = fs.gdChecksum(g)
				d.MarshalTo(fs.gd(g))
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
		fs.super.Wtime = uint32(time.Now().Unix())
		fs.super.MarshalTo(fs.sb)
		if fs.csum {
			extfmt.SetSuperblockChecksum(fs.sb)
		}
		if _, err := fs.dev.WriteAt(fs.sb, extfmt.SuperblockOffset); err != nil {
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
		fs.super.State |= extfmt.StateValid
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
	st.Ffree = uint64(fs.super.FreeInodesCount)
	st.Namelen = 255
	u := fs.super.UUID[:]
	st.Fsid[0] = le.Uint32(u[0:]) ^ le.Uint32(u[4:])
	st.Fsid[1] = le.Uint32(u[8:]) ^ le.Uint32(u[12:])
	return st, nil
}

// BlockSize is the file system's block size in bytes.
func (fs *FS) BlockSize() int64 { return fs.bs }

// Kind names the file system as Linux's mount table does when it was mounted by type
// "auto": ext4 when it uses any feature only ext4 has, ext3 when it has a journal, ext2
// otherwise.
func (fs *FS) Kind() string {
	const ext4Incompat = extfmt.IncompatExtents | extfmt.Incompat64bit | extfmt.IncompatFlexBG
	const ext4Rocompat = extfmt.RoCompatHugeFile | extfmt.RoCompatGdtCsum | extfmt.RoCompatDirNlink |
		extfmt.RoCompatExtraIsize | extfmt.RoCompatMetadataCsum | extfmt.RoCompatBigalloc
	switch {
	case fs.incompat&ext4Incompat != 0 || fs.rocompat&ext4Rocompat != 0:
		return "ext4"
	case fs.compat&extfmt.CompatHasJournal != 0:
		return "ext3"
	}
	return "ext2"
}

// SetClean marks the file system clean on the device (everything written first), as
// Linux's ext4 does when it is remounted read-only, or in use again. e2fsck skips a clean
// file system; while it is marked clean the FS must not be written.
func (fs *FS) SetClean(clean bool) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.unmounted {
		return syscall.EIO
	}
	if fs.ro {
		return nil
	}
	if clean && len(fs.orphans) > 0 {
		clean = false // inodes unlinked while open: e2fsck must see them as it would on Linux
	}
	if clean {
		fs.super.State |= extfmt.StateValid
	} else {
		fs.super.State &^= extfmt.StateValid
	}
	fs.sbDirty = true
	return fs.flush(true)
}
