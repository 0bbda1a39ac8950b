package kernel

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Root is the guest's root file system, or a directory a guest process chrooted into.
//
// Every guest path is resolved by the host kernel with openat2(RESOLVE_IN_ROOT) on a dirfd of
// the root: "..", absolute symlinks and relative symlinks are all clamped to the root, atomically,
// even while the guest swaps symlinks. Calls that act on a name rather than on a file (mkdir,
// unlink, rename, symlink, link, lstat, readlink …) resolve the parent directory that way and
// then use the *at() call on that directory fd and a single path component, which cannot leave
// the directory. Magic links (/proc/…/fd/N style) are refused during resolution
// (RESOLVE_NO_MAGICLINKS), so a guest /proc could never be a way out either.
//
// The machine's root is not the host directory itself but a detached copy of its mount (a
// mount in no namespace, made per boot with open_tree: jail.go). The guest's processes are
// chrooted into the same copy, so every directory a guest holds, as an fd or as its working
// directory, lies in a mount whose top has no parent: "..", natively or not, ends there.
// The host path of the directory is never used after the copy is made, and the host kernel
// names objects of the copy by their path inside it, which is the guest's path (objPath).
type Root struct {
	fd     int          // directory fd every path is resolved below
	clone  int          // the mount fd of a tree copy (machine root, ubd mounts); -1 for a chroot
	mnt    uint64       // mount id of the tree copy
	guest  string       // guest path of fd, seen from the machine's root ("/" for it)
	ro     *atomic.Bool // shared by the machine's root and every chroot below it
	mounts *mountTable  // file systems mounted in it (the machine's root only; mount.go)

	// the mount's nosuid, nodev and noexec (MS_* bits), shared as ro is (mountflags.go)
	flags *atomic.Uint64
}

// ReadOnly reports whether the root is mounted read-only.
func (r *Root) ReadOnly() bool { return r.ro.Load() }

// SetReadOnly remounts the root: the tree copy's mount becomes read-only, so the host
// kernel refuses every write below it (EROFS), whatever path a handler took to it. The
// copy is recursive (a host mount below a hostfs directory or a directory root is part of
// it), and so is the flag: a guest reaches those mounts as part of its file system, and
// they must refuse writes as the rest does (mountflags.go).
func (r *Root) SetReadOnly(ro bool) error {
	if r.clone >= 0 {
		var attr unix.MountAttr
		if ro {
			attr.Attr_set = unix.MOUNT_ATTR_RDONLY
		} else {
			attr.Attr_clr = unix.MOUNT_ATTR_RDONLY
		}
		err := unix.MountSetattr(r.clone, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		if err == unix.EPERM && !ro {
			// a mount below that the host locked read-only (made in a more privileged
			// namespace) stays so; the rest becomes writable
			err = unix.MountSetattr(r.clone, "", unix.AT_EMPTY_PATH, &attr)
		}
		if err != nil {
			return err
		}
	}
	r.ro.Store(ro)
	return nil
}

// cloneRoot makes a detached copy of the mount tree of the host directory dir (with the
// mounts below it) and returns it as a root, read-only if ro.
func cloneRoot(dir string, ro bool) (*Root, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return nil, fmt.Errorf("copying the mount of %s: %w", dir, err)
	}
	r := &Root{fd: fd, clone: fd, guest: "/", ro: new(atomic.Bool), flags: new(atomic.Uint64)}
	if r.mnt, err = mountID(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// No device node of the tree opens a host device (the kernel serves its own devices
	// for device files: sys_file.go), and no set-id bit of a host file takes effect for a
	// guest process.
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("securing the mount of %s: %w", dir, err)
	}
	if err := r.SetReadOnly(ro); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// mountID returns the id of the mount an fd lies in.
func mountID(fd int) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	return stx.Mnt_id, nil
}

// Sub makes the directory dirfd (inside r, owned by the caller afterwards) whose guest path
// from the machine's root is guest a root of its own: what chroot gives a guest process.
func (r *Root) Sub(dirfd int, guest string) *Root {
	return &Root{fd: dirfd, clone: -1, mnt: r.mnt, guest: guest, ro: r.ro, flags: r.flags}
}

// Close releases the root.
func (r *Root) Close() {
	unix.Close(r.fd)
	if r.clone >= 0 && r.clone != r.fd {
		unix.Close(r.clone)
	}
}

// rel turns a guest path seen from the machine's root into the path seen from r; ok is
// false when it is not below r.
func (r *Root) rel(p string) (string, bool) {
	if r.guest == "/" {
		return p, true
	}
	if p == r.guest {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, r.guest); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return "", false
}

const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openat2 flags the host accepts; anything else would make openat2 fail with EINVAL where the
// guest's openat ignores it.
const openFlagMask = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE | unix.O_ASYNC

// Open resolves a guest absolute path inside the root and opens it (always O_CLOEXEC on the
// kernel's side). A file it creates never gets a set-user-ID or set-group-ID bit on the
// host: such bits live in the guest's metadata (hostmeta), never where a host user could
// run them.
func (r *Root) Open(guest string, flags int, mode uint32) (int, error) {
	if rt, rest := r.route(guest); rt != r {
		return rt.Open(rest, flags, mode)
	}
	how := unix.OpenHow{Flags: uint64(flags&openFlagMask) | unix.O_CLOEXEC, Resolve: resolveFlags}
	if mayCreate(flags) {
		how.Mode = uint64(mode & 0o777)
	}
	fd, err := openat2(r.fd, guest, &how) // retries a rename's or mount's race with ".."
	if err == nil && mayCreate(flags) {
		if err := noSetid(fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, err
}

// mayCreate: open flags that may make a file, O_CREAT or O_TMPFILE. O_TMPFILE includes
// O_DIRECTORY's bit, so an opendir must not be taken for one: it would be given a mode, which
// openat2 refuses without a create (EINVAL), and pay for reading the caller's umask (a
// /proc/TID/status read, some 28 µs) at every directory a tree walk opens.
func mayCreate(flags int) bool {
	return flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
}

// noSetid is the second check behind every mode the kernel gives a host file: a set-id bit
// found on a file it just created or changed is taken off again.
func noSetid(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Fchmodat(unix.AT_FDCWD, selfFD(fd), st.Mode&0o777, 0)
	}
	return nil
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
	dir, name, err := splitParent(guest)
	if err != nil {
		return -1, "", err
	}
	fd, err := r.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, name, nil
}

// splitParent splits a guest path into its directory and last component, refusing what no
// call on a name takes: the root itself (EBUSY), "." and ".." (EINVAL), an overlong name.
func splitParent(guest string) (dir, name string, err error) {
	g := strings.TrimRight(guest, "/")
	if g == "" {
		return "", "", unix.EBUSY // the root itself
	}
	i := strings.LastIndexByte(g, '/')
	dir, name = g[:i+1], g[i+1:]
	if name == "." || name == ".." {
		return "", "", unix.EINVAL
	}
	if len(name) > 255 {
		return "", "", unix.ENAMETOOLONG
	}
	if dir == "" {
		dir = "."
	}
	return dir, name, nil
}

// where says what kind of object a guest task holds.
type where uint8

const (
	elsewhere where = iota // not a file of the guest's trees: a pipe, a memfd, a host device …
	inTree                 // a file or directory of the root or of a mounted ubd device
	inProc                 // a directory of the /proc listing (special.go)
)

// objPath returns the guest path, seen from the machine's root, of the object behind a
// magic link (/proc/TID/cwd, /proc/TID/fd/N, /proc/self/fd/N), and where it lies. The
// object's mount tells the tree: the host kernel names a file of a detached tree copy by
// its path inside the copy, and a host file by its host path, so the path alone proves
// nothing. A mount below the root's copy (a host mount inside the root directory) is
// recognised by resolving the path again and finding the same file. A deleted file's path
// keeps the host's " (deleted)" suffix.
func (k *Kernel) objPath(link string) (string, where) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, link, 0, unix.STATX_MNT_ID|unix.STATX_INO, &stx); err != nil {
		return "", elsewhere
	}
	l, err := os.Readlink(link)
	if errors.Is(err, unix.ENAMETOOLONG) {
		// a directory deeper than the host names; a file: only where (longpath.go)
		if l, err = longLinkPath(link); err != nil {
			return "", k.longWhere(stx.Mnt_id)
		}
	}
	if err != nil || !strings.HasPrefix(l, "/") {
		return l, elsewhere
	}
	join := func(at, p string) string {
		if p == "/" {
			return at
		}
		if at == "/" {
			return p
		}
		return at + p
	}
	switch {
	case stx.Mnt_id == k.root.mnt:
		return l, inTree
	case stx.Mnt_id == k.procMnt:
		return join("/proc", l), inProc
	case stx.Mnt_id == k.sysMnt && k.sysMnt != 0:
		return join("/sys", l), inProc
	}
	if m := k.root.mounts.byMount(stx.Mnt_id); m != nil {
		if g, ok := m.guestPath(l); ok {
			return g, inTree
		}
		return m.at, inTree // above the mounted directory: the guest sees its top
	}
	if k.root.mounts.belowRoot(stx.Mnt_id) {
		return l, inTree
	}
	p := strings.TrimSuffix(l, " (deleted)")
	fd, err := openat2(k.root.fd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveFlags})
	if err != nil {
		return l, elsewhere
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Ino != stx.Ino || st.Dev != unix.Mkdev(stx.Dev_major, stx.Dev_minor) {
		return l, elsewhere
	}
	if m, err := mountID(fd); err == nil && m == stx.Mnt_id {
		k.root.mounts.below.Store(m, true)
	}
	return l, inTree
}

// cwd returns the guest name, seen from root r, of a task's working directory ("/" when it
// is outside r: after a chroot without chdir; so ".." can never climb out of a chroot,
// unlike on Linux).
func (k *Kernel) cwd(r *Root, tid int) string {
	g, _ := k.cwdOf(r, tid)
	return g
}

// cwdOf is cwd, and whether that directory was removed (its former name is then given).
func (k *Kernel) cwdOf(r *Root, tid int) (string, bool) {
	p, w := k.objPath("/proc/" + strconv.Itoa(tid) + "/cwd")
	switch w {
	case inTree:
		if g, ok := r.rel(strings.TrimSuffix(p, " (deleted)")); ok {
			return g, strings.HasSuffix(p, " (deleted)")
		}
	case inProc:
		if r.guest == "/" {
			return p, false
		}
	}
	return "/", false
}

// cwdRemoved says whether the caller's working directory was removed.
func (c *Call) cwdRemoved() bool {
	_, gone := c.k.cwdOf(c.root(), c.Tid)
	return gone
}

// fdPath returns the guest path, seen from root r, of a guest fd that must be a file or
// directory of r.
func (k *Kernel) fdPath(r *Root, tid int, fd int32) (string, error) {
	link := "/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(fd))
	p, w := k.objPath(link)
	if p == "" && w == inTree {
		return "", unix.ENOTDIR // a file too deep to name (longpath.go): no directory either
	}
	if p == "" {
		return "", unix.EBADF
	}
	switch w {
	case inTree:
		if g, ok := r.rel(strings.TrimSuffix(p, " (deleted)")); ok {
			return g, nil
		}
	case inProc:
		if r.guest == "/" {
			return p, nil
		}
	}
	return "", unix.ENOTDIR
}

// absFollow is absOf for calls that follow a final symlink (open without O_NOFOLLOW, stat,
// chdir, execve …): a final symlink into /proc, /dev or a mounted file system must be
// followed before the kernel chooses the file system.
func (c *Call) absFollow(dirfd int32, p string) (string, error) { return c.absOf(dirfd, p, true) }

// absOf makes a guest path absolute relative to dirfd (AT_FDCWD = the cwd), with the
// symlinks before its last component and the /proc and /dev links it goes through followed
// (canon; special.go: procLinks); the last component is followed if follow. The calls on a
// name (Call.parent, readlink) make the same two steps, abs1 then absCanon, with
// parentPlain between.
func (c *Call) absOf(dirfd int32, p string, follow bool) (string, error) {
	a, err := c.abs1(dirfd, p)
	if err != nil {
		return "", err
	}
	return c.absCanon(a, follow)
}

// absCanon is absOf's work on a path abs1 already made absolute.
func (c *Call) absCanon(a string, follow bool) (string, error) {
	var err error
	if a, err = c.canon(c.resolveDots(c.kernelDots(a)), follow, 0); err != nil {
		return "", err
	}
	if fs, rest := c.k.special(a); fs == "/dev" && strings.HasSuffix(a, "/") && rest != "fd" && rest != "pts" && rest != "mqueue" && c.k.kernelDevice(rest) {
		return "", unix.ENOTDIR // a device is no directory, however it was named
	}
	if follow && path.Clean(a) == "/dev/fd" {
		a = "/proc/self/fd" // the link /dev/fd, followed: the caller's fds
	}
	return c.procLinks(a)
}

// kernelDots resolves the ".." components that follow a directory of the kernel's own
// file systems (/proc/self/../../etc): the root's tree, where the host would look, has no
// such directories. Components after a ".." that leaves them are the host's to resolve.
func (c *Call) kernelDots(abs string) string {
	abs = devFdLinks(abs)
	if !strings.Contains(abs, "/..") {
		return abs
	}
	parts := strings.Split(abs, "/")
	out := "/"
	for i, p := range parts {
		switch {
		case p == "" || p == ".":
		case p != "..":
			out = path.Join(out, p)
		case out == "/":
		case magicLink(out):
			// ".." of what the link names (procLinks follows it)
			return out + "/" + strings.Join(parts[i:], "/")
		case c.kernelServed(out):
			out = path.Dir(out)
		default:
			rest := strings.Join(parts[i:], "/") // not cleaned: ".." after a symlink is the host's
			if out == "/" {
				return "/" + rest
			}
			return out + "/" + rest
		}
	}
	return out + trailing(abs)
}

// resolveDots resolves each ".." of a path of the trees once what precedes it is followed: a
// symlink before a ".." changes where it leads (/mnt/h/up/.. with up -> ../..), and the
// kernel chooses the tree by the name before the host resolves anything. A ".." after a
// directory of /proc or /dev is kernelDots's.
func (c *Call) resolveDots(abs string) string {
	for n := 0; n < maxSymlinks; n++ {
		parts := strings.Split(abs, "/")
		i := -1
		for j, p := range parts {
			if p == ".." {
				i = j
				break
			}
		}
		if i < 0 {
			return abs
		}
		prefix := "/" + strings.Join(parts[:i], "/")
		if c.kernelServed(path.Clean(prefix)) || magicLink(path.Clean(prefix)) {
			return abs
		}
		d, err := c.canonDir(path.Clean(prefix), 0)
		if err != nil || !c.isDir(d) {
			return abs // the call meets the error itself (ENOENT, ENOTDIR)
		}
		up := path.Dir(d)
		rest := strings.Join(parts[i+1:], "/")
		switch {
		case rest == "":
			// a last ".." stays the name's (rename and rmdir judge it): after what it
			// really follows
			if d == "/" {
				return "/.."
			}
			return d + "/.."
		case up == "/":
			abs = "/" + rest
		default:
			abs = up + "/" + rest
		}
	}
	return abs
}

// isDir: the guest path names a directory (of a tree, or of the kernel's).
func (c *Call) isDir(g string) bool {
	if c.kernelServed(g) {
		return true
	}
	rt, rel := c.root().route(g)
	fd, err := rt.Open(rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// devFdLinks rewrites /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr followed by more
// components as the /proc/self/fd paths they link to on Linux: /dev/fd/../status is
// /proc/self/status, and opendir("/dev/fd") lists the caller's fds.
func devFdLinks(abs string) string {
	for dev, fd := range map[string]string{"/dev/fd": "", "/dev/stdin": "/0", "/dev/stdout": "/1", "/dev/stderr": "/2"} {
		rest, ok := strings.CutPrefix(abs, dev)
		if ok && rest != "" && rest[0] == '/' && (fd == "" || strings.Trim(rest, "/") != "") {
			return "/proc/self/fd" + fd + rest
		}

	}
	return abs
}

// magicLink: the guest path names one of /proc's links to a task's objects (cwd, root,
// exe, fd/N), whose ".." is that of the object.
func magicLink(p string) bool {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	f := strings.Split(rest, "/")
	if len(f) >= 3 && f[1] == "task" {
		f = f[2:]
	}
	switch {
	case len(f) == 2:
		return f[1] == "cwd" || f[1] == "root" || f[1] == "exe"
	case len(f) == 3:
		return f[1] == "fd"
	}
	return false
}

func trailing(p string) string {
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return "/"
	}
	return ""
}

// kernelServed: the guest path lies in /proc or is one of the kernel's /dev entries.
func (c *Call) kernelServed(p string) bool {
	fs, rest := c.k.special(p)
	return fs == "/proc" || fs == "/sys" || fs == "/dev" && rest != "/" && c.k.kernelDevice(rest)
}

// served: a path special split into fs and rest is the kernel's own file (of /proc, /sys, or
// one of /dev's entries the kernel serves), not a file of the trees.
func (k *Kernel) served(fs, rest string) bool {
	return fs == "/proc" || fs == "/sys" || fs == "/dev" && k.kernelDevice(rest)
}

// maxSymlinks is Linux's limit on the symlinks one lookup follows (ELOOP beyond it).
const maxSymlinks = 40

// canon returns the guest path abs (absolute, seen from the caller's root) with the symlinks
// it goes through expanded, as far as the path exists: those before the last component, and
// the last one too when follow. The kernel chooses the file system of a path (the root, a
// mounted one, /proc, /dev) by its name, and the host then resolves the rest inside that one
// tree; a symlink leading from one file system to another (Debian's /etc/mtab ->
// ../proc/self/mounts, /dev/fd -> /proc/self/fd, a link into a mount point) must therefore be
// followed first. The result only chooses the tree: the host still resolves the path inside
// it with RESOLVE_IN_ROOT, so a guest racing its own symlinks can only misdirect itself.
//
// The common case costs one extra openat2: a path with no symlink on the way needs nothing
// more. Otherwise the host resolves the parent directory in its tree and says where it landed
// (its path inside the tree copy); only a parent that leads out of its tree is walked further,
// a link at a time.
func (c *Call) canon(abs string, follow bool, depth int) (string, error) {
	r := c.root()
	for links := 0; ; links++ {
		if links+depth > maxSymlinks {
			return "", unix.ELOOP
		}
		if fs, rest := c.k.special(abs); c.k.served(fs, rest) {
			return abs, nil
		}
		rt, rel := r.route(abs)
		if rt.probe(rel, follow) != unix.ELOOP {
			return abs, nil // no symlink on the way (or an error the call itself will meet)
		}
		dir, name, slash := splitLast(abs)
		cdir, err := c.canonDir(dir, depth+links)
		if err != nil {
			return "", err
		}
		if name == "" || name == "." || name == ".." {
			abs = path.Join(cdir, name) // lexical from a real directory: what Linux does
			continue
		}
		p := cdir + "/" + name
		if cdir == "/" {
			p = "/" + name
		}
		if !follow {
			// a call on the name itself (unlink, rename, lstat …): a slash after it is
			// that call's to judge, the link is not followed to choose a file system
			return withSlash(p, slash), nil
		}
		if fs, rest := c.k.special(p); c.k.served(fs, rest) {
			return withSlash(p, slash), nil
		}
		target, ok := c.readlinkIn(p)
		if !ok {
			return withSlash(p, slash), nil
		}
		if !strings.HasPrefix(target, "/") {
			target = cdir + "/" + target
		}
		if slash {
			target += "/"
		}
		abs = target
	}
}

// canonDir returns where the guest directory path dir really is: the host resolves it in its
// tree and names the directory it reached; a path that leads out of that tree (the host then
// fails, or lands on an empty mount point whose name routing then corrects) is walked a link
// at a time by canon.
func (c *Call) canonDir(dir string, depth int) (string, error) {
	if dir == "/" {
		return "/", nil
	}
	if fs, rest := c.k.special(dir); c.k.served(fs, rest) {
		return path.Clean(dir), nil
	}
	r := c.root()
	rt, rel := r.route(dir)
	if rt != r {
		// in a mounted file system an absolute symlink leads to the guest's root, which
		// the host, resolving inside the mount, cannot know: walk it by name
		d, err := c.canon(dir, true, depth+1)
		if err != nil {
			return "", err
		}
		return path.Clean(d), nil
	}
	fd, err := rt.Open(rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			// a symlink on the way may lead into /proc, /dev or a mount: follow it by name
			d, err := c.canon(dir, true, depth+1)
			if err != nil {
				return "", err
			}
			return path.Clean(d), nil
		}
		return "", err
	}
	defer unix.Close(fd)
	p, w := c.k.objPath("/proc/self/fd/" + strconv.Itoa(fd))
	if w == inTree {
		if g, ok := r.rel(p); ok {
			return g, nil
		}
	}
	return path.Clean(dir), nil
}

// readlinkIn returns the target of the guest path p if it is a symlink of its tree.
func (c *Call) readlinkIn(p string) (string, bool) {
	rt, rel := c.root().route(p)
	pfd, name, err := rt.Parent(rel)
	if err != nil {
		return "", false
	}
	defer unix.Close(pfd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(pfd, name, buf)
	if err != nil || n == 0 {
		return "", false
	}
	return string(buf[:n]), true
}

// splitLast splits a guest absolute path into its directory and last component (name is ""
// for "/"), and says whether it ended in a slash (a trailing slash makes Linux follow a final
// symlink).
func splitLast(abs string) (dir, name string, slash bool) {
	g := strings.TrimRight(abs, "/")
	slash = len(g) < len(abs) && g != ""
	if g == "" {
		return "/", "", false
	}
	i := strings.LastIndexByte(g, '/')
	dir, name = g[:i], g[i+1:]
	if dir == "" {
		dir = "/"
	}
	return dir, name, slash
}

func withSlash(p string, slash bool) string {
	if slash {
		return p + "/"
	}
	return p
}

// probe resolves a path in r without following a symlink on the way (nor the last component
// unless follow): ELOOP says it met one.
func (r *Root) probe(guest string, follow bool) error {
	fl := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	fd, err := openat2(r.fd, guest, &unix.OpenHow{Flags: fl, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS})
	if err == nil {
		unix.Close(fd)
	}
	return err
}

func (c *Call) abs1(dirfd int32, p string) (string, error) {
	if p == "" {
		return "", unix.ENOENT
	}
	if p[0] == '/' {
		return p, nil
	}
	var base string
	if dirfd == unix.AT_FDCWD {
		var gone bool
		base, gone = c.k.cwdOf(c.root(), c.Tid)
		if gone {
			// a removed working directory has no names below it, but its ".." is still
			// the directory it was removed from, which its former name leads to
			for p == ".." || strings.HasPrefix(p, "../") {
				base, p = path.Dir(base), strings.TrimLeft(strings.TrimPrefix(p, ".."), "/")
			}
			if p == "" {
				return base, nil
			}
		}
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

// specialPath splits a guest path of a kernel-provided file system (/dev, /proc, /sys) into
// that file system and the rest, judged on the lexically cleaned absolute path; whether the
// file system is mounted there is Kernel.special's to say (kernelfs.go).
func specialPath(guest string) (fs, rest string) {
	c := path.Clean(guest)
	for _, m := range []string{"/dev", "/proc", "/sys"} {
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
