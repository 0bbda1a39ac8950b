package kernel

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// Block devices: ubdN=FILE[,COW] (lib/ubd). /dev/ubdX opens give the guest a real host fd
// on the device's host file (the image itself, or lib/ubd's COW-aware stand-in), so
// mkfs, dd and fsck in the guest read and write natively; stat shows a block device
// 98:unit*16; the block ioctls are trapped (filter.go: ruleIoctl) and answered by lib/ubd.
// The devices are opened once per `linux` run, like the real kernel's, and hold their
// host locks (OFD locks, lib/ubd: they survive the kernel closing other descriptors of the
// file) until it exits. Every guest open gets an open file description of its own (its own
// offset), reopened from the device's host file.

// blockDev is one configured ubd device.
type blockDev struct {
	unit     int
	dev      *ubd.Device
	host     *os.File // the device's host file (lib/ubd owns it)
	hostDev  uint64
	hostIno  uint64
	hostOnce sync.Once
	hostErr  error
	pt       partTable  // partition stand-ins (partition.go)
	root     *rootImage // the device the root image is (rootdev.go); nil for the others
}

// openBlockDevs opens every ubdN= device except the unit that is the root, and except
// those stage 1 of the kernel could not open (it said why, as UML does, and the machine
// boots on without them: jail.go). Stage 1 printed the kernel's messages about them; a
// failure now is new and is reported.
func openBlockDevs(c *cmdline.Config, skipUnit int, ok map[int]bool, stderr io.Writer) ([]*blockDev, error) {
	var out []*blockDev
	for unit := 0; unit < cmdline.MaxUBD; unit++ {
		u := c.UBD[unit]
		if u == nil || unit == skipUnit || !ok[unit] {
			continue
		}
		d, err := ubd.Open(u, c.UBDSync, io.Discard)
		if err != nil {
			fmt.Fprintf(stderr, "linux: ubd%c: %v\n", 'a'+unit, err)
			continue
		}
		out = append(out, &blockDev{unit: unit, dev: d})
	}
	return out, nil
}

func closeBlockDevs(devs []*blockDev) {
	for _, b := range devs {
		b.flushParts(true)
		b.dev.Close()
	}
}

// hostFile returns the device's host file, made on first use.
func (b *blockDev) hostFile() (*os.File, error) {
	b.hostOnce.Do(func() {
		b.host, b.hostErr = b.dev.HostFile()
		if b.hostErr == nil {
			var st unix.Stat_t
			if err := unix.Fstat(int(b.host.Fd()), &st); err != nil {
				b.hostErr = err
				return
			}
			b.hostDev, b.hostIno = st.Dev, st.Ino
		}
	})
	return b.host, b.hostErr
}

// blockDevByName returns the device for a /dev name ("ubdb"); part is the partition
// number (0 = the whole disk); ok is false when the name is no ubd name.
func (k *Kernel) blockDevByName(name string) (b *blockDev, part int, ok bool) {
	if len(name) < 4 || !strings.HasPrefix(name, "ubd") || name[3] < 'a' || name[3] >= 'a'+cmdline.MaxUBD {
		return nil, 0, false
	}
	if rest := name[4:]; rest != "" {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > 15 || strconv.Itoa(n) != rest {
			return nil, 0, false
		}
		part = n
	}
	unit := int(name[3] - 'a')
	for _, d := range k.cfg.UBDs {
		if d.unit == unit {
			return d, part, true
		}
	}
	if b := k.rootBlockDev(); b != nil && b.unit == unit && part == 0 {
		return b, 0, true
	}
	return nil, part, true
}

// openBlockDev opens /dev/ubdX for the guest: a new open file description of the host file.
func (k *Kernel) openBlockDev(b *blockDev, part int, flags int) (int, error) {
	if b == nil {
		return -1, unix.ENXIO
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY && b.dev.ReadOnly() {
		return -1, unix.EROFS
	}
	if b.root != nil && flags&unix.O_ACCMODE != unix.O_RDONLY {
		if err := k.rootDevWrite(b.root); err != nil {
			return -1, err
		}
	}
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_SYNC|unix.O_DSYNC|unix.O_DIRECT|unix.O_PATH) | unix.O_CLOEXEC
	if part != 0 {
		s, err := b.standIn(part)
		if err != nil {
			return -1, err
		}
		return unix.Open(selfFD(int(s.f.Fd())), acc&^unix.O_DIRECT, 0)
	}
	if flags&unix.O_PATH == 0 {
		// the whole disk must show what was written through its partitions
		if err := b.flushParts(true); err != nil {
			return -1, unix.EIO
		}
	}
	f, err := b.hostFile()
	if err != nil {
		return -1, unix.EIO
	}
	return unix.Open(selfFD(int(f.Fd())), acc, 0)
}

// blockDevOf returns the device (and partition number, 0 for the whole disk) whose host
// file or partition stand-in a stat describes.
func (k *Kernel) blockDevOf(st *unix.Stat_t) (*blockDev, int) {
	if b := k.rootBlockDev(); b != nil && b.host != nil && st.Dev == b.hostDev && st.Ino == b.hostIno {
		return b, 0
	}
	for _, b := range k.cfg.UBDs {
		if b.host != nil && st.Dev == b.hostDev && st.Ino == b.hostIno {
			return b, 0
		}
		if n, _ := b.partOf(st); n != 0 {
			return b, n
		}
	}
	return nil, 0
}

// blockStat makes the stat of a ubd host file the guest's block device's; it reports
// whether st was one.
func (k *Kernel) blockStat(st *unix.Stat_t) bool {
	b, part := k.blockDevOf(st)
	if b == nil {
		return false
	}
	st.Mode = unix.S_IFBLK | 0o660
	st.Rdev = unix.Mkdev(ubd.Major, uint32(b.unit*16+part))
	// one name, as a devtmpfs node has: the host file behind it may be unlinked (nlink 0)
	st.Size, st.Blocks, st.Nlink = 0, 0, 1
	st.Uid, st.Gid = 0, 6 // root:disk
	return true
}

// hasStandIns reports whether any partition stand-in exists (fsync must look at its fd).
func (k *Kernel) hasStandIns() bool {
	for _, b := range k.cfg.UBDs {
		b.pt.mu.Lock()
		n := len(b.pt.parts)
		b.pt.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// sysIoctl serves the ioctls the filter traps (block devices); on other fds they run
// natively.
func sysIoctl(c *Call) result {
	fd, err := c.guestFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return fail(err)
	}
	b, part := c.k.blockDevOf(&st)
	if b == nil {
		return cont() // not one of ours: ENOTTY or the file's own answer, natively
	}
	var p *ubd.Partition
	if part != 0 {
		if p = b.dev.Partition(part); p == nil {
			return errno(unix.ENXIO)
		}
	}
	cmd := uintptr(uint32(c.Arg(1)))
	switch cmd {
	case ubd.BLKFLSBUF, ubd.BLKRRPART:
		c.k.mu.Lock()
		root := c.cred().EUID == 0
		c.k.mu.Unlock()
		if !root {
			return errno(unix.EACCES)
		}
		if cmd == ubd.BLKRRPART && b.root != nil {
			return errno(unix.EBUSY)
		}
	case ubd.BLKDISCARD, ubd.BLKZEROOUT, ubd.BLKSECDISCARD:
		if !c.fdWritable(c.Int(0)) {
			return errno(unix.EBADF)
		}
		if b.root != nil && !c.k.root.ReadOnly() {
			return errno(unix.EBUSY) // the kernel's driver has the root image in use
		}
	case ubd.BLKROSET:
		if b.root != nil {
			return errno(unix.EBUSY)
		}
	}
	var arg []byte
	switch cmd {
	case ubd.BLKDISCARD, ubd.BLKZEROOUT, ubd.BLKSECDISCARD:
		arg = make([]byte, 16)
		if err := c.Read(c.Arg(2), arg); err != nil {
			return errno(unix.EFAULT)
		}
	}
	if cmd == ubd.BLKRRPART && p == nil {
		// the table may change: partitions are read from the disk again
		if err := b.flushParts(true); err != nil {
			return errno(unix.EIO)
		}
	}
	var ret int
	var out []byte
	if p != nil {
		if cmd == ubd.BLKFLSBUF {
			b.pt.mu.Lock()
			if s := b.pt.parts[part]; s != nil {
				s.flush()
			}
			b.pt.mu.Unlock()
		}
		ret, out, err = p.Ioctl(cmd, arg)
	} else {
		ret, out, err = b.dev.Ioctl(cmd, arg)
	}
	if err != nil {
		return fail(err)
	}
	if len(out) > 0 {
		if err := c.Write(c.Arg(2), out); err != nil {
			return errno(unix.EFAULT)
		}
	}
	return ok(int64(ret))
}

// fdWritable reports whether the caller's fd was opened for writing.
func (c *Call) fdWritable(fd int32) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Tid) + "/fdinfo/" + strconv.Itoa(int(fd)))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return err == nil && f&unix.O_ACCMODE != unix.O_RDONLY
		}
	}
	return false
}

// disks are the machine's ubd disks in unit order, the root image's own device included
// (what /proc/partitions and /sys/block list; the root's cannot be mounted again).
func (k *Kernel) disks() []*blockDev {
	out := make([]*blockDev, 0, len(k.cfg.UBDs)+1)
	r := k.rootBlockDev()
	for _, b := range k.cfg.UBDs {
		if r != nil && r.unit < b.unit {
			out, r = append(out, r), nil
		}
		out = append(out, b)
	}
	if r != nil {
		out = append(out, r)
	}
	return out
}

// procPartitions is /proc/partitions.
func (k *Kernel) procPartitions() []byte {
	devs := make([]*ubd.Device, 0, len(k.cfg.UBDs)+1)
	for _, b := range k.disks() {
		devs = append(devs, b.dev)
	}
	return []byte(ubd.ProcPartitions(devs...))
}

// sysSwapon accepts a ubd device that mkswap prepared (the guest's memory is the host's, so
// nothing is ever swapped to it; /proc/swaps lists it, Used 0).
func sysSwapon(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	fs, rest := c.k.special(abs)
	b, part, isUBD := c.k.blockDevByName(rest)
	if fs != "/dev" || !isUBD || b == nil || part != 0 {
		return errno(unix.EINVAL) // swap files and other devices: not supported yet
	}
	if b.root != nil {
		return errno(unix.EBUSY)
	}
	sig := make([]byte, 10)
	if _, err := b.dev.ReadAt(sig, 4086); err != nil || string(sig) != "SWAPSPACE2" {
		return errno(unix.EINVAL) // no mkswap signature, as Linux
	}
	c.k.swapMu.Lock()
	defer c.k.swapMu.Unlock()
	if c.k.swaps[b.unit] {
		return errno(unix.EBUSY)
	}
	if c.k.swaps == nil {
		c.k.swaps = map[int]bool{}
	}
	c.k.swaps[b.unit] = true
	return ok(0)
}

func sysSwapoff(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	_, rest := c.k.special(abs)
	b, _, isUBD := c.k.blockDevByName(rest)
	c.k.swapMu.Lock()
	defer c.k.swapMu.Unlock()
	if !isUBD || b == nil || !c.k.swaps[b.unit] {
		return errno(unix.EINVAL)
	}
	delete(c.k.swaps, b.unit)
	return ok(0)
}

// procSwaps is /proc/swaps.
func (k *Kernel) procSwaps() []byte {
	out := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	k.swapMu.Lock()
	defer k.swapMu.Unlock()
	prio := -2
	for _, b := range k.cfg.UBDs {
		if k.swaps[b.unit] {
			name := "/dev/" + ubd.DiskName(b.unit)
			out += fmt.Sprintf("%-40s%s\t%d\t\t0\t\t%d\n", name, "partition", (b.dev.Size()-4096)/1024, prio)
			prio--
		}
	}
	return []byte(out)
}
