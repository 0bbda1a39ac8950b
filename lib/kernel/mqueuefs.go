package kernel

import (
	"encoding/binary"
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// The guest's mqueue file system: `mount -t mqueue mqueue /dev/mqueue` (systemd and some init
// scripts make it) lists the guest's POSIX message queues as files, `cat` of one shows its
// QSIZE line, creating a file makes a queue and removing one unlinks it. The queues live in
// the guest's IPC namespace, whose mqueue instance no Landlock rule of the kernel can name:
// the procfs helper makes the instance in that namespace and opens its root and queues for
// the kernel (procfshelper.go), and creating and unlinking go through its mq_open and
// mq_unlink. Like devpts, the file system can be mounted on /dev/mqueue only.

// errMqueueUnlink tells unlink that the name is a queue of the mounted mqueue file system.
var errMqueueUnlink = errors.New("a queue of the mqueue file system")

// mqueueAt is where the guest may mount its mqueue file system.
const mqueueAt = "/dev/mqueue"

// mqueuePath reports whether a name under /dev is in the mounted mqueue file system.
func (k *Kernel) mqueuePath(rest string) bool {
	return k.mqMounted.Load() && (rest == "mqueue" || strings.HasPrefix(rest, "mqueue/"))
}

// mountMqueue mounts the guest's mqueue file system on /dev/mqueue (a directory of the root).
func (k *Kernel) mountMqueue(c *Call, at string) error {
	if at != mqueueAt {
		return unix.ENODEV // elsewhere: not supported (linux(1))
	}
	if k.procHelper == nil {
		return unix.ENODEV
	}
	if k.mqMounted.Load() {
		return unix.EBUSY
	}
	if err := c.root().isDir(at); err != nil {
		return err
	}
	t := k.root.mounts
	if err := t.add(k.newKernelMount("mqueue", at)); err != nil {
		return err
	}
	k.mqMounted.Store(true)
	t.mu.Lock()
	t.updateView()
	t.mu.Unlock()
	return nil
}

// openMqueue opens a name of the mounted mqueue file system (sub: after /dev/mqueue) with
// open(2)'s flags and mode (for O_CREAT).
func (k *Kernel) openMqueue(c *Call, sub string, flags int, mode uint32) (int, error) {
	name := strings.Trim(sub, "/")
	switch {
	case name == "":
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_CREAT != 0 {
			return -1, unix.EISDIR
		}
		return k.procHelper.call(mqfsOpen, "d", -1)
	case strings.Contains(name, "/"):
		return -1, unix.ENOTDIR // queues only: the file system has no subdirectories
	case !validName(name):
		return -1, unix.ENOENT
	case flags&unix.O_DIRECTORY != 0 && flags&unix.O_CREAT == 0:
		fd, err := k.procHelper.call(mqfsOpen, "p"+name, -1)
		if err == nil {
			unix.Close(fd)
			err = unix.ENOTDIR
		}
		return -1, err
	case flags&unix.O_PATH != 0:
		return k.procHelper.call(mqfsOpen, "p"+name, -1)
	}
	// an open of a queue's file is an mq_open of the queue (Linux's mqueue file system
	// makes a queue for a file created in it)
	req := make([]byte, 4+4+1+64)
	binary.LittleEndian.PutUint32(req[0:], uint32(flags&(unix.O_ACCMODE|unix.O_CREAT|unix.O_EXCL|unix.O_NONBLOCK)))
	binary.LittleEndian.PutUint32(req[4:], mode&^procUmask(c.Tid)&0o777)
	return k.procHelper.call(mqOpen, string(req)+name, -1)
}

// helperMqfs is the helper's mqueue instance of the guest's IPC namespace (-1: none yet).
var helperMqfs = -1

// mqfsRequest is the helper's side of mqfsOpen.
func mqfsRequest(body []byte) (unix.Errno, int) {
	if len(body) < 1 {
		return unix.EINVAL, -1
	}
	kind, name := body[0], string(body[1:])
	if helperMqfs < 0 {
		fs, err := unix.Fsopen("mqueue", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return errnoOf(err), -1
		}
		err = unix.FsconfigCreate(fs)
		if err == nil {
			helperMqfs, err = unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		}
		unix.Close(fs)
		if err != nil {
			helperMqfs = -1
			return errnoOf(err), -1
		}
	}
	var fd int
	var err error
	switch {
	case kind == 'd' && name == "":
		fd, err = unix.Openat(helperMqfs, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	case kind == 'p' && validName(name):
		fd, err = unix.Openat(helperMqfs, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	case kind == 'r' && validName(name):
		fd, err = unix.Openat(helperMqfs, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	default:
		return unix.EINVAL, -1
	}
	if err != nil {
		return errnoOf(err), -1
	}
	return 0, fd
}
