package kernel

import (
	"errors"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Guest discretionary access control. To the host every guest process is root of the
// guest's user namespace, so the host kernel enforces no permission between guest users:
// the kernel does, with the caller's guest credentials (FSUID, FSGID, supplementary groups)
// and each file's guest owner and mode (hostmeta's xattrs), by the rules of Linux's
// generic_permission.
//
// Root (FSUID 0) has CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: every check passes but the
// execution of a file with no x bit at all. Most calls of a guest are root's, and for them
// nothing here costs more than reading the FSUID: paths are still one openat2.
//
// For anyone else a path is resolved a component at a time (walk), and every directory a
// name is looked up in must grant search (x) to the caller. The checks are made on the fds
// the walk holds, never again by name: the file that is opened is the very file whose mode
// was checked (it is reopened through its O_PATH fd), and a name is created or removed in
// the very directory whose mode was checked. A guest thread racing renames or symlink
// swaps can therefore only make the walk see another path, never make the kernel act on a
// file it did not check. Nothing is cached: the guest can chmod or chown at any time.

// The permission bits a call asks for, as in a mode's rwx triplet.
const (
	mayExec  = 1
	mayWrite = 2
	mayRead  = 4
)

// privileged: the caller's FSUID is 0, which overrides every permission the modes deny.
func (c *Call) privileged() bool {
	if c.as != nil {
		return c.as.FSUID == 0
	}
	if c.T == nil {
		return true // the kernel's own calls
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	return c.cred().FSUID == 0
}

// fsCred returns a copy of the caller's credentials: setgroups changes the groups in place,
// and another thread of the caller may run it while a check reads them.
func (c *Call) fsCred() *Cred {
	if c.as != nil {
		return c.as.clone()
	}
	if c.T == nil {
		return rootCred()
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	return c.cred().clone()
}

// guestAttr stats the file behind a kernel fd as the guest sees it: its guest owner, group
// and mode (a hostfs file shows its host owner).
func (k *Kernel) guestAttr(fd int, st *unix.Stat_t) error {
	if err := unix.Fstat(fd, st); err != nil {
		return err
	}
	if k.onHostfs(fd) {
		k.hostStat(st)
	} else {
		guestStat(fd, st)
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			k.linkOwner(fd, st)
		}
	}
	return nil
}

// permits is generic_permission: the owner's bits for the owner, the group's for a member
// of the file's group (by FSGID or a supplementary group), the others' for the rest; root
// may do anything but execute a non-directory without any x bit.
func permits(cr *Cred, st *unix.Stat_t, want uint32) bool {
	if cr.FSUID == 0 {
		return want&mayExec == 0 || st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 != 0
	}
	perm := st.Mode & 0o7
	if st.Uid == cr.FSUID {
		perm = (st.Mode >> 6) & 0o7
	} else if st.Gid == cr.FSGID || containsID(cr.Groups, st.Gid) {
		perm = (st.Mode >> 3) & 0o7
	}
	return want&^perm&0o7 == 0
}

// mayOn checks the permission want on the file behind a kernel fd (EACCES).
func (c *Call) mayOn(cr *Cred, fd int, want uint32) error {
	var st unix.Stat_t
	if err := c.k.guestAttr(fd, &st); err != nil {
		return err
	}
	if !permits(cr, &st, want) {
		return unix.EACCES
	}
	return nil
}

// walked is where a checked lookup ended. The caller closes it.
type walked struct {
	dir   int    // the directory the last component was looked up in (-1: the path named the root)
	name  string // that component, after the symlinks on the way were followed
	obj   int    // an O_PATH fd of what it names; -1 when nothing has that name (yet)
	slash bool   // the path ended in a slash: it must name a directory
}

func (w *walked) close() {
	if w.dir >= 0 {
		unix.Close(w.dir)
	}
	if w.obj >= 0 {
		unix.Close(w.obj)
	}
	w.dir, w.obj = -1, -1
}

func components(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

const walkOpen = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC

// walk resolves the guest path p inside rt as openat2(RESOLVE_IN_ROOT) does — ".." stops
// at rt's top, absolute symlinks start again there, a final symlink is followed only if
// follow (or a slash follows it) — and refuses with EACCES to look a name up in a directory
// that does not grant the caller search permission. Each step is an openat2 of a single
// component below the directory fd the walk holds (RESOLVE_BENEATH: never out of it), so the
// directory checked is the directory searched. A ".." below the top is the host's: in a
// chroot of the kernel's, a directory another process moves out of it meanwhile leads the
// walk above the chroot, as on Linux, but never out of the machine's tree (whose top has no
// parent). Symlinks followed are not judged by fs.protected_symlinks (not implemented).
func (c *Call) walk(cr *Cred, rt *Root, p string, follow bool) (walked, error) {
	w := walked{dir: -1, obj: -1}
	var top unix.Stat_t
	if err := unix.Fstat(rt.fd, &top); err != nil {
		return w, err
	}
	cur, err := unix.Openat(rt.fd, ".", walkOpen|unix.O_DIRECTORY, 0)
	if err != nil {
		return w, err
	}
	todo := components(p)
	w.slash = strings.HasSuffix(p, "/") && len(todo) > 0
	fail := func(err error) (walked, error) {
		unix.Close(cur)
		return walked{dir: -1, obj: -1}, err
	}
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		var st unix.Stat_t
		if err := c.k.guestAttr(cur, &st); err != nil {
			return fail(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fail(unix.ENOTDIR)
		}
		if !permits(cr, &st, mayExec) {
			return fail(unix.EACCES)
		}
		var next int
		switch {
		case name == "." || name == ".." && st.Dev == top.Dev && st.Ino == top.Ino:
			next, err = unix.Openat(cur, ".", walkOpen|unix.O_DIRECTORY, 0)
		case name == "..":
			next, err = unix.Openat(cur, "..", walkOpen|unix.O_DIRECTORY, 0)
		default:
			next, err = openat2(cur, name, &unix.OpenHow{Flags: walkOpen, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
		}
		if err == unix.ENOENT && last && name != "." && name != ".." {
			w.dir, w.name = cur, name
			return w, nil
		}
		if err != nil {
			return fail(err)
		}
		var nst unix.Stat_t
		if err := unix.Fstat(next, &nst); err != nil {
			unix.Close(next)
			return fail(err)
		}
		if nst.Mode&unix.S_IFMT == unix.S_IFLNK && (!last || follow || w.slash) {
			links++
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(next, "", buf)
			unix.Close(next)
			if links > maxSymlinks {
				return fail(unix.ELOOP)
			}
			if err != nil || n == 0 {
				return fail(unix.ENOENT)
			}
			target := string(buf[:n])
			if target[0] == '/' {
				unix.Close(cur)
				if cur, err = unix.Openat(rt.fd, ".", walkOpen|unix.O_DIRECTORY, 0); err != nil {
					return walked{dir: -1, obj: -1}, err
				}
			}
			todo = append(components(target), todo...)
			continue
		}
		if last {
			w.dir, w.name, w.obj = cur, name, next
			if w.slash && nst.Mode&unix.S_IFMT != unix.S_IFDIR {
				w.close()
				return w, unix.ENOTDIR
			}
			return w, nil
		}
		unix.Close(cur)
		cur = next
	}
	// no component left: the path (or the last symlink) named the top or a directory
	w.obj, w.name = cur, "."
	return w, nil
}

// lookup is walk for a guest path seen from the caller's root: it routes the path to its
// file system (c.fs, as Call.parent does), and a path into a mounted file system is
// searched above its mount point too.
func (c *Call) lookup(cr *Cred, abs string, follow bool) (walked, error) {
	r := c.root()
	rt, rest := r.route(abs)
	c.fs = rt
	if rt != r {
		at := path.Clean(abs)
		if tail := path.Clean(rest); tail != "/" {
			at = strings.TrimSuffix(at, tail)
		}
		w, err := c.walk(cr, r, at, true)
		if err != nil {
			return w, err
		}
		w.close()
	}
	return c.walk(cr, rt, rest, follow)
}

// lookupObj is lookup of a file that must exist: its O_PATH fd.
func (c *Call) lookupObj(cr *Cred, abs string, follow bool) (int, error) {
	w, err := c.lookup(cr, abs, follow)
	if err != nil {
		return -1, err
	}
	if w.obj < 0 {
		w.close()
		return -1, unix.ENOENT
	}
	fd := w.obj
	w.obj = -1
	w.close()
	return fd, nil
}

// openPathAs opens an O_PATH fd of a guest path of the trees for the caller: one openat2
// for root, a checked walk for anyone else.
func (c *Call) openPathAs(abs string, follow bool) (int, error) {
	if c.privileged() {
		rt, rest := c.root().route(abs)
		c.fs = rt
		return rt.OpenPath(rest, follow)
	}
	return c.lookupObj(c.fsCred(), abs, follow)
}

// parentAs is Root.Parent for a guest path seen from the caller's root (routed to its file
// system, c.fs): for a non-root caller the directory must grant search permission (the last
// component is looked up in it), and so must every one on the way.
func (c *Call) parentAs(abs string) (int, string, error) {
	rt, rest := c.root().route(abs)
	c.fs = rt
	if c.privileged() {
		return rt.Parent(rest)
	}
	_, name, err := splitParent(rest)
	if err != nil {
		return -1, "", err
	}
	g := strings.TrimRight(abs, "/")
	dir := g[:strings.LastIndexByte(g, '/')+1]
	cr := c.fsCred()
	fd, err := c.lookupObj(cr, dir, true)
	if err != nil {
		return -1, "", err
	}
	c.fs = rt
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, "", unix.ENOTDIR
	}
	if err := c.mayOn(cr, fd, mayExec); err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	return fd, name, nil
}

// mayCreate: a non-root caller may add a name to the directory pfd (w and x on it).
func (c *Call) mayCreate(pfd int) error {
	if c.privileged() {
		return nil
	}
	return c.mayOn(c.fsCred(), pfd, mayWrite|mayExec)
}

// mayDelete is Linux's may_delete for a non-root caller: w and x on the directory, and in a
// sticky directory only the file's owner or the directory's may remove it (EPERM). A name
// that does not exist is left to the call itself (ENOENT).
func (c *Call) mayDelete(pfd int, name string) error {
	if c.privileged() {
		return nil
	}
	// the name is looked up first, as on Linux: a missing one is ENOENT, not EACCES
	fd, err := unix.Openat(pfd, name, walkOpen, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	cr := c.fsCred()
	var dst unix.Stat_t
	if err := c.k.guestAttr(pfd, &dst); err != nil {
		return err
	}
	if !permits(cr, &dst, mayWrite|mayExec) {
		return unix.EACCES
	}
	if dst.Mode&unix.S_ISVTX == 0 || dst.Uid == cr.FSUID {
		return nil
	}
	var st unix.Stat_t
	if err := c.k.guestAttr(fd, &st); err != nil {
		return err
	}
	if st.Uid != cr.FSUID {
		return unix.EPERM
	}
	return nil
}

// errDenied: the guest's modes refuse an open (c.open answers EACCES without looking for a
// device behind the name, which a host EACCES would make it do).
var errDenied = errors.New("permission denied by the guest's modes")

// openFile opens a guest path of the trees for c.open (flags include O_NONBLOCK): the fd,
// whether this call created the file, and, when a checked walk created it, the directory
// it was created in (the caller closes it).
func (c *Call) openFile(abs string, flags int, mode uint32, follow bool) (fd int, created bool, dir int, err error) {
	if !c.privileged() {
		return c.openChecked(c.fsCred(), abs, flags, mode, follow)
	}
	r := c.root()
	if flags&unix.O_CREAT != 0 && flags&unix.O_EXCL == 0 {
		// only a file this call creates gets the creator as owner and the set-id bits
		// asked for: find out which it is
		fd, err = r.Open(abs, flags|unix.O_EXCL, mode)
		if err == nil {
			return fd, true, -1, nil
		}
		if err != unix.EEXIST {
			return -1, false, -1, err
		}
		fd, err = r.Open(abs, flags&^unix.O_CREAT, mode)
		var st unix.Stat_t
		if err == nil && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Close(fd)
			return -1, false, -1, unix.EISDIR // O_CREAT never opens a directory
		}
		return fd, false, -1, err
	}
	fd, err = r.Open(abs, flags, mode)
	created = flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
	return fd, created, -1, err
}

// openChecked is openFile for a non-root caller: the walk finds the file, its guest mode is
// checked on the O_PATH fd the walk holds, and the open is a reopen of that fd, so the file
// opened is the file checked. A new file is created in the directory fd that was checked. A
// name that appears between the walk and the creation (another task made it) sends the walk
// round again, as Linux's open retries its lookup.
func (c *Call) openChecked(cr *Cred, abs string, flags int, mode uint32, follow bool) (int, bool, int, error) {
	for try := 0; ; try++ {
		w, err := c.lookup(cr, abs, follow)
		if err != nil {
			return -1, false, -1, err
		}
		fd, created, err := c.openWalked(cr, &w, flags, mode)
		if err == unix.EEXIST && flags&unix.O_EXCL == 0 && try < 8 {
			w.close()
			continue
		}
		if created {
			// the directory the file was made in: for O_TMPFILE the one the path named
			dir := &w.dir
			if flags&unix.O_TMPFILE == unix.O_TMPFILE {
				dir = &w.obj
			}
			d := *dir
			*dir = -1
			w.close()
			return fd, true, d, err
		}
		w.close()
		return fd, created, -1, err
	}
}

// openWalked opens what a checked walk found, after the checks of Linux's may_open: r for
// reading, w for writing or truncating, w and x on the directory to create in.
func (c *Call) openWalked(cr *Cred, w *walked, flags int, mode uint32) (int, bool, error) {
	fl := flags&openFlagMask | unix.O_CLOEXEC
	if w.obj < 0 {
		if flags&unix.O_CREAT == 0 {
			return -1, false, unix.ENOENT
		}
		if w.slash {
			return -1, false, unix.EISDIR
		}
		var sf unix.Statfs_t
		if unix.Fstatfs(w.dir, &sf) == nil && sf.Flags&unix.ST_RDONLY != 0 {
			return -1, false, unix.EROFS
		}
		if err := c.mayOn(cr, w.dir, mayWrite|mayExec); err != nil {
			return -1, false, errDenied
		}
		fd, err := unix.Openat(w.dir, w.name, fl|unix.O_EXCL|unix.O_NOFOLLOW, mode&0o777)
		if err != nil {
			return -1, false, err
		}
		if err := noSetid(fd); err != nil {
			unix.Close(fd)
			return -1, false, err
		}
		return fd, true, nil
	}
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		return -1, false, unix.EEXIST
	}
	var st unix.Stat_t
	if err := c.k.guestAttr(w.obj, &st); err != nil {
		return -1, false, err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return -1, false, unix.ELOOP // O_NOFOLLOW (the walk followed it otherwise)
	case flags&unix.O_TMPFILE == unix.O_TMPFILE:
		if !isDir {
			return -1, false, unix.ENOTDIR
		}
		if !permits(cr, &st, mayWrite|mayExec) {
			return -1, false, errDenied
		}
		fd, err := unix.Openat(w.obj, ".", fl, mode&0o777)
		if err == nil {
			if err = noSetid(fd); err != nil {
				unix.Close(fd)
				return -1, false, err
			}
		}
		return fd, err == nil, err
	case isDir && flags&unix.O_CREAT != 0:
		return -1, false, unix.EISDIR // O_CREAT never opens a directory
	}
	var want uint32
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		want = mayRead
	case unix.O_WRONLY:
		want = mayWrite
	default:
		want = mayRead | mayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		want |= mayWrite
	}
	if isDir && want&mayWrite != 0 {
		return -1, false, unix.EISDIR
	}
	if !permits(cr, &st, want) {
		return -1, false, errDenied
	}
	if flags&unix.O_NOATIME != 0 && cr.FSUID != st.Uid {
		// only the owner (or CAP_FOWNER, root's) may leave the access time alone; the host,
		// to which the kernel is root, would allow anyone
		return -1, false, unix.EPERM
	}
	// the very file checked, through its O_PATH fd (a magic link: no O_NOFOLLOW)
	fd, err := unix.Open(selfFD(w.obj), fl&^(unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW), 0)
	return fd, false, err
}

// mayRename is Linux's rename permission for a non-root caller: the old name is deleted
// (may_delete), the new one created or, when it exists, deleted too; a directory that moves
// to another parent must grant w itself, for its ".." changes (both, when exchanged).
func (c *Call) mayRename(ofd int, oname string, nfd int, nname string, flags uint) error {
	if c.privileged() {
		return nil
	}
	if err := c.mayDelete(ofd, oname); err != nil {
		return err
	}
	var nst unix.Stat_t
	exists := unix.Fstatat(nfd, nname, &nst, unix.AT_SYMLINK_NOFOLLOW) == nil
	if exists && flags&unix.RENAME_NOREPLACE != 0 {
		return nil // EEXIST, which Linux says before any permission
	}
	if exists {
		if err := c.mayDelete(nfd, nname); err != nil {
			return err
		}
	} else if err := c.mayCreate(nfd); err != nil {
		return err
	}
	var ost, pst, qst unix.Stat_t
	if unix.Fstat(ofd, &pst) != nil || unix.Fstat(nfd, &qst) != nil || pst.Dev == qst.Dev && pst.Ino == qst.Ino {
		return nil
	}
	cr := c.fsCred()
	dirW := func(pfd int, name string) error {
		fd, err := unix.Openat(pfd, name, walkOpen, 0)
		if err != nil {
			return nil // the rename meets the error itself
		}
		defer unix.Close(fd)
		if unix.Fstat(fd, &ost) != nil || ost.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		return c.mayOn(cr, fd, mayWrite)
	}
	if err := dirW(ofd, oname); err != nil {
		return err
	}
	if exists && flags&unix.RENAME_EXCHANGE != 0 {
		return dirW(nfd, nname)
	}
	return nil
}

// mayLink is Linux's protected_hardlinks (on in the distributions' defaults, and on the
// hosts the tests compare with): a non-root caller who does not own the file may link only
// a regular file he may read and write that is not set-user-ID nor executable set-group-ID.
func (c *Call) mayLink(src int) error {
	if c.privileged() {
		return nil
	}
	cr := c.fsCred()
	var st unix.Stat_t
	if err := c.k.guestAttr(src, &st); err != nil {
		return err
	}
	if st.Uid == cr.FSUID {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&unix.S_ISUID != 0 ||
		st.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP || !permits(cr, &st, mayRead|mayWrite) {
		return unix.EPERM
	}
	return nil
}

// socketFile opens (O_PATH) the socket file a connect or sendto names: Linux asks a non-root
// caller for search permission on the way and for w on the socket.
func (c *Call) socketFile(abs string) (int, error) {
	fd, err := c.openPathAs(abs, true)
	if err != nil || c.privileged() {
		return fd, err
	}
	if err := c.mayOn(c.fsCred(), fd, mayWrite); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// linkSourceFirst looks a non-root caller's link source up before the new name, as Linux's
// linkat does: a missing source is ENOENT even where the new name's directory may not be
// searched. (The link is then made on the fds that the checked lookups after it hold.)
func (c *Call) linkSourceFirst(olddir int32, oldArg int, flags int) error {
	if c.privileged() {
		return nil
	}
	p, err := c.Str(oldArg)
	if err != nil {
		return err
	}
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 {
		return nil
	}
	follow := flags&unix.AT_SYMLINK_FOLLOW != 0
	abs, err := c.absOf(olddir, p, follow)
	if err != nil {
		return err
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return nil // the kernel's files: the call says what it says of them
	}
	fd, err := c.lookupObj(c.fsCred(), abs, follow)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}
