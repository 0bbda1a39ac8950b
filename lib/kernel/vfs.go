package kernel

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Root is the guest's root file system on a host directory.
//
// Every guest path is resolved by the host kernel with openat2(RESOLVE_IN_ROOT) on a dirfd of
// the root: "..", absolute symlinks and relative symlinks are all clamped to the root, atomically,
// even while the guest swaps symlinks. Calls that act on a name rather than on a file (mkdir,
// unlink, rename, symlink, link, lstat, readlink …) resolve the parent directory that way and
// then use the *at() call on that directory fd and a single path component, which cannot leave
// the directory. Magic links (/proc/…/fd/N style) are refused during resolution
// (RESOLVE_NO_MAGICLINKS), so a guest /proc could never be a way out either.
//
// A relative guest path is made absolute from the caller's working directory, which is the
// guest process's real host cwd (set by chdir through ptrace, inherited by fork natively); its
// guest name is the host path of /proc/TID/cwd minus the root's host path, so renames of
// directories above it are always reflected.
type Root struct {
	fd       int
	HostPath string       // canonical (symlink-free) host path of the root
	ro       *atomic.Bool // shared by the machine's root and every chroot below it
	mounts   *mountTable  // file systems mounted in it (the machine's root only; mount.go)
}

// ReadOnly reports whether the root is mounted read-only.
func (r *Root) ReadOnly() bool { return r.ro.Load() }

// SetReadOnly remounts the root.
func (r *Root) SetReadOnly(ro bool) { r.ro.Store(ro) }

// OpenRoot opens a host directory as a guest root.
func OpenRoot(dir string, ro bool) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	fd, err := unix.Open(real, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("root directory %s: %w", real, err)
	}
	r := &Root{fd: fd, HostPath: real, ro: new(atomic.Bool)}
	r.ro.Store(ro)
	return r, nil
}

// Sub makes the directory dirfd (inside r, owned by the caller afterwards) a root of its
// own: what chroot gives a guest process.
func (r *Root) Sub(dirfd int) (*Root, error) {
	host, err := os.Readlink(selfFD(dirfd))
	if err != nil {
		return nil, err
	}
	if _, ok := r.GuestPath(host); !ok {
		return nil, unix.ENOENT
	}
	return &Root{fd: dirfd, HostPath: host, ro: r.ro}, nil
}

// Close releases the root.
func (r *Root) Close() { unix.Close(r.fd) }

const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openat2 flags the host accepts; anything else would make openat2 fail with EINVAL where the
// guest's openat ignores it.
const openFlagMask = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE | unix.O_ASYNC

// Open resolves a guest absolute path inside the root and opens it (always O_CLOEXEC on the
// kernel's side).
func (r *Root) Open(guest string, flags int, mode uint32) (int, error) {
	if rt, rest := r.route(guest); rt != r {
		return rt.Open(rest, flags, mode)
	}
	how := unix.OpenHow{Flags: uint64(flags&openFlagMask) | unix.O_CLOEXEC, Resolve: resolveFlags}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(mode & 0o7777)
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(r.fd, guest, &how)
		if err == unix.EAGAIN && i < 16 {
			continue // a concurrent rename raced with ".." resolution: the host asks to retry
		}
		return fd, err
	}
}

// OpenPath opens an O_PATH fd for a guest path, following a final symlink or not.
func (r *Root) OpenPath(guest string, follow bool) (int, error) {
	fl := unix.O_PATH
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	return r.Open(guest, fl, 0)
}

// Parent resolves everything but the last component of a guest absolute path and returns the
// parent directory fd and the last component. The component is never empty, "." or "..":
// those get the errors the calls would give for them (callers pass which).
func (r *Root) Parent(guest string) (int, string, error) {
	if rt, rest := r.route(guest); rt != r {
		return rt.Parent(rest)
	}
	g := strings.TrimRight(guest, "/")
	if g == "" {
		return -1, "", unix.EBUSY // the root itself
	}
	i := strings.LastIndexByte(g, '/')
	dir, name := g[:i+1], g[i+1:]
	if name == "." || name == ".." {
		return -1, "", unix.EINVAL
	}
	if dir == "" {
		dir = "."
	}
	fd, err := r.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, name, nil
}

// GuestPath maps a host path to the guest's name for it; ok is false when it is not inside
// the root.
func (r *Root) GuestPath(host string) (string, bool) {
	if g, ok := r.mounts.guestPath(host); ok {
		return g, true
	}
	if r.HostPath == "/" {
		return host, strings.HasPrefix(host, "/")
	}
	if host == r.HostPath {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(host, r.HostPath); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return "", false
}

// cwd returns the guest name, seen from root r, of a task's working directory ("/" when the
// host cwd is outside r: after a chroot without chdir, or with an inherited host directory fd;
// so ".." can never climb out of a chroot, unlike on Linux).
func (k *Kernel) cwd(r *Root, tid int) string {
	l, err := os.Readlink("/proc/" + strconv.Itoa(tid) + "/cwd")
	if err != nil {
		return "/"
	}
	if g, ok := r.GuestPath(l); ok {
		return g
	}
	return "/"
}

// fdPath returns the guest path, seen from root r, of a guest fd that must be inside r.
func (k *Kernel) fdPath(r *Root, tid int, fd int32) (string, error) {
	l, err := os.Readlink("/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(fd)))
	if err != nil {
		return "", unix.EBADF
	}
	g, ok := r.GuestPath(l)
	if !ok {
		return "", unix.ENOTDIR
	}
	return g, nil
}

// abs makes a guest path absolute relative to dirfd (AT_FDCWD = the cwd).
func (c *Call) abs(dirfd int32, p string) (string, error) {
	if p == "" {
		return "", unix.ENOENT
	}
	if p[0] == '/' {
		return p, nil
	}
	var base string
	if dirfd == unix.AT_FDCWD {
		base = c.k.cwd(c.root(), c.Tid)
	} else {
		b, err := c.k.fdPath(c.root(), c.Tid, dirfd)
		if err != nil {
			return "", err
		}
		base = b
	}
	if base == "/" {
		return "/" + p, nil
	}
	return base + "/" + p, nil
}

// special reports whether a guest path lies in a kernel-provided file system (/dev, /proc),
// judged on the lexically cleaned absolute path.
func special(guest string) (fs, rest string) {
	c := path.Clean(guest)
	for _, m := range []string{"/dev", "/proc"} {
		if c == m {
			return m, "/"
		}
		if r, ok := strings.CutPrefix(c, m+"/"); ok {
			return m, r
		}
	}
	return "", ""
}

// root returns the caller's root (the machine's, or the one it chrooted to).
func (c *Call) root() *Root { return c.k.rootOf(c.T) }

func (k *Kernel) rootOf(t *Task) *Root {
	if t == nil {
		return k.root
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := t.Proc.Root; r != nil {
		return r
	}
	return k.root
}
