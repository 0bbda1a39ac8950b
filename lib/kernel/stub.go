package kernel

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The launcher ("stub"): `linux` re-executes itself with argv[0] == stubArg0 to become the
// guest's init. The kernel starts it in new user, PID, mount, IPC and network namespaces
// (SysProcAttr): the stub is PID 1 of the guest's PID namespace, so guest PIDs, reparenting
// of orphans to init, wait and signals are Linux's own, natively. On its one locked thread it
//
//  1. chroots into the guest's tree: fd 4 is the kernel's detached copy of the root's mount
//     (jail.go, vfs.go), so the host kernel itself keeps every guest process below it;
//  2. makes a procfs instance of the new PID namespace (fsopen/fsmount, attached nowhere)
//     from which the kernel generates the guest's /proc in guest numbers;
//  3. adds a Landlock layer for the guest (it may run and read only files of its trees, fd
//     5's mount slots included, and signal or reach abstract sockets of no process outside
//     the guest);
//  4. maps the shim, which must be in place before the first trapped call (its own execve);
//  5. sets PR_SET_NO_NEW_PRIVS and installs the seccomp filter on its own thread (no TSYNC:
//     the filter and the listener follow the thread through execve, the stub's other Go
//     threads die there);
//  6. hands the listener's and the procfs's fd numbers to the kernel over fd 3 and waits
//     for the kernel, which takes both with pidfd_getfd, to say go;
//  7. closes every fd above 2, so init inherits only the console, and calls execve on the
//     init candidates.
//
// Those execve calls are guest system calls like any other: the kernel resolves the path
// inside the guest root.

const stubArg0 = "[gouml-init]"

// IsStub reports whether this process was started as one of linux's helpers: the launcher,
// the id-mapping helper (jail.go) or the procfs helper (procfshelper.go).
func IsStub() bool {
	return len(os.Args) > 0 && (os.Args[0] == stubArg0 || os.Args[0] == idnsArg0 || os.Args[0] == procfsArg0)
}

// StubMain is the launcher, or the helper os.Args[0] names. The launcher's argv: stubArg0,
// candidate init paths..., "--", extra init args; the environment is init's. It never
// returns.
func StubMain() {
	switch os.Args[0] {
	case idnsArg0:
		idnsMain()
	case procfsArg0:
		procfsHelperMain()
	}
	runtime.LockOSThread() // the filter is per thread: install and exec on the same one
	var candidates, extra []string
	args := os.Args[1:]
	for i, a := range args {
		if a == "--" {
			extra = args[i+1:]
			break
		}
		candidates = append(candidates, a)
	}
	debug := os.Getenv("GOUML_DEBUG_FILTER") == "1"
	mem, _ := strconv.ParseUint(os.Getenv(stubMemEnv), 10, 64)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GOUML_DEBUG_FILTER=") && !strings.HasPrefix(e, stubTreesEnv+"=") && !strings.HasPrefix(e, stubMemEnv+"=") && !strings.HasPrefix(e, stubDevptsEnv+"=") {
			env = append(env, e) // the launcher's own settings are not init's business
		}
	}
	// Everything the stub needs after the filter is in place is prepared now, so that
	// between installing the filter and execve it makes only raw passthrough calls.
	type execArgs struct {
		path       *byte
		argv, envp []*byte
	}
	mk := func(ss []string) []*byte {
		out := make([]*byte, 0, len(ss)+1)
		for _, s := range ss {
			p, _ := syscall.BytePtrFromString(s)
			out = append(out, p)
		}
		return append(out, nil)
	}
	envp := mk(env)
	var execs []execArgs
	for _, c := range candidates {
		p, _ := syscall.BytePtrFromString(c)
		execs = append(execs, execArgs{path: p, argv: mk(append([]string{c}, extra...)), envp: envp})
	}
	prog := buildFilter(debug, mem, fastStatHost())
	// Linux starts init with umask 022 (the kernel process itself runs with 0).
	syscall.Umask(0o022)
	if err := unix.Fchdir(stubRootFD); err != nil {
		stubFail("entering the guest's root: " + err.Error())
	}
	if err := unix.Chroot("."); err != nil {
		stubFail("chroot into the guest's root: " + err.Error())
	}
	if err := unix.Chdir("/"); err != nil {
		stubFail("chdir: " + err.Error())
	}
	pfd, err := guestProcfs()
	if err != nil {
		stubFail("procfs for the guest's PID namespace: " + err.Error())
	}
	if err := guestLandlock(); err != nil {
		stubFail("Landlock for the guest: " + err.Error())
	}
	// The shim answers the launcher's own trapped calls (its execve of init) as it will
	// the guest's (sigsys.go).
	if err := mapShimSelf(); err != nil {
		stubFail("mapping the shim: " + err.Error())
	}
	lfd, err := installFilter(prog)
	if err != nil {
		stubFail(err.Error())
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(lfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(pfd))
	unix.RawSyscall(unix.SYS_WRITE, 3, uintptr(unsafe.Pointer(&b[0])), 8)
	unix.RawSyscall(unix.SYS_READ, 3, uintptr(unsafe.Pointer(&b[0])), 1)
	// Only the console fds 0-2 reach init: the control socket, the listener and any fd the
	// host left open without close-on-exec when it started linux all go.
	unix.RawSyscall(unix.SYS_CLOSE_RANGE, 3, ^uintptr(0), 0)
	var last syscall.Errno
	for _, e := range execs {
		_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(e.path)),
			uintptr(unsafe.Pointer(&e.argv[0])), uintptr(unsafe.Pointer(&e.envp[0])))
		last = errno
		if len(execs) == 1 {
			// init= given: the kernel panics with the error, as Linux does.
			msg := "Kernel panic - not syncing: Requested init " + candidates[0] + " failed (error -" + itoa(int(errno)) + ").\n"
			unix.RawSyscall(unix.SYS_WRITE, 2, uintptr(unsafe.Pointer(unsafe.StringData(msg))), uintptr(len(msg)))
			unix.RawSyscall(unix.SYS_EXIT_GROUP, stubNoInit, 0, 0)
		}
	}
	_ = last
	msg := "Kernel panic - not syncing: No working init found.  Try passing init= option to kernel.\n"
	unix.RawSyscall(unix.SYS_WRITE, 2, uintptr(unsafe.Pointer(unsafe.StringData(msg))), uintptr(len(msg)))
	unix.RawSyscall(unix.SYS_EXIT_GROUP, stubNoInit, 0, 0)
}

// guestProcfs makes a detached procfs mount of the stub's (the guest's) PID namespace.
func guestProcfs() (int, error) {
	fsfd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("fsconfig: %w", err)
	}
	m, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC|unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return -1, fmt.Errorf("fsmount: %w", err)
	}
	return m, nil
}

// The launcher's fds besides the console: 3 is its control socket to the kernel.
const (
	stubRootFD  = 4 // the detached copy of the root's mount
	stubSlotsFD = 5 // the work directory's ubd mount slots
)

// guestLandlock adds the guest's layer to the Landlock domain the launcher inherited from
// the kernel: guest processes may read and run files of their trees (the host loads an
// executable's interpreter natively) and nothing else by path (every other access is the
// kernel's, through fds it hands over), and may send signals to, or reach abstract sockets
// of, guest processes only. A host without Landlock (nolandlock) gets no layer.
func guestLandlock() error {
	abi, err := landlockABI()
	if abi == 0 {
		_ = err
		return nil
	}
	rs, err := newRuleset(abi, llScopes)
	if err != nil {
		return err
	}
	defer rs.close()
	access := uint64(llExec | unix.LANDLOCK_ACCESS_FS_READ_DIR)
	if err := rs.allowFD(stubRootFD, access); err != nil {
		return err
	}
	for i := 0; i < mountSlots; i++ {
		fd, err := unix.Openat(stubSlotsFD, slotName(i), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = rs.allowFD(fd, access)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	// hostfs directories and tmpfs instances (trees.go)
	n, _ := strconv.Atoi(os.Getenv(stubTreesEnv))
	for fd := stubTreesFD; fd < stubTreesFD+n; fd++ {
		if err := rs.allowFD(fd, access); err != nil {
			return err
		}
	}
	if os.Getenv(stubDevptsEnv) == "1" {
		// the guest's devpts instance: the host opens a master's peer (TIOCGPTPEER) in the
		// caller's domain; no other path reaches the instance natively
		pts := uint64(unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
			unix.LANDLOCK_ACCESS_FS_IOCTL_DEV | unix.LANDLOCK_ACCESS_FS_READ_DIR)
		if err := rs.allowFD(stubTreesFD+n, pts); err != nil {
			return err
		}
	}
	return rs.restrictThread()
}

// stubNoInit is the stub's exit status when no init could be executed.
const stubNoInit = 125

func stubFail(msg string) {
	os.Stderr.WriteString("linux: launcher: " + msg + "\n")
	os.Exit(stubNoInit + 1)
}
