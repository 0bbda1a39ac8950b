package kernel

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// hostfs mounts (mount -t hostfs none /mnt -o /host/path), as Netkit's labs use them. The
// real kernel lets a guest mount any host directory its user can read; here a hostfs mount
// reaches only what the command line gives the machine (trees.go: hostfsDirs): below the
// hostfs= directory when one is given (paths relative to it, as on the real kernel), and
// otherwise below the directories the command line's own words name. The mounted directory
// is resolved below that directory with RESOLVE_IN_ROOT, and the guest gets a detached copy
// of the directory's mount, so neither ".." nor a symlink in the mount leaves it. Files show
// their host owners, as on the real kernel's hostfs (the host user, not the guest's root).

// mountHostfs mounts the host directory named by data at the guest directory at.
func (k *Kernel) mountHostfs(c *Call, at string, flags uint64, data string) error {
	dirs := k.cfg.trees.hostDirs
	req := data
	var base int
	var rel string
	if k.cfg.HostFSPrefix != "" {
		// every mount lies below hostfs=; the path is relative to it
		if len(dirs) == 0 {
			return unix.ENOENT
		}
		base, rel = dirs[0], req
	} else {
		if req == "" {
			req = "/"
		}
		best := -1
		var bestLen int
		clean := path.Clean(req)
		for i, fd := range dirs {
			p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			if err != nil {
				continue
			}
			if (clean == p || p == "/" || strings.HasPrefix(clean, p+"/")) && len(p) >= bestLen {
				best, bestLen = i, len(p)
				rel = strings.TrimPrefix(clean, p)
			}
		}
		if best < 0 || !strings.HasPrefix(req, "/") {
			msg := "hostfs: " + data + " is not given to this machine: a hostfs mount reaches only the hostfs= directory or the directories the command line names"
			fmt.Fprintln(k.cfg.Stderr, msg)
			k.log.add(4, msg)
			return unix.EACCES
		}
		base = dirs[best]
	}
	rel = strings.TrimLeft(rel, "/")
	clone, err := unix.OpenTree(base, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return unix.EIO
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(clone, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(clone)
		return unix.EIO
	}
	fd := clone
	sub := ""
	if rel != "" {
		// below the directory the command line named, never above it
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
		if fd, err = openat2(clone, rel, &how); err != nil {
			unix.Close(clone)
			return err
		}
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil || p == "/" {
			p = ""
		}
		sub = p
	}
	r := &Root{fd: fd, clone: clone, guest: at, ro: new(atomic.Bool), flags: new(atomic.Uint64)}
	if r.mnt, err = mountID(clone); err == nil {
		err = r.SetMountFlags(flags & mountFlagMask)
	}
	if err != nil {
		r.Close()
		return err
	}
	m := &mountPoint{fs: hostfsFS{}, at: at, source: "none", opts: data, root: r, mnt: r.mnt,
		ro: flags&unix.MS_RDONLY != 0, sub: sub}
	if m.opts == "" {
		m.opts = "/"
	}
	if err := k.root.mounts.add(m); err != nil {
		r.Close()
		return err
	}
	return nil
}

// onHostfs reports whether an fd the kernel holds lies on a hostfs mount.
func (k *Kernel) onHostfs(fd int) bool {
	t := k.root.mounts
	if t.hostfs.Load() == 0 {
		return false
	}
	id, err := mountID(fd)
	if err != nil {
		return false
	}
	m := t.byMount(id)
	return m != nil && m.fs.hostOwners()
}

// hostStat shows a hostfs file's host owner: the host user the kernel runs as for its own
// files (the host kernel shows them as the namespace's root), the overflow ids for others.
func (k *Kernel) hostStat(st *unix.Stat_t) {
	if st.Uid == 0 {
		st.Uid = k.cfg.hostUID
	}
	if st.Gid == 0 {
		st.Gid = k.cfg.hostGID
	}
}
