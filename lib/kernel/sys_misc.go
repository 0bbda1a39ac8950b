package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The machine: uname, host name, sysinfo, reboot.

// Release is the kernel release the guest sees (uname -r) and `linux --version` prints: the
// real UML's version with a suffix that says which kernel this is.
const Release = "6.1.176-gouml"

// Version is uname's version field.
const Version = "#1 gouml"

func sysUname(c *Call) result {
	var u unix.Utsname
	put := func(dst *[65]byte, s string) { copy(dst[:64], s) }
	c.k.syncSysctls() // a write to /proc/sys/kernel/hostname that returned has taken effect
	host, domain := c.k.uts.get()
	put(&u.Sysname, "Linux")
	put(&u.Nodename, host)
	put(&u.Release, Release)
	put(&u.Version, Version)
	put(&u.Machine, "x86_64")
	put(&u.Domainname, domain)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&u)), unsafe.Sizeof(u))
	if err := c.Write(c.Arg(0), b); err != nil {
		return fail(err)
	}
	return ok(0)
}

func (c *Call) setName(host bool) result {
	n := c.Int(1)
	if n < 0 || n > 64 {
		return errno(unix.EINVAL)
	}
	b := make([]byte, n)
	if err := c.Read(c.Arg(0), b); err != nil {
		return fail(err)
	}
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	name := string(b)
	c.k.syncSysctls() // an earlier write to /proc/sys/kernel/hostname comes first
	if host {
		c.k.uts.set(&name, nil)
	} else {
		c.k.uts.set(nil, &name)
	}
	return ok(0)
}

func sysSethostname(c *Call) result   { return c.setName(true) }
func sysSetdomainname(c *Call) result { return c.setName(false) }

// sysinfo: host figures, with the guest's memory size (mem=).
func sysSysinfo(c *Call) result {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return fail(err)
	}
	unit := uint64(si.Unit)
	if unit == 0 {
		unit = 1
	}
	total := c.k.cfg.Mem
	f := c.k.memStat()
	si.Uptime = int64(c.k.uptime().Seconds())
	si.Totalram = total / unit
	si.Freeram = f.free / unit
	si.Sharedram, si.Bufferram = f.shmem/unit, 0
	si.Totalswap, si.Freeswap = 0, 0
	c.k.mu.Lock()
	si.Procs = uint16(len(c.k.procs))
	c.k.mu.Unlock()
	b := unsafe.Slice((*byte)(unsafe.Pointer(&si)), unsafe.Sizeof(si))
	if err := c.Write(c.Arg(0), b); err != nil {
		return fail(err)
	}
	return ok(0)
}

// neverReturns holds the caller of a successful halt or restart until the machine is down,
// as Linux's reboot(2) never returns: otherwise the caller runs on (a script's next line
// executes) while the shutdown kills everything.
func neverReturns(k *Kernel) result {
	return result{fd: -1, async: func() result {
		<-k.loopDone
		return errno(unix.EINTR)
	}}
}

func sysReboot(c *Call) result {
	if uint32(c.Arg(0)) != unix.LINUX_REBOOT_MAGIC1 {
		return errno(unix.EINVAL)
	}
	switch uint32(c.Arg(1)) {
	case unix.LINUX_REBOOT_MAGIC2, 0x05121996, 0x16041998, 0x20112000:
	default:
		return errno(unix.EINVAL)
	}
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	switch uint32(c.Arg(2)) {
	case unix.LINUX_REBOOT_CMD_HALT, unix.LINUX_REBOOT_CMD_POWER_OFF:
		c.k.halt(0, false)
		return neverReturns(c.k)
	case unix.LINUX_REBOOT_CMD_RESTART, unix.LINUX_REBOOT_CMD_RESTART2:
		c.k.halt(0, !c.k.cfg.NoReboot)
		return neverReturns(c.k)
	case unix.LINUX_REBOOT_CMD_CAD_ON, unix.LINUX_REBOOT_CMD_CAD_OFF:
		c.k.cadOff.Store(uint32(c.Arg(2)) == unix.LINUX_REBOOT_CMD_CAD_OFF)
		return ok(0)
	}
	return errno(unix.EINVAL)
}
