package kernel

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/shadow"
	"golang.org/x/sys/unix"
)

// The types of file system a mount of the table holds, behind one interface. A mount point
// (mount.go) is a place: where it is, the Root its paths resolve in, read-only or not. What
// depends on the type is the type's: its name and device in /proc/mounts and mountinfo,
// what a remount does, writing changes back, what is given back at umount, which block
// device backs it, the image statfs reads, and whether files show host owners. The
// kernel's own file systems (procfs, sysfs, devtmpfs, devpts, mqueue) are entries of the
// same table with no tree of their own (kernelfs.go); a mount's flags are mountflags.go's.
type fileSystem interface {
	// typeName is the type /proc/mounts shows.
	typeName() string
	// devNum is mountinfo's major:minor ("" for an anonymous file system: the table numbers it).
	devNum() string
	// remount makes the file system read-only or read-write: after every mount showing it
	// has become read-only, before any becomes writable (the caller sets their flags:
	// mountflags.go's remountRO).
	remount(k *Kernel, m *mountPoint, ro bool) error
	// sync writes the changes back to what backs the file system (a no-op for most).
	sync(m *mountPoint) error
	// release ends the file system at umount (after its Root is closed): written back, and
	// its backing given back for the next mount.
	release(k *Kernel, m *mountPoint) error
	// image is the ext file system behind it (statfs reads its counts), nil for none.
	image() *ext4.FS
	// backedBy: the block device (and partition) is this file system's.
	backedBy(b *blockDev, part int) bool
	// hostOwners: files show their host owners (hostfs), not guest owners.
	hostOwners() bool
	// reconfigure applies a remount's data (the file system's options, not the mount's
	// flags); ignored options are not an error, as on Linux.
	reconfigure(k *Kernel, m *mountPoint, data string) error
}

// plainFS is what the types without a backing of their own share: a remount is the tree
// copies' mount flags alone, and nothing is written back.
type plainFS struct{}

func (plainFS) devNum() string                                  { return "" }
func (plainFS) sync(*mountPoint) error                          { return nil }
func (plainFS) image() *ext4.FS                                 { return nil }
func (plainFS) backedBy(*blockDev, int) bool                    { return false }
func (plainFS) hostOwners() bool                                { return false }
func (plainFS) release(*Kernel, *mountPoint) error              { return nil }
func (plainFS) remount(k *Kernel, m *mountPoint, ro bool) error { return nil }
func (plainFS) reconfigure(*Kernel, *mountPoint, string) error  { return nil }

// imageFS is a ubd device's ext2/3/4 file system, unpacked into a mount slot (lib/shadow).
type imageFS struct {
	kind string // ext2, ext3, ext4
	dev  *blockDev
	part int // partition number, 0 for the whole disk
	fs   *ext4.FS
	tree *shadow.Tree
	slot int // the work directory's mount slot it is unpacked in
}

func (f *imageFS) typeName() string { return f.kind }
func (f *imageFS) devNum() string {
	return strconv.Itoa(98) + ":" + strconv.Itoa(f.dev.unit*16+f.part)
}
func (f *imageFS) image() *ext4.FS { return f.fs }
func (f *imageFS) backedBy(b *blockDev, part int) bool {
	return f.dev == b && f.part == part
}
func (f *imageFS) hostOwners() bool { return false }

// reconfigure: an ext file system's options (errors=, commit= …) change nothing here.
func (f *imageFS) reconfigure(*Kernel, *mountPoint, string) error { return nil }

func (f *imageFS) sync(m *mountPoint) error {
	if m.ro {
		return nil
	}
	return f.tree.WriteBack()
}

func (f *imageFS) release(k *Kernel, m *mountPoint) error {
	err := f.sync(m)
	err = errors.Join(err, f.fs.Unmount())
	k.freeSlot(f.slot)
	return err
}

// remount between read-only and read-write: written back once no write can start, and
// mounted again for writing (lib/ext4) before it becomes writable.
func (f *imageFS) remount(k *Kernel, m *mountPoint, ro bool) error {
	if ro {
		if err := f.tree.WriteBack(); err != nil {
			return unix.EIO
		}
		return nil
	}
	if f.dev.dev.ReadOnly() {
		return unix.EACCES // a read-only device, as Linux says it
	}
	var dev ext4.Device = f.dev.dev
	if f.part != 0 {
		dev = f.dev.dev.Partition(f.part)
	}
	if err := f.fs.Unmount(); err != nil {
		return unix.EIO
	}
	efs, err := ext4.Mount(dev, ext4.Options{})
	if err != nil {
		return unix.EIO
	}
	f.fs = efs
	f.tree.SetFS(efs)
	return nil
}

// tmpfsFS is one of the kernel's tmpfs instances (tmpfs.go).
type tmpfsFS struct {
	plainFS
	instance int    // Config.trees.tmpfs index
	mode     uint32 // its root's mode as mounted (mode=)
}

func (f *tmpfsFS) typeName() string { return "tmpfs" }
func (f *tmpfsFS) release(k *Kernel, m *mountPoint) error {
	k.freeTmpfs(f.instance)
	return nil
}

// reconfigure: a remount's size= (or nr_blocks=) resizes the instance, as shmem_reconfigure
// does; the other options (mode= …) stay as they were.
func (f *tmpfsFS) reconfigure(k *Kernel, m *mountPoint, data string) error {
	sized := false
	for _, kv := range strings.Split(data, ",") {
		if strings.HasPrefix(kv, "size=") || strings.HasPrefix(kv, "nr_blocks=") {
			sized = true
		}
	}
	o, err := parseTmpfsOptions(data, k.cfg.Mem)
	if err != nil || !sized {
		return err
	}
	if err := k.resizeTmpfs(k.cfg.trees.tmpfs[f.instance], o.size); err != nil {
		return err
	}
	m.opts = tmpfsOptString(o.size, f.mode)
	return nil
}

// hostfsFS is a host directory the command line gives the machine (hostfs.go).
type hostfsFS struct{ plainFS }

func (hostfsFS) typeName() string { return "hostfs" }
func (hostfsFS) hostOwners() bool { return true }

// bindFS is a bind mount of a directory of the guest's trees (bind.go): it shows the file
// system its source lies in, which stays mounted while the bind does.
type bindFS struct {
	plainFS
	of   *mountPoint // the mount the source lies in (nil: the machine's root)
	top  *Root       // the machine's root (whose read-only flag a bind of it shows)
	kind string      // that file system's type
}

func (f *bindFS) typeName() string { return f.kind }
func (f *bindFS) devNum() string {
	if f.of != nil {
		return f.of.fs.devNum()
	}
	return ""
}
func (f *bindFS) hostOwners() bool { return f.of != nil && f.of.fs.hostOwners() }
