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

	"golang.org/x/sys/unix"
)

// The guest's /proc: its files, generated from the guest's own procfs instance with paths
// made guest paths and credentials the guest's, and the links of its tasks followed as the
// guest paths of what they hold.

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
	p := k.procLocked(nsTgid(host))
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
		if l := k.loaded(host); l != nil {
			return l.open(acc&^unix.O_ACCMODE | unix.O_RDONLY)
		}
		link := "/proc/" + strconv.Itoa(host) + "/exe"
		var st unix.Stat_t
		if err := unix.Stat(link, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return -1, unix.ENOENT
		}
		return unix.Open(link, acc&^unix.O_ACCMODE|unix.O_RDONLY, 0)
	case sub == "root":
		r := k.root
		k.mu.Lock()
		if p := k.procLocked(host); p != nil && p.Root != nil {
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
	fd, err := openat2(k.procfs, name, &procHow)
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
		fs, rest := c.k.special(abs)
		if fs == "" || fs == "/sys" || rest == "/" {
			return abs, nil // /sys has no magic links
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
				if p := c.k.procLocked(nsTgid(host)); p != nil && p.Root != nil {
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
	if n := procLookup(rest); n != nil && !n.dir() {
		return n.read(k)
	}
	return nil, nil
}

// sysctlWriter returns what a write to a writable /proc/sys file does with the written
// text, or nil when the file is not writable.
func (k *Kernel) sysctlWriter(rest string) func(string) {
	if n := procLookup(rest); n != nil && n.write != nil {
		return func(v string) { n.write(k, v) }
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

// rootFSType is the root's type in the mount table: its image's ext kind, or hostfs for a
// host directory (as the real kernel shows a hostfs root).
func (k *Kernel) rootFSType() string {
	if r := k.cfg.rootImage; r != nil && r.FS() != nil {
		return r.FS().Kind()
	}
	return "hostfs"
}

// mounts is /proc/mounts: the root, then the table in mount order (mount.go, kernelfs.go).
func (k *Kernel) mounts() []byte {
	mode := mountOptions(k.root.MountFlags())
	return []byte("/dev/root / " + k.rootFSType() + " " + mode + ",relatime 0 0\n" + k.mountLines())
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
	case sub == "cmdline":
		b, err := k.procfsRead(guest, sub)
		if l := k.loaded(host); err == nil && l != nil {
			b = l.cmdline(b)
		}
		return b, err
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
		if p := k.procLocked(nsTgid(host)); p != nil {
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
	if p := k.procLocked(nsTgid(host)); p != nil && p.Root != nil {
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
			fd, err := openat2(root.fd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
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

// mountinfo is /proc/PID/mountinfo: the root as mount 1, then the table numbered from 2.
func (k *Kernel) mountinfo() []byte {
	mode := "rw"
	if k.root.ReadOnly() {
		mode = "ro"
	}
	return []byte("1 0 98:0 / / " + mountOptions(k.root.MountFlags()) + ",relatime - " + k.rootFSType() + " /dev/root " + mode + "\n" +
		k.mountinfoLines(2))
}
