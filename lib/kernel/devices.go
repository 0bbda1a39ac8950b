package kernel

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// The kernel's devices, in one registry keyed by number and by /dev name: a /dev path, a
// device node the guest made with mknod (its number in the metadata), the stat of an open
// device and the seccomp filter's ioctl rule all look a device up here. A device says how it
// opens, how its node looks (devtmpfs's mode; root's), and which ioctl requests it answers
// itself, so that the filter traps exactly those.

// devNum is a device number of the guest's: block or character, major and minor.
type devNum struct {
	block        bool
	major, minor uint32
}

// rdev is the number as stat's st_rdev.
func (n devNum) rdev() uint64 { return unix.Mkdev(n.major, n.minor) }

// device is one device the kernel serves.
type device struct {
	name string // under /dev
	num  devNum
	perm uint32 // the permission bits of its devtmpfs node
	// open gives the kernel's fd of the device (flags are the guest's open flags)
	open func(k *Kernel, c *Call, flags int) (int, error)
	// host: the device is the host's own node of that name (its identity is learnt for
	// stat, kernelNodes)
	host bool
	// line: the device is a console or serial line (ttyline.go), which has a name in /dev
	// only while it is configured
	line *lineRef
}

// lineRef names a line: con or ssl, and its number.
type lineRef struct {
	kind string
	n    int
}

// devClass is a kind of device and the ioctl requests its devices answer in the kernel
// (trapped by the filter: ruleIoctl); any other request of a guest fd runs natively on it.
type devClass struct {
	name     string
	ioctls   []uint32 // exact requests
	ioctlTyp []uint32 // request types (the _IOC type byte, bits 8-15): every request of it
}

// devClasses are the classes whose requests the filter traps. Block devices: the guest's
// ubd devices are regular host files (blockdev.go), so their requests (type 0x12: BLKGETSIZE64,
// BLKFLSBUF, BLKRRPART, BLKDISCARD …, and fdisk's HDIO_GETGEO) are answered by lib/ubd.
var devClasses = []devClass{
	{name: "ubd", ioctls: []uint32{hdioGetgeo}, ioctlTyp: []uint32{0x12}},
}

// charDevices are the character devices every machine has (filled by init: their open
// functions refer back to the registry).
var charDevices []*device

func init() {
	charDevices = []*device{
		{name: "null", num: devNum{false, 1, 3}, perm: 0o666, open: openHostDev("null"), host: true},
		{name: "zero", num: devNum{false, 1, 5}, perm: 0o666, open: openHostDev("zero"), host: true},
		{name: "full", num: devNum{false, 1, 7}, perm: 0o666, open: openHostDev("full"), host: true},
		{name: "random", num: devNum{false, 1, 8}, perm: 0o666, open: openHostDev("random"), host: true},
		{name: "urandom", num: devNum{false, 1, 9}, perm: 0o666, open: openHostDev("urandom"), host: true},
		{name: "kmsg", num: devNum{false, 1, 11}, perm: 0o644, open: openKmsg},
		// the console and the two names that lead to it (tty_devnode: /dev/tty 0666, the rest 0600)
		{name: "tty", num: devNum{false, 5, 0}, perm: 0o666, open: openConsoleAs("tty")},
		{name: "console", num: devNum{false, 5, 1}, perm: 0o600, open: openConsoleAs("console")},
		{name: "tty0", num: devNum{false, 4, 0}, perm: 0o600, open: openConsoleAs("tty0")},
		// the guest's own ptys (devpts.go)
		{name: "ptmx", num: devNum{false, 5, 2}, perm: 0o666, open: openPtmxDev},
	}
	// the other consoles and the serial lines (tty_devnode: 0600, root's)
	for n := 1; n < cmdline.MaxCon; n++ {
		charDevices = append(charDevices, lineDevice("con", n, "tty"+strconv.Itoa(n), uint32(n)))
	}
	for n := 0; n < cmdline.MaxSSL; n++ {
		charDevices = append(charDevices, lineDevice("ssl", n, "ttyS"+strconv.Itoa(n), uint32(64+n)))
	}
}

func lineDevice(kind string, n int, name string, minor uint32) *device {
	ref := &lineRef{kind, n}
	return &device{name: name, num: devNum{false, 4, minor}, perm: 0o600, line: ref,
		open: func(k *Kernel, c *Call, flags int) (int, error) {
			l := k.cfg.Lines.line(ref.kind, ref.n)
			if l == nil {
				return -1, unix.ENXIO
			}
			return l.open(flags)
		}}
}

// openHostDev opens the host's device of that name: the five memory devices are the same
// everywhere, and the kernel's Landlock rules allow exactly them (jail.go).
func openHostDev(name string) func(*Kernel, *Call, int) (int, error) {
	return func(k *Kernel, c *Call, flags int) (int, error) {
		acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_PATH|unix.O_NOCTTY) | unix.O_CLOEXEC
		return unix.Open("/dev/"+name, acc, 0)
	}
}

// openConsoleAs opens the console for one of its names; an O_PATH open of /dev/tty or
// /dev/tty0 gets the node of its own that stat shows (kernelNodes).
func openConsoleAs(name string) func(*Kernel, *Call, int) (int, error) {
	return func(k *Kernel, c *Call, flags int) (int, error) {
		if name == "tty" && flags&unix.O_PATH == 0 && c != nil {
			// the caller's controlling terminal, when it is one of the guest's ptys
			// (asked first: the lines' host ptys share the major of the guest's)
			if n, ok := k.controllingPty(c.Tid); ok {
				return k.openCtty(n, flags)
			}
		}
		// (con0 as a line: /dev/tty0 is its own node, as ttyname finds it)
		if flags&unix.O_PATH != 0 && name != "console" && !(name == "tty0" && k.cfg.con0Line) {
			if fd, ok := k.devNodes().standIns[name]; ok {
				return unix.Open(selfFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
			}
		}
		if name == "tty" && c != nil {
			// the caller's controlling terminal, when it is one of the lines
			ctty := cttyOf(c.Tid)
			if l := k.cfg.Lines.lineOfRdev(ctty); l != nil {
				return l.open(flags)
			}
			if ctty == 0 && flags&unix.O_PATH == 0 {
				return -1, unix.ENXIO // no controlling terminal: no /dev/tty, as on Linux
			}
		}
		return k.openConsole(flags)
	}
}

// openPtmxDev opens /dev/ptmx: a new master of the guest's devpts; an O_PATH open gets the
// node of its own that stat shows (kernelNodes), devtmpfs's, not the instance's ptmx.
func openPtmxDev(k *Kernel, c *Call, flags int) (int, error) {
	if flags&unix.O_PATH != 0 {
		if fd, ok := k.devNodes().standIns["ptmx"]; ok {
			return unix.Open(selfFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
		}
	}
	return k.openPtmx(c, flags)
}

// cttyOf returns the host device number of a task's controlling terminal (0: none), from
// field 7 of /proc/TID/stat.
func cttyOf(tid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 5 {
		return 0
	}
	n, err := strconv.ParseUint(f[4], 10, 64)
	if err != nil || n == 0 {
		return 0
	}
	return n
}

// deviceByName returns the kernel's device of a /dev name (nil: none).
func (k *Kernel) deviceByName(name string) *device {
	for _, d := range charDevices {
		if d.name == name {
			if d.line != nil {
				// an unconfigured line has no node in devtmpfs
				if l := k.cfg.Lines.line(d.line.kind, d.line.n); l == nil || !l.isValid() {
					return nil
				}
			}
			return d
		}
	}
	if n, ok := ptyNumber(name); ok && k.devptsFD() >= 0 {
		return &device{name: name, num: devNum{false, ptyMajor, n}, perm: 0o600,
			open: func(k *Kernel, c *Call, flags int) (int, error) { return k.openPts(c, name[4:], flags) }}
	}
	if b, part, ok := k.blockDevByName(name); ok && b != nil {
		return k.blockDevice(b, part, name)
	}
	return nil
}

// deviceByNum returns the kernel's device of a number (nil: none, ENXIO for the guest).
func (k *Kernel) deviceByNum(n devNum) *device {
	if !n.block {
		for _, d := range charDevices {
			if d.num == n {
				return d
			}
		}
		// No pty slave by number: the console is a pty of the host's devpts with the same
		// major, and a number alone cannot tell the two instances apart.
		return nil
	}
	if n.major != ubd.Major || n.minor >= 16*cmdline.MaxUBD {
		return nil
	}
	name := ubd.DiskName(int(n.minor / 16))
	if n.minor%16 != 0 {
		name += strconv.Itoa(int(n.minor % 16))
	}
	return k.deviceByName(name)
}

// blockDevice is the registry's view of a ubd disk or partition.
func (k *Kernel) blockDevice(b *blockDev, part int, name string) *device {
	return &device{
		name: name,
		num:  devNum{true, ubd.Major, uint32(b.unit*16 + part)},
		perm: 0o660,
		open: func(k *Kernel, c *Call, flags int) (int, error) { return k.openBlockDev(b, part, flags) },
	}
}

// ptyNumber parses a /dev name of a pty slave (pts/N).
func ptyNumber(name string) (uint32, bool) {
	s, ok := strings.CutPrefix(name, "pts/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 20)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return uint32(n), true
}

// devLink reports whether a /dev name is one of the links to the caller's fds (Linux's
// /dev/stdin, stdout, stderr and fd are symlinks into /proc/self/fd).
func devLink(name string) bool {
	switch name {
	case "stdin", "stdout", "stderr", "fd":
		return true
	}
	return len(name) > 3 && name[:3] == "fd/"
}

// missingDevice says how opening /dev/NAME fails when NAME is a device a Linux machine may
// have but this one does not (and the root's /dev holds no such entry): a console or serial
// line that is not configured (ENODEV, as UML's line driver says), a ubd unit not given or
// not opened, or another device of a kind gouml never has (ENXIO, as for a node with no
// driver). 0 for every other name. Without it, `echo x > /dev/tty1` or `dd of=/dev/ubdb`
// would create a regular file in the root's /dev, on the host.
func (k *Kernel) missingDevice(name string) unix.Errno {
	if k.deviceByName(name) != nil {
		return 0
	}
	digits := func(s string) bool {
		if s == "" || len(s) > 1 && s[0] == '0' {
			return false
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	lettersDigits := func(s string) bool { // [a-z]+[0-9]*
		i := 0
		for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
			i++
		}
		return i > 0 && (i == len(s) || digits(s[i:]))
	}
	if t, ok := strings.CutPrefix(name, "ttyS"); ok && digits(t) {
		return unix.ENODEV
	}
	if t, ok := strings.CutPrefix(name, "tty"); ok && digits(t) {
		return unix.ENODEV
	}
	if _, _, ok := k.blockDevByName(name); ok {
		return unix.ENXIO
	}
	for _, p := range []string{"ubd", "sd", "hd", "vd", "xvd"} {
		if t, ok := strings.CutPrefix(name, p); ok && lettersDigits(t) {
			return unix.ENXIO
		}
	}
	for _, p := range []string{"loop", "nbd", "md", "ram", "sr", "fd", "lp", "rtc", "watchdog", "ttyUSB", "ttyACM", "hvc", "vcs", "vcsa"} {
		if t, ok := strings.CutPrefix(name, p); ok && (t == "" && (p == "rtc" || p == "watchdog") || digits(t)) {
			return unix.ENXIO
		}
	}
	switch name {
	case "mem", "kmem", "port", "hwrng", "loop-control", "fuse", "kvm", "mapper/control", "rfkill", "uinput":
		return unix.ENXIO
	}
	return 0
}
