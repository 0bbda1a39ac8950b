package kernel

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gouml/gouml/lib/cmdline"
	"golang.org/x/sys/unix"
)

// tmpfs mounts of the guest (mount -t tmpfs, as every init does for /run and /dev/shm) are
// real tmpfs instances of the host: memory, as on Linux, with size= enforced by the host's
// tmpfs (ENOSPC when full), and the machine's memory (mem=) as the ceiling, so a guest can
// hold no more in its tmpfs mounts than a UML guest could. Stage 1 makes tmpfsSlots
// instances (trees.go); a mount takes a free one and sets its size, an unmount empties it.
// Resizing a mounted file system is a remount, which Landlock refuses to the kernel; the
// procfs helper, outside the kernel's domain, does it (it can resize only tmpfs instances
// of the kernel's own user namespace: these).

// tmpfsDefaultSize is Linux's default tmpfs size for a machine of mem bytes: half of it.
func tmpfsDefaultSize(mem uint64) uint64 {
	if mem == 0 {
		mem = 64 << 20
	}
	return mem / 2
}

// newTmpfs makes a tmpfs attached nowhere (nosuid, nodev) and returns its mount fd.
func newTmpfs(size uint64) (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "size", strconv.FormatUint(size, 10)); err != nil {
		return -1, err
	}
	if err := unix.FsconfigSetString(fs, "mode", "1777"); err != nil {
		return -1, err
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
}

// tmpfsOptions are the options of a guest's tmpfs mount that change it.
type tmpfsOptions struct {
	size uint64
	mode uint32
}

// parseTmpfsOptions reads a tmpfs mount's data string (size=, mode=, nr_blocks=; the others
// Linux knows are accepted and have no effect here) for a machine of mem bytes.
func parseTmpfsOptions(data string, mem uint64) (tmpfsOptions, error) {
	o := tmpfsOptions{size: tmpfsDefaultSize(mem), mode: 0o1777}
	if mem == 0 {
		mem = 64 << 20
	}
	for _, kv := range strings.Split(data, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "":
		case "size":
			n, err := tmpfsSize(v, mem)
			if err != nil {
				return o, err
			}
			o.size = n
		case "nr_blocks":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n > mem/4096 {
				return o, unix.EINVAL
			}
			o.size = n * 4096
		case "mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m > 0o7777 {
				return o, unix.EINVAL
			}
			o.mode = uint32(m)
		case "nr_inodes", "uid", "gid", "huge", "mpol", "inode32", "inode64", "noswap", "quota",
			"usrquota", "grpquota", "usrquota_block_hardlimit", "usrquota_inode_hardlimit",
			"grpquota_block_hardlimit", "grpquota_inode_hardlimit", "noatime", "relatime",
			"nosuid", "nodev", "noexec", "strictatime", "lazytime":
		default:
			return o, unix.EINVAL
		}
	}
	// no larger than the machine's memory: what a UML guest's tmpfs can hold at most
	if o.size == 0 || o.size > mem {
		o.size = mem
	}
	// whole pages, as shmem counts it (size=1000 is 4k)
	o.size = (o.size + 4095) &^ 4095
	return o, nil
}

// tmpfsSize parses a size= value: bytes with an optional k/m/g/t/p/e suffix, or a percentage
// of the machine's memory.
func tmpfsSize(v string, mem uint64) (uint64, error) {
	if v == "" {
		return 0, unix.EINVAL
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n > 100 {
			return 0, unix.EINVAL
		}
		return mem / 100 * n, nil
	}
	n, err := cmdline.Memparse(v) // the kernel's memparse: k, m, g … suffixes
	if err != nil {
		if strings.Contains(err.Error(), "too large") {
			return ^uint64(0), nil // larger than anything: capped at mem= by the caller
		}
		return 0, unix.EINVAL
	}
	return n, nil
}

// mountTmpfs mounts a tmpfs at the guest directory at.
func (k *Kernel) mountTmpfs(c *Call, source, at string, flags uint64, data string) error {
	o, err := parseTmpfsOptions(data, k.cfg.Mem)
	if err != nil {
		return err
	}
	slot := k.takeTmpfs()
	if slot < 0 {
		return unix.ENOMEM // every instance in use
	}
	fd := k.cfg.trees.tmpfs[slot]
	if err := k.resizeTmpfs(fd, o.size); err != nil {
		k.freeTmpfs(slot)
		return err
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, selfFD(fd), o.mode&0o1777, 0); err != nil {
		k.freeTmpfs(slot)
		return err
	}
	// a mount of its own: read-only or not is this mount's, not the instance's
	cl, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		k.freeTmpfs(slot)
		return err
	}
	r := &Root{fd: cl, clone: cl, guest: at, ro: new(atomic.Bool), flags: new(atomic.Uint64)}
	if r.mnt, err = mountID(cl); err == nil {
		err = r.SetMountFlags(flags & mountFlagMask)
	}
	if err != nil {
		r.Close()
		k.freeTmpfs(slot)
		return err
	}
	if source == "" {
		source = "tmpfs"
	}
	opts := tmpfsOptString(o.size, o.mode)
	m := &mountPoint{fs: &tmpfsFS{instance: slot, mode: o.mode}, at: at, source: source, opts: opts, root: r, mnt: r.mnt,
		ro: flags&unix.MS_RDONLY != 0, own: flags&unix.MS_RDONLY != 0}
	if err := k.root.mounts.add(m); err != nil {
		r.Close()
		k.freeTmpfs(slot)
		return err
	}
	return nil
}

// tmpfsOptString is a tmpfs mount's options as /proc/mounts shows them.
func tmpfsOptString(size uint64, mode uint32) string {
	opts := "size=" + strconv.FormatUint(size>>10, 10) + "k"
	if mode != 0o1777 {
		opts += ",mode=" + strconv.FormatUint(uint64(mode), 8)
	}
	return opts
}

// resizeTmpfs sets the size of one of the kernel's tmpfs instances (through the helper: a
// remount).
func (k *Kernel) resizeTmpfs(fd int, size uint64) error {
	if k.procHelper == nil {
		return tmpfsResize(fd, strconv.FormatUint(size, 10))
	}
	_, err := k.procHelper.call(tmpfsSetSize, strconv.FormatUint(size, 10), fd)
	return err
}

// tmpfsResize is the remount itself (the helper's side).
func tmpfsResize(fd int, size string) error {
	var sf unix.Statfs_t
	if err := unix.Fstatfs(fd, &sf); err != nil || sf.Type != unix.TMPFS_MAGIC {
		return unix.EINVAL
	}
	if _, err := strconv.ParseUint(size, 10, 64); err != nil {
		return unix.EINVAL
	}
	p, err := unix.Fspick(fd, "", unix.FSPICK_EMPTY_PATH|unix.FSPICK_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(p)
	if err := unix.FsconfigSetString(p, "size", size); err != nil {
		return err
	}
	return unix.FsconfigReconfigure(p)
}

// takeTmpfs reserves a free tmpfs instance (-1: none left).
func (k *Kernel) takeTmpfs() int {
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range k.cfg.trees.tmpfs {
		if i < len(t.tmpfs) && !t.tmpfs[i] {
			t.tmpfs[i] = true
			return i
		}
	}
	return -1
}

// freeTmpfs empties an instance for the next mount. os.RemoveAll never follows the
// symlinks a guest left in it.
func (k *Kernel) freeTmpfs(i int) {
	dir := "/proc/self/fd/" + strconv.Itoa(k.cfg.trees.tmpfs[i])
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			os.RemoveAll(dir + "/" + e.Name())
		}
	}
	t := k.root.mounts
	t.mu.Lock()
	t.tmpfs[i] = false
	t.mu.Unlock()
}
