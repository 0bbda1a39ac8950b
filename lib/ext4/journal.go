package ext4

import (
	"syscall"

	"github.com/gouml/gouml/lib/extfmt"
)

// jbd2 on-disk constants (all journal fields are big-endian)
const (
	jMagic      = 0xC03B3998
	jDescriptor = 1
	jCommit     = 2
	jSuperV1    = 3
	jSuperV2    = 4
	jRevoke     = 5

	jIncompatRevoke = 0x1
	jIncompat64bit  = 0x2
	jIncompatCsumV2 = 0x8
	jIncompatCsumV3 = 0x10
	jIncompatFC     = 0x20

	jFlagEscape   = 1
	jFlagSameUUID = 2
	jFlagLastTag  = 8
)

// journal is a jbd2 log stored in an inode.
type journal struct {
	fs       *FS
	in       *inode
	sb       []byte
	bs       uint64
	first    uint64
	last     uint64 // one past the last log block
	incompat uint32
	seed     uint32
}

type jtag struct {
	logPos uint64 // journal block holding the data
	target uint64 // file system block
	flags  uint32
	csum   uint32
}

type jtxn struct {
	seq  uint32
	tags []jtag
	revs []uint64
}

func (j *journal) csumOn() bool { return j.incompat&(jIncompatCsumV2|jIncompatCsumV3) != 0 }

// read returns journal block n (a logical block of the journal inode).
func (j *journal) read(n uint64) ([]byte, error) {
	p, _, unwritten, err := j.fs.mapBlock(j.in, n)
	if err != nil {
		return nil, err
	}
	if p == 0 || unwritten {
		return nil, corrupt("journal block %d is not mapped", n)
	}
	b := make([]byte, j.bs)
	if _, err := j.fs.dev.ReadAt(b, int64(p*j.bs)); err != nil {
		return nil, ioErr("reading journal block %d: %v", n, err)
	}
	return b, nil
}

func (fs *FS) openJournal() (*journal, error) {
	jino := Ino(fs.super.JournalInum)
	if jino == 0 {
		return nil, &Error{syscall.EINVAL, "the journal is on an external device, which is not supported"}
	}
	in, err := fs.iget(jino)
	if err != nil {
		return nil, err
	}
	j := &journal{fs: fs, in: in, bs: uint64(fs.bs)}
	sb, err := j.read(0)
	if err != nil {
		return nil, err
	}
	j.sb = sb
	bt := be.Uint32(sb[4:])
	if be.Uint32(sb[0:]) != jMagic || (bt != jSuperV1 && bt != jSuperV2) {
		return nil, corrupt("journal superblock has a bad magic number or type")
	}
	if be.Uint32(sb[0xC:]) != uint32(fs.bs) {
		return nil, corrupt("journal block size %d differs from the file system's %d", be.Uint32(sb[0xC:]), fs.bs)
	}
	maxlen := uint64(be.Uint32(sb[0x10:]))
	j.first = uint64(be.Uint32(sb[0x14:]))
	if bt == jSuperV2 {
		j.incompat = be.Uint32(sb[0x28:])
	}
	if maxlen*j.bs > in.size() || j.first == 0 || j.first >= maxlen {
		return nil, corrupt("journal superblock geometry invalid (first %d, length %d, inode size %d)", j.first, maxlen, in.size())
	}
	j.last = maxlen
	if j.incompat&jIncompatFC != 0 {
		fc := uint64(be.Uint32(sb[0x54:]))
		if fc == 0 {
			fc = 256
		}
		if fc < maxlen-j.first {
			j.last = maxlen - fc
		}
	}
	if j.incompat&^(jIncompatRevoke|jIncompat64bit|jIncompatCsumV2|jIncompatCsumV3|jIncompatFC|0x4) != 0 {
		return nil, &Error{syscall.EINVAL, "journal has unknown incompatible features " + hex(j.incompat)}
	}
	if j.csumOn() {
		if sb[0x50] != 4 { // JBD2_CRC32C_CHKSUM
			return nil, corrupt("journal checksum type %d unknown", sb[0x50])
		}
		c := append([]byte(nil), sb[:1024]...)
		be.PutUint32(c[0xFC:], 0)
		if extfmt.Crc32c(^uint32(0), c) != be.Uint32(sb[0xFC:]) {
			return nil, corrupt("journal superblock checksum mismatch")
		}
		j.seed = extfmt.Crc32c(^uint32(0), sb[0x30:0x40])
	}
	return j, nil
}

func (j *journal) tagBytes() int {
	if j.incompat&jIncompatCsumV3 != 0 {
		return 16
	}
	sz := 12
	if j.incompat&jIncompatCsumV2 != 0 {
		sz += 2
	}
	if j.incompat&jIncompat64bit != 0 {
		return sz
	}
	return sz - 4
}

func (j *journal) next(pos uint64) uint64 {
	pos++
	if pos >= j.last {
		pos = j.first
	}
	return pos
}

// blockCsumOK verifies the tail checksum of a descriptor or revoke block.
func (j *journal) blockCsumOK(b []byte) bool {
	if !j.csumOn() {
		return true
	}
	c := append([]byte(nil), b...)
	be.PutUint32(c[len(c)-4:], 0)
	return extfmt.Crc32c(j.seed, c) == be.Uint32(b[len(b)-4:])
}

// scan walks the log from its start and returns the complete (committed) transactions,
// stopping at the first block that is not the expected next one, as e2fsck does.
func (j *journal) scan() ([]jtxn, uint32, error) {
	start := uint64(be.Uint32(j.sb[0x1C:]))
	seq := be.Uint32(j.sb[0x18:])
	if start == 0 {
		return nil, seq, nil
	}
	if start < j.first || start >= j.last {
		return nil, 0, corrupt("journal start %d outside the log", start)
	}
	var done []jtxn
	cur := jtxn{seq: seq}
	pos := start
	tb := j.tagBytes()
	tail := 0
	if j.csumOn() {
		tail = 4
	}
	for steps := uint64(0); steps < 2*(j.last-j.first)+2; steps++ {
		b, err := j.read(pos)
		if err != nil {
			return nil, 0, err
		}
		if be.Uint32(b[0:]) != jMagic || be.Uint32(b[8:]) != cur.seq {
			break
		}
		typ := be.Uint32(b[4:])
		if typ == jDescriptor {
			if !j.blockCsumOK(b) {
				break
			}
			pos = j.next(pos)
			end := len(b) - tail
			for off := 12; off+tb <= end; {
				t := b[off:]
				var tag jtag
				tag.target = uint64(be.Uint32(t[0:]))
				if j.incompat&jIncompatCsumV3 != 0 {
					tag.flags = be.Uint32(t[4:])
					tag.csum = be.Uint32(t[12:])
				} else {
					tag.csum = uint32(be.Uint16(t[4:]))
					tag.flags = uint32(be.Uint16(t[6:]))
				}
				if j.incompat&jIncompat64bit != 0 {
					tag.target |= uint64(be.Uint32(t[8:])) << 32
				}
				tag.logPos = pos
				pos = j.next(pos)
				cur.tags = append(cur.tags, tag)
				off += tb
				if tag.flags&jFlagSameUUID == 0 {
					off += 16
				}
				if tag.flags&jFlagLastTag != 0 {
					break
				}
			}
			continue
		}
		if typ == jCommit {
			if j.csumOn() {
				c := append([]byte(nil), b...)
				be.PutUint32(c[16:], 0)
				if extfmt.Crc32c(j.seed, c) != be.Uint32(b[16:]) {
					break
				}
			}
			done = append(done, cur)
			cur = jtxn{seq: cur.seq + 1}
			pos = j.next(pos)
			continue
		}
		if typ == jRevoke {
			if !j.blockCsumOK(b) {
				break
			}
			cnt := int(be.Uint32(b[12:]))
			if cnt < 16 || cnt > len(b)-tail {
				break
			}
			rs := 4
			if j.incompat&jIncompat64bit != 0 {
				rs = 8
			}
			for off := 16; off+rs <= cnt; off += rs {
				if rs == 8 {
					cur.revs = append(cur.revs, be.Uint64(b[off:]))
				} else {
					cur.revs = append(cur.revs, uint64(be.Uint32(b[off:])))
				}
			}
			pos = j.next(pos)
			continue
		}
		break
	}
	return done, cur.seq, nil
}

// replayJournal writes the committed transactions' blocks to their places and marks the
// journal empty.
func (fs *FS) replayJournal() error {
	j, err := fs.openJournal()
	if err != nil {
		return err
	}
	txns, endSeq, err := j.scan()
	if err != nil {
		return err
	}
	revoked := map[uint64]uint32{}
	for _, t := range txns {
		for _, r := range t.revs {
			if s, ok := revoked[r]; !ok || int32(t.seq-s) > 0 {
				revoked[r] = t.seq
			}
		}
	}
	for _, t := range txns {
		for _, tag := range t.tags {
			if s, ok := revoked[tag.target]; ok && int32(s-t.seq) >= 0 {
				continue
			}
			if tag.target >= fs.blocks {
				continue
			}
			b, err := j.read(tag.logPos)
			if err != nil {
				return err
			}
			if j.csumOn() {
				var s [4]byte
				be.PutUint32(s[:], t.seq)
				c := extfmt.Crc32c(extfmt.Crc32c(j.seed, s[:]), b)
				if j.incompat&jIncompatCsumV3 == 0 {
					c &= 0xFFFF
				}
				if c != tag.csum {
					continue // as the kernel and e2fsck: skip a block whose checksum fails
				}
			}
			// the checksum covers the block as logged, i.e. escaped
			if tag.flags&jFlagEscape != 0 {
				be.PutUint32(b[0:], jMagic)
			}
			if _, err := fs.dev.WriteAt(b, int64(tag.target*j.bs)); err != nil {
				return ioErr("replaying journal block to %d: %v", tag.target, err)
			}
		}
	}
	// mark the journal empty
	be.PutUint32(j.sb[0x1C:], 0)
	be.PutUint32(j.sb[0x18:], endSeq+1)
	if j.csumOn() {
		be.PutUint32(j.sb[0xFC:], 0)
		be.PutUint32(j.sb[0xFC:], extfmt.Crc32c(^uint32(0), j.sb[:1024]))
	}
	p, _, _, err := fs.mapBlock(j.in, 0)
	if err != nil {
		return err
	}
	if _, err := fs.dev.WriteAt(j.sb, int64(p*j.bs)); err != nil {
		return ioErr("writing journal superblock: %v", err)
	}
	if err := fs.dev.Sync(); err != nil {
		return ioErr("sync: %v", err)
	}
	return nil
}
