package kernel

import (
	"github.com/gouml/gouml/lib/ext4"
	"golang.org/x/sys/unix"
)

// The root's own device. An image root is unpacked by the kernel (imageroot.go), yet the
// guest may still open its /dev/ubdX: Debian's checkroot.sh remounts the root read-only
// and runs fsck on it, and drops to a maintenance shell when the device cannot be opened.
// As on Linux, the device can be read at any time. It can be opened for writing only while
// the root is read-only, when lib/ext4 has written everything and marked the file system
// clean (so e2fsck finds what Linux's would): while the root is read-write the kernel's
// driver owns the image and a writer gets EBUSY. If the guest did open it for writing,
// the image is mounted afresh when the root becomes read-write again, so lib/ext4 never
// writes from a stale picture of it (fsck's repairs are kept; the unpacked tree, which the
// guest's files live in, goes back into the image at the next write-back as usual).

// rootBlockDev is the root image's device as a block device of the guest (nil when the
// root is a host directory).
func (k *Kernel) rootBlockDev() *blockDev {
	r := k.cfg.rootImage
	if r == nil || r.dev == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bd == nil {
		r.bd = &blockDev{unit: r.unit, dev: r.dev, root: r}
	}
	return r.bd
}

// rootDevWrite decides an open of the root's device for writing.
func (k *Kernel) rootDevWrite(r *rootImage) error {
	if !k.root.ReadOnly() {
		return unix.EBUSY
	}
	r.mu.Lock()
	r.written = true
	r.mu.Unlock()
	return nil
}

// remountRoot is mount -o remount of / for an image root: read-only writes everything back
// and marks the image clean; read-write marks it in use again, on a fresh mount of the
// image when the guest may have written the device meanwhile.
func (k *Kernel) remountRoot(ro bool) error {
	r := k.cfg.rootImage
	if r == nil || r.dev.ReadOnly() {
		return k.root.SetReadOnly(ro)
	}
	if ro {
		if err := k.root.SetReadOnly(true); err != nil {
			return err
		}
		if err := r.tree.WriteBack(); err != nil {
			k.printkImage(err)
			return unix.EIO
		}
		if err := r.FS().SetClean(true); err != nil {
			k.printkImage(err)
			return unix.EIO
		}
		return nil
	}
	r.mu.Lock()
	written := r.written
	r.written = false
	r.mu.Unlock()
	if written {
		if err := r.dev.Flush(); err != nil {
			k.printkImage(err)
			return unix.EIO
		}
		fs, err := ext4.Mount(r.dev, ext4.Options{})
		if err != nil {
			k.printkImage(err)
			return unix.EIO
		}
		// the old mount was clean and is dropped unwritten: the device is newer
		r.mu.Lock()
		r.fs = fs
		r.mu.Unlock()
		r.tree.SetFS(fs)
	} else if err := r.FS().SetClean(false); err != nil {
		k.printkImage(err)
		return unix.EIO
	}
	return k.root.SetReadOnly(false)
}

// guestDev gives a file of an image root the root device's number as its st_dev, as Linux
// shows every file of a file system mounted from /dev/ubdX (fsck -M and libmount find the
// mounted root by it; the kernel's unpacked copy lies on some host file system).
func (k *Kernel) guestDev(st *unix.Stat_t) {
	r := k.cfg.rootImage
	if r == nil || r.hostDev == 0 || st.Dev != r.hostDev {
		return
	}
	st.Dev = unix.Mkdev(98, uint32(r.unit*16))
}
