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
	for i := 0; ; i++ {
		fd, err = unix.Openat2(rt.fd, rest, &how)
		if err != unix.EAGAIN || i >= 16 {
			break
		}
	}
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
