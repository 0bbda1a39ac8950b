package ext4

import (
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

func (fs *FS) groupStart(g uint32) uint64 { return fs.firstData + uint64(g)*uint64(fs.bpg) }

func (fs *FS) groupBlocks(g uint32) uint64 {
	if g == fs.groups-1 {
		return fs.blocks - fs.groupStart(g)
	}
	return uint64(fs.bpg)
}

func setBit(b []byte, i uint64)       { b[i/8] |= 1 << (i % 8) }
func clearBit(b []byte, i uint64)     { b[i/8] &^= 1 << (i % 8) }
func testBit(b []byte, i uint64) bool { return b[i/8]&(1<<(i%8)) != 0 }

// blockBitmap returns group g's block bitmap, building it if the group is BLOCK_UNINIT.
func (fs *FS) blockBitmap(g uint32) ([]byte, uint64, error) {
	blk := fs.gdBlockBitmap(g)
	if fs.gdFlags(g)&extfmt.BgBlockUninit == 0 || !(fs.csum || fs.gdtCsum) {
		b, err := fs.bread(blk)
		return b, blk, err
	}
	b := fs.bnew(blk)
	start, n := fs.groupStart(g), fs.groupBlocks(g)
	mark := func(blk, cnt uint64) {
		for i := uint64(0); i < cnt; i++ {
			if blk+i >= start && blk+i < start+n {
				setBit(b, blk+i-start)
			}
		}
	}
	if fs.hasSuper(uint64(g)) {
		mark(start, 1+fs.gdtBlocks+fs.resGdt)
		if g == 0 && fs.firstData == 0 {
			// block 0 holds the boot sector and the superblock
		}
	}
	itBlocks := (uint64(fs.ipg)*uint64(fs.isize) + uint64(fs.bs) - 1) / uint64(fs.bs)
	for h := uint32(0); h < fs.groups; h++ {
		mark(fs.gdBlockBitmap(h), 1)
		mark(fs.gdInodeBitmap(h), 1)
		mark(fs.gdInodeTable(h), itBlocks)
	}
	for i := n; i < uint64(fs.bs)*8; i++ {
		setBit(b, i)
	}
	fs.setGdFlags(g, fs.gdFlags(g)&^extfmt.BgBlockUninit)
	fs.blockBitmapCsum(g, b)
	return b, blk, nil
}

func (fs *FS) blockBitmapCsum(g uint32, b []byte) {
	if !fs.csum {
		return
	}
	c := extfmt.BitmapCsum(fs.seed, b, int(fs.bpg/8))
	fs.updateGd(g, func(d *extfmt.GroupDesc) { d.BlockBitmapCsum = c })
}

func (fs *FS) inodeBitmapCsum(g uint32, b []byte) {
	if !fs.csum {
		return
	}
	c := extfmt.BitmapCsum(fs.seed, b, int(fs.ipg/8))
	fs.updateGd(g, func(d *extfmt.GroupDesc) { d.InodeBitmapCsum = c })
}

func (fs *FS) inodeBitmap(g uint32) ([]byte, uint64, error) {
	blk := fs.gdInodeBitmap(g)
	if fs.gdFlags(g)&extfmt.BgInodeUninit == 0 || !(fs.csum || fs.gdtCsum) {
		b, err := fs.bread(blk)
		return b, blk, err
	}
	b := fs.bnew(blk)
	for i := uint64(fs.ipg); i < uint64(fs.bs)*8; i++ {
		setBit(b, i)
	}
	fs.setGdFlags(g, fs.gdFlags(g)&^extfmt.BgInodeUninit)
	fs.inodeBitmapCsum(g, b)
	return b, blk, nil
}

// allocBlocks allocates up to want contiguous blocks, preferably at goal.
func (fs *FS) allocBlocks(goal uint64, want uint64) (uint64, uint64, error) {
	if fs.ro {
		return 0, 0, syscall.EROFS
	}
	if want == 0 {
		want = 1
	}
	if fs.sbFreeBlocks() == 0 {
		return 0, 0, syscall.ENOSPC
	}
	if goal < fs.firstData || goal >= fs.blocks {
		goal = fs.firstData
	}
	g0 := uint32((goal - fs.firstData) / uint64(fs.bpg))
	for i := uint32(0); i <= fs.groups; i++ {
		g := (g0 + i) % fs.groups
		if fs.gdFreeBlocks(g) == 0 {
			continue
		}
		from := uint64(0)
		if i == 0 {
			from = goal - fs.groupStart(g)
		}
		b, blk, err := fs.blockBitmap(g)
		if err != nil {
			return 0, 0, err
		}
		n := fs.groupBlocks(g)
		pf := fs.pendingFree[g]
		used := func(i uint64) bool { return testBit(b, i) || pf != nil && testBit(pf, i) }
		for bit := from; bit < n; bit++ {
			if b[bit/8] == 0xFF && bit%8 == 0 {
				bit += 7
				continue
			}
			if used(bit) {
				continue
			}
			cnt := uint64(0)
			for bit+cnt < n && cnt < want && !used(bit+cnt) && cnt < fs.gdFreeBlocks(g) {
				setBit(b, bit+cnt)
				cnt++
			}
			fs.bdirty(blk)
			fs.blockBitmapCsum(g, b)
			fs.updateGd(g, func(d *extfmt.GroupDesc) { d.FreeBlocks -= uint32(cnt) })
			fs.setSbFreeBlocks(fs.sbFreeBlocks() - cnt)
			start := fs.groupStart(g) + bit
			for j := uint64(0); j < cnt; j++ {
				fs.bforget(start + j)
			}
			return start, cnt, nil
		}
	}
	if len(fs.pendingFree) > 0 {
		// the only free blocks are ones freed since the last sync: make the frees durable
		if err := fs.flush(true); err != nil {
			return 0, 0, err
		}
		return fs.allocBlocks(goal, want)
	}
	return 0, 0, syscall.ENOSPC
}

// freeBlocks returns n blocks starting at start to the free pool.
func (fs *FS) freeBlocks(start, n uint64) error {
	for n > 0 {
		if start < fs.firstData || start >= fs.blocks {
			return corrupt("freeing block %d outside the file system", start)
		}
		g := uint32((start - fs.firstData) / uint64(fs.bpg))
		b, blk, err := fs.blockBitmap(g)
		if err != nil {
			return err
		}
		bit := start - fs.groupStart(g)
		cnt := uint64(0)
		for n > 0 && bit < fs.groupBlocks(g) {
			if !testBit(b, bit) {
				return corrupt("block %d freed twice (already free in the bitmap)", start)
			}
			clearBit(b, bit)
			// Not reusable before the metadata that frees it is durable: a crash must not
			// leave a still-referenced block holding another file's data.
			pf := fs.pendingFree[g]
			if pf == nil {
				pf = make([]byte, fs.bs)
				fs.pendingFree[g] = pf
			}
			setBit(pf, bit)
			fs.bforget(start)
			bit++
			start++
			n--
			cnt++
		}
		fs.bdirty(blk)
		fs.blockBitmapCsum(g, b)
		fs.updateGd(g, func(d *extfmt.GroupDesc) { d.FreeBlocks += uint32(cnt) })
		fs.setSbFreeBlocks(fs.sbFreeBlocks() + cnt)
	}
	return nil
}

// allocInode allocates an inode number, preferring the parent's group.
func (fs *FS) allocInode(parent Ino, dir bool) (Ino, error) {
	if fs.ro {
		return 0, syscall.EROFS
	}
	if fs.super.FreeInodesCount == 0 {
		return 0, syscall.ENOSPC
	}
	g0 := (uint32(parent) - 1) / fs.ipg
	if g0 >= fs.groups {
		g0 = 0
	}
	if dir {
		// spread directories over the groups, as the Orlov allocator roughly does
		g0 = fs.allocGoal
		fs.allocGoal = (fs.allocGoal + 1) % fs.groups
	}
	for i := uint32(0); i < fs.groups; i++ {
		g := (g0 + i) % fs.groups
		if fs.gdFreeInodes(g) == 0 {
			continue
		}
		b, blk, err := fs.inodeBitmap(g)
		if err != nil {
			return 0, err
		}
		for bit := uint64(0); bit < uint64(fs.ipg); bit++ {
			ino := uint64(g)*uint64(fs.ipg) + bit + 1
			if testBit(b, bit) || ino < uint64(fs.firstIno) {
				continue
			}
			setBit(b, bit)
			fs.bdirty(blk)
			fs.inodeBitmapCsum(g, b)
			fs.updateGd(g, func(d *extfmt.GroupDesc) { d.FreeInodes-- })
			if dir {
				fs.updateGd(g, func(d *extfmt.GroupDesc) { d.UsedDirs++ })
			}
			if fs.csum || fs.gdtCsum {
				if un := fs.gdItableUnused(g); bit+1 > uint64(fs.ipg)-un {
					fs.updateGd(g, func(d *extfmt.GroupDesc) { d.ItableUnused = fs.ipg - uint32(bit+1) })
				}
				if fs.gdFlags(g)&extfmt.BgBlockUninit != 0 {
					if _, _, err := fs.blockBitmap(g); err != nil {
						return 0, err
					}
				}
			}
			fs.super.FreeInodesCount--
			fs.sbDirty = true
			return Ino(ino), nil
		}
	}
	return 0, syscall.ENOSPC
}

func (fs *FS) freeInodeBit(ino Ino, dir bool) error {
	g := (uint32(ino) - 1) / fs.ipg
	bit := uint64((uint32(ino) - 1) % fs.ipg)
	b, blk, err := fs.inodeBitmap(g)
	if err != nil {
		return err
	}
	if !testBit(b, bit) {
		return corrupt("inode %d freed twice (already free in the bitmap)", ino)
	}
	clearBit(b, bit)
	fs.bdirty(blk)
	fs.inodeBitmapCsum(g, b)
	fs.updateGd(g, func(d *extfmt.GroupDesc) { d.FreeInodes++ })
	if dir && fs.gdUsedDirs(g) > 0 {
		fs.updateGd(g, func(d *extfmt.GroupDesc) { d.UsedDirs-- })
	}
	fs.super.FreeInodesCount++
	fs.sbDirty = true
	return nil
}
