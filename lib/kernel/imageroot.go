package kernel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/shadow"
	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// Image roots (root=/dev/ubdX with ubdN=IMAGE or ubdN=COW,BASE): the device is opened by
// lib/ubd (COW files, locks, messages as UML), its ext2/3/4 file system mounted by lib/ext4
// and unpacked into a directory under $TMPDIR (lib/shadow), which the guest then runs on
// like any directory root, with native I/O. What the guest changes goes back into the image
// at sync(2), syncfs(2), fsync(2)/fdatasync(2) of a file, and when the machine stops.
// Until then a crash of `linux` loses it (the image itself stays consistent: lib/ext4
// writes ordered and marks it for e2fsck while mounted).

type rootImage struct {
	unit int
	spec *cmdline.UBD
	dev  *ubd.Device
	tree *shadow.Tree
	dir  string

	mu      sync.Mutex
	fs      *ext4.FS  // replaced when the guest wrote the device while the root was read-only
	bd      *blockDev // the root's own /dev/ubdX (rootdev.go)
	written bool      // the guest opened the device for writing since the root became read-only
	hostDev uint64    // the host device the tree lies on (guestDev)
}

// FS returns the image's file system as the kernel has it mounted now.
func (r *rootImage) FS() *ext4.FS {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fs
}

func (r *rootImage) open(syncAll bool, log io.Writer, readOnly bool) error {
	d, err := ubd.Open(r.spec, syncAll, log)
	if err != nil {
		return err
	}
	fs, err := ext4.Mount(d, ext4.Options{ReadOnly: d.ReadOnly()})
	if err != nil {
		d.Close()
		return fmt.Errorf("mounting %s: %w", r.spec.File, err)
	}
	// r.dir is the work directory's empty "root" (jail.go), which the kernel's Landlock
	// rules name.
	tree, err := shadow.Unpack(fs, r.dir)
	if err != nil {
		fs.Unmount()
		d.Close()
		return fmt.Errorf("reading %s: %w", r.spec.File, err)
	}
	r.dev, r.fs, r.tree = d, fs, tree
	var st unix.Stat_t
	if unix.Stat(tree.Dir, &st) == nil {
		r.hostDev = st.Dev
	}
	if readOnly {
		// mounted read-only, as Linux mounts a root without "rw": clean on the device
		// until the guest remounts it read-write, so that the guest's fsck of its root
		// device finds it so (rootdev.go)
		if err := fs.SetClean(true); err != nil {
			r.close()
			return fmt.Errorf("mounting %s: %w", r.spec.File, err)
		}
	}
	return nil
}

// close writes everything back and releases the image.
func (r *rootImage) close() error {
	var err error
	if !r.dev.ReadOnly() {
		err = r.tree.WriteBack()
	}
	return errors.Join(err, r.FS().Unmount(), r.dev.Close())
}

// sysSync: sync(2) and syncfs(2) also write the image root back.
func sysSync(c *Call) result {
	if t := c.k.cfg.Shadow; t != nil && !c.k.cfg.rootImage.dev.ReadOnly() {
		if err := t.WriteBack(); err != nil {
			c.k.printkImage(err)
			return errno(unix.EIO)
		}
	}
	if err := c.k.syncMounts(); err != nil {
		c.k.printkImage(err)
		return errno(unix.EIO)
	}
	for _, b := range c.k.cfg.UBDs {
		if err := b.flushParts(false); err != nil {
			return errno(unix.EIO)
		}
	}
	return cont()
}

// sysFsync: fsync(2) and fdatasync(2) of a file of the image root write it back first.
func sysFsync(c *Call) result {
	t := c.k.cfg.Shadow
	if (t == nil || c.k.cfg.rootImage.dev.ReadOnly()) && !c.k.hasStandIns() {
		return cont() // nothing of the kernel's to write back: the common case stays cheap
	}
	fd, err := c.guestFD(c.Int(0))
	if err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		// a pipe, a socket, a FIFO (opening which would block), a directory: nothing of
		// the kernel's to write back
		unix.Close(fd)
		return cont()
	}
	{
		// a partition device's stand-in (partition.go)
		for _, b := range c.k.cfg.UBDs {
			if n, s := b.partOf(&st); n != 0 {
				unix.Close(fd)
				b.pt.mu.Lock()
				err := s.flush()
				b.pt.mu.Unlock()
				if err != nil {
					return errno(unix.EIO)
				}
				return cont()
			}
		}
	}
	if t == nil || c.k.cfg.rootImage.dev.ReadOnly() {
		unix.Close(fd)
		return cont()
	}
	f, err := os.OpenFile(selfFD(fd), os.O_RDONLY|unix.O_NONBLOCK, 0)
	unix.Close(fd)
	if err != nil {
		return cont() // not a file the kernel can read (a pipe, a socket): nothing to write back
	}
	defer f.Close()
	done, err := t.WriteBackFile(f)
	if err == nil && !done {
		err = t.WriteBack() // a file the image does not have yet: its directories too
	}
	if err != nil {
		c.k.printkImage(err)
		return errno(unix.EIO)
	}
	return cont()
}

func (k *Kernel) printkImage(err error) {
	fmt.Fprintf(k.cfg.Stderr, "linux: writing the root image back: %v\n", err)
}
