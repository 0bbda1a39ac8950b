package kernel

import (
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// getcwd, inotify, chroot, mount and umount.

func sysGetcwd(c *Call) result {
	cwd, gone := c.k.cwdOf(c.root(), c.Tid)
	if gone {
		return errno(unix.ENOENT) // as Linux says for a removed working directory
	}
	b := append([]byte(cwd), 0)
	if len(b) > unix.PathMax {
		// Linux's getcwd names the directory in a page (glibc then walks ".." itself)
		return errno(unix.ENAMETOOLONG)
	}
	if uint64(len(b)) > c.Arg(1) {
		return errno(unix.ERANGE)
	}
	if err := c.Write(c.Arg(0), b); err != nil {
		return fail(err)
	}
	return ok(int64(len(b)))
}

func sysInotifyAddWatch(c *Call) result {
	mask := uint32(c.Arg(2))
	fd, err := c.pathFD(unix.AT_FDCWD, 1, mask&unix.IN_DONT_FOLLOW == 0, false)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	if !c.privileged() {
		// Linux asks for read permission on what is watched
		if err := c.mayOn(c.fsCred(), fd, mayRead); err != nil {
			return fail(err)
		}
	}
	pidfd, err := unix.PidfdOpen(c.T.Proc.Tgid, 0)
	if err != nil {
		return fail(err)
	}
	ifd, err := unix.PidfdGetfd(pidfd, int(c.Int(0)), 0)
	unix.Close(pidfd)
	if err != nil {
		return errno(unix.EBADF)
	}
	defer unix.Close(ifd)
	wd, err := unix.InotifyAddWatch(ifd, selfFD(fd), mask|unix.IN_DONT_FOLLOW)
	if err != nil {
		return fail(err)
	}
	return ok(int64(wd))
}

// adminPath reads path argument i of a call only guest root may make (chroot, umount,
// swapon …) and makes it absolute.
func (c *Call) adminPath(i int) (string, error) {
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return "", unix.EPERM
	}
	p, err := c.Str(i)
	if err != nil {
		return "", err
	}
	return c.absFollow(unix.AT_FDCWD, p)
}

// sysChroot gives the calling process a root of its own (inherited by its children). Paths
// are then resolved inside that directory exactly as inside the machine's root.
func sysChroot(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return errno(unix.EPERM) // chroot into /proc or /dev: not supported
	}
	fd, err := c.root().Open(abs, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return fail(err)
	}
	g, w := c.k.objPath(selfFD(fd))
	if w != inTree || strings.HasSuffix(g, " (deleted)") {
		unix.Close(fd)
		return errno(unix.ENOENT)
	}
	if c.k.ratchetOn() {
		c.k.mu.Lock()
		need := needsRatchetLocked(true, c.T.Proc, c.T.Proc.Cred, true)
		c.k.mu.Unlock()
		if need {
			unix.Close(fd)
			return c.ratchetFirst() // restarted once the filter is in (ratchet.go)
		}
	}
	nr := c.root().Sub(fd, g)
	c.k.root.mounts.addChroot(nr)
	c.k.mu.Lock()
	c.T.Proc.Root = nr
	c.k.wipeTokenLocked(c.Tid, c.T.Proc) // a child forked from now on must not escape the chroot
	c.k.mu.Unlock()
	return ok(0)
}

// remountRootFS is mount -o remount of /: its flags are replaced (mountflags.go).
func (c *Call) remountRootFS(flags uint64) result {
	ro := flags&unix.MS_RDONLY != 0
	if c.k.cfg.rootImage == nil {
		if err := c.k.root.SetMountFlags(flags & mountFlagMask); err != nil {
			return fail(err)
		}
		if err := c.k.rootRemounted(); err != nil {
			return fail(err)
		}
		return ok(0)
	}
	// an image root is written back first: not on the dispatcher's goroutine
	return result{fd: -1, async: func() result {
		if err := c.k.remountRoot(ro); err != nil {
			return fail(err)
		}
		if err := c.k.root.SetMountFlags(flags & mountFlagMask); err != nil {
			return fail(err)
		}
		if err := c.k.rootRemounted(); err != nil {
			return fail(err)
		}
		return ok(0)
	}}
}

// remountKernelFS is mount -o remount of the kernel's own file systems: Debian's boot
// remounts each with its fstab options (mount-functions.sh). Their nosuid, nodev and noexec
// are replaced (kernelfs.go); devpts takes its options again. done is false for other paths.
func (c *Call) remountKernelFS(abs string) (r result, done bool) {
	mf := c.Arg(3) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	switch dir := path.Clean(abs); dir {
	case "/proc", "/sys", "/dev", "/dev/mqueue":
		c.k.setKernelFlags("", dir, mf)
		return ok(0), true
	case "/dev/pts":
		c.k.setKernelFlags("", dir, mf)
		data, err := c.mountData()
		if err != nil {
			return fail(err), true
		}
		if err := c.k.mountDevpts(data); err != nil {
			return fail(err), true
		}
		return ok(0), true
	}
	if c.k.setKernelFlags("", path.Clean(abs), mf) {
		return ok(0), true // procfs, sysfs or devtmpfs mounted elsewhere
	}
	return result{}, false
}

// mountData reads mount(2)'s data argument (the file system's options; "" for NULL).
func (c *Call) mountData() (string, error) {
	if c.Arg(4) == 0 {
		return "", nil
	}
	return c.Str(4)
}

// remountAt is mount -o remount of the guest path abs: the root, a mount of the table's
// trees (its type says how), or one of the kernel's own; done is false for a path that is
// none of them.
func (c *Call) remountAt(abs string, flags uint64) (r result, done bool) {
	if strings.TrimRight(abs, "/") == "" {
		return c.remountRootFS(flags), true
	}
	if rt, _ := c.root().route(abs); rt != c.root() && path.Clean(abs) != "/" {
		data, err := c.mountData()
		if err != nil {
			return fail(err), true
		}
		return result{fd: -1, async: func() result {
			if err := c.k.remount(abs, flags, data); err != nil {
				return fail(err)
			}
			return ok(0)
		}}, true
	}
	return c.remountKernelFS(abs)
}

// mount: a ubd device's ext2/3/4 file system (mount.go), remounting the root or such a mount
// read-write or read-only, and proc on /proc, sysfs on /sys, devtmpfs on /dev and devpts on
// /dev/pts, which are always there.
// Anything else is ENODEV.
func sysMount(c *Call) result {
	target, err := c.Str(1)
	if err != nil {
		return fail(err)
	}
	flags := c.Arg(3)
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	abs, _ := c.absFollow(unix.AT_FDCWD, target)
	if flags&unix.MS_REMOUNT != 0 {
		if r, done := c.remountAt(abs, flags); done {
			return r
		}
	}
	fstype, _ := c.Str(2)
	if flags&(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_MOVE) == unix.MS_BIND && c.T.Proc.Root == nil {
		src, err := c.Str(0)
		if err != nil {
			return fail(err)
		}
		srcAbs, err := c.absFollow(unix.AT_FDCWD, src)
		if err != nil {
			return fail(err)
		}
		return result{fd: -1, async: func() result {
			at, err := c.k.mountTarget(c, abs)
			if err == nil {
				err = c.k.mountBind(c, path.Clean(srcAbs), at)
			}
			if err != nil {
				return fail(err)
			}
			return ok(0)
		}}
	}
	if flags&(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_MOVE) == 0 {
		// The kernel's own /proc and /dev are always there: mounting them where they are
		// (as every init does) succeeds without changing anything.
		switch dir := path.Clean(abs); {
		case fstype == "proc" || fstype == "devtmpfs" || fstype == "sysfs":
			// the kernel's own (kernelfs.go): where it serves them, or elsewhere too
			if c.T.Proc.Root != nil && dir != kernelServes[fstype] {
				return errno(unix.ENODEV) // a chrooted process has the machine's /proc
			}
			if err := c.k.mountKernelFS(c, fstype, dir, flags); err != nil {
				return fail(err)
			}
			return ok(0)
		case fstype == "mqueue":
			if err := c.k.mountMqueue(c, dir); err != nil {
				return fail(err)
			}
			return ok(0)
		case fstype == "devpts" && dir == "/dev/pts":
			// the guest's devpts instance is there (devpts.go); its options apply
			if err := c.k.mountKernelFS(c, fstype, dir, flags); err != nil {
				return fail(err)
			}
			data, err := c.mountData()
			if err == nil {
				err = c.k.mountDevpts(data)
			}
			if err != nil {
				return fail(err)
			}
			return ok(0)
		case (fstype == "tmpfs" || fstype == "hostfs") && c.T.Proc.Root == nil:
			src, _ := c.Str(0)
			data, err := c.mountData()
			if err != nil {
				return fail(err)
			}
			return result{fd: -1, async: func() result {
				at, err := c.k.mountTarget(c, abs)
				if err == nil {
					if fstype == "tmpfs" {
						err = c.k.mountTmpfs(c, src, at, flags, data)
					} else {
						err = c.k.mountHostfs(c, at, flags, data)
					}
				}
				if err != nil {
					return fail(err)
				}
				return ok(0)
			}}
		}
		if src, err := c.Str(0); err == nil && src != "" && c.T.Proc.Root == nil {
			srcAbs, err := c.absFollow(unix.AT_FDCWD, src)
			if err != nil {
				return fail(err)
			}
			// unpacking a file system takes a while: not on the dispatcher's goroutine
			return result{fd: -1, async: func() result {
				if err := c.k.mountBlock(c, path.Clean(srcAbs), abs, fstype, flags); err != nil {
					return fail(err)
				}
				return ok(0)
			}}
		}
	}
	return errno(unix.ENODEV)
}

func sysUmount(c *Call) result {
	abs, err := c.adminPath(0)
	if err != nil {
		return fail(err)
	}
	flags := int(c.Arg(1))
	return result{fd: -1, async: func() result {
		if err := c.k.umount(abs, flags); err != nil {
			return fail(err)
		}
		return ok(0)
	}}
}

// atStatxSyncType is AT_STATX_SYNC_TYPE: statx's FORCE_SYNC and DONT_SYNC bits.
const atStatxSyncType = unix.AT_STATX_FORCE_SYNC | unix.AT_STATX_DONT_SYNC
