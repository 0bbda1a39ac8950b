package kernel

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// Kernel-provided files: /dev and /proc. The guest root's own /dev and /proc directories
// stay visible for everything not listed here (so `ls /dev` lists the root's directory).
// Files of /proc are generated at open into a memfd; the guest reads them natively.
// Judged by name, once the symlinks on the way are followed (vfs.go: canon), so a link in
// the root that points into /dev or /proc (Debian's /etc/mtab) reaches these files.

var hostDevices = map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true}

// kernelDevice reports whether a name under /dev is provided by the kernel.
func (k *Kernel) kernelDevice(rest string) bool {
	if b, _, ok := k.blockDevByName(rest); ok && b != nil {
		return true
	}
	switch {
	case hostDevices[rest], rest == "console", rest == "tty", rest == "tty0", rest == "stdin",
		rest == "stdout", rest == "stderr", rest == "fd", strings.HasPrefix(rest, "fd/"):
		return true
	}
	return false
}

func (k *Kernel) uptime() time.Duration { return time.Since(k.start) }

// kernelNodes knows the host objects behind the kernel's own /dev entries and /proc links by
// device and inode, and how the guest must see each. The host's objects say the wrong
// thing: the host's /dev/null is host root's (uid 1 in the kernel's namespace of a
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
		for name := range hostDevices {
			// mem_devnode: 0666 for all five; the number is the host's own
			if unix.Stat("/dev/"+name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR {
				n.nodes[[2]uint64{st.Dev, st.Ino}] = devNode{unix.S_IFCHR | 0o666, st.Rdev}
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
		// (tty_devnode makes /dev/tty 0666): an empty memfd each, never handed out but as
		// O_PATH
		for name, d := range map[string]devNode{"tty": {unix.S_IFCHR | 0o666, unix.Mkdev(5, 0)},
			"tty0": {unix.S_IFCHR | 0o600, unix.Mkdev(4, 0)}} {
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
	n := k.devNodes()
	if d, ok := n.nodes[[2]uint64{st.Dev, st.Ino}]; ok {
		st.Mode, st.Rdev, st.Uid, st.Gid = d.mode, d.rdev, 0, 0
		st.Size, st.Blocks, st.Nlink = 0, 0, 1
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

func (k *Kernel) openSpecial(c *Call, fs, rest string, flags int) (int, error) {
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_PATH|unix.O_NOCTTY) | unix.O_CLOEXEC
	if fs == "/dev" {
		b, part, ok := k.blockDevByName(rest)
		isDev := ok && b != nil || hostDevices[rest] || rest == "console" || rest == "tty" || rest == "tty0"
		if isDev && flags&unix.O_DIRECTORY != 0 {
			return -1, unix.ENOTDIR // the host would not say so for the console or a device's stand-in
		}
		if ok && b != nil {
			return k.openBlockDev(b, part, flags)
		}
		switch {
		case hostDevices[rest]:
			return unix.Open("/dev/"+rest, acc, 0)
		case (rest == "tty" || rest == "tty0") && flags&unix.O_PATH != 0:
			// a node of its own to stat (kernelNodes); opened, it is the console
			if fd, ok := k.devNodes().standIns[rest]; ok {
				return unix.Open(selfFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
			}
			return k.openConsole(flags)
		case rest == "console" || rest == "tty" || rest == "tty0":
			return k.openConsole(flags)
		case rest == "stdin" || rest == "stdout" || rest == "stderr":
			n := map[string]string{"stdin": "0", "stdout": "1", "stderr": "2"}[rest]
			return k.reopenFD(c, c.Tid, n, flags)
		case strings.HasPrefix(rest, "fd/"):
			return k.reopenFD(c, c.Tid, rest[3:], flags)
		}
		return c.root().Open("/dev/"+strings.TrimPrefix(rest, "/"), flags, 0)
	}
	// /proc
	nofollow := flags&(unix.O_PATH|unix.O_NOFOLLOW) == unix.O_PATH|unix.O_NOFOLLOW
	if nofollow && (rest == "self" || rest == "thread-self" || rest == "net") {
		return k.procLink("", rest) // the links themselves, for lstat
	}
	if rest == "net" || strings.HasPrefix(rest, "net/") {
		rest = "self/" + rest // Linux's /proc/net is a link to self/net
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
	if fs != "/proc" || rest == "/" {
		return unix.EPERM
	}
	fd, err := k.openSpecial(c, fs, rest, unix.O_PATH|nofollowSpecial(abs, false))
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
	if st.Dev == k.devNodes().procDev {
		*sf = procStatfs
		return
	}
	if l, err := os.Readlink(selfFD(fd)); err == nil && strings.HasPrefix(l, "/memfd:"+procMemfdName+" ") {
		// a file generated by the kernel (a guest's own memfd of that name only fools itself)
		*sf = procStatfs
	}
}

// reopenFD opens fd n of host task tid again, as /proc/PID/fd/N and /dev/fd/N do. It never
// gives more access than the original open had (a read-only fd of a file, or of a device
// the command line made read-only, stays read-only whatever the guest asks), it never
// blocks the caller's dispatcher (a FIFO is opened non-blocking), and a directory is only
// handed out when it is one of the guest's own (the host kernel keeps ".." inside it).
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
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
				unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
			}
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

func memfdWith(data []byte) (int, error) {
	fd, err := unix.MemfdCreate(procMemfdName, unix.MFD_CLOEXEC)
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

// procPid resolves the first component of a /proc path to a host pid and the guest's number
// for it (0, 0 = not a pid directory).
func (k *Kernel) procPid(c *Call, first string) (host, guest int, err error) {
	if c == nil && (first == "self" || first == "thread-self") {
		return 0, 0, unix.ENOENT // asked by the console, which is no process
	}
	switch first {
	case "self":
		return c.T.Proc.Tgid, k.guestPid(c.T.Proc.Tgid), nil
	case "thread-self":
		return c.Tid, k.guestPid(c.Tid), nil
	}
	n, err := strconv.Atoi(first)
	if err != nil || n <= 0 || strconv.Itoa(n) != first {
		return 0, 0, nil
	}
	h, ok := k.hostPid(n)
	if !ok {
		return 0, 0, unix.ENOENT
	}
	return h, n, nil
}

// private are the /proc/PID entries that show or reach a process's memory, files or
// environment: Linux lets only the process's own user (or root) at them.
var private = map[string]bool{"environ": true, "auxv": true, "maps": true, "smaps": true, "smaps_rollup": true,
	"mem": true, "syscall": true, "fd": true, "fdinfo": true, "cwd": true, "root": true, "exe": true, "stack": true,
	"personality": true}

// mayInspect applies Linux's ptrace-read rule between guest users to host task host: root,
// or a caller whose ids all match the target's.
func (k *Kernel) mayInspect(c *Call, host int) bool {
	if c == nil {
		return true // the console reads for the administrator
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	me := c.cred()
	if me.EUID == 0 || c.T.Proc.Tgid == nsTgid(host) {
		return true
	}
	p := k.procs[nsTgid(host)]
	if p == nil {
		return false
	}
	t := p.Cred
	return me.EUID == t.UID && me.EUID == t.EUID && me.EUID == t.SUID && me.EGID == t.GID && me.EGID == t.EGID && me.EGID == t.SGID
}

// openProcPid opens /proc/PID/sub (sub "" = the directory itself).
func (k *Kernel) openProcPid(c *Call, host, guest int, sub string, flags int) (int, error) {
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_PATH|unix.O_NOCTTY) | unix.O_CLOEXEC
	// task/TID/… is TID's own directory
	if t, rest, found := strings.Cut(sub, "/"); t == "task" && found {
		tidStr, rest2, _ := strings.Cut(rest, "/")
		if tidStr != "" {
			n, err := strconv.Atoi(tidStr)
			if err != nil {
				return -1, unix.ENOENT
			}
			h, ok := k.hostPid(n)
			if !ok || nsTgid(h) != host {
				return -1, unix.ENOENT
			}
			return k.openProcPid(c, h, n, rest2, flags)
		}
	}
	first, _, _ := strings.Cut(sub, "/")
	if flags&(unix.O_PATH|unix.O_NOFOLLOW) == unix.O_PATH|unix.O_NOFOLLOW && sub != "" {
		// lstat of one of procfs's links (cwd, exe, root, fd/N, ns/…): the link itself. As on
		// Linux, anyone may look at PID/cwd; only fd/N lies in a private directory.
		if st, err := k.procfsStat(guest, sub); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			dir, name := path.Split(sub)
			if dir != "" && private[first] && !k.mayInspect(c, host) {
				return -1, unix.EACCES
			}
			return k.procLink(path.Join(strconv.Itoa(guest), dir), name)
		}
	}
	if private[first] && !k.mayInspect(c, host) {
		return -1, unix.EACCES
	}
	switch {
	case sub == "fd" || strings.HasPrefix(sub, "fd/") && strings.Count(sub, "/") == 1:
		if sub != "fd" {
			// reopening an fd of a guest process (bash's <(…), /dev/stdin style)
			return k.reopenFD(c, host, sub[3:], flags)
		}
	case sub == "cwd":
		// the directory itself: the guest's working directories are all in its own trees
		link := "/proc/" + strconv.Itoa(host) + "/cwd"
		if _, w := k.objPath(link); w == elsewhere {
			return -1, unix.ENOENT
		}
		return unix.Open(link, acc&^unix.O_ACCMODE|unix.O_RDONLY|unix.O_DIRECTORY, 0)
	case sub == "exe":
		link := "/proc/" + strconv.Itoa(host) + "/exe"
		var st unix.Stat_t
		if err := unix.Stat(link, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return -1, unix.ENOENT
		}
		return unix.Open(link, acc&^unix.O_ACCMODE|unix.O_RDONLY, 0)
	case sub == "root":
		r := k.root
		k.mu.Lock()
		if p := k.procs[host]; p != nil && p.Root != nil {
			r = p.Root
		}
		k.mu.Unlock()
		return r.Open("/", flags|unix.O_DIRECTORY, 0)
	}
	if st, err := k.procfsStat(guest, sub); err != nil {
		return -1, err
	} else if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		rel := strconv.Itoa(guest)
		if sub != "" {
			rel += "/" + sub
		}
		fd, err := k.openProcDir(rel, flags)
		if err == nil && c != nil && (sub == "fd" || sub == "fdinfo") && nsTgid(host) == c.T.Proc.Tgid {
			// the caller's own fds: the listing shows the fd it is read through
			c.installed = func(gfd int) { k.addOwnFD(rel, gfd, flags) }
		}
		return fd, err
	}
	data, err := k.procPidFile(c, host, guest, sub)
	if err != nil {
		return -1, err
	}
	if data == nil {
		return -1, unix.ENOENT
	}
	return memfdWith(data)
}

// procHow resolves names in the guest's procfs without ever following a link: its cwd,
// root, exe, fd/N and ns/* entries are magic links into the guest's (or, for a task's
// inherited fds, anyone's) files, which only the kernel's own path logic may follow.
var procHow = unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}

// procfsStat stats PID/sub in the guest's procfs.
func (k *Kernel) procfsStat(guest int, sub string) (unix.Stat_t, error) {
	var st unix.Stat_t
	name := strconv.Itoa(guest)
	if sub != "" {
		name += "/" + sub
	}
	fd, err := unix.Openat2(k.procfs, name, &procHow)
	if err != nil {
		return st, unix.ENOENT
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, unix.ENOENT
	}
	return st, nil
}

// procfsRead reads PID/sub from the guest's procfs.
func (k *Kernel) procfsRead(guest int, sub string) ([]byte, error) {
	fd, err := k.procfsOpenAt(strconv.Itoa(guest)+"/"+sub, false)
	if err != nil {
		return nil, unix.ENOENT
	}
	f := os.NewFile(uintptr(fd), sub)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<24))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// procLinks expands the /proc and /dev links a guest path goes through: /proc/PID/cwd/…,
// /proc/PID/root/…, /proc/PID/fd/N/… and /dev/fd/N/… become the guest path of the directory
// the link names followed by the rest, seen from the caller's root, as Linux follows them.
// The link's own last component is left alone (opening it opens the object: openProcPid).
// The directory is found from the object the task really holds, never from a host path.
func (c *Call) procLinks(abs string) (string, error) {
	for depth := 0; ; depth++ {
		fs, rest := special(abs)
		if fs == "" || rest == "/" {
			return abs, nil
		}
		parts := strings.Split(rest, "/")
		if raw, ok := strings.CutPrefix(abs, fs+"/"); ok && strings.Contains(raw, "..") {
			// not cleaned: ".." after a link (cwd/..) is that of what it names
			parts = parts[:0]
			for _, p := range strings.Split(raw, "/") {
				if p != "" && p != "." {
					parts = append(parts, p)
				}
			}
		}
		if fs == "/dev" {
			if len(parts) < 3 || parts[0] != "fd" {
				return abs, nil
			}
			parts = append([]string{"self"}, parts...)
		} else if parts[0] == "net" {
			return abs, nil
		}
		if depth >= 8 {
			return "", unix.ELOOP
		}
		host, _, err := c.k.procPid(c, parts[0])
		if err != nil || host == 0 || len(parts) < 3 {
			return abs, err
		}
		i := 1
		if parts[1] == "task" && len(parts) >= 5 {
			n, err := strconv.Atoi(parts[2])
			if err != nil {
				return abs, nil
			}
			h, ok := c.k.hostPid(n)
			if !ok || nsTgid(h) != host {
				return "", unix.ENOENT
			}
			host, i = h, 3
		}
		var target string
		switch link := "/proc/" + strconv.Itoa(host) + "/"; {
		case parts[i] == "cwd" && len(parts) > i+1, parts[i] == "root" && len(parts) > i+1,
			parts[i] == "fd" && len(parts) > i+2:
			if !c.k.mayInspect(c, host) {
				return "", unix.EACCES
			}
			switch parts[i] {
			case "root":
				target = "/"
				c.k.mu.Lock()
				if p := c.k.procs[nsTgid(host)]; p != nil && p.Root != nil {
					target = p.Root.guest
				}
				c.k.mu.Unlock()
			case "cwd":
				p, w := c.k.objPath(link + "cwd")
				if w == elsewhere || strings.HasSuffix(p, " (deleted)") {
					return "", unix.ENOENT
				}
				target = p
			case "fd":
				p, w := c.k.objPath(link + "fd/" + parts[i+1])
				if p == "" {
					return "", unix.ENOENT
				}
				if w == elsewhere || strings.HasSuffix(p, " (deleted)") {
					return "", unix.ENOTDIR
				}
				target = p
				i++
			}
		default:
			return abs, nil
		}
		g, ok := c.root().rel(target)
		if !ok {
			return "", unix.EACCES // beyond the caller's chroot
		}
		abs = path.Join(g, strings.Join(parts[i+1:], "/"))
		if !strings.HasPrefix(abs, "/") {
			abs = "/" + abs
		}
	}
}

// nsTgid returns the host tgid of a host task.
func nsTgid(host int) int {
	tgid, _ := procTgidPpid(host)
	return tgid
}

// procFile generates a /proc file's contents (nil = no such file).
func (k *Kernel) procFile(c *Call, rest string, flags int) ([]byte, error) {
	first, sub, _ := strings.Cut(rest, "/")
	if host, guest, err := k.procPid(c, first); err != nil {
		return nil, err
	} else if host != 0 {
		return k.procPidFile(c, host, guest, sub)
	}
	switch rest {
	case "meminfo":
		total := k.cfg.Mem / 1024
		var si unix.Sysinfo_t
		unix.Sysinfo(&si)
		free := uint64(si.Freeram) * uint64(max(si.Unit, 1)) / 1024
		free = min(free, total*9/10)
		return []byte(fmt.Sprintf("MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n"+
			"Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n"+
			"SwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n",
			total, free, free)), nil
	case "uptime":
		up := k.uptime().Seconds()
		return []byte(fmt.Sprintf("%.2f %.2f\n", up, up)), nil
	case "cmdline":
		return []byte(k.cfg.CmdLine + "\n"), nil
	case "partitions":
		return k.procPartitions(), nil
	case "swaps":
		return k.procSwaps(), nil
	case "version":
		return []byte("Linux version " + Release + " (gouml) " + Version + "\n"), nil
	case "mounts":
		return k.mounts(), nil
	case "filesystems":
		return []byte("nodev\tproc\nnodev\tdevtmpfs\n\thostfs\n\text4\n\text3\n\text2\n"), nil
	case "cpuinfo", "stat":
		return os.ReadFile("/proc/" + rest)
	case "loadavg":
		return k.loadavg()
	case "sys/kernel/hostname":
		k.mu.Lock()
		defer k.mu.Unlock()
		return []byte(k.hostname + "\n"), nil
	case "sys/kernel/osrelease":
		return []byte(Release + "\n"), nil
	case "sys/kernel/ostype":
		return []byte("Linux\n"), nil
	case "sys/kernel/ctrl-alt-del":
		k.syncSysctls()
		if k.cadOff.Load() {
			return []byte("0\n"), nil
		}
		return []byte("1\n"), nil
	}
	return nil, nil
}

// sysctlWriter returns what a write to a writable /proc/sys file does with the written
// text, or nil when the file is not writable.
func (k *Kernel) sysctlWriter(rest string) func(string) {
	switch rest {
	case "sys/kernel/ctrl-alt-del":
		return func(v string) {
			// like proc_dointvec: the number written; 0 means "signal init" (cad)
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				k.cadOff.Store(n == 0)
			}
		}
	}
	return nil
}

// sysctlPipe gives the guest the write end of a pipe; what it writes is applied write by
// write, like proc_dointvec (a bad value is ignored instead of failing with EINVAL). The
// reader applies what is there under the pipe's lock, and syncSysctls does the same, so a
// value written before someone looks (the guest reading it back, mconsole's cad) is in
// effect by then.
func (k *Kernel) sysctlPipe(apply func(string)) (int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return -1, err
	}
	// the guest's end blocks like a file
	if err := unix.SetNonblock(p[1], false); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, err
	}
	sp := &sysctlWriter{fd: p[0], apply: apply}
	k.procMu.Lock()
	k.sysctls = append(k.sysctls, sp)
	k.procMu.Unlock()
	go func() {
		for {
			pfd := []unix.PollFd{{Fd: int32(sp.fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, -1); err != nil && err != unix.EINTR {
				break
			}
			if sp.drain() {
				break
			}
		}
		k.procMu.Lock()
		for i, x := range k.sysctls {
			if x == sp {
				k.sysctls = append(k.sysctls[:i], k.sysctls[i+1:]...)
				break
			}
		}
		k.procMu.Unlock()
		sp.mu.Lock()
		unix.Close(sp.fd)
		sp.fd = -1
		sp.mu.Unlock()
	}()
	return p[1], nil
}

// sysctlWriter is the kernel's end of a guest's open writable /proc/sys file.
type sysctlWriter struct {
	mu    sync.Mutex
	fd    int
	apply func(string)
}

// drain applies every write waiting in the pipe; it reports the end of the file (all
// writers closed, or an error).
func (s *sysctlWriter) drain() (eof bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return true
	}
	b := make([]byte, 4096)
	for {
		n, err := unix.Read(s.fd, b)
		switch {
		case n > 0:
			s.apply(string(b[:n]))
		case err == unix.EAGAIN:
			return false
		case err == unix.EINTR:
		default:
			return true // 0: every writer closed
		}
	}
}

// syncSysctls applies what the guest has written to /proc/sys files so far.
func (k *Kernel) syncSysctls() {
	k.procMu.Lock()
	l := append([]*sysctlWriter{}, k.sysctls...)
	k.procMu.Unlock()
	for _, s := range l {
		s.drain()
	}
}

func (k *Kernel) mounts() []byte {
	mode := "rw"
	if k.root.ReadOnly() {
		mode = "ro"
	}
	return []byte("/dev/root / hostfs " + mode + ",relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
		"devtmpfs /dev devtmpfs rw,relatime 0 0\n" + k.mountLines())
}

// procPidFiles are the per-process files read from the guest's procfs as they are: their
// numbers are already the guest's and they name no host path.
var procPidFiles = map[string]bool{
	"cmdline": true, "environ": true, "comm": true, "stat": true, "statm": true, "limits": true,
	"io": true, "oom_score": true, "oom_score_adj": true, "oom_adj": true, "sched": true,
	"schedstat": true, "wchan": true, "auxv": true, "personality": true, "timerslack_ns": true,
	"coredump_filter": true, "syscall": true,
}

// procPidOther are the other entries of a /proc/PID directory the kernel serves; a listing
// shows only these and procPidFiles.
var procPidOther = map[string]bool{
	"status": true, "maps": true, "smaps": true, "smaps_rollup": true, "mounts": true,
	"mountinfo": true, "cgroup": true, "fd": true, "fdinfo": true, "task": true, "exe": true,
	"cwd": true, "root": true, "net": true, "ns": true,
}

func (k *Kernel) procPidFile(c *Call, host, guest int, sub string) ([]byte, error) {
	// The caller is parked in its seccomp wait while the kernel reads procfs for it, which
	// shows it sleeping; a task reading its own state sees itself running on Linux.
	self := c != nil && host == c.Tid
	switch {
	case sub == "stat" && self:
		b, err := k.procfsRead(guest, sub)
		if err != nil {
			return nil, err
		}
		// "pid (comm) S …": comm may hold anything, the state follows its last ')'
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+1] == ' ' {
			b[i+2] = 'R'
		}
		return b, nil
	case procPidFiles[sub], strings.HasPrefix(sub, "net/"), strings.HasPrefix(sub, "fdinfo/"):
		// the guest's own network namespace; positions and flags of its fds
		return k.procfsRead(guest, sub)
	case sub == "mounts":
		return k.mounts(), nil
	case sub == "mountinfo":
		return k.mountinfo(), nil
	case sub == "cgroup":
		return []byte("0::/\n"), nil
	case sub == "maps" || sub == "smaps" || sub == "smaps_rollup":
		b, err := k.procfsRead(guest, sub)
		if err != nil {
			return nil, err
		}
		return k.guestMaps(c, host, b), nil
	case sub == "status":
		b, err := k.procfsRead(guest, "status")
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		var cr Cred
		if p := k.procs[nsTgid(host)]; p != nil {
			cr = *p.Cred
		}
		k.mu.Unlock()
		var out []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			key, _, _ := strings.Cut(l, ":")
			switch key {
			case "TracerPid":
				l = "TracerPid:\t0"
			case "State":
				if self {
					l = "State:\tR (running)"
				}
			case "Uid":
				l = fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", cr.UID, cr.EUID, cr.SUID, cr.FSUID)
			case "Gid":
				l = fmt.Sprintf("Gid:\t%d\t%d\t%d\t%d", cr.GID, cr.EGID, cr.SGID, cr.FSGID)
			case "Seccomp", "Seccomp_filters", "NoNewPrivs":
				continue
			}
			out = append(out, l)
		}
		return []byte(strings.Join(out, "\n") + "\n"), nil
	}
	return nil, nil
}

// guestMaps rewrites the path column of a maps/smaps file. The host writes a file of a
// tree copy by its path inside the copy: a file of the root as its guest path, a file of a
// mounted ubd device without the mount point. Each path is checked against the line's
// device and inode before it is shown; other host files (the kernel's memfds, host
// devices) keep only what the guest may know.
func (k *Kernel) guestMaps(c *Call, host int, b []byte) []byte {
	r := k.root
	k.mu.Lock()
	if p := k.procs[nsTgid(host)]; p != nil && p.Root != nil {
		r = p.Root
	}
	k.mu.Unlock()
	seen := map[string]string{}
	name := func(p string, dev uint64, ino uint64) string {
		key := p + "\x00" + strconv.FormatUint(dev, 16) + ":" + strconv.FormatUint(ino, 10)
		if g, ok := seen[key]; ok {
			return g
		}
		g := "/[kernel]"
		match := func(root *Root, at string) bool {
			fd, err := unix.Openat2(root.fd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
			if err != nil {
				return false
			}
			defer unix.Close(fd)
			var st unix.Stat_t
			if unix.Fstat(fd, &st) != nil || st.Ino != ino || st.Dev != dev {
				return false
			}
			if at == "/" {
				g = p
			} else {
				g = at + p
			}
			return true
		}
		switch {
		case strings.HasPrefix(p, "/memfd:") || strings.HasPrefix(p, "/dev/"):
			g = p
		case match(k.root, "/"):
		default:
			k.root.mounts.mu.RLock()
			ms := append([]*mountPoint(nil), k.root.mounts.list...)
			k.root.mounts.mu.RUnlock()
			for _, m := range ms {
				q, ok := m.inRoot(p)
				if !ok {
					continue
				}
				orig := p
				p = q
				hit := match(m.root, m.at)
				p = orig
				if hit {
					break
				}
			}
		}
		if g != "/[kernel]" {
			if rg, ok := r.rel(g); ok {
				g = rg
			}
		}
		seen[key] = g
		return g
	}
	lines := strings.SplitAfter(string(b), "\n")
	var out strings.Builder
	for _, l := range lines {
		// address perms offset dev inode [path]: the path starts after the 5th field's padding
		i := strings.Index(l, " /")
		f := strings.Fields(l)
		if i < 0 || strings.Count(l[:i], " ") < 4 || strings.HasPrefix(l, "Size:") || len(f) < 6 {
			out.WriteString(l)
			continue
		}
		nl := strings.HasSuffix(l, "\n")
		p := strings.TrimSuffix(l[i+1:], "\n")
		del := strings.HasSuffix(p, " (deleted)")
		p = strings.TrimSuffix(p, " (deleted)")
		var dev uint64
		if ma, mi, ok := strings.Cut(f[3], ":"); ok {
			a, _ := strconv.ParseUint(ma, 16, 32)
			b, _ := strconv.ParseUint(mi, 16, 32)
			dev = unix.Mkdev(uint32(a), uint32(b))
		}
		ino, _ := strconv.ParseUint(f[4], 10, 64)
		if del {
			if strings.HasPrefix(p, "/memfd:") {
				p += " (deleted)"
			} else {
				p = "/[kernel] (deleted)"
			}
		} else {
			p = name(p, dev, ino)
		}
		out.WriteString(l[:i+1] + p)
		if nl {
			out.WriteString("\n")
		}
	}
	return []byte(out.String())
}

func (k *Kernel) mountinfo() []byte {
	mode := "rw"
	if k.root.ReadOnly() {
		mode = "ro"
	}
	return []byte("1 0 98:0 / / " + mode + ",relatime - hostfs /dev/root " + mode + "\n" +
		"2 1 0:4 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n" +
		"3 1 0:5 / /dev rw,relatime - devtmpfs devtmpfs rw\n" + k.mountinfoLines(4))
}

// readlinkSpecial answers readlink in /dev and /proc.
func (k *Kernel) readlinkSpecial(c *Call, fs, rest string) (string, error) {
	if fs == "/dev" {
		switch rest {
		case "stdin":
			return "/proc/self/fd/0", nil
		case "stdout":
			return "/proc/self/fd/1", nil
		case "stderr":
			return "/proc/self/fd/2", nil
		case "fd":
			return "/proc/self/fd", nil
		}
		return k.readlinkRoot(c.root(), "/dev/"+rest)
	}
	if rest == "net" {
		return "self/net", nil
	}
	first, sub, _ := strings.Cut(rest, "/")
	pid, guest, err := k.procPid(c, first)
	if err != nil {
		return "", err
	}
	if pid == 0 {
		return k.readlinkRoot(c.root(), "/proc/"+rest)
	}
	if t, r, found := strings.Cut(sub, "/"); t == "task" && found {
		if tidStr, r2, ok := strings.Cut(r, "/"); ok {
			if n, err := strconv.Atoi(tidStr); err == nil {
				if h, ok := k.hostPid(n); ok && nsTgid(h) == pid {
					pid, guest, sub = h, n, r2
				}
			}
		}
	}
	if sub == "" {
		switch first {
		case "self":
			return strconv.Itoa(guest), nil
		case "thread-self":
			return strconv.Itoa(k.guestPid(c.T.Proc.Tgid)) + "/task/" + strconv.Itoa(guest), nil
		}
		return "", unix.EINVAL
	}
	host := "/proc/" + strconv.Itoa(pid) + "/"
	if first, _, _ := strings.Cut(sub, "/"); private[first] && !k.mayInspect(c, pid) {
		return "", unix.EACCES
	}
	switch {
	case sub == "root":
		k.mu.Lock()
		defer k.mu.Unlock()
		if p := k.procs[nsTgid(pid)]; p != nil && p.Root != nil {
			mine := k.root
			if c.T.Proc.Root != nil {
				mine = c.T.Proc.Root
			}
			if g, ok := mine.rel(p.Root.guest); ok {
				return g, nil
			}
			return p.Root.guest, nil
		}
		return "/", nil
	case sub == "cwd" || sub == "exe" || strings.HasPrefix(sub, "fd/") && strings.Count(sub, "/") == 1:
		return k.linkName(c, host+sub)
	case strings.HasPrefix(sub, "ns/"):
		return os.Readlink(host + sub)
	}
	return "", unix.EINVAL
}

// linkName is what readlink shows for a /proc magic link of a guest task: the guest path of
// a file of its trees (seen from the reader's root where it can see it), and for the
// kernel's own objects what Linux would show for the device behind them.
func (k *Kernel) linkName(c *Call, link string) (string, error) {
	p, w := k.objPath(link)
	if p == "" {
		return "", unix.ENOENT
	}
	switch w {
	case inTree:
		if g, ok := c.root().rel(strings.TrimSuffix(p, " (deleted)")); ok {
			if strings.HasSuffix(p, " (deleted)") {
				g += " (deleted)"
			}
			return g, nil
		}
		return p, nil
	case inProc:
		return p, nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/memfd:") {
		return p, nil // pipe:[…], socket:[…], anon_inode:…, a memfd's name
	}
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err == nil {
		if b, part := k.blockDevOf(&st); b != nil {
			name := "/dev/" + ubd.DiskName(b.unit)
			if part != 0 {
				name += strconv.Itoa(part)
			}
			return name, nil
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			if n := kernelDeviceName(unix.S_IFCHR, st.Rdev); n != "" {
				return "/dev/" + n, nil
			}
		}
	}
	return "/dev/console", nil // the console's pty, the host channels
}

func (k *Kernel) readlinkRoot(r *Root, abs string) (string, error) {
	pfd, name, err := r.Parent(abs)
	if err != nil {
		return "", err
	}
	defer unix.Close(pfd)
	b := make([]byte, 4096)
	n, err := unix.Readlinkat(pfd, name, b)
	if err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

// procEntries are the files listed in /proc besides the pid directories.
var procEntries = []string{"cmdline", "partitions", "swaps", "meminfo", "uptime", "version", "mounts", "filesystems", "cpuinfo", "loadavg", "stat"}

// openProcDir returns a directory fd listing /proc (rel "") or a directory below it
// (rel "PID/…"), so that getdents runs natively on it. The directories live in a small
// tmpfs attached nowhere (jail.go), brought up to date at every open from the guest's procfs:
// names and kinds of entries, directory modes, and for links the mode and size a stat
// shows (procLinkTarget); every path below /proc is served by procFile. Only the
// kernel names anything in it, by fds and single checked names: no host path is involved,
// and a guest holding one of its directories cannot climb out of the tmpfs.
func (k *Kernel) openProcDir(rel string, flags int) (int, error) {
	k.procMu.Lock()
	defer k.procMu.Unlock()
	dir, err := k.procDirAt(rel, true)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	if err := k.mirrorProcfs(rel, dir); err != nil {
		return -1, err
	}
	return unix.Openat(dir, ".", flags&(unix.O_PATH|unix.O_DIRECTORY|unix.O_NONBLOCK)|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// procDirAt opens the listing directory rel ("" = the top) in the tmpfs, making the missing
// ones when create is set (k.procMu held). The top always has /proc's own entries.
func (k *Kernel) procDirAt(rel string, create bool) (int, error) {
	dir, err := unix.Openat(k.cfg.procDir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if unix.Fstatat(dir, "self", &unix.Stat_t{}, unix.AT_SYMLINK_NOFOLLOW) != nil {
		for _, e := range procEntries {
			if fd, err := unix.Openat(dir, e, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444); err == nil {
				unix.Close(fd)
			}
		}
		for l, size := range map[string]int64{"self": 0, "thread-self": 0, "net": int64(len("self/net"))} {
			unix.Symlinkat(procLinkTarget(0o777, size), dir, l)
		}
	}
	if rel == "" {
		return dir, nil
	}
	for _, name := range strings.Split(rel, "/") {
		if !validName(name) {
			unix.Close(dir)
			return -1, unix.ENOENT
		}
		if create {
			unix.Mkdirat(dir, name, 0o555) // its mode is procfs's once it is mirrored
		}
		next, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dir)
		if err != nil {
			return -1, unix.ENOENT
		}
		dir = next
	}
	return dir, nil
}

// procLink gives an O_PATH handle on the link name of the listing directory rel, as the
// guest's procfs has it now, for lstat (kernelStat shows its mode and size).
func (k *Kernel) procLink(rel, name string) (int, error) {
	var dir int
	var err error
	if rel == "" {
		k.procMu.Lock()
		dir, err = k.procDirAt("", false)
		k.procMu.Unlock()
	} else {
		dir, err = k.openProcDir(rel, unix.O_PATH)
	}
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	if !validName(name) {
		return -1, unix.ENOENT
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, unix.ENOENT
	}
	return fd, nil
}

// addOwnFD adds to the listing rel (a PID/fd or PID/fdinfo of the caller's own process) the
// fd the guest was just given on it: Linux lists the fd a listing is read through, which
// the guest's procfs did not have when the listing was mirrored. It runs after the fd is
// installed and before the caller's open returns, so the number is the real one.
func (k *Kernel) addOwnFD(rel string, gfd int, flags int) {
	k.procMu.Lock()
	defer k.procMu.Unlock()
	dir, err := k.procDirAt(rel, false)
	if err != nil {
		return
	}
	defer unix.Close(dir)
	name := strconv.Itoa(gfd)
	removeAt(dir, name)
	if strings.HasSuffix(rel, "/fdinfo") {
		if fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444); err == nil {
			unix.Close(fd)
		}
		return
	}
	// a fd link's mode is its file's access: a directory is opened for reading, or O_PATH
	var perm uint32 = 0o500
	if flags&unix.O_PATH != 0 {
		perm = 0
	}
	unix.Symlinkat(procLinkTarget(perm, 64), dir, name)
}

// validName reports whether name is one path component (no "/", not "." or "..").
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 && !strings.ContainsAny(name, "/\x00")
}

// procEnt is an entry of a listing: its kind and, for a link, its target (procLinkTarget).
type procEnt struct {
	typ  os.FileMode
	link string
}

// mirrorProcfs makes dir's entries those of rel in the guest's procfs: at the top only the
// PID directories (the rest of /proc is the kernel's own); below, every entry with its kind,
// and links with procfs's mode and size. dir takes procfs's mode (fd is 0500, ns 0511 …).
func (k *Kernel) mirrorProcfs(rel string, dir int) error {
	src := "."
	if rel != "" {
		src = rel
	}
	fd, err := k.procfsOpenAt(src, true)
	if err != nil {
		return unix.ENOENT
	}
	f := os.NewFile(uintptr(fd), src)
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil && len(ents) == 0 {
		return unix.ENOENT
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		unix.Fchmod(dir, st.Mode&0o777)
	}
	// a PID directory (PID or PID/task/TID) lists what procPidFile serves
	parts := strings.Split(rel, "/")
	pidDir := len(parts) == 1 && rel != "" || len(parts) == 3 && parts[1] == "task"
	want := map[string]procEnt{}
	for _, e := range ents {
		if !validName(e.Name()) {
			continue
		}
		if rel == "" {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
		}
		if pidDir && !procPidFiles[e.Name()] && !procPidOther[e.Name()] {
			continue
		}
		pe := procEnt{typ: e.Type()}
		if pe.typ&os.ModeSymlink != 0 {
			// never through os.DirEntry.Info, which would look the name up by a path
			pe.link = procLinkTarget(0o777, 0)
			if unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				pe.link = procLinkTarget(st.Mode&0o777, st.Size)
			}
		}
		want[e.Name()] = pe
	}
	dup, err := unix.Dup(dir)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "proc")
	have, _ := d.ReadDir(-1)
	d.Close()
	b := make([]byte, 32)
	for _, e := range have {
		if rel == "" {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue // the kernel's own entries
			}
		}
		pe, ok := want[e.Name()]
		if ok && pe.typ == e.Type() && pe.link != "" {
			n, err := unix.Readlinkat(dir, e.Name(), b)
			ok = err == nil && string(b[:n]) == pe.link
		}
		if ok && pe.typ == e.Type() {
			delete(want, e.Name())
		} else {
			removeAt(dir, e.Name())
		}
	}
	for name, pe := range want {
		switch {
		case pe.typ.IsDir():
			unix.Mkdirat(dir, name, 0o555) // filled when it is opened
		case pe.typ&os.ModeSymlink != 0:
			unix.Symlinkat(pe.link, dir, name) // never followed: readlinkSpecial answers for it
		default:
			if fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444); err == nil {
				unix.Close(fd)
			}
		}
	}
	return nil
}

// removeAt removes name below the directory dir, recursively, without following links.
func removeAt(dir int, name string) {
	if unix.Unlinkat(dir, name, 0) == nil {
		return
	}
	sub, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	clearDir(sub)
	unix.Close(sub)
	unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
}

// clearDir removes everything below the directory dir.
func clearDir(dir int) {
	dup, err := unix.Dup(dir)
	if err != nil {
		return
	}
	unix.Seek(dup, 0, 0)
	d := os.NewFile(uintptr(dup), "dir")
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		removeAt(dir, n)
	}
}

// loadavg is the host's load figures with the guest's own task counts and last PID (the
// host's would name host processes).
func (k *Kernel) loadavg() ([]byte, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil, unix.EIO
	}
	tasks, last := 0, 0
	if fd, err := k.procfsOpenAt(".", true); err == nil {
		d := os.NewFile(uintptr(fd), "proc")
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range names {
			if p, err := strconv.Atoi(n); err == nil {
				tasks++
				last = max(last, p)
			}
		}
	}
	return []byte(fmt.Sprintf("%s %s %s 1/%d %d\n", f[0], f[1], f[2], tasks, last)), nil
}
