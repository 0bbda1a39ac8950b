package kernel

import (
	"bytes"
	"fmt"
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
func kernelDevice(rest string) bool {
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
	if rest == "/" {
		return k.openProcDir(flags)
	}
	if first, sub, _ := strings.Cut(rest, "/"); sub == "" {
		// /proc/PID itself: its directory in the listing
		if pid, err := k.procPid(c, first); err != nil {
			return -1, err
		} else if pid != 0 {
			dfd, err := k.openProcDir(unix.O_PATH | unix.O_DIRECTORY)
			if err != nil {
				return -1, err
			}
			defer unix.Close(dfd)
			return unix.Openat(dfd, strconv.Itoa(k.guestPid(pid)), acc|unix.O_DIRECTORY, 0)
		}
	} else if strings.HasPrefix(sub, "fd/") {
		// reopening an fd of a guest process (bash's <(…), /dev/stdin style)
		pid, err := k.procPid(c, first)
		if err != nil || pid == 0 {
			return -1, unix.ENOENT
		}
		n := sub[3:]
		if _, err := strconv.Atoi(n); err != nil {
			return -1, unix.ENOENT
		}
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd/"+n, acc, 0)
		if err == unix.ENOENT {
			return -1, unix.ENOENT
		}
		return fd, err
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

// procPid resolves the first component of a /proc path to a host pid (0 = not a pid dir).
func (k *Kernel) procPid(c *Call, first string) (int, error) {
	if c == nil && (first == "self" || first == "thread-self") {
		return 0, unix.ENOENT // asked by the console, which is no process
	}
	if first == "self" {
		return c.T.Proc.Tgid, nil
	}
	if first == "thread-self" {
		return c.Tid, nil
	}
	n, err := strconv.Atoi(first)
	if err != nil || n <= 0 {
		return 0, nil
	}
	h, ok := k.hostPid(n)
	if !ok {
		return 0, unix.ENOENT
	}
	return h, nil
}

// procFile generates a /proc file's contents (nil = no such file).
func (k *Kernel) procFile(c *Call, rest string, flags int) ([]byte, error) {
	first, sub, _ := strings.Cut(rest, "/")
	if pid, err := k.procPid(c, first); err != nil {
		return nil, err
	} else if pid != 0 {
		return k.procPidFile(c, pid, sub, flags)
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
	case "version":
		return []byte("Linux version " + Release + " (gouml) " + Version + "\n"), nil
	case "mounts":
		return k.mounts(), nil
	case "filesystems":
		return []byte("nodev\tproc\nnodev\tdevtmpfs\n\thostfs\n"), nil
	case "cpuinfo", "loadavg", "stat":
		return os.ReadFile("/proc/" + rest)
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
		"devtmpfs /dev devtmpfs rw,relatime 0 0\n")
}

func (k *Kernel) procPidFile(c *Call, pid int, sub string, flags int) ([]byte, error) {
	base := "/proc/" + strconv.Itoa(pid) + "/"
	switch sub {
	case "cmdline", "environ", "comm":
		return os.ReadFile(base + sub)
	case "mounts":
		return k.mounts(), nil
	case "stat":
		b, err := os.ReadFile(base + "stat")
		if err != nil {
			return nil, unix.ENOENT
		}
		// "pid (comm) state ppid pgrp session ..." : translate the pid fields
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return b, nil
		}
		f := strings.Fields(string(b[i+2:]))
		for _, j := range []int{1, 2, 3} {
			if j < len(f) {
				n, _ := strconv.Atoi(f[j])
				if j == 1 && pid == k.initTgid {
					n = 0
				}
				f[j] = strconv.Itoa(k.guestPid(n))
			}
		}
		return []byte(strconv.Itoa(k.guestPid(pid)) + " " + string(b[strings.IndexByte(string(b), '('):i+1]) + " " + strings.Join(f, " ") + "\n"), nil
	case "status":
		b, err := os.ReadFile(base + "status")
		if err != nil {
			return nil, unix.ENOENT
		}
		k.mu.Lock()
		var cr Cred
		if p := k.procs[pid]; p != nil {
			cr = *p.Cred
		}
		k.mu.Unlock()
		var out []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			key, val, _ := strings.Cut(l, ":")
			switch key {
			case "Tgid", "Pid", "PPid", "NSpid", "NStgid", "NSpgid", "NSsid":
				n, _ := strconv.Atoi(strings.TrimSpace(val))
				if key == "PPid" && pid == k.initTgid {
					n = 0
				}
				l = key + ":\t" + strconv.Itoa(k.guestPid(n))
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
	first, sub, _ := strings.Cut(rest, "/")
	pid, err := k.procPid(c, first)
	if err != nil {
		return "", err
	}
	if pid == 0 {
		return k.readlinkRoot(c.root(), "/proc/"+rest)
	}
	if sub == "" {
		if first == "self" {
			return strconv.Itoa(k.guestPid(pid)), nil
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
var procEntries = []string{"meminfo", "uptime", "version", "mounts", "filesystems", "cpuinfo", "loadavg", "stat"}

// openProcDir returns a directory fd listing /proc: a kernel-private host directory that is
// brought up to date (one empty directory per guest process, one empty file per /proc file)
// at every open, so getdents runs natively on it. Only the listing comes from it: every
// path below /proc is served by procFile.
func (k *Kernel) openProcDir(flags int) (int, error) {
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
		os.Chmod(d, 0o555|0o200)
		k.procDir = d
	}
	want := map[string]bool{}
	k.mu.Lock()
	for p := range k.procs {
		want[strconv.Itoa(k.guestPid(p))] = true
	}
	k.mu.Unlock()
	ents, _ := os.ReadDir(k.procDir)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if want[e.Name()] {
			delete(want, e.Name())
		} else {
			os.Remove(k.procDir + "/" + e.Name())
		}
	}
	for p := range want {
		os.Mkdir(k.procDir+"/"+p, 0o555)
	}
	return unix.Open(k.procDir, flags&(unix.O_PATH|unix.O_DIRECTORY|unix.O_NONBLOCK)|unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

func (k *Kernel) removeProcDir() {
	if k.procDir != "" {
		os.RemoveAll(k.procDir)
	}
}
