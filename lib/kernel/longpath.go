package kernel

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Paths of PATH_MAX bytes or more. Linux limits the string a caller passes (ENAMETOOLONG
// from PATH_MAX bytes on, its NUL included), not the absolute path of what it names: below a
// deep working directory a short relative path names a file whose absolute path is longer.
// The kernel makes every path absolute before the host resolves it (vfs.go: absOf), and the
// host takes no longer string, nor names a longer directory in /proc/PID/cwd or
// /proc/self/fd/N. So the resolution of such a path (openLong) and the name of such a
// directory (longLinkPath) are walked a component at a time, with the same rules as the one
// call they stand for; shorter paths never come here.

// openLong is openat2(root, p, how) with RESOLVE_IN_ROOT for a path of PATH_MAX bytes or
// more: a walk as dac.go's walk makes it — each component an openat2 below the directory fd
// it holds (RESOLVE_BENEATH), ".." stopping at the root's top, an absolute symlink starting
// again there, at most maxSymlinks links, none with RESOLVE_NO_SYMLINKS (ELOOP), and the last
// component opened with how's flags. A ".." below the top is the host's, as in walk.
func openLong(root int, p string, how *unix.OpenHow) (int, error) {
	var top unix.Stat_t
	if err := unix.Fstat(root, &top); err != nil {
		return -1, err
	}
	cur, err := unix.Openat(root, ".", walkOpen|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, err
	}
	defer func() { unix.Close(cur) }()
	todo := components(p)
	slash := strings.HasSuffix(p, "/")
	last := how.Resolve&^unix.RESOLVE_IN_ROOT | unix.RESOLVE_BENEATH
	links := 0
	follow := func(link int, name string) error {
		links++
		if links > maxSymlinks {
			return unix.ELOOP
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(link, name, buf)
		if err != nil || n == 0 {
			return unix.ENOENT
		}
		target := string(buf[:n])
		if target[0] == '/' {
			fd, err := unix.Openat(root, ".", walkOpen|unix.O_DIRECTORY, 0)
			if err != nil {
				return err
			}
			unix.Close(cur)
			cur = fd
		}
		todo = append(components(target), todo...)
		return nil
	}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if len(todo) == 0 && name != "." && name != ".." {
			n := name
			if slash {
				n += "/"
			}
			h := *how
			h.Resolve = last
			fd, err := openat2(cur, n, &h)
			if err != unix.EXDEV {
				return fd, err
			}
			// a symlink leading out of cur (absolute, or with ".."): the walk follows it
			if err := follow(cur, name); err != nil {
				return -1, err
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(cur, &st); err != nil {
			return -1, err
		}
		var next int
		switch {
		case name == "." || name == ".." && st.Dev == top.Dev && st.Ino == top.Ino:
			continue
		case name == "..":
			next, err = unix.Openat(cur, "..", walkOpen|unix.O_DIRECTORY, 0)
		default:
			next, err = openat2(cur, name, &unix.OpenHow{Flags: walkOpen, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
		}
		if err != nil {
			return -1, err
		}
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(cur)
			cur = next
		case unix.S_IFLNK:
			var err error = unix.ELOOP
			if how.Resolve&unix.RESOLVE_NO_SYMLINKS == 0 {
				err = follow(next, "")
			}
			unix.Close(next)
			if err != nil {
				return -1, err
			}
		default:
			unix.Close(next)
			return -1, unix.ENOTDIR
		}
	}
	// the path ended in "." or "..", or named the top: the directory reached, with how's
	// flags (O_CREAT on it is EISDIR, as Linux's)
	h := *how
	h.Resolve = last
	return openat2(cur, ".", &h)
}

// longLinkPath is os.Readlink of a magic link (/proc/TID/cwd, /proc/TID/fd/N) to a
// directory whose path is PATH_MAX bytes or more, which the host does not give
// (ENAMETOOLONG): the directory's ancestors are opened by ".." until one's path is short
// enough for the host to name, and the names below it are found in each parent by the
// device and inode they lead to. A directory moved meanwhile may give a stale name, as a
// getcwd racing a rename may on Linux; the name only says where the guest's own paths go.
func longLinkPath(link string) (string, error) {
	fd, err := unix.Open(link, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer func() { unix.Close(fd) }()
	var below []string
	for len(below) < unix.PathMax {
		var st, pst unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return "", err
		}
		parent, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		if err := unix.Fstat(parent, &pst); err != nil || pst.Dev == st.Dev && pst.Ino == st.Ino {
			unix.Close(parent)
			return "", unix.ENAMETOOLONG // a top whose path is too long: cannot be
		}
		name, err := nameIn(parent, &st)
		unix.Close(fd)
		fd = parent
		if err != nil {
			return "", err
		}
		below = append(below, name)
		p, err := os.Readlink(selfFD(fd))
		if errors.Is(err, unix.ENAMETOOLONG) {
			continue
		}
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, " (deleted)") {
			return "", unix.ENOENT
		}
		var b strings.Builder
		b.WriteString(strings.TrimSuffix(p, "/"))
		for i := len(below) - 1; i >= 0; i-- {
			b.WriteString("/" + below[i])
		}
		return b.String(), nil
	}
	return "", unix.ENAMETOOLONG
}

// nameIn returns the name in the directory dir (read open) of the file st describes.
func nameIn(dir int, st *unix.Stat_t) (string, error) {
	buf := make([]byte, 8192)
	if _, err := unix.Seek(dir, 0, 0); err != nil {
		return "", err
	}
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return "", unix.ENOENT // it was removed or moved away
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			var e unix.Stat_t
			if unix.Fstatat(dir, name, &e, unix.AT_SYMLINK_NOFOLLOW) == nil && e.Dev == st.Dev && e.Ino == st.Ino {
				return name, nil
			}
		}
	}
}

// longWhere is objPath's answer for a file (not a directory) whose path is too long for the
// host to name: no name, but which trees it lies in, by its mount, so the calls that only
// ask whether a file is the guest's (fchmod, fchown …) still work on it, and readlink of
// its /proc link gives ENAMETOOLONG (proclist.go: linkName) as Linux's does.
func (k *Kernel) longWhere(mnt uint64) where {
	if mnt == k.root.mnt || k.root.mounts.byMount(mnt) != nil || k.root.mounts.belowRoot(mnt) {
		return inTree
	}
	return elsewhere
}
