package kernel

import (
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Kernel-provided files: /dev and /proc. The guest root's own /dev and /proc directories
// stay visible for everything not listed here (so `ls /dev` lists the root's directory).
// Files of /proc are generated at open into a memfd; the guest reads them natively.
// Judged by name, once the symlinks on the way are followed (vfs.go: canon), so a link in
// the root that points into /dev or /proc (Debian's /etc/mtab) reaches these files.

// kernelDevice reports whether a name under /dev is provided by the kernel: a device of
// the registry (devices.go) or a link to the caller's fds.
func (k *Kernel) kernelDevice(rest string) bool {
	return devLink(rest) || ptsPath(rest) && k.ptsMounted() || k.mqueuePath(rest) || k.deviceByName(rest) != nil
}

func (k *Kernel) uptime() time.Duration { return time.Since(k.start) }

// kernelNodes knows the host objects behind the kernel's own /dev entries and /proc links by
// device and inode, and how the guest must see each. The host's objects say the wrong
// thing: the host's /dev/null is host root's (id rootIDRange in the kernel's namespace of a
// root-started linux), where Linux's devtmpfs makes every node root's; the console is a pty
// of the host's devpts (136:N), where the guest has /dev/console (5:1), /dev/tty (5:0) and
// /dev/tty0 (4:0). Stat of an object is corrected by its identity, so a path's stat and the
// fstat of an fd opened through it agree (ttyname compares them).
type kernelNodes struct {
	once     sync.Once
	procDev  uint64                // the tmpfs behind /proc listings (its links: kernelStat)
	nodes    map[[2]uint64]devNode // by {dev, ino}
	standIns map[string]int        // memfds that stand in for /dev/tty and /dev/tty0 in stat
}

// devNode is a /dev node as devtmpfs makes it: root's, with a mode and number.
type devNode struct {
	mode uint32 // type and permission bits
	rdev uint64
}

// devNodes learns the identities once per machine.
func (k *Kernel) devNodes() *kernelNodes {
	n := &k.nodes
	n.once.Do(func() {
		n.nodes = map[[2]uint64]devNode{}
		n.standIns = map[string]int{}
		var st unix.Stat_t
		if unix.Fstat(k.cfg.procDir, &st) == nil {
			n.procDev = st.Dev
		}
		for _, d := range charDevices {
			// the host's own nodes (mem_devnode: 0666; the numbers are the same)
			if d.host && unix.Stat("/dev/"+d.name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR {
				n.nodes[[2]uint64{st.Dev, st.Ino}] = devNode{unix.S_IFCHR | d.perm, d.num.rdev()}
			}
		}
		if k.cfg.Console != nil {
			// the fds the guest holds on its console: /dev/console's node (tty_devnode
			// leaves it 0600)
			if fd, err := k.cfg.Console.Open(unix.O_PATH); err == nil {
				if unix.Fstat(fd, &st) == nil {
					n.nodes[[2]uint64{st.Dev, st.Ino}] = devNode{unix.S_IFCHR | 0o600, unix.Mkdev(5, 1)}
				}
				unix.Close(fd)
			}
		}
		// /dev/tty and /dev/tty0 open the console too, but stat as nodes of their own
		// (tty_devnode makes /dev/tty 0666), and each /dev/kmsg open is a socket of its
		// own (kmsg.go): an empty memfd each, never handed out but as O_PATH
		for _, name := range []string{"tty", "tty0", "ptmx", "kmsg"} {
			dv := k.deviceByName(name)
			d := devNode{unix.S_IFCHR | dv.perm, dv.num.rdev()}
			fd, err := unix.MemfdCreate("gouml-dev-"+name, unix.MFD_CLOEXEC)
			if err != nil {
				continue
			}
			if unix.Fstat(fd, &st) != nil {
				unix.Close(fd)
				continue
			}
			n.standIns[name] = fd
			n.nodes[[2]uint64{st.Dev, st.Ino}] = d
		}
	})
	return n
}

// closeDevNodes closes the stand-ins when the machine stops.
func (k *Kernel) closeDevNodes() {
	n := k.devNodes()
	for _, fd := range n.standIns {
		unix.Close(fd)
	}
	n.standIns = map[string]int{}
}

// kernelStat makes the stat of an object the kernel serves (fd is the kernel's handle on it,
// st its host stat) what Linux shows: /dev nodes as devtmpfs has them, /proc's links as
// procfs has them.
func (k *Kernel) kernelStat(fd int, st *unix.Stat_t) {
	if k.ptyStat(st) || k.sysStat(st) {
		return
	}
	n := k.devNodes()
	if l := k.cfg.Lines.lineOfNode(st.Dev, st.Ino); l != nil {
		// a line's terminal: its /dev node (tty_devnode: 0600, root's)
		num := devNum{false, 4, uint32(l.n)}
		if l.kind == "ssl" {
			num.minor += 64
		}
		st.Mode, st.Rdev, st.Uid, st.Gid = unix.S_IFCHR|0o600, num.rdev(), 0, 0
		st.Size, st.Blocks, st.Nlink = 0, 0, 1
		k.applyDevMeta(st)
		return
	}
	if d, ok := n.nodes[[2]uint64{st.Dev, st.Ino}]; ok {
		st.Mode, st.Rdev, st.Uid, st.Gid = d.mode, d.rdev, 0, 0
		st.Size, st.Blocks, st.Nlink = 0, 0, 1
		k.applyDevMeta(st)
		return
	}
	if st.Dev == n.procDev && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// procfs's directories have no size; the listing's tmpfs would show its own
		st.Size, st.Blocks = 0, 0
		return
	}
	if st.Dev == n.procDev && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		b := make([]byte, 32)
		m, err := unix.Readlinkat(fd, "", b)
		if err != nil {
			return
		}
		if perm, size, ok := parseProcLink(string(b[:m])); ok {
			st.Mode, st.Size, st.Blocks = unix.S_IFLNK|perm, size, 0
		}
	}
}

// procLinkTarget is the target the kernel gives a symlink of its /proc listings: never
// followed (readlinkSpecial answers for the link), it records the mode and size procfs
// shows for it (a fd link's mode is its file's access, its size 64), which a stat of the
// link reports (kernelStat). It names nothing in the tmpfs.
func procLinkTarget(perm uint32, size int64) string {
	return strconv.FormatUint(uint64(perm&0o777), 8) + ":" + strconv.FormatInt(size, 10)
}

func parseProcLink(t string) (uint32, int64, bool) {
	p, s, ok := strings.Cut(t, ":")
	if !ok {
		return 0, 0, false
	}
	perm, err1 := strconv.ParseUint(p, 8, 32)
	size, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil || perm > 0o777 || size < 0 {
		return 0, 0, false
	}
	return uint32(perm), size, true
}

// openSpecial opens a file of the kernel's own file systems (fs, rest: special's) for the
// caller. O_DIRECTORY is judged on what was opened, as the host's open judges it: the
// generated files (memfds, links followed by name) do not all look at it, and it is how a
// trailing slash after a name (slashDir) asks for a directory.
func (k *Kernel) openSpecial(c *Call, fs, rest string, flags int) (int, error) {
	fd, err := k.openSpecialFile(c, fs, rest, flags)
	if err != nil || flags&unix.O_DIRECTORY == 0 {
		return fd, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, unix.ENOTDIR
	}
	return fd, nil
}

// slashDir is O_DIRECTORY for a guest path that ends in a slash: Linux then wants a
// directory ("/proc/cpuinfo/" is ENOTDIR), after following a final link.
func slashDir(abs string) int {
	if len(abs) > 1 && abs[len(abs)-1] == '/' {
		return unix.O_DIRECTORY
	}
	return 0
}

func (k *Kernel) openSpecialFile(c *Call, fs, rest string, flags int) (int, error) {
	if fs == "/sys" {
		return k.openSys(c, rest, flags)
	}
	if fs == "/dev" {
		if k.mqueuePath(rest) {
			return k.openMqueue(c, rest[len("mqueue"):], flags, 0)
		}
		if ptsPath(rest) && k.ptsMounted() {
			if _, slave := ptyNumber(rest); !slave {
				return k.openPts(c, rest[3:], flags) // the directory, its ptmx
			}
		}
		if d := k.deviceByName(rest); d != nil {
			if flags&unix.O_DIRECTORY != 0 {
				return -1, unix.ENOTDIR // the host would not say so for the console or a device's stand-in
			}
			return d.open(k, c, flags)
		}
		nofollow := flags&(unix.O_PATH|unix.O_NOFOLLOW) == unix.O_PATH|unix.O_NOFOLLOW
		switch {
		case nofollow && (rest == "fd" || rest == "stdin" || rest == "stdout" || rest == "stderr"):
			// the links themselves, for lstat: Linux's are symlinks into /proc/self/fd,
			// which init scripts test with [ -h ] before they make them
			return k.procLink("", "self")
		case rest == "stdin" || rest == "stdout" || rest == "stderr":
			n := map[string]string{"stdin": "0", "stdout": "1", "stderr": "2"}[rest]
			return k.reopenFD(c, c.Tid, n, flags)
		case strings.HasPrefix(rest, "fd/"):
			return k.reopenFD(c, c.Tid, rest[3:], flags)
		}
		return c.root().Open("/dev/"+strings.TrimPrefix(rest, "/"), flags, 0)
	}
	// /proc
	_, topLink := procTopLinks[rest]
	if topLink || rest == "self" || rest == "thread-self" {
		switch flags & (unix.O_PATH | unix.O_NOFOLLOW) {
		case unix.O_PATH | unix.O_NOFOLLOW:
			return k.procLink("", rest) // the links themselves, for lstat
		case unix.O_NOFOLLOW:
			return -1, unix.ELOOP // as open(2) of any symlink with O_NOFOLLOW
		}
	}
	if t, ok := procTopLink(rest); ok {
		rest = t // Linux's /proc/mounts and /proc/net are links into self
	}
	if rest == "/" {
		return k.openProcDir("", flags)
	}
	if first, sub, _ := strings.Cut(rest, "/"); first != "" {
		host, guest, err := k.procPid(c, first)
		if err != nil {
			return -1, err
		}
		if host != 0 {
			return k.openProcPid(c, host, guest, sub, flags)
		}
	}
	if n := procLookup(rest); n != nil && n.dir() {
		return k.openProcDir(strings.Trim(rest, "/"), flags) // /proc/sys …
	} else if n != nil && flags&unix.O_PATH != 0 {
		// for stat: the listing's entry, with the mode and size procfs shows (0)
		dir, name := path.Split(strings.Trim(rest, "/"))
		return k.procLink(strings.TrimSuffix(dir, "/"), name)
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		if w := k.sysctlWriter(rest); w != nil {
			k.mu.Lock()
			root := c.cred().EUID == 0
			k.mu.Unlock()
			if !root {
				return -1, unix.EACCES
			}
			return k.sysctlPipe(w)
		}
	}
	data, err := k.procFile(c, rest, flags)
	if err != nil {
		return -1, err
	}
	if data == nil {
		return -1, unix.ENOENT
	}
	return memfdWith(data)
}

// nofollowSpecial is the O_NOFOLLOW a path call that does not follow a final symlink
// (lstat, fstatat and statx with AT_SYMLINK_NOFOLLOW, access with it) passes to
// openSpecial: a final "/", "." or ".." makes Linux follow the link before it anyway
// (special cleans those away).
func nofollowSpecial(abs string, follow bool) int {
	if follow {
		return 0
	}
	last := abs[strings.LastIndexByte(abs, '/')+1:]
	if last == "" || last == "." || last == ".." {
		return 0
	}
	return unix.O_NOFOLLOW
}

// specialNameErr is the error of a call that would create, remove or rename the name abs
// (fs, rest: special's) of the kernel's own files. Linux's procfs fails a name that does not
// exist with ENOENT (its lookup fails before the operation is tried) and refuses the rest
// with EPERM; devtmpfs nodes are the kernel's here, never the guest's to replace.
func (k *Kernel) specialNameErr(c *Call, fs, rest, abs string) error {
	if fs == "/dev" && (rest == "fd" || rest == "stdin" || rest == "stdout" || rest == "stderr") {
		return unix.EEXIST // the links exist (creating them, as init scripts do, says so)
	}
	if fs == "/dev" && k.mqueuePath(rest) && strings.Count(rest, "/") == 1 {
		nr := c.n.Data.Nr
		if nr == unix.SYS_UNLINK || nr == unix.SYS_UNLINKAT && c.Arg(2)&unix.AT_REMOVEDIR == 0 {
			return errMqueueUnlink // unlink's to do: mq_unlink
		}
		return unix.EPERM
	}
	if fs != "/proc" && fs != "/sys" || rest == "/" {
		return unix.EPERM
	}
	fd, err := k.openSpecial(c, fs, rest, unix.O_PATH|nofollowSpecial(abs, false)|slashDir(abs))
	if err != nil {
		return err
	}
	unix.Close(fd)
	return unix.EPERM
}

// procStatfs is statfs of /proc as Linux fills it (simple_statfs, the mount flags /proc/mounts
// shows, the fsid of the 0:4 that mountinfo gives it).
var procStatfs = unix.Statfs_t{Type: unix.PROC_SUPER_MAGIC, Bsize: 4096, Frsize: 4096, Namelen: 255,
	Fsid:  unix.Fsid{Val: [2]int32{4, 0}},
	Flags: 0x20 | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME} // 0x20: ST_VALID

// kernelStatfs makes statfs of a /proc object (fd, the kernel's handle on what the path
// named: a directory or link of the listings' tmpfs, or a generated file's memfd) that of
// procfs; other objects keep the host's answer.
func (k *Kernel) kernelStatfs(fd int, sf *unix.Statfs_t) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	defer func() {
		// the flags are the mount's (kernelfs.go), as the guest mounted it
		switch sf.Type {
		case unix.PROC_SUPER_MAGIC:
			sf.Flags = statfsFlags(k.kernelFSFlags("/proc"))
		case unix.SYSFS_MAGIC:
			sf.Flags = statfsFlags(k.kernelFSFlags("/sys"))
		}
	}()
	if st.Dev == k.devNodes().procDev {
		*sf = procStatfs
		return
	}
	if k.sysListing() >= 0 {
		var sys unix.Stat_t
		if unix.Fstat(k.sysListing(), &sys) == nil && sys.Dev == st.Dev {
			*sf = sysfsStatfs
			return
		}
	}
	if l, err := os.Readlink(selfFD(fd)); err == nil && strings.HasPrefix(l, "/memfd:"+procMemfdName+" ") {
		// a file generated by the kernel (a guest's own memfd of that name only fools itself)
		*sf = procStatfs
	} else if err == nil && strings.HasPrefix(l, "/memfd:"+sysMemfdName+" ") {
		*sf = sysfsStatfs
	}
}

// reopenFD opens fd n of host task tid again, as /proc/PID/fd/N and /dev/fd/N do. It never
// gives more access than the original open had (a read-only fd of a file, or of a device
// the command line made read-only, stays read-only whatever the guest asks), it never
// blocks the caller's dispatcher (a FIFO is opened non-blocking), and a directory is only
// handed out when it is one of the guest's own (the host kernel keeps ".." inside it).
// reopenByMode decides a reopen through a magic link as Linux does, by the file rather than
// by the open it came from, where that gives nothing the guest could not open by name: a
// regular file or directory of the guest's trees (the guest's modes decide; the host
// refuses writes below a read-only mount) and an anonymous pipe (a pipe's ends are the
// guest's own either way). ok false: anything else (the kernel's memfds, host devices, the
// console), which never gets more access than its open had.
func (k *Kernel) reopenByMode(c *Call, link string, obj int, st *unix.Stat_t, flags int) (ok bool, err error) {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		p, w := k.objPath(link)
		return w == elsewhere && strings.HasPrefix(p, "pipe:["), nil
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		return false, nil
	}
	if _, w := k.objPath(link); w != inTree || c == nil {
		return false, nil
	}
	var want uint32
	if acc := flags & unix.O_ACCMODE; acc == unix.O_RDONLY || acc == unix.O_RDWR {
		want |= mayRead
	}
	if acc := flags & unix.O_ACCMODE; acc == unix.O_WRONLY || acc == unix.O_RDWR || flags&unix.O_TRUNC != 0 {
		want |= mayWrite
	}
	if err := c.mayOn(c.fsCred(), obj, want); err != nil {
		return false, err
	}
	return true, nil
}

func (k *Kernel) reopenFD(c *Call, tid int, n string, flags int) (int, error) {
	if v, err := strconv.Atoi(n); err != nil || v < 0 || strconv.Itoa(v) != n {
		return -1, unix.ENOENT
	}
	link := "/proc/" + strconv.Itoa(tid) + "/fd/" + n
	obj, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return -1, unix.ENOENT
		}
		return -1, err
	}
	defer unix.Close(obj)
	var st unix.Stat_t
	if err := unix.Fstat(obj, &st); err != nil {
		return -1, err
	}
	orig, err := fdFlags(tid, n)
	if err != nil {
		return -1, unix.ENOENT
	}
	pathOnly := false
	if orig&unix.O_PATH != 0 {
		// An O_PATH fd is a name, not an access: reopening it is opening the file, as
		// Linux does, which only a file of the guest's trees can be (a read-only mount
		// stays read-only: the host refuses writes below it).
		if _, w := k.objPath(link); w != inTree {
			return -1, unix.EACCES
		}
		pathOnly = true
	}
	if flags&unix.O_PATH == 0 && !pathOnly {
		switch byMode, err := k.reopenByMode(c, link, obj, &st, flags); {
		case err != nil:
			return -1, err
		case byMode:
			pathOnly = true // checked as a new open of the file
		}
	}
	if flags&unix.O_PATH == 0 && !pathOnly {
		have := orig & unix.O_ACCMODE
		want := flags & unix.O_ACCMODE
		readOK := have == unix.O_RDONLY || have == unix.O_RDWR
		writeOK := have == unix.O_WRONLY || have == unix.O_RDWR
		if (want == unix.O_RDONLY || want == unix.O_RDWR) && !readOK ||
			(want == unix.O_WRONLY || want == unix.O_RDWR || flags&unix.O_TRUNC != 0) && !writeOK {
			return -1, unix.EACCES
		}
	}
	if b, part := k.blockDevOf(&st); b != nil {
		return k.openBlockDev(b, part, flags)
	}
	if typ, dev := deviceOf(obj, &st); typ != 0 && flags&unix.O_PATH == 0 && c != nil {
		// a device node of the guest's trees opens its device, as by its name: the mount's
		// nodev, then the node's guest mode for the caller (an O_PATH fd, reopened, was
		// checked for nothing)
		if _, w := k.objPath(link); w == inTree {
			mf := k.fdMountFlags(obj)
			if mf&unix.MS_NODEV == 0 && !c.privileged() {
				if err := c.mayOn(c.fsCred(), obj, accessWanted(flags)); err != nil {
					return -1, err
				}
			}
			return k.openNode(c, typ, dev, mf, flags)
		}
	}
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_PATH|unix.O_NOCTTY|unix.O_TRUNC|unix.O_DIRECTORY|unix.O_NOATIME) | unix.O_CLOEXEC
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if _, w := k.objPath(link); w == elsewhere {
			return -1, unix.EACCES
		}
		acc &^= unix.O_TRUNC
	case unix.S_IFSOCK:
		return -1, unix.ENXIO
	case unix.S_IFIFO:
		fd, err := unix.Open(selfFD(obj), acc|unix.O_NONBLOCK, 0)
		if err == nil && flags&unix.O_NONBLOCK == 0 {
			blocking(fd)
		}
		return fd, err
	}
	return unix.Open(selfFD(obj), acc, 0)
}

// fdFlags returns the open flags of fd n of host task tid (its fdinfo).
func fdFlags(tid int, n string) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/fdinfo/" + n)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			f, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return int(f), err
		}
	}
	return 0, unix.EIO
}

// openConsole gives the guest a new fd on its console.
func (k *Kernel) openConsole(flags int) (int, error) {
	return k.cfg.Console.Open(flags)
}

// procMemfdName names the memfds of generated /proc files.
const procMemfdName = "gouml-proc"

func memfdWith(data []byte) (int, error) { return memfdNamed(procMemfdName, data) }

// memfdNamed hands out data in a read-only memfd of that name.
func memfdNamed(name string, data []byte) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if _, err := unix.Write(fd, data); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// hand out a read-only description of it
	ro, err := unix.Open(selfFD(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	return ro, err
}
