package ext4

import (
	"math/rand"
	"syscall"
	"time"
)

// inode flags
const (
	flagIndex    = 0x1000
	flagHugeFile = 0x40000
	flagExtents  = 0x80000
	flagEAInode  = 0x200000
	flagInline   = 0x10000000
)

// file type bits of the mode
const (
	sIFMT   = 0xF000
	sIFSOCK = 0xC000
	sIFLNK  = 0xA000
	sIFREG  = 0x8000
	sIFBLK  = 0x6000
	sIFDIR  = 0x4000
	sIFCHR  = 0x2000
	sIFIFO  = 0x1000
)

// inode is an in-memory copy of an on-disk inode; changes are made to raw and written
// back to the inode table block in the cache by iput.
type inode struct {
	ino Ino
	raw []byte

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
	in := &inode{ino: ino, raw: append([]byte(nil), b[off:off+fs.isize]...)}
	if fs.isize > 128 {
		ex := int(le.Uint16(in.raw[0x80:]))
		if ex > fs.isize-128 || ex&3 != 0 {
			return nil, corrupt("inode %d: extra size %d invalid", ino, ex)
		}
	}
	if fs.csum && !fs.skipCsum && (in.links() > 0 || in.mode() != 0) {
		if got, want := fs.inodeCsumStored(in), fs.inodeCsum(in); got != want {
			return nil, corrupt("inode %d checksum %#x does not match its contents (%#x)", ino, got, want)
		}
	}
	fs.icache[ino] = in
	return in, nil
}

func (in *inode) hasCsumHi(fs *FS) bool {
	return fs.isize > 128 && le.Uint16(in.raw[0x80:]) >= 4
}

func (fs *FS) inodeCsumStored(in *inode) uint32 {
	v := uint32(le.Uint16(in.raw[0x7C:]))
	if in.hasCsumHi(fs) {
		v |= uint32(le.Uint16(in.raw[0x82:])) << 16
	}
	return v
}

func (fs *FS) inodeSeed(ino Ino, gen uint32) uint32 {
	return crc32cU32(crc32cU32(fs.seed, uint32(ino)), gen)
}

func (fs *FS) inodeCsum(in *inode) uint32 {
	r := append([]byte(nil), in.raw...)
	r[0x7C], r[0x7D] = 0, 0
	hi := in.hasCsumHi(fs)
	if hi {
		r[0x82], r[0x83] = 0, 0
	}
	c := crc32c(fs.inodeSeed(in.ino, in.generation()), r)
	if !hi {
		c &= 0xFFFF
	}
	return c
}

// iput writes the inode back into its inode table block (in the cache).
func (fs *FS) iput(in *inode) error {
	if fs.ro {
		return syscall.EROFS
	}
	if fs.csum {
		c := fs.inodeCsum(in)
		le.PutUint16(in.raw[0x7C:], uint16(c))
		if in.hasCsumHi(fs) {
			le.PutUint16(in.raw[0x82:], uint16(c>>16))
		}
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

func (in *inode) mode() uint16       { return le.Uint16(in.raw[0:]) }
func (in *inode) ftype() uint16      { return in.mode() & sIFMT }
func (in *inode) isDir() bool        { return in.ftype() == sIFDIR }
func (in *inode) links() uint16      { return le.Uint16(in.raw[0x1A:]) }
func (in *inode) setLinks(n int)     { le.PutUint16(in.raw[0x1A:], uint16(n)) }
func (in *inode) flags() uint32      { return le.Uint32(in.raw[0x20:]) }
func (in *inode) setFlags(f uint32)  { le.PutUint32(in.raw[0x20:], f) }
func (in *inode) generation() uint32 { return le.Uint32(in.raw[0x64:]) }
func (in *inode) uid() uint32 {
	return uint32(le.Uint16(in.raw[0x2:])) | uint32(le.Uint16(in.raw[0x78:]))<<16
}
func (in *inode) gid() uint32 {
	return uint32(le.Uint16(in.raw[0x18:])) | uint32(le.Uint16(in.raw[0x7A:]))<<16
}
func (in *inode) setUID(v uint32) {
	le.PutUint16(in.raw[0x2:], uint16(v))
	le.PutUint16(in.raw[0x78:], uint16(v>>16))
}
func (in *inode) setGID(v uint32) {
	le.PutUint16(in.raw[0x18:], uint16(v))
	le.PutUint16(in.raw[0x7A:], uint16(v>>16))
}
func (in *inode) size() uint64 {
	return uint64(le.Uint32(in.raw[0x4:])) | uint64(le.Uint32(in.raw[0x6C:]))<<32
}
func (in *inode) setSize(v uint64) {
	le.PutUint32(in.raw[0x4:], uint32(v))
	le.PutUint32(in.raw[0x6C:], uint32(v>>32))
}
func (in *inode) fileACL() uint64 {
	return uint64(le.Uint32(in.raw[0x68:])) | uint64(le.Uint16(in.raw[0x76:]))<<32
}
func (in *inode) setFileACL(v uint64) {
	le.PutUint32(in.raw[0x68:], uint32(v))
	le.PutUint16(in.raw[0x76:], uint16(v>>32))
}

// blocks512 is i_blocks in 512-byte units.
func (fs *FS) blocks512(in *inode) uint64 {
	v := uint64(le.Uint32(in.raw[0x1C:]))
	if fs.rocompat&rocompatHugeFile != 0 {
		v |= uint64(le.Uint16(in.raw[0x74:])) << 32
		if in.flags()&flagHugeFile != 0 {
			v *= uint64(fs.bs / 512)
		}
	}
	return v
}

// addBlocks adjusts i_blocks by n file system blocks (negative to free).
func (fs *FS) addBlocks(in *inode, n int64) {
	v := int64(fs.blocks512(in)) + n*(fs.bs/512)
	if v < 0 {
		v = 0
	}
	in.setFlags(in.flags() &^ flagHugeFile)
	le.PutUint32(in.raw[0x1C:], uint32(v))
	if fs.rocompat&rocompatHugeFile != 0 {
		le.PutUint16(in.raw[0x74:], uint16(uint64(v)>>32))
	}
}

// time fields: base offset and extra offset (0 if none)
const (
	tAtime  = 0x08
	tCtime  = 0x0C
	tMtime  = 0x10
	tCrtime = 0x90
)

func extraOff(field int) int {
	switch field {
	case tAtime:
		return 0x8C
	case tCtime:
		return 0x84
	case tMtime:
		return 0x88
	case tCrtime:
		return 0x94
	}
	return 0
}

func (fs *FS) fits(in *inode, off int) bool {
	return fs.isize > 128 && 0x80+int(le.Uint16(in.raw[0x80:])) >= off+4
}

func (fs *FS) getTime(in *inode, field int) time.Time {
	if field == tCrtime && !fs.fits(in, tCrtime) {
		return time.Time{}
	}
	sec := int64(int32(le.Uint32(in.raw[field:])))
	var ns int64
	if x := extraOff(field); fs.fits(in, x) {
		e := le.Uint32(in.raw[x:])
		sec += int64(e&3) << 32
		ns = int64(e >> 2)
		if ns > 999999999 {
			ns = 999999999
		}
	}
	return time.Unix(sec, ns)
}

func (fs *FS) setTime(in *inode, field int, t time.Time) {
	if field == tCrtime && !fs.fits(in, tCrtime) {
		return
	}
	sec := t.Unix()
	le.PutUint32(in.raw[field:], uint32(sec))
	if x := extraOff(field); fs.fits(in, x) {
		epoch := uint32((sec-int64(int32(uint32(sec))))>>32) & 3
		le.PutUint32(in.raw[x:], uint32(t.Nanosecond())<<2|epoch)
	}
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
		Size: in.size(), Blocks: fs.blocks512(in), Atime: fs.getTime(in, tAtime), Mtime: fs.getTime(in, tMtime),
		Ctime: fs.getTime(in, tCtime), Crtime: fs.getTime(in, tCrtime), Generation: in.generation(), Flags: in.flags()}
	if t := in.ftype(); t == sIFCHR || t == sIFBLK {
		a.Rdev = decodeDev(in)
	}
	if in.isDir() && a.Nlink == 1 && fs.rocompat&rocompatDirNlink != 0 {
		a.Nlink = 1 // dir_nlink: more than 65000 subdirectories
	}
	return a
}

func decodeDev(in *inode) uint64 {
	if old := le.Uint32(in.raw[0x28:]); old != 0 {
		return Mkdev(old>>8&0xff, old&0xff)
	}
	n := le.Uint32(in.raw[0x2C:])
	return Mkdev((n&0xfff00)>>8, n&0xff|(n>>12)&0xfff00)
}

func encodeDev(in *inode, dev uint64) {
	ma, mi := Major(dev), Minor(dev)
	for i := 0x28; i < 0x64; i++ {
		in.raw[i] = 0
	}
	if ma < 256 && mi < 256 {
		le.PutUint32(in.raw[0x28:], ma<<8|mi)
		return
	}
	le.PutUint32(in.raw[0x2C:], mi&0xff|ma<<8|(mi&^0xff)<<12)
}

// newInode allocates and initialises an inode with the given mode.
func (fs *FS) newInode(parent Ino, mode uint16, uid, gid uint32) (*inode, error) {
	ino, err := fs.allocInode(parent, mode&sIFMT == sIFDIR)
	if err != nil {
		return nil, err
	}
	in := &inode{ino: ino, raw: make([]byte, fs.isize), extLoaded: true}
	le.PutUint16(in.raw[0:], mode)
	in.setUID(uid)
	in.setGID(gid)
	if fs.isize > 128 {
		want := int(le.Uint16(fs.sb[0x15E:]))
		if want < 32 {
			want = 32
		}
		if want > fs.isize-128 {
			want = (fs.isize - 128) &^ 3
		}
		le.PutUint16(in.raw[0x80:], uint16(want))
	}
	le.PutUint32(in.raw[0x64:], rand.Uint32())
	now := time.Now()
	for _, f := range []int{tAtime, tCtime, tMtime, tCrtime} {
		fs.setTime(in, f, now)
	}
	t := mode & sIFMT
	if fs.incompat&incompatExtents != 0 && (t == sIFREG || t == sIFDIR || t == sIFLNK) {
		in.setFlags(flagExtents)
		initExtentRoot(in)
	}
	fs.icache[ino] = in
	delete(fs.dcache, ino)
	return in, fs.iput(in)
}

func initExtentRoot(in *inode) {
	r := in.raw[0x28:0x64]
	for i := range r {
		r[i] = 0
	}
	le.PutUint16(r[0:], extMagic)
	le.PutUint16(r[4:], 4)
}

// freeInode releases everything the inode owns and clears it in the bitmap.
func (fs *FS) freeInode(in *inode) error {
	if in.flags()&flagInline == 0 && (in.ftype() == sIFREG || in.ftype() == sIFDIR || (in.ftype() == sIFLNK && !fs.fastSymlink(in))) {
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
	le.PutUint32(in.raw[0x14:], uint32(time.Now().Unix()))
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
	if in.ftype() != sIFLNK || in.flags()&flagInline != 0 {
		return false
	}
	if in.flags()&flagExtents != 0 {
		return false
	}
	ea := uint64(0)
	if in.fileACL() != 0 {
		ea = uint64(fs.bs / 512)
	}
	return in.size() < 60 && fs.blocks512(in) == ea
}
