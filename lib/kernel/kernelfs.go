package kernel

import (
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's own file systems (procfs, sysfs, devtmpfs, devpts, mqueue) are entries of the
// one mount table like the others, so /proc/mounts and mountinfo are printed from it in
// mount order, and mount and umount of them act on it. What they hold is the kernel's
// (special.go, sysfs.go, devpts.go, mqueuefs.go), served under the guest path the kernel
// knows each by ("/proc", "/sys", "/dev", "/dev/pts", "/dev/mqueue"): a path below such a
// mount resolves to the kernel's files (Kernel.special), and a path below one that is not
// mounted is the root's own directory, as on Linux. procfs, sysfs and devtmpfs may also be
// mounted at another directory (a chroot's /proc, as debootstrap and schroot make it): the
// same files appear there, as Linux shows one pid namespace's procfs and its one devtmpfs
// wherever they are mounted. devpts and mqueue are mounted where the kernel serves them only.

// kernelFS is one of the kernel's own file systems.
type kernelFS struct {
	plainFS
	kind   string // proc, sysfs, devtmpfs, devpts, mqueue
	serves string // the guest path the kernel serves it as
	dev    string // mountinfo's major:minor
}

func (f *kernelFS) typeName() string { return f.kind }
func (f *kernelFS) devNum() string   { return f.dev }

// remount: a kernel file system is never read-only; its other flags and devpts's options
// are applied by sysMount (remountKernelFS).
func (f *kernelFS) remount(*Kernel, *mountPoint, bool) error { return nil }

// kernelFlags are the mount flags each shows, as a Debian guest's kernel mounts them.
var kernelFlags = map[string]uint64{
	"proc":     unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
	"sysfs":    unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
	"devtmpfs": 0,
	"devpts":   unix.MS_NOSUID | unix.MS_NOEXEC,
	"mqueue":   unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
}

// kernelServes is where the kernel serves each type's files.
var kernelServes = map[string]string{
	"proc": "/proc", "sysfs": "/sys", "devtmpfs": "/dev", "devpts": "/dev/pts", "mqueue": mqueueAt,
}

// kernelView is what path resolution needs of the table's kernel entries, replaced whole at
// each mount and umount of one (no lock on the paths' way).
type kernelView struct {
	served  map[string]bool // the guest path a kernel file system is served as is mounted there
	aliases []kernelAlias   // kernel file systems mounted elsewhere
}

// kernelAlias is a kernel file system mounted at another directory than the one it is
// served as.
type kernelAlias struct{ at, serves string }

// mountFlags are a mount's flags: its Root's, or the fixed ones of the kernel's types.
func (m *mountPoint) mountFlags() uint64 {
	if _, ok := m.fs.(*kernelFS); ok {
		return m.kflags
	}
	return m.root.MountFlags()
}

// newKernelMount is a table entry of a kernel file system of type kind at the guest path at.
func (k *Kernel) newKernelMount(kind, at string) *mountPoint {
	dev := ""
	switch kind {
	case "proc":
		dev = "0:4"
	case "devtmpfs":
		dev = "0:5"
	case "sysfs":
		dev = "0:20"
	case "devpts":
		dev = "0:" + strconv.Itoa(int(unix.Minor(k.devptsDev())))
	}
	return &mountPoint{fs: &kernelFS{kind: kind, serves: kernelServes[kind], dev: dev}, at: at, source: kind,
		kflags: kernelFlags[kind]}
}

// mountKernelFSes puts the kernel's file systems that are always there at boot into the
// table, in the order a Debian guest's kernel and initramfs mount them.
func (k *Kernel) mountKernelFSes() {
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	kinds := []string{"proc", "devtmpfs", "devpts", "sysfs"}
	for _, kind := range kinds {
		if kind == "devpts" && k.devptsFD() < 0 {
			continue // a machine without ptys
		}
		t.list = append(t.list, k.newKernelMount(kind, kernelServes[kind]))
	}
	t.updateView()
}

// updateView publishes the table's kernel entries for path resolution (the caller holds
// t.mu for writing).
func (t *mountTable) updateView() {
	v := &kernelView{served: map[string]bool{}}
	for i, m := range t.list {
		kf, ok := m.fs.(*kernelFS)
		if !ok || t.hiddenFrom(i) {
			continue // a mount on top or above hides its files (mountstack.go)
		}
		if m.at == kf.serves {
			v.served[kf.serves] = true
		} else {
			v.aliases = append(v.aliases, kernelAlias{at: m.at, serves: kf.serves})
		}
	}
	t.view.Store(v)
}

// special reports whether a guest path (absolute, seen from the caller's root) lies in one of
// the kernel's file systems, as that file system's guest path splits it (specialPath): "/dev",
// "/proc" or "/sys", and the rest. A path below such a directory whose file system is not
// mounted is the root's own; a path below a kernel file system mounted elsewhere is that
// file system's.
func (k *Kernel) special(guest string) (fs, rest string) {
	fs, rest = specialPath(guest)
	var v *kernelView
	if k.root != nil && k.root.mounts != nil {
		v = k.root.mounts.view.Load()
	}
	if v == nil {
		return fs, rest // no table (a machine being made)
	}
	switch {
	case fs == "/proc" || fs == "/sys":
		if !v.served[fs] {
			fs, rest = "", ""
		}
	case fs == "/dev":
		if !v.served["/dev"] {
			fs, rest = "", ""
		}
	}
	if fs != "" || len(v.aliases) == 0 {
		return fs, rest
	}
	c := path.Clean(guest)
	for _, a := range v.aliases {
		sub, ok := strings.CutPrefix(c, a.at)
		if !ok || sub != "" && sub[0] != '/' {
			continue
		}
		return specialPath(a.serves + sub)
	}
	return "", ""
}

// setKernelFlags gives the kernel file system of type kind mounted at dir the mount flags
// flags (nosuid, nodev, noexec: a mount where it is, or a remount); false if none is there.
func (k *Kernel) setKernelFlags(kind, dir string, flags uint64) bool {
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.list {
		if kf, ok := m.fs.(*kernelFS); ok && (kind == "" || kf.kind == kind) && m.at == dir {
			m.kflags = flags
			return true
		}
	}
	return false
}

// kernelFSFlags are the mount flags of the kernel file system served as serves (where it
// is served, or else its first mount elsewhere; 0 if unmounted).
func (k *Kernel) kernelFSFlags(serves string) uint64 {
	t := k.root.mounts
	t.mu.RLock()
	defer t.mu.RUnlock()
	var f uint64
	found := false
	for _, m := range t.list {
		if kf, ok := m.fs.(*kernelFS); ok && kf.serves == serves {
			if m.at == serves {
				return m.kflags
			}
			if !found {
				f, found = m.kflags, true
			}
		}
	}
	return f
}

// ptsMounted: the guest's devpts is mounted on /dev/pts (its names are then the kernel's).
func (k *Kernel) ptsMounted() bool {
	if k.root == nil || k.root.mounts == nil {
		return true
	}
	v := k.root.mounts.view.Load()
	return v == nil || v.served["/dev/pts"]
}

// mountKernelFS mounts a kernel file system of type kind at the guest directory dir:
// where the kernel serves it, mounting it again changes nothing (every init mounts /proc,
// and Linux would stack a second mount there); elsewhere it is a mount of its own, of the
// same files, with the nosuid, nodev and noexec of flags.
func (k *Kernel) mountKernelFS(c *Call, kind, dir string, flags uint64) error {
	serves := kernelServes[kind]
	if kind == "devpts" && k.devptsFD() < 0 {
		return unix.ENODEV // a machine without ptys
	}
	t := k.root.mounts
	mf := flags & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if dir == serves {
		if k.setKernelFlags(kind, dir, mf) {
			// there already: the guest's mount of it is this one, with its flags (as
			// the real kernel, which mounts nothing itself, shows them)
			return nil
		}
		// mounted again after an umount, on the root's own directory of that name (looked
		// at before the table is locked: resolving a path reads it)
		if err := k.root.isDir(dir); err != nil {
			return err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, m := range t.list {
			if m.at == dir {
				return unix.EBUSY // something else is mounted there meanwhile
			}
		}
		m := k.newKernelMount(kind, dir)
		m.kflags = mf
		t.list = append(t.list, m)
		t.updateView()
		return nil
	}
	if kind == "devpts" || kind == "mqueue" {
		return unix.ENODEV // one instance, served where it is (linux(1))
	}
	at, err := k.mountTarget(c, dir)
	if err != nil {
		return err
	}
	m := k.newKernelMount(kind, at)
	m.kflags = mf
	if err := t.add(m); err != nil {
		return err
	}
	t.mu.Lock()
	t.updateView()
	t.mu.Unlock()
	return nil
}
