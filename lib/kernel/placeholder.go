package kernel

import (
	"path"

	"golang.org/x/sys/unix"
)

// Placeholders (issue 18, the shim's path stats). The guest is chrooted into the root's tree
// copy, so a native path lookup by a guest process sees the root directory's own directories
// where the guest has a mount (a ubd image, tmpfs, hostfs, a bind) or a kernel file system
// (/proc, /sys, /dev, /dev/pts, /dev/mqueue): the files the guest's path names are elsewhere. The
// shim may answer a path stat only when the host's answer is the kernel's, so each such
// mount point is marked in the tree copy by a mount: a recursive copy of the directory
// itself, attached onto it. Below it the host finds the same files as before (the kernel's
// own lookups, which the mount table routes by name, are unaffected), but on another mount
// id, which is how the shim tells them from the root tree's (its answer needs the root tree's
// mount id) and leaves them to the kernel.
//
// The kernel cannot attach mounts (Landlock refuses move_mount in its domain), so the procfs
// helper does it (placeholdRequest): it is given the directory as an fd the kernel resolved
// and attaches a copy of that directory onto it. Whatever fd a kernel taken over by its
// guest might pass, what is then found there is what was found there before: the request
// gives nothing.
//
// A placeholder is never taken off. Linux (6.18) refuses umount and move_mount of a mount
// in a detached tree to every process outside that tree's anonymous namespace (check_mnt),
// and every process is outside it. After the guest's umount the directory's files are
// still found through it by the kernel, so what differs is only what the host says of two
// mounts: a rename or link between the directory and the rest of the root tree fails with
// EXDEV (programs such as mv then copy). rmdir and rename of the directory itself work (the
// host detaches a mount whose directory goes, in other namespaces than the caller's), and a
// mount there again reuses the placeholder.

// placeholdOp asks the helper to attach a placeholder: the fd is the directory.
const placeholdOp = 'P'

// placehold marks the mount point at (a guest absolute path) before a mount there is added
// to the table (mountTable.add): when it is a directory of the machine's root tree copy
// itself, not of another mount. /dev too: below it the root's own files are still the
// guest's where the kernel serves no device, and the kernel finds them through the
// placeholder as before, while a native lookup there leaves the answer to the kernel.
//
// A placeholder that cannot be attached (the host's limit on mounts in one namespace,
// fs.mount-max, reached by a guest that mounts on ever new directories) fails the mount:
// without it the shim would answer a stat of the mount point with the directory below.
func (k *Kernel) placehold(at string) error {
	at = path.Clean(at)
	if k.procHelper == nil || at == "/" || k.placeholdFailed.Load() {
		return nil // no path stats on this machine (a host kernel that cannot
		// mount onto a detached tree): its mounts need no placeholder
	}
	if r, _ := k.root.route(at); r != k.root {
		return nil // in another mount's tree: that mount's own id tells it apart
	}
	fd, err := k.root.OpenPath(at, true)
	if err != nil {
		return nil // nothing there: a native lookup fails too, and the kernel answers
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if m, err := mountID(fd); err != nil || m != k.root.mnt || unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil // a placeholder already, or a host mount below the root: another id already
	}
	if _, err := k.procHelper.call(placeholdOp, "", fd); err != nil {
		k.debugf("placeholder at %s: %v", at, err)
		return err
	}
	// Its files are the root tree's, at the same paths: known at once as a host mount below
	// the root's copy (objPath, mountTop: a link's owner, a mount's flags), not only once
	// objPath first meets it.
	if pfd, err := k.root.OpenPath(at, true); err == nil {
		if m, err := mountID(pfd); err == nil && m != k.root.mnt {
			k.root.mounts.below.Store(m, true)
		}
		unix.Close(pfd)
	}
	return nil
}

// placeholdKernelFSes marks where the kernel's file systems are mounted at boot. If one
// cannot be marked, no process is told to try the shim's path stats (page 1's hint): a
// stat of /proc would be answered with the root's own directory.
func (k *Kernel) placeholdKernelFSes() {
	if k.procHelper == nil {
		k.placeholdFailed.Store(true) // no placeholders at all
		return
	}
	t := k.root.mounts
	t.mu.RLock()
	var at []string
	for _, m := range t.list {
		at = append(at, m.at)
	}
	t.mu.RUnlock()
	for _, a := range at {
		if k.placehold(a) != nil {
			k.placeholdFailed.Store(true)
		}
	}
}

// placeholdRequest is the helper's side: a copy of the directory fd (with the mounts below
// it) is attached onto it.
func placeholdRequest(fds []int) unix.Errno {
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if len(fds) != 1 {
		return unix.EINVAL
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	clone, err := unix.OpenTree(fds[0], "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(clone)
	return errnoOf(unix.MoveMount(clone, "", fds[0], "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH))
}
