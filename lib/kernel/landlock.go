package kernel

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Landlock, used raw: three system calls and two small structures. The kernel process
// restricts itself to the files it serves (jail.go), and the launcher adds a layer for the
// guest (stub.go). A Landlock domain belongs to the thread that made it and to the threads
// and processes it creates afterwards; there is no way to give one domain to the running
// threads of a Go program (LANDLOCK_RESTRICT_SELF_TSYNC is newer than the kernels we run
// on), and sibling domains cannot ptrace or signal each other's children. So a domain is
// always made on one locked thread just before that thread calls execve: the new program
// starts single-threaded inside it.

// File-system rights by the Landlock ABI that brought them.
const (
	llFSv1 = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	llFSv2 = unix.LANDLOCK_ACCESS_FS_REFER
	llFSv3 = unix.LANDLOCK_ACCESS_FS_TRUNCATE
	llFSv5 = unix.LANDLOCK_ACCESS_FS_IOCTL_DEV

	// llFileRights are the rights that mean something on a file (a rule on a file may
	// only grant these).
	llFileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV

	llAll  = llFSv1 | llFSv2 | llFSv3 | llFSv5
	llRead = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	llRW   = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	llExec = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE

	// Scopes (ABI 6): no signals to, and no connections to abstract Unix sockets of,
	// processes outside the domain. The kernel itself keeps the abstract sockets: it
	// answers mconsole clients, which may be bound to abstract names.
	llScopes       = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
	llKernelScopes = unix.LANDLOCK_SCOPE_SIGNAL
)

// landlockABI returns the host's Landlock ABI version (0 = no Landlock) and why it has none.
func landlockABI() (int, error) {
	v, _, e := syscall.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		switch e {
		case unix.ENOSYS:
			return 0, errors.New("the host kernel has no Landlock (CONFIG_SECURITY_LANDLOCK)")
		case unix.EOPNOTSUPP:
			//lint:ignore ST1005 Landlock is a name
			return 0, errors.New("Landlock is disabled on the host (add landlock to the lsm= boot parameter)")
		}
		return 0, e
	}
	return int(v), nil
}

// llRuleset is a Landlock ruleset being built.
type llRuleset struct {
	fd      int
	abi     int
	handled uint64 // file-system rights the ruleset restricts
}

// newRuleset makes a ruleset that handles every file-system right this host knows of, and
// the scopes asked for that it knows of.
func newRuleset(abi int, scopes uint64) (*llRuleset, error) {
	handled := uint64(llFSv1)
	if abi >= 2 {
		handled |= llFSv2
	}
	if abi >= 3 {
		handled |= llFSv3
	}
	if abi >= 5 {
		handled |= llFSv5
	}
	var scoped uint64
	if abi >= 6 {
		scoped = scopes
	}
	// struct landlock_ruleset_attr up to scoped (ABI 6): older hosts take the prefix.
	attr := [3]uint64{handled, 0, scoped}
	size := uintptr(24)
	if abi < 6 {
		size = 16
	}
	if abi < 4 {
		size = 8
	}
	fd, _, e := syscall.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr[0])), size, 0)
	if e != 0 {
		return nil, fmt.Errorf("landlock_create_ruleset: %w", e)
	}
	unix.CloseOnExec(int(fd))
	return &llRuleset{fd: int(fd), abi: abi, handled: handled}, nil
}

// allowFD grants access (masked to what the ruleset handles, and to file rights for a
// file) beneath the file or directory fd refers to.
func (r *llRuleset) allowFD(fd int, access uint64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= llFileRights
	}
	access &= r.handled
	if access == 0 {
		return nil
	}
	// struct landlock_path_beneath_attr is packed: u64 allowed_access, s32 parent_fd.
	var b [12]byte
	*(*uint64)(unsafe.Pointer(&b[0])) = access
	*(*int32)(unsafe.Pointer(&b[8])) = int32(fd)
	if _, _, e := syscall.RawSyscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(r.fd), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("landlock_add_rule: %w", e)
	}
	return nil
}

// allow grants access beneath a host path; a path that does not exist is skipped (a host
// without /dev/full, say).
func (r *llRuleset) allow(path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := r.allowFD(fd, access); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// restrictThread puts the calling thread (which must be locked and about to execve) in a
// new domain made of the ruleset. no_new_privs is set first, as Landlock requires of a
// thread without CAP_SYS_ADMIN.
func (r *llRuleset) restrictThread() error {
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", e)
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(r.fd), 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}

func (r *llRuleset) close() { unix.Close(r.fd) }
