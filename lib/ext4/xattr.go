package ext4

import (
	"errors"
	"sort"
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

// splitXattrName maps a full attribute name to its stored form, with the errors setxattr
// and getxattr give.
func splitXattrName(full string) (uint8, string, error) {
	idx, name, err := extfmt.SplitXattrName(full)
	switch {
	case errors.Is(err, extfmt.ErrXattrNameLong):
		return 0, "", syscall.ERANGE
	case errors.Is(err, extfmt.ErrXattrNameEmpty):
		return 0, "", syscall.EINVAL
	case err != nil:
		return 0, "", syscall.EOPNOTSUPP
	}
	return idx, name, nil
}

// parseXattrEntries reads entries from b[off:end]; values are at base+e_value_offs in vb.
// Entry hashes are not checked, as Linux does not check them for values stored in the
// inode or block (e2fsck does, and accepts both the unsigned and the legacy signed form).
func parseXattrEntries(b []byte, off, end int, vb []byte, base int, where string) ([]extfmt.Xattr, error) {
	ents, err := extfmt.ParseXattrEntries(b, off, end, vb, base)
	if err != nil {
		return nil, corrupt("%s: %v", where, err)
	}
	out := make([]extfmt.Xattr, 0, len(ents))
	for _, e := range ents {
		if e.ValueInum != 0 {
			return nil, corrupt("%s: extended attribute value in an inode (ea_inode) not supported", where)
		}
		out = append(out, e.Xattr)
	}
	return out, nil
}

// inodeXattrRegion is where in-inode attributes start (their 4-byte magic), after the extra
// fields.
func (fs *FS) inodeXattrRegion(in *inode) (start int, ok bool) {
	if fs.isize <= extfmt.GoodOldInodeSize {
		return 0, false
	}
	start = extfmt.GoodOldInodeSize + in.raw.ExtraIsize()
	return start, start+extfmt.XattrIbodyHeaderSize <= fs.isize
}

func (fs *FS) readXattrs(in *inode) (inl, blk []extfmt.Xattr, err error) {
	if start, ok := fs.inodeXattrRegion(in); ok && le.Uint32(in.raw[start:]) == extfmt.XattrMagic {
		first := start + extfmt.XattrIbodyHeaderSize
		inl, err = parseXattrEntries(in.raw, first, fs.isize, in.raw, first, "inode "+uitoa(uint64(in.ino), 10))
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
		h, err := extfmt.ParseXattrBlockHeader(b)
		if err != nil {
			return nil, nil, corrupt("inode %d: bad extended attribute block %d", in.ino, acl)
		}
		err = fs.verifyOnce(acl, func() error {
			if extfmt.XattrBlockCsum(fs.seed, acl, b) != h.Checksum {
				return corrupt("extended attribute block %d checksum mismatch", acl)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		blk, err = parseXattrEntries(b, extfmt.XattrBlockHeaderSize, len(b), b, 0, "extended attribute block "+uitoa(acl, 10))
		if err != nil {
			return nil, nil, err
		}
	}
	return inl, blk, nil
}

func (fs *FS) allXattrs(in *inode) ([]extfmt.Xattr, error) {
	a, b, err := fs.readXattrs(in)
	return append(a, b...), err
}

// isInlineData tells the system.data attribute, which holds an inline inode's data.
func isInlineData(x extfmt.Xattr) bool { return x.Index == extfmt.XattrIndexSystem && x.Name == "data" }

// writeXattrs stores xs in the inode, overflowing into an attribute block.
func (fs *FS) writeXattrs(in *inode, xs []extfmt.Xattr) error {
	// system.data (inline data) must stay in the inode
	sort.SliceStable(xs, func(i, j int) bool { return isInlineData(xs[i]) && !isInlineData(xs[j]) })
	var inl, out []extfmt.Xattr
	start, ok := fs.inodeXattrRegion(in)
	if ok {
		region := in.raw[start:fs.isize]
		n := 0
		for n < len(xs) && extfmt.XattrIbodyHeaderSize+extfmt.XattrsSpace(xs[:n+1]) <= len(region) {
			n++
		}
		inl, out = xs[:n], xs[n:]
		if len(inl) > 0 {
			le.PutUint32(region[0:], extfmt.XattrMagic)
			extfmt.PutXattrs(region, extfmt.XattrIbodyHeaderSize, extfmt.XattrIbodyHeaderSize, inl)
		} else {
			clear(region)
		}
	} else {
		out = xs
	}
	for _, x := range out {
		if isInlineData(x) {
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
	tmp, err := extfmt.XattrBlock(int(fs.bs), out)
	if err != nil {
		return syscall.ENOSPC
	}
	blk := old
	if old != 0 {
		b, err := fs.bread(old)
		if err != nil {
			return err
		}
		if le.Uint32(b[4:]) > 1 { // h_refcount: shared, so copy on write
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
	fs.xattrBlockCsum(blk, b)
	in.setFileACL(blk)
	return nil
}

func (fs *FS) xattrBlockCsum(blk uint64, b []byte) {
	if fs.csum {
		extfmt.SetXattrBlockCsum(fs.seed, blk, b)
	}
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
	if h, _ := extfmt.ParseXattrBlockHeader(b); h.Refcount > 1 {
		extfmt.SetXattrRefcount(b, h.Refcount-1)
		fs.xattrBlockCsum(blk, b)
		fs.bdirty(blk)
		return nil
	}
	return fs.freeBlocks(blk, 1)
}
