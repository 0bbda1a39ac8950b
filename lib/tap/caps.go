package tap

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capNetAdmin is the one capability uml_net keeps.
const capNetAdmin = unix.CAP_NET_ADMIN

// DropPrivileges reduces every thread of the process to at most CAP_NET_ADMIN, in one capset
// per thread, clears the ambient set and sets no_new_privs. Linux capabilities are per
// thread and a Go program has several threads, so this goes through
// syscall.AllThreadsSyscall; that refuses to work in a binary linked with cgo, and then
// DropPrivileges fails rather than leaving threads privileged.
//
// A process that never had CAP_NET_ADMIN keeps nothing. The effective uid is not changed:
// a setuid-root uml_net stays euid 0 so that it can open a root-only /dev/net/tun, but
// without CAP_DAC_OVERRIDE, CAP_SYS_ADMIN or any other capability root normally carries.
func DropPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	keep := data[capNetAdmin/32].Permitted & (1 << (capNetAdmin % 32))
	var nd [2]unix.CapUserData
	nd[capNetAdmin/32].Permitted = keep
	nd[capNetAdmin/32].Effective = keep
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET,
		uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&nd[0])), 0); e != 0 {
		return fmt.Errorf("capset on all threads: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT,
		unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("clearing ambient capabilities: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("setting no_new_privs: %w", e)
	}
	return nil
}
