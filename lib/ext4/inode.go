package ext4

import (
	"math/rand"

	"syscall"
	"time"

	"github.com/gouml/gouml/lib/extfmt"
)

// inode is an in-memory copy of an on-disk inode; changes are made to raw and written
// back to the inode table block in the cache by iput.
type inode struct {
	ino Ino
	raw extfmt.Inode

	ext        []extent // extent list, when extLoaded
	extLoaded  bool
	treeBlocks []uint64 // extent tree blocks below the inode, when extLoaded
}

func (fs *FS) inodeLoc(ino Ino) (blk uint64, off int, err error) {
	if ino < 1 || uint32(ino) > fs.inodes {
		return 0, 0, corrupt("inode number %d out of range (1..%d)", ino, fs.inodes)
	}
	g := (uint32(ino) - 1) / fs.ipg
	idx := uint64((uint32(ino) - 1) % fs.ipg)
	byteOff := idx * uint64(fs.isize)
	blk = fs.gdInodeTable(g) + byteOff/uint64(fs.bs)
	return blk, int(byteOff % uint64(fs.bs)), nil
}

// iget returns the inode, from the cache or the inode table.
func (fs *FS) iget(ino Ino) (*inode, error) {
	if in := fs.icache[ino]; in != nil {
		return in, nil
	}
	blk, off, err := fs.inodeLoc(ino)
	if err != nil {
		return nil, err
	}
	b, err := fs.bread(blk)
	if err != nil {
		return nil, err
	}
	in := &inode{ino: ino, raw: append(extfmt.Inode(nil), b[off:off+fs.isize]...)}
	if err := extfmt.CheckInode(in.raw); err != nil {
		return nil, corrupt("inode %d: %v", ino, err)
	}
	if fs.csum && !fs.skipCsum && (in.links() > 0 || in.mode() != 0) {
		if got, want := in.raw.Checksum(), in.raw.ComputeChecksum(fs.seed, uint32(ino)); got != want {
			return nil, corrupt("inode %d checksum %#x does not match its contents (%#x)", ino, got, want)
		}
	}
	fs.icache[ino] = in
	return in, nil
}

// inodeSeed is the checksum seed of the blocks inode ino owns.
func (fs *FS) inodeSeed(ino Ino, gen uint32) uint32 {
	return extfmt.InodeCsumSeed(fs.seed, uint32(ino), gen)
}

// iput writes the inode back into its inode table block (in the cache).
func (fs *FS) iput(in *inode) error {
	if fs.ro {
		return syscall.EROFS
	}
	if fs.csum {
		in.raw.SetChecksum(fs.seed, uint32(in.ino))
	}
	blk, off, err := fs.inodeLoc(in.ino)
	if err != nil {
		return err
	}
	b, err := fs.bread(blk)
	if err != nil {
		return err
	}
	copy(b[off:], in.raw)
	fs.bdirty(blk)
	fs.icache[in.ino] = in
	return nil
}

func (in *inode) mode() uint16        { return in.raw.Mode() }
func (in *inode) ftype() uint16       { return in.mode() & extfmt.S_IFMT }
func (in *inode) isDir() bool         { return in.ftype() == extfmt.S_IFDIR }
func (in *inode) links() uint16       { return in.raw.Links() }
func (in *inode) setLinks(n int)      { in.raw.SetLinks(uint16(n)) }
func (in *inode) flags() uint32       { return in.raw.Flags() }
func (in *inode) setFlags(f uint32)   { in.raw.SetFlags(f) }
func (in *inode) generation() uint32  { return in.raw.Generation() }
func (in *inode) uid() uint32         { return in.raw.UID() }
func (in *inode) gid() uint32         { return in.raw.GID() }
func (in *inode) setUID(v uint32)     { in.raw.SetUID(v) }
func (in *inode) setGID(v uint32)     { in.raw.SetGID(v) }
func (in *inode) size() uint64        { return in.raw.Size() }
func (in *inode) setSize(v uint64)    { in.raw.SetSize(v) }
func (in *inode) fileACL() uint64     { return in.raw.FileACL() }
func (in *inode) setFileACL(v uint64) { in.raw.SetFileACL(v) }

// blocks512 is i_blocks in 512-byte units.
func (fs *FS) blocks512(in *inode) uint64 {
	v := in.raw.BlocksRaw()
	if fs.rocompat&extfmt.RoCompatHugeFile == 0 {
		return v & (1<<32 - 1) // the high half is not i_blocks without huge_file
	}
	if in.flags()&extfmt.FlagHugeFile != 0 {
		v *= uint64(fs.bs / 512)
	}
	return v
}

// addBlocks adjusts i_blocks by n file system blocks (negative to free).
func (fs *FS) addBlocks(in *inode, n int64) {
	v := int64(fs.blocks512(in)) + n*(fs.bs/512)
	if v < 0 {
		v = 0
	}
	in.setFlags(in.flags() &^ extfmt.FlagHugeFile)
	if fs.rocompat&extfmt.RoCompatHugeFile == 0 {
		v = int64(uint32(v)) | int64(in.raw.BlocksRaw()&^(1<<32-1))
	}
	in.raw.SetBlocksRaw(uint64(v))
}

// Attr is an inode's metadata, as stat(2) reports it.
type Attr struct {
	Ino        Ino
	Mode       uint32 // type bits and permissions
	Nlink      uint32
	UID, GID   uint32
	Size       uint64
	Blocks     uint64 // 512-byte units
	Atime      time.Time
	Mtime      time.Time
	Ctime      time.Time
	Crtime     time.Time // zero if the inode has no room for it
	Rdev       uint64    // Linux dev_t for device nodes
	Generation uint32
	Flags      uint32 // ext4 inode flags (chattr)
}

func (fs *FS) attr(in *inode) Attr {
	a := Attr{Ino: in.ino, Mode: uint32(in.mode()), Nlink: uint32(in.links()), UID: in.uid(), GID: in.gid(),
		Size: in.size(), Blocks: fs.blocks512(in), Atime: in.raw.Time(extfmt.Atime), Mtime: in.raw.Time(extfmt.Mtime),
		Ctime: in.raw.Time(extfmt.Ctime), Crtime: in.raw.Time(extfmt.Crtime), Generation: in.generation(), Flags: in.flags()}
	if t := in.ftype(); t == extfmt.S_IFCHR || t == extfmt.S_IFBLK {
		a.Rdev = Mkdev(in.raw.Dev())
	}
	if in.isDir() && a.Nlink == 1 && fs.rocompat&extfmt.RoCompatDirNlink != 0 {
		a.Nlink = 1 // dir_nlink: more than 65000 subdirectories
	}
	return a
}

// newInode allocates and initialises an inode with the given mode.
func (fs *FS) newInode(parent Ino, mode uint16, uid, gid uint32) (*inode, error) {
	ino, err := fs.allocInode(parent, mode&extfmt.S_IFMT == extfmt.S_IFDIR)
	if err != nil {
		return nil, err
	}
	in := &inode{ino: ino, raw: make(extfmt.Inode, fs.isize), extLoaded: true}
	in.raw.SetMode(mode)
	in.setUID(uid)
	in.setGID(gid)
	if fs.isize > 128 {
		want := int(fs.super.WantExtraIsize)
		if want < 32 {
			want = 32
		}
		if want > fs.isize-128 {
			want = (fs.isize - 128) &^ 3
		}
		in.raw.SetExtraIsize(uint16(want))
	}
	in.raw.SetGeneration(rand.Uint32())
	now := time.Now()
	for _, f := range []extfmt.TimeField{extfmt.Atime, extfmt.Ctime, extfmt.Mtime, extfmt.Crtime} {
		in.raw.SetTime(f, now)
	}
	t := mode & extfmt.S_IFMT
	if fs.incompat&extfmt.IncompatExtents != 0 && (t == extfmt.S_IFREG || t == extfmt.S_IFDIR || t == extfmt.S_IFLNK) {
		in.setFlags(extfmt.FlagExtents)
		initExtentRoot(in)
	}
	fs.icache[ino] = in
	delete(fs.dcache, ino)
	return in, fs.iput(in)
}

func initExtentRoot(in *inode) {
	clear(in.raw.IBlock())
	extfmt.ExtentHeader{Max: extfmt.ExtentRootEntries}.MarshalTo(in.raw.IBlock())
}

// freeInode releases everything the inode owns and clears it in the bitmap.
func (fs *FS) freeInode(in *inode) error {
	if in.flags()&extfmt.FlagInline == 0 && (in.ftype() == extfmt.S_IFREG || in.ftype() == extfmt.S_IFDIR || (in.ftype() == extfmt.S_IFLNK && !fs.fastSymlink(in))) {
		if err := fs.truncateBlocks(in, 0); err != nil {
			return err
		}
	}
	if acl := in.fileACL(); acl != 0 {
		if err := fs.releaseXattrBlock(in, acl); err != nil {
			return err
		}
		in.setFileACL(0)
	}
	isDir := in.isDir()
	in.setLinks(0)
	in.raw.SetDtime(uint32(time.Now().Unix()))
	if err := fs.iput(in); err != nil {
		return err
	}
	delete(fs.icache, in.ino)
	delete(fs.orphans, in.ino)
	delete(fs.dcache, in.ino)
	fs.dropReadAhead(in.ino)
	return fs.freeInodeBit(in.ino, isDir)
}

func (fs *FS) fastSymlink(in *inode) bool {
	if in.ftype() != extfmt.S_IFLNK || in.flags()&extfmt.FlagInline != 0 {
		return false
	}
	if in.flags()&extfmt.FlagExtents != 0 {
		return false
	}
	ea := uint64(0)
	if in.fileACL() != 0 {
		ea = uint64(fs.bs / 512)
	}
	return in.size() < 60 && fs.blocks512(in) == ea
}
