package kernel

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Kernel-provided files: /dev and /proc. The guest root's own /dev and /proc directories
// stay visible for everything not listed here (so `ls /dev` lists the root's directory).
// Files of /proc are generated at open into a memfd; the guest reads them natively.
// Judged on the lexically cleaned path: a symlink elsewhere in the root that points into
// /dev or /proc reaches the root's plain directories instead (to be lifted by a mount table).

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

func (k *Kernel) openSpecial(c *Call, fs, rest string, flags int) (int, error) {
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_APPEND|unix.O_PATH|unix.O_NOCTTY) | unix.O_CLOEXEC
	if fs == "/dev" {
		if b, part, ok := k.blockDevByName(rest); ok && b != nil {
			return k.openBlockDev(b, part, flags)
		}
		switch {
		case hostDevices[rest]:
			return unix.Open("/dev/"+rest, acc, 0)
		case rest == "console" || rest == "tty" || rest == "tty0":
			return k.openConsole(flags)
		case rest == "stdin" || rest == "stdout" || rest == "stderr":
			n := map[string]string{"stdin": "0", "stdout": "1", "stderr": "2"}[rest]
			return k.reopenGuestFD(c, n, acc)
		case strings.HasPrefix(rest, "fd/"):
			return k.reopenGuestFD(c, rest[3:], acc)
		}
		return c.root().Open("/dev/"+strings.TrimPrefix(rest, "/"), flags, 0)
	}
	// /proc
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

func (k *Kernel) reopenGuestFD(c *Call, n string, flags int) (int, error) {
	if _, err := strconv.Atoi(n); err != nil {
		return -1, unix.ENOENT
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(c.Tid)+"/fd/"+n, flags|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return -1, unix.ENOENT
	}
	return fd, err
}

// openConsole gives the guest a new fd on its console.
func (k *Kernel) openConsole(flags int) (int, error) {
	return k.cfg.Console.Open(flags)
}

func memfdWith(data []byte) (int, error) {
	fd, err := unix.MemfdCreate("gouml-proc", unix.MFD_CLOEXEC)
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
	switch {
	case sub == "fd" || strings.HasPrefix(sub, "fd/") && strings.Count(sub, "/") == 1:
		if sub != "fd" {
			// reopening an fd of a guest process (bash's <(…), /dev/stdin style)
			n := sub[3:]
			if _, err := strconv.Atoi(n); err != nil {
				return -1, unix.ENOENT
			}
			fd, err := unix.Open("/proc/"+strconv.Itoa(host)+"/fd/"+n, acc, 0)
			if err == unix.ENOENT {
				return -1, unix.ENOENT
			}
			return fd, err
		}
	case sub == "exe" || sub == "cwd":
		if flags&unix.O_PATH != 0 || sub == "cwd" {
			return unix.Open("/proc/"+strconv.Itoa(host)+"/"+sub, acc, 0)
		}
		return unix.Open("/proc/"+strconv.Itoa(host)+"/"+sub, acc&^unix.O_ACCMODE|unix.O_RDONLY, 0)
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
		return k.openProcDir(rel, flags)
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

// procfsStat stats PID/sub in the guest's procfs.
func (k *Kernel) procfsStat(guest int, sub string) (unix.Stat_t, error) {
	var st unix.Stat_t
	name := strconv.Itoa(guest)
	if sub != "" {
		name += "/" + sub
	}
	if err := unix.Fstatat(k.procfs, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, unix.ENOENT
	}
	return st, nil
}

// procfsRead reads PID/sub from the guest's procfs.
func (k *Kernel) procfsRead(guest int, sub string) ([]byte, error) {
	fd, err := unix.Openat(k.procfs, strconv.Itoa(guest)+"/"+sub, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, unix.ENOENT
	}
	f := os.NewFile(uintptr(fd), sub)
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return b, nil
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
	switch {
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

// guestMaps rewrites the path column of a maps/smaps file: host paths inside the guest's
// root become guest paths; other host paths (the kernel's memfds, host devices) keep only
// what the guest may know.
func (k *Kernel) guestMaps(c *Call, host int, b []byte) []byte {
	r := k.root
	k.mu.Lock()
	if p := k.procs[nsTgid(host)]; p != nil && p.Root != nil {
		r = p.Root
	}
	k.mu.Unlock()
	lines := strings.SplitAfter(string(b), "\n")
	var out strings.Builder
	for _, l := range lines {
		// address perms offset dev inode [path]: the path starts after the 5th field's padding
		i := strings.Index(l, " /")
		if i < 0 || strings.Count(l[:i], " ") < 4 || strings.HasPrefix(l, "Size:") {
			out.WriteString(l)
			continue
		}
		nl := strings.HasSuffix(l, "\n")
		p := strings.TrimSuffix(l[i+1:], "\n")
		del := strings.HasSuffix(p, " (deleted)")
		p = strings.TrimSuffix(p, " (deleted)")
		switch g, ok := r.GuestPath(p); {
		case ok:
			p = g
		case strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/memfd:"):
		default:
			p = "/[kernel]"
		}
		if del {
			p += " (deleted)"
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
		"3 1 0:5 / /dev rw,relatime - devtmpfs devtmpfs rw\n")
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
	switch {
	case sub == "root":
		return "/", nil
	case sub == "cwd":
		return k.cwd(c.root(), pid), nil
	case sub == "exe" || strings.HasPrefix(sub, "fd/"):
		l, err := os.Readlink(host + sub)
		if err != nil {
			return "", unix.ENOENT
		}
		if g, ok := c.root().GuestPath(l); ok {
			return g, nil
		}
		if strings.HasPrefix(l, "/") {
			return "/dev/console", nil // the console and other host files the kernel handed in
		}
		return l, nil // pipe:[…], socket:[…], anon_inode:…
	case strings.HasPrefix(sub, "ns/"):
		return os.Readlink(host + sub)
	}
	return "", unix.EINVAL
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
// (rel "PID/…"): a kernel-private host directory brought up to date at every open from the
// guest's procfs (names and kinds of entries only: every path below /proc is served by
// procFile), so getdents runs natively on it.
func (k *Kernel) openProcDir(rel string, flags int) (int, error) {
	k.procMu.Lock()
	defer k.procMu.Unlock()
	if k.procDir == "" {
		d, err := os.MkdirTemp(k.cfg.RunDir, "gouml-proc-")
		if err != nil {
			return -1, err
		}
		for _, e := range procEntries {
			os.WriteFile(d+"/"+e, nil, 0o444)
		}
		os.Symlink("/", d+"/self")
		os.Symlink("/", d+"/thread-self")
		os.Symlink("/", d+"/net")
		os.Chmod(d, 0o555|0o200)
		k.procDir = d
	}
	dir := k.procDir
	if rel != "" {
		dir += "/" + rel
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return -1, unix.ENOENT
		}
	}
	if err := k.mirrorProcfs(rel, dir); err != nil {
		return -1, err
	}
	return unix.Open(dir, flags&(unix.O_PATH|unix.O_DIRECTORY|unix.O_NONBLOCK)|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// mirrorProcfs makes dir's entries those of rel in the guest's procfs: at the top only the
// PID directories (the rest of /proc is the kernel's own); below, every entry with its kind.
func (k *Kernel) mirrorProcfs(rel, dir string) error {
	src := "."
	if rel != "" {
		src = rel
	}
	fd, err := unix.Openat(k.procfs, src, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return unix.ENOENT
	}
	f := os.NewFile(uintptr(fd), src)
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil && len(ents) == 0 {
		return unix.ENOENT
	}
	// a PID directory (PID or PID/task/TID) lists what procPidFile serves
	parts := strings.Split(rel, "/")
	pidDir := len(parts) == 1 && rel != "" || len(parts) == 3 && parts[1] == "task"
	want := map[string]os.FileMode{}
	for _, e := range ents {
		if rel == "" {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
		}
		if pidDir && !procPidFiles[e.Name()] && !procPidOther[e.Name()] {
			continue
		}
		want[e.Name()] = e.Type()
	}
	have, _ := os.ReadDir(dir)
	for _, e := range have {
		if rel == "" {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue // the kernel's own entries
			}
		}
		if t, ok := want[e.Name()]; ok && t == e.Type() {
			delete(want, e.Name())
		} else {
			os.RemoveAll(dir + "/" + e.Name())
		}
	}
	for name, t := range want {
		p := dir + "/" + name
		switch {
		case t.IsDir():
			os.Mkdir(p, 0o755) // writable for the kernel, which fills it when it is opened
		case t&os.ModeSymlink != 0:
			os.Symlink("/", p)
		default:
			os.WriteFile(p, nil, 0o444)
		}
	}
	return nil
}

func (k *Kernel) removeProcDir() {
	if k.procDir != "" {
		os.RemoveAll(k.procDir)
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
	if fd, err := unix.Openat(k.procfs, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
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
