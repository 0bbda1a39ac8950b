package ubd

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Block-device ioctls the emulator answers for /dev/ubdX and /dev/ubdXN (x86-64 numbers).
const (
	BLKROSET         = 0x125d
	BLKROGET         = 0x125e
	BLKRRPART        = 0x125f
	BLKGETSIZE       = 0x1260
	BLKFLSBUF        = 0x1261
	BLKRASET         = 0x1262
	BLKRAGET         = 0x1263
	BLKSSZGET        = 0x1268
	BLKBSZGET        = 0x80081270
	BLKGETSIZE64     = 0x80081272
	BLKDISCARD       = 0x1277
	BLKIOMIN         = 0x1278
	BLKIOOPT         = 0x1279
	BLKALIGNOFF      = 0x127a
	BLKPBSZGET       = 0x127b
	BLKDISCARDZEROES = 0x127c
	BLKSECDISCARD    = 0x127d
	BLKZEROOUT       = 0x127f
	HDIO_GETGEO      = 0x0301
)

// Geometry UML reports (ubd_getgeo): 128 heads, 32 sectors per track.
const (
	GeoHeads   = 128
	GeoSectors = 32
)

// DiscardMaxBytes is /sys/block/ubdX/queue/discard_max_bytes (0 with flag t).
func (d *Device) DiscardMaxBytes() int64 {
	if d.noTrim {
		return 0
	}
	return 32768
}

// Ioctl answers a block-device ioctl on the whole disk. arg is the bytes at the guest's
// argument pointer that the command reads (BLKDISCARD/BLKZEROOUT: two u64, start and
// length; others: nothing); out is what to copy back to that pointer; ret is the system
// call's return value. An unknown command gives ENOTTY, as Linux. Capability checks
// (BLKFLSBUF, BLKRRPART need CAP_SYS_ADMIN) and the fd's open mode (BLKDISCARD needs a
// writable fd, else EBADF) are the caller's: it knows the guest task and the fd.
func (d *Device) Ioctl(cmd uintptr, arg []byte) (ret int, out []byte, err error) {
	return ioctl(d, nil, cmd, arg)
}

// Ioctl answers a block-device ioctl on a partition (see Device.Ioctl).
func (p *Partition) Ioctl(cmd uintptr, arg []byte) (ret int, out []byte, err error) {
	return ioctl(p.dev, p, cmd, arg)
}

func ioctl(d *Device, p *Partition, cmd uintptr, arg []byte) (int, []byte, error) {
	size, start := d.Size(), int64(0)
	if p != nil {
		size, start = p.Length, p.Start
	}
	le := binary.LittleEndian
	u32 := func(v uint32) []byte { return le.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return le.AppendUint64(nil, v) }
	switch cmd {
	case BLKROGET:
		ro := uint32(0)
		if d.ReadOnly() {
			ro = 1
		}
		return 0, u32(ro), nil
	case BLKGETSIZE:
		return 0, u64(uint64(size / SectorSize)), nil
	case BLKGETSIZE64:
		return 0, u64(uint64(size)), nil
	case BLKSSZGET, BLKPBSZGET, BLKIOMIN:
		return 0, u32(SectorSize), nil
	case BLKBSZGET:
		return 0, u32(initBlockSize(size)), nil
	case BLKIOOPT, BLKALIGNOFF, BLKDISCARDZEROES:
		return 0, u32(0), nil
	case BLKRAGET:
		return 0, u64(256), nil // 128 KiB of read-ahead, in sectors
	case BLKRASET:
		return 0, nil, nil
	case BLKFLSBUF:
		if err := d.Sync(); err != nil {
			return -1, nil, asErrno(err)
		}
		return 0, nil, nil
	case HDIO_GETGEO:
		g := make([]byte, 16) // struct hd_geometry: heads, sectors, cylinders u16, start ulong
		g[0], g[1] = GeoHeads, GeoSectors
		le.PutUint16(g[2:], uint16(d.Size()/(GeoHeads*GeoSectors*SectorSize)))
		le.PutUint64(g[8:], uint64(start/SectorSize))
		return 0, g, nil
	case BLKRRPART:
		if p != nil {
			return -1, nil, unix.EINVAL
		}
		_ = d.RereadPartitions() // a damaged table just leaves no partitions, as in Linux
		return 0, nil, nil
	case BLKDISCARD, BLKZEROOUT, BLKSECDISCARD:
		if len(arg) < 16 {
			return -1, nil, unix.EFAULT
		}
		off, n := le.Uint64(arg), le.Uint64(arg[8:])
		if d.ReadOnly() {
			return -1, nil, unix.EBADF
		}
		if cmd == BLKSECDISCARD {
			return -1, nil, unix.EOPNOTSUPP
		}
		if cmd == BLKDISCARD && d.noTrim {
			return -1, nil, unix.EOPNOTSUPP
		}
		if off%SectorSize != 0 || n%SectorSize != 0 || off > uint64(size) || n > uint64(size)-off {
			return -1, nil, unix.EINVAL
		}
		var err error
		if cmd == BLKDISCARD {
			err = d.Discard(start+int64(off), int64(n))
		} else {
			err = d.zeroOut(start+int64(off), int64(n))
		}
		if err != nil {
			return -1, nil, asErrno(err)
		}
		return 0, nil, nil
	}
	return -1, nil, unix.ENOTTY
}

// initBlockSize is the soft block size Linux gives a block device when it is opened
// (set_init_blocksize): the largest power of two up to the page size, from the sector size
// up, that divides the size.
func initBlockSize(size int64) uint32 {
	b := int64(SectorSize)
	for b < 4096 && size&b == 0 {
		b <<= 1
	}
	return uint32(b)
}

// zeroOut writes zeros over a range (BLKZEROOUT).
func (d *Device) zeroOut(off, n int64) error {
	z := make([]byte, min(n, flushChunk))
	for n > 0 {
		b := z[:min(n, int64(len(z)))]
		if _, err := d.WriteAt(b, off); err != nil {
			return err
		}
		off, n = off+int64(len(b)), n-int64(len(b))
	}
	return nil
}

// ProcPartitionsHeader is the first lines of /proc/partitions.
const ProcPartitionsHeader = "major minor  #blocks  name\n\n"

// ProcPartitionsLines are the device's lines of /proc/partitions: the disk, then its
// partitions, sizes in 1 KiB blocks (rounded down), as Linux's show_partition prints them.
func (d *Device) ProcPartitionsLines() string {
	var b strings.Builder
	line := func(minor int, bytes int64, name string) {
		if bytes/SectorSize == 0 {
			return
		}
		fmt.Fprintf(&b, "%4d  %7d %10d %s\n", Major, minor, bytes/SectorSize>>1, name)
	}
	line(d.Unit*16, d.Size(), d.Name)
	for _, p := range d.Partitions() {
		line(p.Minor(), p.Length, p.Name())
	}
	return b.String()
}

// ProcPartitions is the whole /proc/partitions of a guest whose only block devices are devs.
func ProcPartitions(devs ...*Device) string {
	ds := append([]*Device(nil), devs...)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Unit < ds[j].Unit })
	s := ProcPartitionsHeader
	for _, d := range ds {
		s += d.ProcPartitionsLines()
	}
	return s
}

// SysfsSize is /sys/block/ubdX/size: the size in 512-byte sectors.
func (d *Device) SysfsSize() string { return fmt.Sprintf("%d\n", d.Size()/SectorSize) }

// SysfsRO is /sys/block/ubdX/ro.
func (d *Device) SysfsRO() string {
	if d.ReadOnly() {
		return "1\n"
	}
	return "0\n"
}

// SysfsSerial is /sys/block/ubdX/serial: the serial given on the command line, "(null)"
// when none was, and (as UML prints it) no newline.
func (d *Device) SysfsSerial() string {
	if d.Serial == "" {
		return "(null)"
	}
	return d.Serial
}

// SysfsDev is /sys/block/ubdX/dev ("98:16\n").
func (d *Device) SysfsDev() string { return fmt.Sprintf("%d:%d\n", Major, d.Unit*16) }
