package kernel

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/shadow"
	"golang.org/x/sys/unix"
)

// Mounts of block devices inside the guest (mount /dev/ubdb /mnt): the device's ext2/3/4
// file system is unpacked into one of the work directory's mount slots (jail.go; lib/shadow),
// a detached copy of the slot's mount becomes a Root of its own, and guest paths at or below
// the mount point are routed to it (Root.route), by the path with its symlinks followed first
// (vfs.go: canon), like /dev and /proc: a symlink elsewhere that points below the mount point
// reaches the mounted file system, and an absolute symlink in it resolves from the guest's
// root, as on Linux. A slot exists from the start so that the kernel's Landlock
// rules can name it; the copy keeps a guest's ".." inside the mounted tree. The slots are
// private to the host user (mode 0700: they hold the guest's files with the guest's
// permissions). Changes go back into the image at sync, umount and shutdown.

type mountTable struct {
	mu     sync.RWMutex
	list   []*mountPoint
	hostfs atomic.Int32 // hostfs mounts in list: stat looks for them only then
	// what backs the file systems: the work directory's ubd mount slots and the tmpfs
	// instances in use (mu)
	slots [mountSlots]bool
	tmpfs [tmpfsSlots]bool

	view atomic.Pointer[kernelView] // its kernel file systems, for paths (kernelfs.go)

	// The rest of the file-system layer's state is under the table's lock too, not the
	// Kernel's (whose lock is the processes' and credentials'):
	// host mounts below the root's tree copy (a host mount inside the root directory),
	// learnt by objPath (uint64 mount id -> true)
	below sync.Map
	// chroots are the Roots processes chrooted into, closed when the machine stops (mu)
	chroots []*Root
	// placehold marks a mount point in the root's tree copy before a mount goes there
	// (placeholder.go; nil: not marked)
	placehold func(at string) error
}

// addChroot keeps a chroot's Root until the machine stops (its processes share it).
func (t *mountTable) addChroot(r *Root) {
	t.mu.Lock()
	t.chroots = append(t.chroots, r)
	t.mu.Unlock()
}

// closeChroots closes them when the machine stops.
func (t *mountTable) closeChroots() {
	t.mu.Lock()
	l := t.chroots
	t.chroots = nil
	t.mu.Unlock()
	for _, r := range l {
		r.Close()
	}
}

// belowRoot: mount id mnt is a host mount below the root's tree copy (objPath learnt it).
func (t *mountTable) belowRoot(mnt uint64) bool {
	_, ok := t.below.Load(mnt)
	return ok
}

// mountPoint is one file system mounted in the guest: a ubd device's (unpacked into a
// mount slot), a host directory (hostfs.go), a tmpfs instance (tmpfs.go) or a bind of a
// directory of the guest's trees (bind.go); what depends on the type is fs's (fstypes.go).
// Whatever the type, its files are reached through root, a Root of its own.
type mountPoint struct {
	fs     fileSystem
	at     string // guest path of the mount point
	source string // guest name of the device ("none", "tmpfs" …)
	opts   string // options /proc/mounts shows after rw/ro and relatime
	root   *Root
	mnt    uint64 // mount id of its tree copy
	// ro is the file system's read-only flag (the super block's; a bind's is its source's:
	// superRO), own the mount's (MNT_READONLY); writes below it need both clear
	// (mountflags.go). A bind keeps ro equal to own.
	ro, own bool
	sub     string // the mounted directory inside its tree copy ("" = the copy's top)
	// the mounted directory's path in its file system (mountinfo's root field; "" = "/")
	bindRoot string
	// a kernel file system's mount flags (kernelfs.go); the others' are their Root's
	kflags uint64
}

// guestPath turns the path the host gives a file of this mount's tree copy (its path inside
// the copy) into the guest's path; ok is false for a path above the mounted directory.
func (m *mountPoint) guestPath(p string) (string, bool) {
	p, ok := m.inRoot(p)
	if !ok {
		return "", false
	}
	if p == "/" {
		return m.at, true
	}
	if m.at == "/" {
		return p, true
	}
	return m.at + p, true
}

// inRoot turns the path the host gives a file of this mount's tree copy into its path from
// the mounted directory (m.root).
func (m *mountPoint) inRoot(p string) (string, bool) {
	if m.sub == "" {
		return p, true
	}
	rest, found := strings.CutPrefix(p, m.sub)
	if !found || rest != "" && rest[0] != '/' {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// add mounts m, on top of what is mounted at its mount point already (mountstack.go).
func (t *mountTable) add(m *mountPoint) error {
	if t.placehold != nil {
		if err := t.placehold(m.at); err != nil { // before the mount can be seen
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.list = append(t.list, m)
	if m.fs.hostOwners() {
		t.hostfs.Add(1)
	}
	t.updateView() // it may hide a kernel file system mounted at or below its mount point
	return nil
}

// mountTarget checks a mount point: a directory of a tree (not of /proc, nor a device).
func (k *Kernel) mountTarget(c *Call, target string) (string, error) {
	at := path.Clean(target)
	if c.kernelServed(at) && !k.kernelAliasAt(at) || at == "/proc" || at == "/" {
		return "", unix.EBUSY
	}
	if err := c.root().isDir(at); err != nil {
		return "", err
	}
	return at, nil
}

// isDir checks that the guest path p (followed to its end) is a directory: ENOTDIR if not,
// the lookup's error if it cannot be resolved. Mount points must be directories.
func (r *Root) isDir(p string) error {
	fd, err := r.OpenPath(p, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

// byMount returns the mounted file system whose tree copy is mount id mnt.
func (t *mountTable) byMount(mnt uint64) *mountPoint {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.mnt == mnt && m.root != nil { // the kernel's own have no tree (and mnt 0)
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
	// the kernel's own (kernelfs.go) have no tree: special chooses them first
	best, _ := r.mounts.topAt(c, true)
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
	fs, rest := k.special(source)
	if fs != "/dev" {
		return unix.ENOTBLK
	}
	b, part, ok := k.blockDevByName(rest)
	if !ok || b == nil {
		return unix.ENOTBLK
	}
	if b.root != nil {
		return unix.EBUSY // the root is mounted from it
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
	at, err := k.mountTarget(c, target)
	if err != nil {
		return err
	}
	t := k.root.mounts
	t.mu.RLock()
	for _, m := range t.list {
		if m.fs.backedBy(b, part) {
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
		if ro {
			flags |= unix.MS_RDONLY // a read-only device
		}
		if sub, err = cloneRoot(dir, ro); err == nil {
			if err = sub.SetMountFlags(flags & mountFlagMask); err != nil {
				sub.Close()
			}
		}
		if err == nil {
			if fstype == "" || fstype == "auto" {
				fstype = "ext4"
			}
			sub.guest = at
			m := &mountPoint{at: at, source: "/dev/" + rest, root: sub, mnt: sub.mnt, ro: ro, own: ro,
				fs: &imageFS{kind: fstype, dev: b, part: part, fs: efs, tree: tree, slot: slot}}
			if err = t.add(m); err == nil {
				return nil
			}
			sub.Close()
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
	m, i := t.mountedAt(at) // the top one of those stacked there (mountstack.go)
	var gone []*mountPoint
	if m != nil {
		if flags&unix.MNT_DETACH == 0 && (k.mountBusy(m) || t.coveredFrom(i)) {
			t.mu.Unlock()
			return unix.EBUSY
		}
		var err error
		if gone, err = t.detach(i); err != nil {
			t.mu.Unlock()
			return err
		}
		t.updateView() // what it hid is uncovered
	}
	t.mu.Unlock()
	if m == nil {
		return k.umountTarget(at)
	}
	var err error
	for _, x := range gone {
		err = errors.Join(err, k.release(x))
	}
	return err
}

// superRO: the file system a mount shows is read-only (mountinfo's super options): a bind's
// is its source's, whatever the bind's own flag (the caller holds t.mu).
func (t *mountTable) superRO(m *mountPoint) bool {
	for {
		b, ok := m.fs.(*bindFS)
		if !ok {
			return m.ro
		}
		if b.of == nil {
			return b.top != nil && b.top.ReadOnly()
		}
		m = b.of
	}
}

// fsOptions are the file system's options /proc/mounts shows after the mount's flags.
func (k *Kernel) fsOptions(m *mountPoint) string {
	if kf, ok := m.fs.(*kernelFS); ok && kf.kind == "devpts" {
		return k.ptyOptions().String()
	}
	return m.opts
}

// release ends a mount: its tree copy goes, and its file system is released (an image's
// changes go back to it, a tmpfs is emptied for the next).
func (k *Kernel) release(m *mountPoint) error {
	if m.root == nil {
		if kf, ok := m.fs.(*kernelFS); ok && kf.kind == "mqueue" {
			k.mqMounted.Store(false)
		}
		return nil // the kernel's own: its files stay the kernel's
	}
	m.root.Close() // guests still in the tree keep the copy alive, detached from the backing
	return m.fs.release(k, m)
}

// mountBusy: some guest process uses the mounted tree, as Linux's umount judges it (EBUSY):
// a working directory, a root (chroot), a running program or an open file lies in it. Only
// mappings of files the process no longer holds open (a library) are not seen.
func (k *Kernel) mountBusy(m *mountPoint) bool {
	if m.root == nil {
		return false // the kernel's own: no tree to hold (what is mounted on or in it is coveredFrom's)
	}
	k.knowAll()
	k.mu.Lock()
	tids := make([]int, 0, len(k.tasks))
	for tid := range k.tasks {
		tids = append(tids, tid)
	}
	tgids := make([]int, 0, len(k.procs))
	var roots []*Root
	for tgid, p := range k.procs {
		tgids = append(tgids, tgid)
		if p.Root != nil {
			roots = append(roots, p.Root)
		}
	}
	k.mu.Unlock()
	for _, r := range roots {
		// a chroot's Root is the kernel's (the host's root of the process stays the tree
		// copy's): the directory it holds tells the mount
		if id, err := mountID(r.fd); err == nil && id == m.mnt {
			return true
		}
	}
	in := func(link string) bool {
		var stx unix.Statx_t
		return unix.Statx(unix.AT_FDCWD, link, 0, unix.STATX_MNT_ID, &stx) == nil && stx.Mnt_id == m.mnt
	}
	for _, tid := range tids {
		if in("/proc/" + strconv.Itoa(tid) + "/cwd") {
			return true
		}
	}
	for _, tgid := range tgids {
		dir := "/proc/" + strconv.Itoa(tgid)
		if in(dir+"/exe") || in(dir+"/root") {
			return true
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue // it ended
		}
		for _, fd := range fds {
			if in(dir + "/fd/" + fd.Name()) {
				return true
			}
		}
	}
	return false
}

// unmountAll unmounts everything (the machine stops or reboots).
func (k *Kernel) unmountAll() {
	t := k.root.mounts
	t.mu.Lock()
	l := t.list
	t.list = nil
	t.hostfs.Store(0)
	t.updateView()
	t.mu.Unlock()
	for i := len(l) - 1; i >= 0; i-- {
		if err := k.release(l[i]); err != nil {
			k.printk("unmounting %s: %v", l[i].at, err)
		}
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
		err = errors.Join(err, m.fs.sync(m))
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
		opts := mountOptions(m.mountFlags()) + ",relatime"
		if o := k.fsOptions(m); o != "" {
			opts += "," + o
		}
		b.WriteString(m.source + " " + m.at + " " + m.fs.typeName() + " " + opts + " 0 0\n")
	}
	return b.String()
}

// mountinfoLines are /proc/PID/mountinfo lines of the mounted file systems, numbered from
// first; each one's parent is the mount its mount point lies in, or the one it is stacked
// on (mountstack.go).
func (k *Kernel) mountinfoLines(first int) string {
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	var b strings.Builder
	for i, m := range t.list {
		parent := 1
		if j := t.parentOf(i); j >= 0 {
			parent = first + j
		}
		mode := "rw" // the file system's (the super block's); the mount's own are flags
		if t.superRO(m) {
			mode = "ro"
		}
		mf := m.mountFlags()
		if m.root != nil && !m.own {
			mf &^= unix.MS_RDONLY // the mount's own flag; /proc/mounts shows both together
		}
		flags := mountOptions(mf)
		dev := m.fs.devNum()
		if dev == "" {
			dev = "0:" + strconv.Itoa(32+i)
		}
		super := mode
		if o := k.fsOptions(m); o != "" {
			super += "," + o
		}
		root := "/"
		if m.bindRoot != "" {
			root = m.bindRoot
		}
		fmt.Fprintf(&b, "%d %d %s %s %s %s,relatime - %s %s %s\n", first+i, parent, dev, root, m.at, flags, m.fs.typeName(), m.source, super)
	}
	return b.String()
}

// printk adds a message to the kernel log (dmesg), and shows it under debug.
func (k *Kernel) printk(format string, a ...any) {
	k.log.add(6, fmt.Sprintf(format, a...))
	k.debugf(format, a...)
}

// ext4Of returns the image file system behind a Root (a mount's, or an image root), nil for
// a host directory.
func (k *Kernel) ext4Of(r *Root) (*ext4.FS, bool) {
	if r == nil {
		return nil, false
	}
	if r == k.root && k.cfg.rootImage != nil && k.cfg.rootImage.FS() != nil {
		return k.cfg.rootImage.FS(), r.ReadOnly()
	}
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.list {
		if m.root == r {
			return m.fs.image(), m.ro
		}
	}
	return nil, false
}

// remount gives a mounted file system new mount flags (mountflags.go): a change between
// read-only and read-write is its type's to make; nosuid, nodev and noexec are replaced.
func (k *Kernel) remount(target string, flags uint64, data string) error {
	ro := flags&unix.MS_RDONLY != 0
	at := path.Clean(target)
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	m, _ := t.mountedAt(at)
	if m == nil {
		return unix.EINVAL
	}
	if m.root == nil {
		return nil // the kernel's own keep their flags (kernelfs.go)
	}
	if err := k.remountRO(m, ro, flags&unix.MS_BIND != 0); err != nil {
		return err
	}
	if flags&unix.MS_BIND == 0 {
		// the file system's options too (a bind remount changes only the mount)
		if err := m.fs.reconfigure(k, m, data); err != nil {
			return err
		}
	}
	f := flags & mountFlagMask &^ unix.MS_RDONLY
	if m.root.ReadOnly() {
		f |= unix.MS_RDONLY
	}
	return m.root.SetMountFlags(f)
}

// takeSlot reserves a free mount slot (-1: none left).
func (k *Kernel) takeSlot() int {
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.slots {
		if !t.slots[i] {
			t.slots[i] = true
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
	t := k.root.mounts
	t.mu.Lock()
	t.slots[i] = false
	t.mu.Unlock()
}

func (k *Kernel) slotDir(i int) string { return filepath.Join(k.cfg.work, workMnt, slotName(i)) }
