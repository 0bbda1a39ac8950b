package kernel

import (
	"os"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Bind mounts inside the guest (mount --bind SRC DIR): a directory of the guest's own trees
// (the root, or a file system mounted in it) becomes visible at another directory. SRC is a
// guest path, resolved by the kernel in the tree it lies in (RESOLVE_IN_ROOT: no "..", no
// symlink leaves that tree), so a bind mount can show nothing the guest could not already
// reach. The mount is a detached copy of the source's tree copy whose root is the source
// directory's tree top (the kernel's Landlock rules are on tree tops, and a detached mount is
// checked only up to its own top: trees.go), with the source directory as the Root every
// path below DIR is resolved in, as hostfs mounts do. The kernel's own files (/proc, /sys,
// /dev's devices) cannot be bound: EINVAL.

// mountBind binds the guest directory src (absolute, its links followed) at the guest
// directory at, with the flags of the mount src lies in (a later remount changes only it).
func (k *Kernel) mountBind(c *Call, src, at string) error {
	if fs, rest := k.special(src); fs != "" && k.served(fs, rest) {
		return unix.EINVAL
	}
	rt, rel := k.root.route(src)
	if rt.clone < 0 {
		return unix.EINVAL
	}
	dir, err := rt.Open(rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	inCopy, err := os.Readlink(selfFD(dir)) // its path inside the tree copy
	unix.Close(dir)
	if err != nil || !strings.HasPrefix(inCopy, "/") || strings.HasSuffix(inCopy, " (deleted)") {
		return unix.ENOENT
	}
	// Not recursive: a plain bind shows no mount below the source (as Linux's), and a
	// recursive copy of a root-started machine's id-mapped root shows host ids.
	clone, err := unix.OpenTree(rt.clone, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return unix.EIO
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(clone, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(clone)
		return unix.EIO
	}
	fd, sub := clone, ""
	if inCopy != "/" {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS}
		if fd, err = openat2(clone, strings.TrimPrefix(inCopy, "/"), &how); err != nil {
			unix.Close(clone)
			return err
		}
		sub = inCopy
	}
	// A new bind has its source mount's flags, whatever the call asks (Linux's do_loopback
	// takes only MS_REC): mount(8) makes a bind read-only or noexec with a remount after it.
	mf := rt.MountFlags()
	ro := mf&unix.MS_RDONLY != 0
	r := &Root{fd: fd, clone: clone, guest: at, ro: new(atomic.Bool), flags: new(atomic.Uint64)}
	if r.mnt, err = mountID(clone); err == nil {
		err = r.SetMountFlags(mf)
	}
	if err != nil {
		r.Close()
		return err
	}
	of := k.root.mounts.mountOf(rt)
	m := &mountPoint{at: at, root: r, mnt: r.mnt, ro: ro}
	var kind string
	m.source, kind, m.opts, m.bindRoot = k.bindOrigin(rt, src)
	m.fs = &bindFS{of: of, kind: kind, top: k.root}
	m.sub = sub // the source Root's own sub (hostfs, a bind) is part of the path already
	if err := k.root.mounts.add(m); err != nil {
		r.Close()
		return err
	}
	return nil
}

// bindOrigin is what /proc/mounts and mountinfo show for a bind of src lying in rt: the
// source device, type and options of the file system it belongs to, and the bound
// directory's path inside that file system.
func (k *Kernel) bindOrigin(rt *Root, src string) (source, fstype, opts, root string) {
	if rt == k.root {
		return "/dev/root", k.rootFSType(), "", path.Clean(src)
	}
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.root == rt {
			rel := strings.TrimPrefix(path.Clean(src), m.at)
			if rel == "" {
				rel = "/"
			}
			return m.source, m.fs.typeName(), m.opts, path.Join("/", m.bindRoot, rel)
		}
	}
	return "none", "none", "", "/"
}

// mountOf returns the mount whose Root is rt (nil: the machine's root).
func (t *mountTable) mountOf(rt *Root) *mountPoint {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.root == rt {
			return m
		}
	}
	return nil
}
