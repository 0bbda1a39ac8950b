package kernel

import (
	"strings"

	"github.com/gouml/gouml/lib/ext4"
	"golang.org/x/sys/unix"
)

// A mount's flags: read-only, nosuid, nodev and noexec, decided here for every file system of
// the table (the machine's root, ubd images, tmpfs, hostfs, binds) whatever the call that
// meets them. They belong to the mount (a Root and the chroots below it share them), not to
// the file system: a bind of a directory starts with its source mount's flags and is then
// remounted on its own, as on Linux.
//
// The kernel's own checks are the first wall: exec of a file on a noexec mount is EACCES,
// set-id bits on a nosuid mount give no credentials, a device node on a nodev mount opens
// nothing (EACCES), a write below a read-only mount is EROFS. The host's mount of each tree
// copy is the second: it is always nodev and nosuid (the guest's device nodes and set-id
// bits are the kernel's metadata, never the host's), read-only when the guest's mount is,
// and noexec when the guest's mount is, so that what runs natively (mmap with PROT_EXEC of a
// file, the host's loading of PT_INTERP) meets the same flag the kernel's exec does.

// mountFlagMask are the mount flags a guest's mount and remount set on a mount of its own.
const mountFlagMask = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// MountFlags returns the flags of the mount the root lies in (MS_RDONLY, MS_NOSUID,
// MS_NODEV, MS_NOEXEC).
func (r *Root) MountFlags() uint64 {
	var f uint64
	if r.flags != nil {
		f = r.flags.Load()
	}
	if r.ReadOnly() {
		f |= unix.MS_RDONLY
	}
	return f
}

// SetMountFlags gives the mount new flags (of mountFlagMask; a remount replaces them all):
// read-only and noexec on the host's mount too, nosuid and nodev in the kernel's checks
// (the host's mount always has both).
func (r *Root) SetMountFlags(flags uint64) error {
	if r.clone >= 0 {
		// recursive: a host mount below a hostfs directory (the copy holds it) is as
		// noexec as the rest. Clearing it on one the host locked noexec (a mount made in a
		// more privileged namespace) is refused: that one keeps it, and the rest is cleared.
		var attr unix.MountAttr
		if flags&unix.MS_NOEXEC != 0 {
			attr.Attr_set = unix.MOUNT_ATTR_NOEXEC
		} else {
			attr.Attr_clr = unix.MOUNT_ATTR_NOEXEC
		}
		err := unix.MountSetattr(r.clone, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		if err == unix.EPERM && attr.Attr_clr != 0 {
			err = unix.MountSetattr(r.clone, "", unix.AT_EMPTY_PATH, &attr)
		}
		if err != nil {
			return err
		}
	}
	if err := r.SetReadOnly(flags&unix.MS_RDONLY != 0); err != nil {
		return err
	}
	if r.flags != nil {
		r.flags.Store(flags & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC))
	}
	return nil
}

// mountOfFD returns the Root of the mount an fd the kernel holds lies in: the machine's root
// (with the host mounts below its directory), or a mount of the table; nil for anything
// else (the kernel's own files, pipes, sockets), whose flags are their file system's.
func (k *Kernel) mountOfFD(fd int) *Root {
	mnt, err := mountID(fd)
	if err != nil {
		return nil
	}
	if mnt == k.root.mnt {
		return k.root
	}
	if m := k.root.mounts.byMount(mnt); m != nil {
		return m.root
	}
	if k.root.mounts.belowRoot(mnt) {
		return k.root
	}
	return nil
}

// fdMountFlags are the flags of the mount an fd the kernel holds lies in (0 for none of the
// table's).
func (k *Kernel) fdMountFlags(fd int) uint64 {
	if r := k.mountOfFD(fd); r != nil {
		return r.MountFlags()
	}
	return 0
}

// mountOptions is how /proc/mounts and mountinfo show a mount's flags: "rw" or "ro", then
// nosuid, nodev and noexec in Linux's order (show_mnt_opts).
func mountOptions(flags uint64) string {
	var b strings.Builder
	if flags&unix.MS_RDONLY != 0 {
		b.WriteString("ro")
	} else {
		b.WriteString("rw")
	}
	for _, o := range []struct {
		bit  uint64
		name string
	}{{unix.MS_NOSUID, ",nosuid"}, {unix.MS_NODEV, ",nodev"}, {unix.MS_NOEXEC, ",noexec"}} {
		if flags&o.bit != 0 {
			b.WriteString(o.name)
		}
	}
	return b.String()
}

// stValid is statfs's ST_VALID: f_flags is filled in.
const stValid = 0x20

// statfsFlags is statfs's f_flags for a mount of these flags (all relatime here).
func statfsFlags(flags uint64) int64 {
	f := int64(stValid | unix.ST_RELATIME)
	for _, o := range [][2]int64{{unix.MS_RDONLY, unix.ST_RDONLY}, {unix.MS_NOSUID, unix.ST_NOSUID},
		{unix.MS_NODEV, unix.ST_NODEV}, {unix.MS_NOEXEC, unix.ST_NOEXEC}} {
		if int64(flags)&o[0] != 0 {
			f |= o[1]
		}
	}
	return f
}

// hostfsSuperMagic is statfs's f_type of the real kernel's hostfs (HOSTFS_SUPER_MAGIC).
const hostfsSuperMagic = 0x00c0ffee

// statfsOf is statfs of a file the kernel holds an fd of, as the guest's mount shows it: an
// image's counts (as of its last write-back) and type, a host directory's counts with the
// type hostfs shows, a tmpfs's own, and every one with its mount's flags; the kernel's own
// files as procfs and sysfs show them.
func (k *Kernel) statfsOf(fd int, sf *unix.Statfs_t) error {
	r := k.mountOfFD(fd)
	if r == nil {
		if err := unix.Fstatfs(fd, sf); err != nil {
			return err
		}
		k.kernelStatfs(fd, sf)
		return nil
	}
	efs, hostfs := k.mountedImage(r)
	if efs != nil {
		st, err := efs.Statfs()
		if err != nil {
			return err
		}
		*sf = unix.Statfs_t{Type: 0xEF53, Bsize: st.Bsize, Frsize: st.Bsize, Blocks: st.Blocks, Bfree: st.Bfree,
			Bavail: st.Bavail, Files: st.Files, Ffree: st.Ffree, Namelen: st.Namelen,
			Fsid: unix.Fsid{Val: [2]int32{int32(st.Fsid[0]), int32(st.Fsid[1])}}}
	} else if err := unix.Fstatfs(fd, sf); err != nil {
		return err
	} else if hostfs {
		sf.Type = hostfsSuperMagic
	}
	sf.Flags = statfsFlags(r.MountFlags())
	return nil
}

// mountedImage says what file system a mount's Root shows for statfs: the ext image behind
// it (an image root, a ubd mount, or a bind of either), or hostfs (a host directory root, a
// hostfs mount or a bind of one); neither for a tmpfs.
func (k *Kernel) mountedImage(r *Root) (efs *ext4.FS, hostfs bool) {
	m := k.root.mounts.mountOf(r)
	for m != nil {
		b, ok := m.fs.(*bindFS)
		if !ok {
			_, isHost := m.fs.(hostfsFS)
			return m.fs.image(), isHost
		}
		m = b.of
	}
	if img := k.cfg.rootImage; img != nil && img.FS() != nil {
		return img.FS(), false
	}
	return nil, true
}

// Read-only has two levels, as on Linux: a mount's own flag (MNT_READONLY; mount -o
// remount,bind,ro changes only it) and its file system's (the super block's: mounting it
// read-only, or a remount without MS_BIND, which sets the mount's own flag too). Writes below
// a mount need both clear. So a bind of a directory of a read-only hostfs mount stays
// read-only however the bind is remounted, and a file system made read-only is read-only
// through every bind of it at once. The combination is what the kernel's checks read
// (Root.ReadOnly) and what the host's mount of each tree copy carries, all the way down
// (Root.SetReadOnly), so the host refuses a write that the kernel's checks might miss.

// effectiveRO: writes below m are refused (the caller holds t.mu).
func (t *mountTable) effectiveRO(m *mountPoint) bool { return m.own || t.superRO(m) }

// ownRO is the mount's own read-only flag.
func (t *mountTable) ownRO(m *mountPoint) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return m.own
}

// fsOwner is the mount whose file system m shows: m itself, or for a bind the mount its
// source lies in, followed to the end (nil: the machine's root).
func fsOwner(m *mountPoint) *mountPoint {
	for {
		b, ok := m.fs.(*bindFS)
		if !ok {
			return m
		}
		if b.of == nil {
			return nil
		}
		m = b.of
	}
}

// reconcileRO gives every mount of the table the read-only state its two flags make, on the
// host and for the kernel's checks (the caller holds t.mu). It stops at the first mount
// that cannot follow: EBUSY, a file open for writing below one that is to become read-only.
func (t *mountTable) reconcileRO() error {
	for _, x := range t.list {
		if x.root == nil {
			continue // the kernel's own file systems
		}
		if want := t.effectiveRO(x); x.root.ReadOnly() != want {
			if err := x.root.SetReadOnly(want); err != nil {
				return err
			}
		}
	}
	return nil
}

// remountRO is the read-only part of a remount of m (the caller holds t.mu): with MS_BIND
// the mount's own flag, otherwise also the flag of the file system it shows, which every
// bind of it follows. A file system becomes read-only after every mount showing it refuses
// writes (then an image is written back), and writable before they accept them. On an
// error everything is as it was.
func (k *Kernel) remountRO(m *mountPoint, ro, bind bool) error {
	t := k.root.mounts
	var fsm *mountPoint
	if !bind {
		fsm = fsOwner(m) // nil for a bind of the machine's root: its own flag only
	}
	oldOwn, oldRO := m.own, m.ro
	fsWas := fsm != nil && fsm.ro
	undo := func(err error) error {
		m.own, m.ro = oldOwn, oldRO
		if fsm != nil {
			fsm.ro = fsWas
		}
		t.reconcileRO() // back to what was: only mounts that were read-only become so again
		return err
	}
	if fsm != nil && !ro && fsWas {
		if err := fsm.fs.remount(k, fsm, false); err != nil {
			return err
		}
	}
	m.own = ro
	if _, isBind := m.fs.(*bindFS); isBind {
		m.ro = ro
	}
	if fsm != nil {
		fsm.ro = ro
	}
	if err := t.reconcileRO(); err != nil {
		return undo(err)
	}
	if fsm != nil && ro && !fsWas {
		if err := fsm.fs.remount(k, fsm, true); err != nil {
			return undo(err)
		}
	}
	return nil
}

// rootRemounted makes the binds of the machine's root follow its read-only flag, which is
// their file system's.
func (k *Kernel) rootRemounted() error {
	t := k.root.mounts
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reconcileRO()
}
