// Package seccomp is the seccomp user-notification ABI the kernel's dispatcher uses: the
// structures and ioctls of linux/seccomp.h that x/sys/unix does not define, and installing a
// filter with a listener. Mechanism only: it knows nothing of the system calls' meaning.
package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp user-notification ABI, which x/sys/unix does not define (linux/seccomp.h).

// Data is struct seccomp_data: the call as the filter and the listener see it.
type Data struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// Notif is struct seccomp_notif: one trapped call.
type Notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  Data
}

// NotifResp is struct seccomp_notif_resp: the answer to one.
type NotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type notifAddfdArg struct {
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

	// FlagContinue answers "run the call natively" (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
	FlagContinue = 1

	filterFlagWaitKillableRecv = 1 << 5 // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19)
	notifFDSyncWakeUp          = 1      // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
)

func init() {
	// The ioctl numbers encode the struct sizes; a layout mistake would be silent otherwise.
	if unsafe.Sizeof(Notif{}) != 80 || unsafe.Sizeof(NotifResp{}) != 24 || unsafe.Sizeof(notifAddfdArg{}) != 24 {
		panic("seccomp: notification struct sizes")
	}
}

// ioctlPtr makes a request that can wait (NOTIF_RECV) through the Go scheduler's syscall
// path, so that the rest of the program runs while it waits.
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

// ioctlPtrRaw makes a request that never waits (NOTIF_SEND, NOTIF_ADDFD: they complete or
// fail at once) as a raw system call, without the scheduler's bookkeeping around it, which
// on the trap path costs about as much as the call.
func ioctlPtrRaw(fd int, req uintptr, p unsafe.Pointer) (uintptr, error) {
	for {
		r, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return r, nil
	}
}

// Recv waits for the next trapped call.
func Recv(fd int, n *Notif) error {
	*n = Notif{}
	return ioctlPtr(fd, ioctlNotifRecv, unsafe.Pointer(n))
}

// Send answers a trapped call.
func Send(fd int, r *NotifResp) error {
	_, err := ioctlPtrRaw(fd, ioctlNotifSend, unsafe.Pointer(r))
	return err
}

// Addfd installs srcfd in the trapped process and returns the guest's fd number. It is
// used WITHOUT SECCOMP_ADDFD_FLAG_SEND: if Go's SIGURG interrupts an ADDFD+SEND ioctl, the
// restarted call finds the notification answered and the guest's open returns 0 with no fd
// (measured; docs/architecture.md, "Mechanisms by cost"). Answering with a separate NOTIF_SEND
// is immune.
func Addfd(fd int, id uint64, srcfd int, cloexec bool) (int, error) {
	a := notifAddfdArg{ID: id, Srcfd: uint32(srcfd)}
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

// SetSyncWakeUp asks the host to wake the listener on the caller's CPU (a synchronous
// hand-off, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP).
func SetSyncWakeUp(fd int) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioctlNotifSetFlags, notifFDSyncWakeUp)
	if e != 0 {
		return e
	}
	return nil
}

// Install loads prog for the calling thread only (no TSYNC) and returns the listener.
func Install(prog []unix.SockFilter) (int, error) {
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
