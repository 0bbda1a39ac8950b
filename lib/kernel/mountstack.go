package kernel

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Stacked mounts. As on Linux, a file system may be mounted on a directory that is already a
// mount point (a bind onto a bind, a tmpfs onto a tmpfs): the new mount goes on top and
// hides the one below, which umount uncovers again; and a mount on a directory above another
// mount point hides that mount with the rest of what it covers. The table keeps its mounts in
// mount order, and umount takes away only a mount nothing is mounted on or in (EBUSY
// otherwise), so the order alone says what a path shows: of the mounts whose mount point is
// the path or a directory above it, the last one. Each of those was mounted either on or in
// the one before it that covers the path (then it lies on top), or above it (then it hides
// it); either way it is the one the path reaches. /proc/self/mountinfo gives each mount the
// last one before it that covers its mount point as its parent.

// covers: a mount at the guest path at covers the (clean) guest path p: p is at or lies
// below it.
func covers(at, p string) bool {
	return p == at || strings.HasPrefix(p, at+"/")
}

// topAt returns the mount a path reaches at the clean guest path p, of those trees (a
// kernel file system's entry has none) if trees, and its index; nil if none covers p (the
// caller holds t.mu).
func (t *mountTable) topAt(p string, trees bool) (*mountPoint, int) {
	for i := len(t.list) - 1; i >= 0; i-- {
		m := t.list[i]
		if trees && m.root == nil {
			continue
		}
		if covers(m.at, p) {
			return m, i
		}
	}
	return nil, -1
}

// mountedAt returns the mount that is on top at the mount point at (clean), and its index:
// what umount and remount of that path act on. A mount hidden by one on a directory above
// it is not: the path names that one's directory (the caller holds t.mu).
func (t *mountTable) mountedAt(at string) (*mountPoint, int) {
	if m, i := t.topAt(at, false); m != nil && m.at == at {
		return m, i
	}
	return nil, -1
}

// coveredFrom: a mount made after the i-th one lies on it or in it, which keeps that one
// from being unmounted (EBUSY). A mount on a directory above it hides it instead, and
// mountedAt never gives a hidden mount (the caller holds t.mu).
func (t *mountTable) coveredFrom(i int) bool {
	at := t.list[i].at
	for _, x := range t.list[i+1:] {
		if covers(at, x.at) {
			return true
		}
	}
	return false
}

// parentOf returns the index of the mount the i-th one was mounted on or in (-1: the root):
// the last before it that covers its mount point (the caller holds t.mu).
func (t *mountTable) parentOf(i int) int {
	for j := i - 1; j >= 0; j-- {
		if covers(t.list[j].at, t.list[i].at) {
			return j
		}
	}
	return -1
}

// hiddenFrom: a mount made after the i-th one hides it (it lies on a directory at or above
// its mount point). The kernel's file systems serve their files only where they are not
// hidden (kernelfs.go: updateView; the caller holds t.mu).
func (t *mountTable) hiddenFrom(i int) bool {
	at := t.list[i].at
	for _, x := range t.list[i+1:] {
		if covers(x.at, at) {
			return true
		}
	}
	return false
}

// kernelAliasAt: a kernel file system is mounted at the guest directory at (not where the
// kernel serves it: kernelfs.go), so at is the top of that mount, where another may go on
// top; the directories below it are the kernel's.
func (k *Kernel) kernelAliasAt(at string) bool {
	v := k.root.mounts.view.Load()
	if v == nil {
		return false
	}
	for _, a := range v.aliases {
		if a.at == at {
			return true
		}
	}
	return false
}

// detach takes the i-th mount out of the table with every mount on it or in it (a lazy
// umount's; a plain one has none left: coveredFrom), and returns them in the order to
// release them, the last mounted first. A file system a bind that stays shows stays too
// (EBUSY): its slot or tmpfs instance must not be emptied and given to the next mount while
// the bind shows it (the caller holds t.mu).
func (t *mountTable) detach(i int) ([]*mountPoint, error) {
	at := t.list[i].at
	gone := map[*mountPoint]bool{t.list[i]: true}
	for _, x := range t.list[i+1:] {
		if covers(at, x.at) {
			gone[x] = true
		}
	}
	for _, x := range t.list {
		if b, ok := x.fs.(*bindFS); ok && !gone[x] && b.of != nil && gone[b.of] {
			return nil, unix.EBUSY
		}
	}
	var keep, out []*mountPoint
	for _, x := range t.list {
		if !gone[x] {
			keep = append(keep, x)
			continue
		}
		out = append([]*mountPoint{x}, out...)
		if x.fs.hostOwners() {
			t.hostfs.Add(-1)
		}
	}
	t.list = keep
	return out, nil
}

// umountTarget is umount's error for a path no mount is on top at: ENOENT and the like when
// the path does not resolve (a mount above hides the directory), EINVAL for a directory
// that is no mount point.
func (k *Kernel) umountTarget(at string) error {
	fd, err := k.root.OpenPath(at, true)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return unix.EINVAL
}
