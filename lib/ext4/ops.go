package ext4

import (
	"io"
	"strings"
	"syscall"
	"time"
)

// Root returns the root directory's inode number.
func (fs *FS) Root() Ino { return RootIno }

func (fs *FS) begin(write bool) error {
	fs.mu.Lock()
	if fs.unmounted {
		fs.mu.Unlock()
		return syscall.EIO
	}
	if write && fs.ro {
		fs.mu.Unlock()
		return syscall.EROFS
	}
	return nil
}

func (fs *FS) end(err *error) {
	if e := fs.trim(); e != nil && *err == nil {
		*err = e
	}
	fs.mu.Unlock()
}

func (fs *FS) dirInode(ino Ino) (*inode, error) {
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, syscall.ENOTDIR
	}
	return in, nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return syscall.EINVAL
	}
	if len(name) > 255 {
		return syscall.ENAMETOOLONG
	}
	return nil
}

// Lookup returns the inode that name refers to in directory dir.
func (fs *FS) Lookup(dir Ino, name string) (ino Ino, err error) {
	if err := fs.begin(false); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return 0, err
	}
	ino, _, err = fs.lookup(d, name)
	return ino, err
}

// Getattr returns an inode's attributes.
func (fs *FS) Getattr(ino Ino) (a Attr, err error) {
	if err := fs.begin(false); err != nil {
		return Attr{}, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return Attr{}, err
	}
	return fs.attr(in), nil
}

// SetAttr fields to change, selected by Valid.
type SetAttr struct {
	Valid               uint32 // SetMode | SetUID | ...
	Mode                uint32 // permission bits (the file type cannot change)
	UID, GID            uint32
	Size                uint64
	Atime, Mtime, Ctime time.Time
}

// SetAttr.Valid bits
const (
	SetMode = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime
	SetMtime
	SetCtime
)

// Setattr changes an inode's attributes; the ctime becomes now unless SetCtime is given.
func (fs *FS) Setattr(ino Ino, sa SetAttr) (a Attr, err error) {
	if err := fs.begin(true); err != nil {
		return Attr{}, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return Attr{}, err
	}
	if sa.Valid&SetSize != 0 {
		switch in.ftype() {
		case sIFDIR:
			return Attr{}, syscall.EISDIR
		case sIFREG:
		default:
			return Attr{}, syscall.EINVAL
		}
		if err := fs.truncate(in, sa.Size); err != nil {
			return Attr{}, err
		}
		fs.setTime(in, tMtime, time.Now())
	}
	if sa.Valid&SetMode != 0 {
		le.PutUint16(in.raw[0:], in.ftype()|uint16(sa.Mode&0o7777))
	}
	if sa.Valid&SetUID != 0 {
		in.setUID(sa.UID)
	}
	if sa.Valid&SetGID != 0 {
		in.setGID(sa.GID)
	}
	if sa.Valid&SetAtime != 0 {
		fs.setTime(in, tAtime, sa.Atime)
	}
	if sa.Valid&SetMtime != 0 {
		fs.setTime(in, tMtime, sa.Mtime)
	}
	if sa.Valid&SetCtime != 0 {
		fs.setTime(in, tCtime, sa.Ctime)
	} else {
		fs.setTime(in, tCtime, time.Now())
	}
	if err := fs.iput(in); err != nil {
		return Attr{}, err
	}
	return fs.attr(in), nil
}

func (fs *FS) maxSize() uint64 {
	if fs.incompat&incompatExtents != 0 {
		return (1<<32 - 1) * uint64(fs.bs)
	}
	p := fs.perBlock()
	return (12 + p + p*p + p*p*p) * uint64(fs.bs)
}

func (fs *FS) noteSize(sz uint64) {
	if sz > 1<<31-1 && fs.rocompat&rocompatLargeFile == 0 {
		fs.rocompat |= rocompatLargeFile
		le.PutUint32(fs.sb[0x64:], fs.rocompat)
		fs.sbDirty = true
	}
}

func (fs *FS) truncate(in *inode, size uint64) error {
	fs.dropReadAhead(in.ino)
	if err := fs.uninline(in); err != nil {
		return err
	}
	max := fs.maxSize()
	if in.flags()&flagExtents == 0 {
		p := fs.perBlock()
		max = (12 + p + p*p + p*p*p) * uint64(fs.bs)
	}
	if size > max {
		return syscall.EFBIG
	}
	old := in.size()
	if size < old {
		bs := uint64(fs.bs)
		if err := fs.truncateBlocks(in, (size+bs-1)/bs); err != nil {
			return err
		}
		if size%bs != 0 {
			p, _, unwritten, err := fs.mapBlock(in, size/bs)
			if err != nil {
				return err
			}
			if p != 0 && !unwritten {
				z := make([]byte, bs-size%bs)
				if _, err := fs.dev.WriteAt(z, int64(p*bs+size%bs)); err != nil {
					return ioErr("writing block %d: %v", p, err)
				}
			}
		}
	}
	in.setSize(size)
	fs.noteSize(size)
	return nil
}

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
	if len(p) >= raSmall || in.flags()&flagInline != 0 {
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
	if in.flags()&flagInline != 0 {
		data := append([]byte(nil), in.raw[0x28:0x64]...)
		xs, _, err := fs.readXattrs(in)
		if err != nil {
			return 0, err
		}
		for _, x := range xs {
			if x.index == 7 && x.name == "data" {
				data = append(data, x.value...)
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
		if in.flags()&flagExtents == 0 && pb != 0 {
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
	case in.ftype() != sIFREG:
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
		fs.setTime(in, tMtime, now)
		fs.setTime(in, tCtime, now)
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

func fileTypeOK(mode uint32) (uint16, error) {
	switch uint16(mode) & sIFMT {
	case 0:
		return uint16(mode&0o7777) | sIFREG, nil
	case sIFREG, sIFCHR, sIFBLK, sIFIFO, sIFSOCK:
		return uint16(mode & 0o177777), nil
	}
	return 0, syscall.EINVAL
}

// prepareCreate checks that name can be created in dir.
func (fs *FS) prepareCreate(dir Ino, name string) (*inode, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	d, err := fs.dirInode(dir)
	if err != nil {
		return nil, err
	}
	if d.links() == 0 {
		return nil, syscall.ENOENT
	}
	if _, _, err := fs.lookup(d, name); err == nil {
		return nil, syscall.EEXIST
	} else if err != syscall.ENOENT {
		return nil, err
	}
	return d, nil
}

func (fs *FS) touchDir(d *inode) error {
	now := time.Now()
	fs.setTime(d, tMtime, now)
	fs.setTime(d, tCtime, now)
	return fs.iput(d)
}

// link finishes a creation: enter the name, or free the new inode if that fails.
func (fs *FS) link(d *inode, name string, in *inode) error {
	if err := fs.addEntry(d, name, in.ino, modeToFT(in.mode())); err != nil {
		in.setLinks(0)
		fs.freeInode(in)
		return err
	}
	return fs.touchDir(d)
}

// Create makes a regular file, device node, FIFO or socket (mode holds the type bits; none
// means a regular file). rdev is a Linux dev_t for device nodes.
func (fs *FS) Create(dir Ino, name string, mode, uid, gid uint32, rdev uint64) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	m, err := fileTypeOK(mode)
	if err != nil {
		return 0, err
	}
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	in, err := fs.newInode(dir, m, uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(1)
	if t := m & sIFMT; t == sIFCHR || t == sIFBLK {
		encodeDev(in, rdev)
	}
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	return in.ino, fs.link(d, name, in)
}

// Mkdir makes a directory.
func (fs *FS) Mkdir(dir Ino, name string, mode, uid, gid uint32) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	if d.links() >= 65000 && fs.rocompat&rocompatDirNlink == 0 {
		return 0, syscall.EMLINK
	}
	in, err := fs.newInode(dir, sIFDIR|uint16(mode&0o7777), uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(2)
	p, err := fs.mapNewBlock(in, 0, fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg))
	if err != nil {
		in.setLinks(0)
		fs.freeInode(in)
		return 0, err
	}
	b := fs.bnew(p)
	fs.initDirBlock(b)
	rl := fs.recLen(b, 0)
	fs.putDirent(b, 0, 12, in.ino, ".", ftDir)
	fs.putDirent(b, 12, rl-12, d.ino, "..", ftDir)
	fs.dirCsum(in, b)
	in.setSize(uint64(fs.bs))
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	if err := fs.link(d, name, in); err != nil {
		return 0, err
	}
	fs.incLinks(d)
	return in.ino, fs.iput(d)
}

func (fs *FS) incLinks(d *inode) {
	switch n := d.links(); {
	case n == 1 && d.isDir():
	case n >= 64999 && d.isDir():
		d.setLinks(1)
	default:
		d.setLinks(int(n) + 1)
	}
}

func (fs *FS) decLinks(d *inode) {
	if n := d.links(); n > 2 || (!d.isDir() && n > 0) {
		d.setLinks(int(n) - 1)
	}
}

// Symlink makes a symbolic link to target.
func (fs *FS) Symlink(dir Ino, name, target string, uid, gid uint32) (ino Ino, err error) {
	if err := fs.begin(true); err != nil {
		return 0, err
	}
	defer fs.end(&err)
	if len(target) == 0 {
		return 0, syscall.ENOENT
	}
	if int64(len(target)) >= fs.bs || len(target) >= 4096 {
		return 0, syscall.ENAMETOOLONG
	}
	d, err := fs.prepareCreate(dir, name)
	if err != nil {
		return 0, err
	}
	in, err := fs.newInode(dir, sIFLNK|0o777, uid, gid)
	if err != nil {
		return 0, err
	}
	in.setLinks(1)
	if len(target) < 60 {
		in.setFlags(in.flags() &^ flagExtents)
		clear(in.raw[0x28:0x64])
		copy(in.raw[0x28:], target)
	} else {
		p, err := fs.mapNewBlock(in, 0, fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg))
		if err != nil {
			in.setLinks(0)
			fs.freeInode(in)
			return 0, err
		}
		copy(fs.bnew(p), target)
	}
	in.setSize(uint64(len(target)))
	if err := fs.iput(in); err != nil {
		return 0, err
	}
	return in.ino, fs.link(d, name, in)
}

// Readlink returns a symbolic link's target.
func (fs *FS) Readlink(ino Ino) (target string, err error) {
	if err := fs.begin(false); err != nil {
		return "", err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return "", err
	}
	if in.ftype() != sIFLNK {
		return "", syscall.EINVAL
	}
	sz := in.size()
	if sz > uint64(fs.bs) || sz > 65536 {
		return "", corrupt("symlink inode %d has size %d", ino, sz)
	}
	if fs.fastSymlink(in) {
		return string(in.raw[0x28 : 0x28+sz]), nil
	}
	if in.flags()&flagInline == 0 {
		p, _, _, err := fs.mapBlock(in, 0)
		if err != nil {
			return "", err
		}
		if p == 0 {
			return "", corrupt("slow symlink inode %d has no data block", ino)
		}
		b, err := fs.bread(p)
		if err != nil {
			return "", err
		}
		return string(b[:sz]), nil
	}
	buf := make([]byte, sz)
	n, err := fs.readData(in, buf, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	return string(buf[:n]), nil
}

// Link makes newname in newdir another name for ino (not a directory).
func (fs *FS) Link(ino Ino, newdir Ino, newname string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	if in.isDir() {
		return syscall.EPERM
	}
	if in.links() >= 65000 {
		return syscall.EMLINK
	}
	d, err := fs.prepareCreate(newdir, newname)
	if err != nil {
		return err
	}
	if err := fs.addEntry(d, newname, ino, modeToFT(in.mode())); err != nil {
		return err
	}
	in.setLinks(int(in.links()) + 1)
	fs.setTime(in, tCtime, time.Now())
	if err := fs.iput(in); err != nil {
		return err
	}
	return fs.touchDir(d)
}

// drop releases one link of in; at zero it is freed, or kept until Release if open.
func (fs *FS) drop(in *inode) error {
	if in.isDir() {
		in.setLinks(0)
	} else if in.links() > 0 {
		in.setLinks(int(in.links()) - 1)
	}
	fs.setTime(in, tCtime, time.Now())
	if in.links() > 0 {
		return fs.iput(in)
	}
	if fs.open[in.ino] > 0 {
		fs.orphans[in.ino] = true
		return fs.iput(in)
	}
	return fs.freeInode(in)
}

// Unlink removes a non-directory name.
func (fs *FS) Unlink(dir Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return err
	}
	ino, _, err := fs.lookup(d, name)
	if err != nil {
		return err
	}
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	if in.isDir() {
		return syscall.EISDIR
	}
	if _, err := fs.removeEntry(d, name); err != nil {
		return err
	}
	if err := fs.touchDir(d); err != nil {
		return err
	}
	return fs.drop(in)
}

// Rmdir removes an empty directory.
func (fs *FS) Rmdir(dir Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	switch name {
	case ".":
		return syscall.EINVAL
	case "..":
		return syscall.ENOTEMPTY
	}
	d, err := fs.dirInode(dir)
	if err != nil {
		return err
	}
	ino, _, err := fs.lookup(d, name)
	if err != nil {
		return err
	}
	in, err := fs.dirInode(ino)
	if err != nil {
		return err
	}
	if empty, err := fs.dirEmpty(in); err != nil {
		return err
	} else if !empty {
		return syscall.ENOTEMPTY
	}
	if _, err := fs.removeEntry(d, name); err != nil {
		return err
	}
	fs.decLinks(d)
	if err := fs.touchDir(d); err != nil {
		return err
	}
	return fs.drop(in)
}

// rename flags
const (
	RenameNoReplace = 1 // RENAME_NOREPLACE
	RenameExchange  = 2 // RENAME_EXCHANGE
)

// isAncestor reports whether a is dir b or one of its ancestors.
func (fs *FS) isAncestor(a, b Ino) (bool, error) {
	// A corrupt ".." chain may loop: remembering the directories passed stops at the first
	// repeat instead of after a walk as long as the inode count.
	seen := map[Ino]bool{}
	for {
		if a == b {
			return true, nil
		}
		if b == RootIno {
			return false, nil
		}
		if seen[b] {
			break
		}
		seen[b] = true
		d, err := fs.dirInode(b)
		if err != nil {
			return false, err
		}
		p, _, err := fs.lookup(d, "..")
		if err != nil {
			return false, err
		}
		b = p
	}
	return false, corrupt("directory parent chain loops")
}

// Rename moves oldname in olddir to newname in newdir (flags: RenameNoReplace, RenameExchange).
func (fs *FS) Rename(olddir Ino, oldname string, newdir Ino, newname string, flags uint32) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	if flags&^3 != 0 || flags == 3 {
		return syscall.EINVAL
	}
	if err := checkName(oldname); err != nil {
		return err
	}
	if err := checkName(newname); err != nil {
		return err
	}
	od, err := fs.dirInode(olddir)
	if err != nil {
		return err
	}
	nd, err := fs.dirInode(newdir)
	if err != nil {
		return err
	}
	sino, _, err := fs.lookup(od, oldname)
	if err != nil {
		return err
	}
	src, err := fs.iget(sino)
	if err != nil {
		return err
	}
	tino, _, err := fs.lookup(nd, newname)
	if err != nil && err != syscall.ENOENT {
		return err
	}
	if tino == sino {
		return nil
	}
	if src.isDir() && olddir != newdir {
		if anc, err := fs.isAncestor(sino, newdir); err != nil {
			return err
		} else if anc {
			return syscall.EINVAL
		}
	}
	now := time.Now()
	if flags&RenameExchange != 0 {
		if tino == 0 {
			return syscall.ENOENT
		}
		dst, err := fs.iget(tino)
		if err != nil {
			return err
		}
		if dst.isDir() && olddir != newdir {
			if anc, err := fs.isAncestor(tino, olddir); err != nil {
				return err
			} else if anc {
				return syscall.EINVAL
			}
		}
		if err := fs.setEntryIno(od, oldname, tino, modeToFT(dst.mode())); err != nil {
			return err
		}
		if err := fs.setEntryIno(nd, newname, sino, modeToFT(src.mode())); err != nil {
			return err
		}
		if olddir != newdir {
			if src.isDir() {
				if err := fs.setEntryIno(src, "..", newdir, ftDir); err != nil {
					return err
				}
				fs.incLinks(nd)
				fs.decLinks(od)
			}
			if dst.isDir() {
				if err := fs.setEntryIno(dst, "..", olddir, ftDir); err != nil {
					return err
				}
				fs.incLinks(od)
				fs.decLinks(nd)
			}
		}
		for _, x := range []*inode{src, dst} {
			fs.setTime(x, tCtime, now)
			if err := fs.iput(x); err != nil {
				return err
			}
		}
		if err := fs.touchDir(od); err != nil {
			return err
		}
		return fs.touchDir(nd)
	}
	var dst *inode
	if tino != 0 {
		if flags&RenameNoReplace != 0 {
			return syscall.EEXIST
		}
		dst, err = fs.iget(tino)
		if err != nil {
			return err
		}
		switch {
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR
		case dst.isDir():
			if empty, err := fs.dirEmpty(dst); err != nil {
				return err
			} else if !empty {
				return syscall.ENOTEMPTY
			}
		}
		if err := fs.setEntryIno(nd, newname, sino, modeToFT(src.mode())); err != nil {
			return err
		}
	} else {
		if src.isDir() && nd.links() >= 65000 && fs.rocompat&rocompatDirNlink == 0 {
			return syscall.EMLINK
		}
		if err := fs.addEntry(nd, newname, sino, modeToFT(src.mode())); err != nil {
			return err
		}
	}
	if _, err := fs.removeEntry(od, oldname); err != nil {
		return err
	}
	if src.isDir() {
		if olddir != newdir {
			if err := fs.setEntryIno(src, "..", newdir, ftDir); err != nil {
				return err
			}
			fs.decLinks(od)
			if dst == nil {
				fs.incLinks(nd)
			}
		}
		if dst != nil {
			// the replaced directory's ".." no longer counts
			if olddir == newdir || true {
				fs.decLinks(nd)
				if olddir != newdir {
					fs.incLinks(nd)
				}
			}
		}
	}
	fs.setTime(src, tCtime, now)
	if err := fs.iput(src); err != nil {
		return err
	}
	if err := fs.touchDir(od); err != nil {
		return err
	}
	if err := fs.touchDir(nd); err != nil {
		return err
	}
	if dst != nil {
		return fs.drop(dst)
	}
	return nil
}

// ReadDir returns up to max entries (all if max <= 0) from position cookie (0 to start);
// each entry's Next is the cookie to continue after it. "." and ".." are included, first.
// Every other name is one path component (1..255 bytes, no '/' or NUL, not a dot name)
// naming the root or an ordinary inode; an entry that is not is corruption. What a single
// directory block cannot show is left to walkers: a corrupt image may repeat a name, or
// name a directory in two places (so that it contains itself).
func (fs *FS) ReadDir(dir Ino, cookie uint64, max int) (ents []DirEntry, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	d, err := fs.dirInode(dir)
	if err != nil {
		return nil, err
	}
	err = fs.scanDir(d, cookie, func(e dirent, _, next uint64) bool {
		t := uint8(0)
		if e.ftype < 8 {
			t = ftToDT[e.ftype]
		}
		ents = append(ents, DirEntry{Name: string(e.name), Ino: e.ino, Type: t, Next: next})
		return max <= 0 || len(ents) < max
	})
	return ents, err
}

// Getxattr returns the value of extended attribute name (ENODATA if absent).
func (fs *FS) Getxattr(ino Ino, name string) (v []byte, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return nil, err
	}
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.index == idx && x.name == n {
			if idx == 2 || idx == 3 {
				return aclFromDisk(x.value)
			}
			return x.value, nil
		}
	}
	return nil, syscall.ENODATA
}

// Listxattr returns the names of the inode's extended attributes (system.data excluded).
func (fs *FS) Listxattr(ino Ino) (names []string, err error) {
	if err := fs.begin(false); err != nil {
		return nil, err
	}
	defer fs.end(&err)
	in, err := fs.iget(ino)
	if err != nil {
		return nil, err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		if x.index == 7 && x.name == "data" {
			continue
		}
		if n := x.fullName(); n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// Setxattr flags
const (
	XattrCreate  = 1
	XattrReplace = 2
)

// Setxattr sets extended attribute name (flags XattrCreate / XattrReplace as setxattr(2)).
func (fs *FS) Setxattr(ino Ino, name string, value []byte, flags int) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return err
	}
	if idx == 7 && n == "data" {
		return syscall.EPERM
	}
	if idx == 2 || idx == 3 {
		if value, err = aclToDisk(value); err != nil {
			return err
		}
	}
	if int64(len(value)) > fs.bs-32-int64(align4(16+len(n)))-4 {
		return syscall.E2BIG
	}
	return fs.changeXattr(ino, idx, n, value, flags, false)
}

// Removexattr removes extended attribute name (ENODATA if absent).
func (fs *FS) Removexattr(ino Ino, name string) (err error) {
	if err := fs.begin(true); err != nil {
		return err
	}
	defer fs.end(&err)
	idx, n, err := splitXattrName(name)
	if err != nil {
		return err
	}
	if idx == 7 && n == "data" {
		return syscall.EPERM
	}
	return fs.changeXattr(ino, idx, n, nil, 0, true)
}

func (fs *FS) changeXattr(ino Ino, idx uint8, name string, value []byte, flags int, remove bool) error {
	in, err := fs.iget(ino)
	if err != nil {
		return err
	}
	xs, err := fs.allXattrs(in)
	if err != nil {
		return err
	}
	found := -1
	for i, x := range xs {
		if x.index == idx && x.name == name {
			found = i
		}
	}
	switch {
	case remove && found < 0:
		return syscall.ENODATA
	case remove:
		xs = append(xs[:found], xs[found+1:]...)
	case found >= 0 && flags&XattrCreate != 0:
		return syscall.EEXIST
	case found < 0 && flags&XattrReplace != 0:
		return syscall.ENODATA
	case found >= 0:
		xs[found].value = append([]byte(nil), value...)
	default:
		xs = append(xs, xattr{idx, name, append([]byte(nil), value...)})
	}
	if err := fs.writeXattrs(in, xs); err != nil {
		return err
	}
	fs.setTime(in, tCtime, time.Now())
	return fs.iput(in)
}

// Fsync makes the inode's data and metadata (and, in this implementation, everything
// else pending) durable.
func (fs *FS) Fsync(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	return fs.flush(true)
}

// Open notes that the caller holds ino open: if its last link goes away it is freed only
// at the matching last Release (or at Unmount), as the kernel keeps unlinked open files.
func (fs *FS) Open(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	if _, err := fs.iget(ino); err != nil {
		return err
	}
	fs.open[ino]++
	return nil
}

// Release drops a hold taken by Open.
func (fs *FS) Release(ino Ino) (err error) {
	if err := fs.begin(false); err != nil {
		return err
	}
	defer fs.end(&err)
	if fs.open[ino] > 0 {
		fs.open[ino]--
	}
	if fs.open[ino] == 0 {
		delete(fs.open, ino)
		if fs.orphans[ino] && !fs.ro {
			in, err := fs.iget(ino)
			if err != nil {
				return err
			}
			return fs.freeInode(in)
		}
	}
	return nil
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
	if in.flags()&flagInline != 0 {
		if hole {
			return int64(size), nil
		}
		return off, nil
	}
	bs := uint64(fs.bs)
	if in.flags()&flagExtents == 0 {
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
