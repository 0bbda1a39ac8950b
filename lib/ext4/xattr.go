package ext4

import (
	"sort"
	"strings"
	"syscall"
)

const xattrMagic = 0xEA020000

var xattrPrefixes = []struct {
	index  uint8
	prefix string
}{
	{2, "system.posix_acl_access"}, {3, "system.posix_acl_default"}, {8, "system.richacl"},
	{1, "user."}, {4, "trusted."}, {6, "security."}, {7, "system."},
}

type xattr struct {
	index uint8
	name  string // without the prefix
	value []byte
}

func (x xattr) fullName() string {
	for _, p := range xattrPrefixes {
		if p.index == x.index {
			return p.prefix + x.name
		}
	}
	return ""
}

func splitXattrName(full string) (uint8, string, error) {
	for _, p := range xattrPrefixes {
		if strings.HasPrefix(full, p.prefix) {
			if p.index == 2 || p.index == 3 || p.index == 8 {
				if full != p.prefix {
					continue
				}
			}
			n := full[len(p.prefix):]
			if len(n) > 255 {
				return 0, "", syscall.ERANGE
			}
			if n == "" && p.index != 2 && p.index != 3 && p.index != 8 {
				return 0, "", syscall.EINVAL
			}
			return p.index, n, nil
		}
	}
	return 0, "", syscall.EOPNOTSUPP
}

func align4(n int) int { return (n + 3) &^ 3 }

// parseXattrEntries reads entries from b[off:end]; values are at base+e_value_offs in vb.
func parseXattrEntries(b []byte, off, end int, vb []byte, base int, where string) ([]xattr, error) {
	var out []xattr
	for {
		if off+4 > end {
			return nil, corrupt("%s: extended attribute entries run past the end", where)
		}
		if le.Uint32(b[off:]) == 0 {
			return out, nil
		}
		if off+16 > end {
			return nil, corrupt("%s: truncated extended attribute entry", where)
		}
		nl := int(b[off])
		idx := b[off+1]
		voff := int(le.Uint16(b[off+2:]))
		vino := le.Uint32(b[off+4:])
		vsize := int(le.Uint32(b[off+8:]))
		if off+16+nl > end || nl == 0 && idx != 2 && idx != 3 && idx != 8 {
			return nil, corrupt("%s: bad extended attribute name", where)
		}
		if vino != 0 {
			return nil, corrupt("%s: extended attribute value in an inode (ea_inode) not supported", where)
		}
		if vsize > len(vb) || base+voff < 0 || base+voff+vsize > len(vb) {
			return nil, corrupt("%s: extended attribute value out of bounds", where)
		}
		out = append(out, xattr{idx, string(b[off+16 : off+16+nl]), append([]byte(nil), vb[base+voff:base+voff+vsize]...)})
		off += align4(16 + nl)
		if len(out) > len(b) {
			return nil, corrupt("%s: too many extended attributes", where)
		}
	}
}

func (fs *FS) inodeXattrRegion(in *inode) (start int, ok bool) {
	if fs.isize <= 128 {
		return 0, false
	}
	start = 0x80 + int(le.Uint16(in.raw[0x80:]))
	return start, start+4 <= fs.isize
}

func (fs *FS) readXattrs(in *inode) (inl, blk []xattr, err error) {
	if start, ok := fs.inodeXattrRegion(in); ok && le.Uint32(in.raw[start:]) == xattrMagic {
		inl, err = parseXattrEntries(in.raw, start+4, fs.isize, in.raw, start+4, "inode "+uitoa(uint64(in.ino), 10))
		if err != nil {
			return nil, nil, err
		}
	}
	if acl := in.fileACL(); acl != 0 {
		if err := fs.checkBlock(acl, "extended attribute"); err != nil {
			return nil, nil, err
		}
		b, err := fs.bread(acl)
		if err != nil {
			return nil, nil, err
		}
		if le.Uint32(b[0:]) != xattrMagic || le.Uint32(b[8:]) != 1 {
			return nil, nil, corrupt("inode %d: bad extended attribute block %d", in.ino, acl)
		}
		err = fs.verifyOnce(acl, func() error {
			c := append([]byte(nil), b...)
			fs.xattrBlockCsum(acl, c)
			if le.Uint32(c[0x10:]) != le.Uint32(b[0x10:]) {
				return corrupt("extended attribute block %d checksum mismatch", acl)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		blk, err = parseXattrEntries(b, 32, len(b), b, 0, "extended attribute block "+uitoa(acl, 10))
		if err != nil {
			return nil, nil, err
		}
	}
	return inl, blk, nil
}

func (fs *FS) allXattrs(in *inode) ([]xattr, error) {
	a, b, err := fs.readXattrs(in)
	return append(a, b...), err
}

func xattrHash(x xattr) uint32 {
	h := uint32(0)
	for _, c := range []byte(x.name) {
		h = h<<5 ^ h>>27 ^ uint32(int32(int8(c)))
	}
	if len(x.value) > 0 {
		v := make([]byte, align4(len(x.value)))
		copy(v, x.value)
		for i := 0; i < len(v); i += 4 {
			h = h<<16 ^ h>>16 ^ le.Uint32(v[i:])
		}
	}
	return h
}

// layoutXattrs writes entries into region r (entries from entOff, values from the end),
// value offsets relative to base. It reports false if they do not fit.
func layoutXattrs(r []byte, entOff, base int, xs []xattr, hashes bool) bool {
	need := entOff + 4
	for _, x := range xs {
		need += align4(16+len(x.name)) + align4(len(x.value))
	}
	if need > len(r) {
		return false
	}
	for i := entOff; i < len(r); i++ {
		r[i] = 0
	}
	off, vend := entOff, len(r)
	for _, x := range xs {
		vend -= align4(len(x.value))
		copy(r[vend:], x.value)
		r[off] = byte(len(x.name))
		r[off+1] = x.index
		voff := vend - base
		if len(x.value) == 0 {
			voff = 0
		}
		le.PutUint16(r[off+2:], uint16(voff))
		le.PutUint32(r[off+8:], uint32(len(x.value)))
		if hashes {
			le.PutUint32(r[off+12:], xattrHash(x))
		}
		copy(r[off+16:], x.name)
		off += align4(16 + len(x.name))
	}
	return true
}

// writeXattrs stores xs in the inode, overflowing into an attribute block.
func (fs *FS) writeXattrs(in *inode, xs []xattr) error {
	// system.data (inline data) must stay in the inode
	sort.SliceStable(xs, func(i, j int) bool {
		return xs[i].index == 7 && xs[i].name == "data" && !(xs[j].index == 7 && xs[j].name == "data")
	})
	var inl, out []xattr
	start, ok := fs.inodeXattrRegion(in)
	if ok {
		region := in.raw[start:fs.isize]
		n := 0
		for n <= len(xs) && layoutXattrs(make([]byte, len(region)), 4, 4, xs[:n], true) {
			n++
		}
		n--
		if n < 0 {
			n = 0
		}
		inl, out = xs[:n], xs[n:]
		if len(inl) > 0 {
			le.PutUint32(region[0:], xattrMagic)
			layoutXattrs(region, 4, 4, inl, true)
		} else {
			for i := range region {
				region[i] = 0
			}
		}
	} else {
		out = xs
	}
	for _, x := range out {
		if x.index == 7 && x.name == "data" {
			return syscall.ENOSPC
		}
	}
	old := in.fileACL()
	if len(out) == 0 {
		if old != 0 {
			if err := fs.releaseXattrBlock(in, old); err != nil {
				return err
			}
			in.setFileACL(0)
		}
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].index != out[j].index {
			return out[i].index < out[j].index
		}
		if len(out[i].name) != len(out[j].name) {
			return len(out[i].name) < len(out[j].name)
		}
		return out[i].name < out[j].name
	})
	tmp := make([]byte, fs.bs)
	if !layoutXattrs(tmp, 32, 0, out, true) {
		return syscall.ENOSPC
	}
	blk := old
	if old != 0 {
		b, err := fs.bread(old)
		if err != nil {
			return err
		}
		if le.Uint32(b[4:]) > 1 { // shared: copy on write
			if err := fs.releaseXattrBlock(in, old); err != nil {
				return err
			}
			blk = 0
		}
	}
	if blk == 0 {
		nb, _, err := fs.allocBlocks(fs.gdInodeTable((uint32(in.ino)-1)/fs.ipg), 1)
		if err != nil {
			return err
		}
		fs.addBlocks(in, 1)
		blk = nb
	}
	b := fs.bnew(blk)
	copy(b, tmp)
	le.PutUint32(b[0:], xattrMagic)
	le.PutUint32(b[4:], 1)
	le.PutUint32(b[8:], 1)
	h := uint32(0)
	for off := 32; le.Uint32(b[off:]) != 0; off += align4(16 + int(b[off])) {
		eh := le.Uint32(b[off+12:])
		if eh == 0 {
			h = 0
			break
		}
		h = h<<16 ^ h>>16 ^ eh
	}
	le.PutUint32(b[12:], h)
	fs.xattrBlockCsum(blk, b)
	in.setFileACL(blk)
	return nil
}

func (fs *FS) xattrBlockCsum(blk uint64, b []byte) {
	if !fs.csum {
		return
	}
	le.PutUint32(b[0x10:], 0)
	var n [8]byte
	le.PutUint64(n[:], blk)
	le.PutUint32(b[0x10:], crc32c(crc32c(fs.seed, n[:]), b))
}

// releaseXattrBlock drops the inode's reference to attribute block blk.
func (fs *FS) releaseXattrBlock(in *inode, blk uint64) error {
	if err := fs.checkBlock(blk, "extended attribute"); err != nil {
		return err
	}
	b, err := fs.bread(blk)
	if err != nil {
		return err
	}
	fs.addBlocks(in, -1)
	if rc := le.Uint32(b[4:]); rc > 1 {
		le.PutUint32(b[4:], rc-1)
		fs.xattrBlockCsum(blk, b)
		fs.bdirty(blk)
		return nil
	}
	return fs.freeBlocks(blk, 1)
}

// POSIX ACLs are stored in ext4's compact format (version 1, 4-byte entries without an id
// for the owner/group/mask/other tags) but exchanged in the xattr format (version 2, all
// entries 8 bytes), as the kernel converts them.
const (
	aclUser  = 2
	aclGroup = 8
)

func aclFromDisk(b []byte) ([]byte, error) {
	if len(b) < 4 || le.Uint32(b) != 1 {
		return nil, corrupt("POSIX ACL has a bad version")
	}
	out := le.AppendUint32(nil, 2)
	for p := b[4:]; len(p) > 0; {
		if len(p) < 4 {
			return nil, corrupt("POSIX ACL truncated")
		}
		tag, perm := le.Uint16(p), le.Uint16(p[2:])
		id := uint32(0xFFFFFFFF)
		if tag == aclUser || tag == aclGroup {
			if len(p) < 8 {
				return nil, corrupt("POSIX ACL truncated")
			}
			id = le.Uint32(p[4:])
			p = p[8:]
		} else {
			p = p[4:]
		}
		out = le.AppendUint16(out, tag)
		out = le.AppendUint16(out, perm)
		out = le.AppendUint32(out, id)
	}
	return out, nil
}

func aclToDisk(b []byte) ([]byte, error) {
	if len(b) < 4 || le.Uint32(b) != 2 || (len(b)-4)%8 != 0 {
		return nil, syscall.EINVAL
	}
	out := le.AppendUint32(nil, 1)
	for p := b[4:]; len(p) > 0; p = p[8:] {
		tag := le.Uint16(p)
		out = append(out, p[:4]...)
		switch tag {
		case aclUser, aclGroup:
			out = append(out, p[4:8]...)
		case 1, 4, 0x10, 0x20:
		default:
			return nil, syscall.EINVAL
		}
	}
	return out, nil
}
