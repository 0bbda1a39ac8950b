package kernel

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp user-notification ABI, which x/sys/unix does not define (linux/seccomp.h).

type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompNotifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

const (
	ioctlNotifRecv     = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif)
	ioctlNotifSend     = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp)
	ioctlNotifIDValid  = 0x40082102 // _IOW('!', 2, __u64)
	ioctlNotifAddfd    = 0x40182103 // _IOW('!', 3, struct seccomp_notif_addfd)
	ioctlNotifSetFlags = 0x40082104 // _IOW('!', 4, __u64)

	notifFlagContinue = 1 // SECCOMP_USER_NOTIF_FLAG_CONTINUE

	filterFlagWaitKillableRecv = 1 << 5 // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19)
	notifFDSyncWakeUp          = 1      // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
)

func init() {
	// The ioctl numbers encode the struct sizes; a layout mistake would be silent otherwise.
	if unsafe.Sizeof(seccompNotif{}) != 80 || unsafe.Sizeof(seccompNotifResp{}) != 24 || unsafe.Sizeof(seccompNotifAddfd{}) != 24 {
		panic("kernel: seccomp notification struct sizes")
	}
}

func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if e == unix.EINTR {
			continue // Go's preemption signal; every request here is safe to repeat
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func notifRecv(fd int, n *seccompNotif) error {
	*n = seccompNotif{}
	return ioctlPtr(fd, ioctlNotifRecv, unsafe.Pointer(n))
}

func notifSend(fd int, r *seccompNotifResp) error {
	return ioctlPtr(fd, ioctlNotifSend, unsafe.Pointer(r))
}

// notifAddfd installs srcfd in the trapped process and returns the guest's fd number. It is
// used WITHOUT SECCOMP_ADDFD_FLAG_SEND: if Go's SIGURG interrupts an ADDFD+SEND ioctl, the
// restarted call finds the notification answered and the guest's open returns 0 with no fd
// (measured; docs/architecture.md, "Mechanisms by cost"). Answering with a separate NOTIF_SEND
// is immune.
func notifAddfd(fd int, id uint64, srcfd int, cloexec bool) (int, error) {
	a := seccompNotifAddfd{ID: id, Srcfd: uint32(srcfd)}
	if cloexec {
		a.NewfdFlags = unix.O_CLOEXEC
	}
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifAddfd, uintptr(unsafe.Pointer(&a)))
		if e == unix.EINTR {
			continue // an interrupted ADDFD did not install anything
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

func notifSetSyncWakeUp(fd int) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifSetFlags, notifFDSyncWakeUp)
	if e != 0 {
		return e
	}
	return nil
}

// installFilter loads prog for the calling thread only (no TSYNC) and returns the listener.
func installFilter(prog []unix.SockFilter) (int, error) {
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return -1, fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", e)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// WAIT_KILLABLE_RECV: once the kernel has received a call, only a fatal signal can end
	// the caller's wait. Otherwise a signal arriving after the kernel acted (made a
	// directory, installed an fd) but before it answered would make the guest restart the
	// call and see it fail (EEXIST) or get a second fd. Handlers that may block for long
	// watch for signals themselves (interruptible, notify.go).
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|filterFlagWaitKillableRecv, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return -1, fmt.Errorf("seccomp: %w", e)
	}
	return int(r), nil
}

var errGone = errors.New("guest thread gone")
