package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// /proc's directories and links as the guest lists and reads them: a detached tmpfs kept in
// step with the guest's procfs, written with *at calls on checked names only.

// readlinkSpecial answers readlink in /dev and /proc.
func (k *Kernel) readlinkSpecial(c *Call, fs, rest string) (string, error) {
	if fs == "/sys" {
		return k.readlinkSys(c, rest)
	}
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
	if t, ok := procTopLinks[rest]; ok {
		return t, nil
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
		if p := k.procLocked(nsTgid(pid)); p != nil && p.Root != nil {
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
	case sub == "exe" && k.loaded(pid) != nil:
		return k.loaded(pid).linkFor(c), nil
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
	if p == "" && w == inTree {
		return "", unix.ENAMETOOLONG // a file whose path the host does not name (longpath.go)
	}
	if p == "" {
		return "", unix.ENOENT
	}
	switch w {
	case inTree:
		if g, ok := c.root().rel(strings.TrimSuffix(p, " (deleted)")); ok {
			if strings.HasSuffix(p, " (deleted)") {
				g += " (deleted)"
			}
			if len(g) >= unix.PathMax {
				return "", unix.ENAMETOOLONG // Linux names it in a page
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
		if n := k.ptyName(&st); n != "" {
			return n, nil
		}
		if b, part := k.blockDevOf(&st); b != nil {
			name := "/dev/" + ubd.DiskName(b.unit)
			if part != 0 {
				name += strconv.Itoa(part)
			}
			return name, nil
		}
		if l := k.cfg.Lines.lineOfNode(st.Dev, st.Ino); l != nil {
			return "/dev/" + l.name(), nil
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR {
			if n := k.kernelDeviceName(unix.S_IFCHR, st.Rdev); n != "" {
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
	first, _, _ := strings.Cut(rel, "/")
	if n := procLookup(rel); rel != "" && n != nil && !procfsOwned(first) {
		if !n.dir() {
			return -1, unix.ENOTDIR
		}
		fillProcDir(n, dir) // the tree's own directory (/proc/sys …)
	} else if err := k.mirrorProcfs(rel, dir); err != nil {
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
		fillProcDir(procTree, dir)
		// self's and thread-self's size is 0 on Linux, the fixed links' their target's length
		unix.Symlinkat(procLinkTarget(0o777, 0), dir, "self")
		unix.Symlinkat(procLinkTarget(0o777, 0), dir, "thread-self")
		for l, target := range procTopLinks {
			unix.Symlinkat(procLinkTarget(0o777, int64(len(target))), dir, l)
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
