package kernel

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/shadow"
	"golang.org/x/sys/unix"
)

// Mounts of block devices inside the guest (mount /dev/ubdb /mnt): the device's ext2/3/4 file
// system is unpacked into one of the work directory's mount slots (jail.go; lib/shadow), a
// detached copy of the slot's mount becomes a Root of its own, and guest paths at or below the
// mount point are routed to it (Root.route) by name, like /dev and /proc, once the symlinks on
// the way are followed (vfs.go: canon), so a link elsewhere that points below the mount point
// reaches the mounted tree. A slot exists from the start so that the kernel's Landlock rules
// can name it; the copy keeps a guest's ".." inside the mounted tree. The slots are private to
// the host user (mode 0700: they hold the guest's files with the guest's permissions). Changes
// go back into the image at sync, umount and shutdown.

type mountTable struct {
	mu   sync.RWMutex
	list []*mountPoint
}

type mountPoint struct {
	at     string // guest path of the mount point
	source string // guest name of the device
	fstype string
	root   *Root
	dev    *blockDev
	part   int // partition number, 0 for the whole disk
	fs     *ext4.FS
	tree   *shadow.Tree
	slot   int    // the work directory's mount slot it is unpacked in
	mnt    uint64 // mount id of its tree copy
	ro     bool
}

// byMount returns the mounted file system whose tree copy is mount id mnt.
func (t *mountTable) byMount(mnt uint64) *mountPoint {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.mnt == mnt {
			return m
		}
	}
	return nil
}

// route returns the Root a guest absolute path lies in and the path inside it.
func (r *Root) route(guest string) (*Root, string) {
	if r.mounts == nil {
		return r, guest
	}
	r.mounts.mu.RLock()
	defer r.mounts.mu.RUnlock()
	if len(r.mounts.list) == 0 {
		return r, guest
	}
	c := path.Clean(guest)
	var best *mountPoint
	for _, m := range r.mounts.list {
		if (c == m.at || strings.HasPrefix(c, m.at+"/")) && (best == nil || len(m.at) > len(best.at)) {
			best = m
		}
	}
	if best == nil {
		return r, guest
	}
	rest := strings.TrimPrefix(c, best.at)
	if rest == "" {
		rest = "/"
	} else if strings.HasSuffix(guest, "/") {
		rest += "/"
	}
	return best.root, rest
}

// mountBlock mounts a ubd device's ext2/3/4 file system at target (guest absolute paths).
func (k *Kernel) mountBlock(c *Call, source, target, fstype string, flags uint64) error {
	switch fstype {
	case "ext2", "ext3", "ext4", "", "auto":
	default:
		return unix.ENODEV
	}
	fs, rest := special(source)
	if fs != "/dev" {
		return unix.ENOTBLK
	}
	b, part, ok := k.blockDevByName(rest)
	if !ok || b == nil {
		return unix.ENOTBLK
	}
	var dev ext4.Device = b.dev
	if part != 0 {
		p := b.dev.Partition(part)
		if p == nil {
			return unix.ENXIO
		}
		dev = p
	}
	// what the guest wrote through the partitions' stand-ins goes to the disk first
	if err := b.flushParts(true); err != nil {
		return unix.EIO
	}
	fd, err := c.root().OpenPath(target, true)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	at := path.Clean(target)
	t := k.root.mounts
	t.mu.RLock()
	for _, m := range t.list {
		if m.dev == b && m.part == part || m.at == at {
			t.mu.RUnlock()
			return unix.EBUSY
		}
	}
	t.mu.RUnlock()
	ro := flags&unix.MS_RDONLY != 0 || b.dev.ReadOnly()
	efs, err := ext4.Mount(dev, ext4.Options{ReadOnly: ro})
	if err != nil {
		k.printk("EXT4-fs (%s): can't mount: %v", rest, err)
		return unix.EINVAL
	}
	slot := k.takeSlot()
	if slot < 0 {
		efs.Unmount()
		return unix.EMFILE // every slot in use
	}
	dir := k.slotDir(slot)
	tree, err := shadow.Unpack(efs, dir)
	if err == nil {
		var sub *Root
		if sub, err = cloneRoot(dir, ro); err == nil {
			if fstype == "" || fstype == "auto" {
				fstype = "ext4"
			}
			sub.guest = at
			m := &mountPoint{at: at, source: "/dev/" + rest, fstype: fstype, root: sub, dev: b, part: part, fs: efs, tree: tree, slot: slot, mnt: sub.mnt, ro: ro}
			t.mu.Lock()
			t.list = append(t.list, m)
			t.mu.Unlock()
			return nil
		}
	}
	k.printk("EXT4-fs (%s): can't read the file system: %v", rest, err)
	k.freeSlot(slot)
	efs.Unmount()
	return unix.EIO
}

// umount unmounts the file system mounted at target (MNT_DETACH: even while in use).
func (k *Kernel) umount(target string, flags int) error {
	at := path.Clean(target)
	t := k.root.mounts
	t.mu.Lock()
	var m *mountPoint
	for i, x := range t.list {
		if x.at == at {
			m = x
			if flags&unix.MNT_DETACH == 0 && k.mountBusy(x) {
				t.mu.Unlock()
				return unix.EBUSY
			}
			t.list = append(t.list[:i], t.list[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	if m == nil {
		return unix.EINVAL
	}
	err := m.release()
	k.freeSlot(m.slot)
	return err
}

// mountBusy: some guest process works in the mounted tree.
func (k *Kernel) mountBusy(m *mountPoint) bool {
	k.mu.Lock()
	tids := make([]int, 0, len(k.tasks))
	for tid := range k.tasks {
		tids = append(tids, tid)
	}
	k.mu.Unlock()
	for _, tid := range tids {
		var stx unix.Statx_t
		if unix.Statx(unix.AT_FDCWD, "/proc/"+strconv.Itoa(tid)+"/cwd", 0, unix.STATX_MNT_ID, &stx) == nil && stx.Mnt_id == m.mnt {
			return true
		}
	}
	return false
}

func (m *mountPoint) release() error {
	var err error
	if !m.ro {
		err = m.tree.WriteBack()
	}
	err = errors.Join(err, m.fs.Unmount())
	m.root.Close() // guests still in the tree keep the copy alive, detached from the image
	return err
}

// unmountAll unmounts everything (the machine stops or reboots).
func (k *Kernel) unmountAll() {
	t := k.root.mounts
	t.mu.Lock()
	l := t.list
	t.list = nil
	t.mu.Unlock()
	for i := len(l) - 1; i >= 0; i-- {
		if err := l[i].release(); err != nil {
			k.printk("unmounting %s: %v", l[i].at, err)
		}
		k.freeSlot(l[i].slot)
	}
}

// syncMounts writes every mounted file system back.
func (k *Kernel) syncMounts() error {
	t := k.root.mounts
	t.mu.RLock()
	l := append([]*mountPoint(nil), t.list...)
	t.mu.RUnlock()
	var err error
	for _, m := range l {
		if !m.ro {
			err = errors.Join(err, m.tree.WriteBack())
		}
	}
	return err
}

// mountLines are /proc/mounts lines of the mounted block devices.
func (k *Kernel) mountLines() string {
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	var b strings.Builder
	for _, m := range t.list {
		mode := "rw"
		if m.ro {
			mode = "ro"
		}
		b.WriteString(m.source + " " + m.at + " " + m.fstype + " " + mode + ",relatime 0 0\n")
	}
	return b.String()
}

func (k *Kernel) printk(format string, a ...any) {
	k.debugf(format, a...)
}

// ext4Of returns the image file system behind a Root (a mount's, or an image root), nil for
// a host directory.
func (k *Kernel) ext4Of(r *Root) (*ext4.FS, bool) {
	if r == nil {
		return nil, false
	}
	if r == k.root && k.cfg.rootImage != nil && k.cfg.rootImage.fs != nil {
		return k.cfg.rootImage.fs, r.ReadOnly()
	}
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.root == r {
			return m.fs, m.ro
		}
	}
	return nil, false
}

// remount changes a mounted ubd file system between read-only and read-write.
func (k *Kernel) remount(target string, ro bool) error {
	at := path.Clean(target)
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	var m *mountPoint
	for _, x := range t.list {
		if x.at == at {
			m = x
		}
	}
	if m == nil {
		return unix.EINVAL
	}
	switch {
	case ro == m.ro:
	case ro:
		if err := m.tree.WriteBack(); err != nil {
			return unix.EIO
		}
		if err := m.root.SetReadOnly(true); err != nil {
			return err
		}
		m.ro = true
	default:
		if m.dev.dev.ReadOnly() {
			return unix.EACCES // a read-only device, as Linux says it
		}
		var dev ext4.Device = m.dev.dev
		if m.part != 0 {
			dev = m.dev.dev.Partition(m.part)
		}
		// the file system was mounted read-only: mount it again for writing
		if err := m.fs.Unmount(); err != nil {
			return unix.EIO
		}
		efs, err := ext4.Mount(dev, ext4.Options{})
		if err != nil {
			return unix.EIO
		}
		m.fs = efs
		m.tree.SetFS(efs)
		if err := m.root.SetReadOnly(false); err != nil {
			return err
		}
		m.ro = false
	}
	return nil
}

// takeSlot reserves a free mount slot (-1: none left).
func (k *Kernel) takeSlot() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 0; i < mountSlots; i++ {
		if !k.slots[i] {
			k.slots[i] = true
			return i
		}
	}
	return -1
}

// freeSlot empties a slot for the next mount. The slot directory itself stays: the Landlock
// rules name it. os.RemoveAll never follows the symlinks a guest left in it.
func (k *Kernel) freeSlot(i int) {
	dir := k.slotDir(i)
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	k.mu.Lock()
	k.slots[i] = false
	k.mu.Unlock()
}

func (k *Kernel) slotDir(i int) string { return filepath.Join(k.cfg.work, workMnt, slotName(i)) }
