package kernel

import "golang.org/x/sys/unix"

// openPlain is the common case of a privileged caller's O_PATH open (stat, access …), in
// one openat2: a path with no "..", outside the kernel's file systems and their /dev/fd
// style links (by name: absOf's rewrites all start there), in which the host meets no
// symbolic link (RESOLVE_NO_SYMLINKS; with follow unset a final link is opened itself, as
// O_PATH|O_NOFOLLOW does). For such a path absOf's work changes nothing: canon's probe
// would find no link and leave it as it is, and no ".." or /proc link is left to rewrite;
// the file system is the one route chooses, as openPathAs's. So the probe's openat2 is
// the open itself, which saves one openat2 and absOf's allocations. ok is false where the
// path needs absOf after all (a link on the way, "..", a name of the kernel's): the caller
// then takes the ordinary way, which resolves again. ENOENT and ENOTDIR are final: the
// host met a missing name or a non-directory before any link, which the ordinary way
// would meet too. Resolution is RESOLVE_IN_ROOT as always, so a guest racing its own
// renames or links only changes which of its own files is found.
func (c *Call) openPlain(abs string, follow bool) (fd int, err error, ok bool) {
	if fs, _ := specialPath(abs); fs != "" || hasDotDot(abs) {
		return -1, nil, false
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return -1, nil, false // a kernel file system mounted at another directory
	}
	rt, rest := c.root().route(abs)
	fl := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: fl, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS}
	fd, err = openat2(rt.fd, rest, &how)
	switch err {
	case nil, unix.ENOENT, unix.ENOTDIR:
		c.fs = rt
		return fd, err, true
	}
	return -1, nil, false
}

// hasDotDot: a path has a ".." component.
func hasDotDot(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '.' && p[i+1] == '.' && (i == 0 || p[i-1] == '/') && (i+2 == len(p) || p[i+2] == '/') {
			return true
		}
	}
	return false
}

// openPlainFile is openPlain for open(2): a root caller's open that creates nothing, of a
// path openPlain would take, whose host open (non-blocking, as c.open's always is) finds a
// regular file or a directory that is no device placeholder, or a FIFO. It then answers as
// c.open's ordinary way ends for such a file: O_NONBLOCK taken off again unless the guest
// asked for it (a FIFO's blocking read goes to fifoOpen), and the fd installed. Anything
// else (a link on the way, a device placeholder, an error but ENOENT and ENOTDIR) is left
// to the ordinary way, which opens again, as it would have: a placeholder is opened by
// name there too before the kernel's device is (the host tree is nodev, so no device node
// opens at all).
func (c *Call) openPlainFile(abs string, flags int, follow bool) (result, bool) {
	if flags&unix.O_PATH != 0 || mayCreate(flags) || !c.privileged() {
		return result{}, false
	}
	if fs, _ := specialPath(abs); fs != "" || hasDotDot(abs) {
		return result{}, false
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return result{}, false
	}
	rt, rest := c.root().route(abs)
	fl := uint64(flags&openFlagMask) | unix.O_NONBLOCK | unix.O_CLOEXEC
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: fl, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS}
	fd, err := openat2(rt.fd, rest, &how)
	switch err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR:
		return fail(err), true
	default:
		return result{}, false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return result{}, false
	}
	cloexec := flags&unix.O_CLOEXEC != 0
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
	case unix.S_IFIFO:
		// kept and handed on as the ordinary way does: a blocking reader's open waits in
		// fifoOpen; a writer's (its non-blocking probe opened, so a reader exists: without
		// one it fails with ENXIO and goes the ordinary way) and O_RDWR return at once
		if flags&unix.O_NONBLOCK == 0 && flags&unix.O_ACCMODE == unix.O_RDONLY {
			c.fs = rt
			return c.fifoOpen(fd, flags, cloexec, false), true
		}
	default:
		unix.Close(fd)
		return result{}, false
	}
	if typ, _ := deviceOf(fd, &st); typ != 0 {
		unix.Close(fd)
		return result{}, false
	}
	if flags&unix.O_NONBLOCK == 0 {
		blocking(fd)
	}
	c.fs = rt
	return newFD(fd, cloexec), true
}

// openAbs is absOf for c.open, which it answers itself (done) when absOf fails or when
// openCont, openPlainFile, createPlain or createOpenPlain takes the open. raw is the path
// made absolute with no link followed (abs1's).
func (c *Call) openAbs(dirfd int32, p string, flags int, mode uint32, follow bool) (abs, raw string, r result, done bool) {
	abs, err := c.abs1(dirfd, p)
	if err != nil {
		return "", "", fail(err), true
	}
	raw = abs
	if r, ok := c.openCont(abs, flags, follow); ok {
		return "", "", r, true
	}
	if r, ok := c.openPlainFile(abs, flags, follow); ok {
		return "", "", r, true
	}
	if r, ok := c.createPlain(abs, flags, mode); ok {
		return "", "", r, true
	}
	if r, ok := c.createOpenPlain(abs, flags, mode); ok {
		return "", "", r, true
	}
	if abs, err = c.absCanon(abs, follow); err != nil {
		return "", "", fail(err), true
	}
	return abs, raw, result{}, false
}

// parentPlain is Call.parent's common case for a root caller (and readlink's and an
// exclusive create's): a path openPlain would take that names no directory by a trailing
// slash, whose parent directory the host opens with RESOLVE_NO_SYMLINKS. For such a path
// absOf's work changes nothing, as for openPlain: a call on a name never follows its last
// component, so canon's probe could only have met a link in the directory part, where this
// open meets it (ELOOP) and the caller takes the ordinary way, which resolves again. So
// the probe's openat2 and Root.Parent's are one, on the same tree (route), with the same
// RESOLVE_IN_ROOT, and the call is then made on the one component as always. ENOENT and
// ENOTDIR are final, as openPlain's. It sets c.fs, c.last and c.slash as parent does.
func (c *Call) parentPlain(abs string) (pfd int, name string, err error, ok bool) {
	if !c.privileged() || abs == "" || abs[len(abs)-1] == '/' || hasDotDot(abs) {
		return -1, "", nil, false
	}
	if fs, _ := specialPath(abs); fs != "" {
		return -1, "", nil, false
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return -1, "", nil, false
	}
	rt, rest := c.root().route(abs)
	dir, name, err := splitParent(rest)
	if err != nil {
		return -1, "", nil, false // the root, ".", an overlong name: parent's errors
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS}
	pfd, err = openat2(rt.fd, dir, &how)
	switch err {
	case nil, unix.ENOENT, unix.ENOTDIR:
		c.fs, c.last, c.slash = rt, name, false
		return pfd, name, err, true
	}
	return -1, "", nil, false
}

// createPlain is c.open's exclusive create (O_CREAT|O_EXCL, which never follows a final
// link) for a root caller, of a path parentPlain takes: the file is made in the parent
// directory parentPlain opened, where the ordinary way resolved the path three times
// (canon's probe, the create, the parent again for the creator's owner). The new file is a
// regular file, so it ends as the ordinary way ends for one: no O_NONBLOCK is given (a
// FIFO cannot be created so), set-id bits come only by the guest's metadata, and the
// creator becomes the owner. EEXIST is final: the name exists whatever it is, which is
// what the ordinary way says too; any other failure (a read-only file system, where the
// ordinary way looks for a device placeholder) is left to the ordinary way, since nothing
// was made.
func (c *Call) createPlain(abs string, flags int, mode uint32) (result, bool) {
	if flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL || flags&(unix.O_PATH|unix.O_DIRECTORY) != 0 {
		return result{}, false // O_TMPFILE contains O_DIRECTORY's bit
	}
	pfd, name, err, ok := c.parentPlain(abs)
	if !ok {
		return result{}, false
	}
	if err != nil {
		return fail(err), true
	}
	defer unix.Close(pfd)
	mode &^= procUmask(c.Tid)
	fd, err := unix.Openat(pfd, name, flags&openFlagMask|unix.O_CLOEXEC, mode&0o777)
	switch err {
	case nil:
	case unix.EEXIST:
		return fail(err), true
	default:
		return result{}, false
	}
	return c.createdPlain(fd, pfd, flags, mode), true
}

// createdPlain ends a root caller's create of the regular file fd in the directory pfd as
// the ordinary way ends one: no set-id bit on the host file, the guest's set-id and sticky
// bits in its metadata, the creator as owner, and the fd installed.
func (c *Call) createdPlain(fd, pfd, flags int, mode uint32) result {
	if err := noSetid(fd); err != nil {
		unix.Close(fd)
		return fail(err)
	}
	if mode&0o7000 != 0 {
		if r := setGuestMode(fd, mode&0o7777); r.errno != 0 {
			unix.Close(fd)
			return r
		}
	}
	c.setCreatorOwner(fd, pfd)
	return newFD(fd, flags&unix.O_CLOEXEC != 0)
}

// createOpenPlain is c.open's O_CREAT without O_EXCL (a shell's ">", cp, tar) for a root
// caller, of a path parentPlain takes, where the ordinary way resolved the path three or
// four times (canon's probe, an exclusive create, the open of what exists, the parent again
// for a new file's owner). In the parent directory parentPlain opened, it opens the name as
// it is, never through a link (O_NOFOLLOW: the ordinary way follows a final link, so a link
// goes there), and creates it exclusively only when it is missing, which is also the only
// case that reads the caller's umask. An existing regular file that is no device
// placeholder or ubd image ends as openPlainFile's do; anything else (a link, a directory,
// a FIFO, a placeholder, a name made by another task between the two opens, a read-only
// file system) goes the ordinary way, which opens again: O_TRUNC, the one thing the first
// open may have done already, it does too.
func (c *Call) createOpenPlain(abs string, flags int, mode uint32) (result, bool) {
	if flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT || flags&(unix.O_PATH|unix.O_DIRECTORY) != 0 {
		return result{}, false // O_TMPFILE contains O_DIRECTORY's bit
	}
	pfd, name, err, ok := c.parentPlain(abs)
	if !ok {
		return result{}, false
	}
	if err != nil {
		return fail(err), true
	}
	defer unix.Close(pfd)
	fd, err := unix.Openat(pfd, name, flags&openFlagMask&^unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch err {
	case nil:
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return result{}, false
		}
		if b, _ := c.k.blockDevOf(&st); b != nil {
			unix.Close(fd)
			return result{}, false
		}
		if typ, _ := deviceOf(fd, &st); typ != 0 {
			unix.Close(fd)
			return result{}, false
		}
		if flags&unix.O_NONBLOCK == 0 {
			blocking(fd)
		}
		return newFD(fd, flags&unix.O_CLOEXEC != 0), true
	case unix.ENOENT:
	default:
		return result{}, false
	}
	mode &^= procUmask(c.Tid)
	fd, err = unix.Openat(pfd, name, flags&openFlagMask|unix.O_EXCL|unix.O_CLOEXEC, mode&0o777)
	if err != nil {
		return result{}, false
	}
	return c.createdPlain(fd, pfd, flags, mode), true
}
