// Package kernel is gouml's Linux: a system-call emulator that runs an unmodified x86-64
// userland as ordinary host processes of an unprivileged user (DESIGN.md, "The emulator").
//
// # Where a system call is implemented
//
// table.go holds THE system call table: one row per call with its disposition and, for
// trapped calls, the handler. Handlers live in one file per family:
//
//	sys_file.go   open/stat/mkdir/rename/link/symlink/chmod/chown/utimes/… (paths)
//	sys_exec.go   execve, execveat, chdir (served at their ptrace stop)
//	sys_proc.go   getpid/getppid/gettid/pgid/sid; kill/tkill/tgkill (ptrace stop)
//	console.go    con0: the guest's console pty and its relay to the host channels
//	sys_cred.go   uids, gids, groups, capabilities
//	sys_misc.go   uname, hostname, sysinfo, reboot
//	sys_net.go    socket, bind, connect, sendto, sendmsg
//	special.go    the kernel's own files: /dev and /proc
//	mconsole.go   the management console's commands (lib/mconsole serves the socket)
//
// The same table generates the seccomp filter (filter.go), drives the dispatcher
// (notify.go) and prints `linux --showconfig`. Adding a system call is one row plus one
// handler. A call with no row fails with ENOSYS; under the `debug` option it is trapped
// instead and logged once.
//
// # Mechanism (chosen by the measurements in DESIGN.md)
//
//   - Passthrough rows run natively: no trap, about 35 ns of filter per call. The filter is a
//     binary search over runs of numbers with the same action, so it stays ~8 comparisons.
//   - Notify rows trap through seccomp user notification (~4 µs): the handler reads the
//     caller's memory with process_vm_readv, acts, and answers with a value, an errno,
//     CONTINUE (run natively: only for calls whose checked arguments are all registers),
//     or a new fd. A new fd is installed with SECCOMP_IOCTL_NOTIF_ADDFD *without* the SEND
//     flag and then answered with NOTIF_SEND: Go's SIGURG preemption can interrupt and
//     restart an ADDFD+SEND ioctl, after which the guest's open returns 0 with no fd
//     (measured; TestManyOpens hammers this path). A signal can interrupt the call between
//     the two; the fd ADDFD installed is then remembered and the task's next new fd (its
//     restarted call) is installed over it with SETFD, so no stray fd stays behind and the
//     restarted open gets the same number (TestSignalsDuringTrappedOpen). The handlers run on the receiving
//     goroutine (no cross-CPU wake-up); one that may block (opening a FIFO) finishes on its
//     own goroutine. The listener has SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set.
//   - Trace rows (execve, execveat, chdir, kill, tkill, tgkill) need to change the caller's
//     registers, which a notification cannot (kill: init's pid 1 must become its host pid,
//     and a signal sent by the kernel instead would interrupt the caller's own kill with
//     EINTR when it signals itself): they return SECCOMP_RET_TRACE and are served by the ptrace loop
//     (ptrace.go). ptrace also follows every fork/vfork/clone (auto-attach), so the kernel
//     knows every guest task, and PTRACE_O_EXITKILL kills every guest process if `linux`
//     dies, even by SIGKILL (init additionally has PR_SET_PDEATHSIG).
//   - Errno and ArgRule rows are decided inside the filter: namespaces, io_uring (it would
//     open paths behind the filter's back), file handles, TIOCSTI (typing into the host's
//     terminal), other processes' scheduling/limits.
//
// # The launcher
//
// `linux` re-executes itself as "[gouml-init]" (stub.go): on its main thread it makes
// itself child subreaper (orphans go to init), sets PR_SET_NO_NEW_PRIVS, installs the
// filter with a new listener, passes the listener's number to the kernel, which attaches
// with ptrace and takes the listener with pidfd_getfd; then it closes every fd above 2 and
// execve()s the init candidates. Those execve calls are ordinary guest calls.
//
// # Paths
//
// The host never interprets a guest path (vfs.go): every path is resolved by openat2 with
// RESOLVE_IN_ROOT on a dirfd of the root, or its parent is and the call is made with *at()
// on a single component. execve and chdir hand the host "/proc/<kernel pid>/fd/<n>", a
// magic link to the exact file the kernel opened, and check the result (inode of the new
// executable / cwd) before the guest runs again. #! lines and PT_INTERP are resolved by the
// kernel in the guest root, so dynamic executables use the guest's ld.so. The working
// directory is the guest process's real host cwd (inherited natively by fork); its guest
// name is /proc/TID/cwd minus the root's host path.
//
// # Identity
//
// Guest PIDs are host PIDs, except init: its host pid is guest pid 1 and vice versa (in
// getpid/getppid/gettid/getpgid/getsid/kill/tgkill and /proc). fork, wait4, waitid and
// SIGCHLD therefore run natively with correct numbers. Signals can only reach guest
// processes: kill/tkill/tgkill of any other pid is ESRCH. Credentials are the guest's own
// (sys_cred.go): every process starts as root; files owned by the host user appear
// root-owned; chown inside stores "uid:gid" in the user.gouml.owner extended attribute, so
// ownership survives reboots while the host sees the host user as owner. mknod of a device
// makes an empty file with "c:MAJ:MIN" in user.gouml.dev: stat shows the device, open gives
// the kernel's device of that number (ENXIO for numbers it does not have).
//
// # Known limits of this first version
//
//   - chroot gives a process a Root of its own (Process.Root, inherited at fork); unlike
//     Linux a working directory left outside the new root counts as its "/".
//   - No own PID numbering beyond init; no /proc directory listings (ps); /proc/PID/fd/N is
//     not reopenable; /dev and /proc are matched on the lexically cleaned path.
//   - No block devices, network (AF_UNIX only; getsockname shows the kernel's names for
//     path-bound sockets), ttys beyond con0 on fd/null channels, mounts other than
//     remounting /, enforcement of mem=. mconsole's stop is SIGSTOP/SIGCONT to every guest
//     process, which a guest parent can notice (SIGCHLD, WUNTRACED).
//   - No call whose checked arguments live in guest memory is CONTINUEd (a racing guest
//     thread could change them between the check and the host's read; TestEscapes races
//     sendmsg's msg_name). The one scratch area the kernel writes into the guest (execve and
//     chdir arguments) could be raced too; the resulting executable or cwd is verified by
//     inode before the guest runs again and the process is killed on a mismatch.
//   - Permission checks for non-root guest users are done for access() and metadata
//     changes only; open/unlink/… run with the host user's rights.
//   - A trapped call waits interruptibly for its answer: a signal whose handler lacks
//     SA_RESTART (ash's SIGCHLD) makes e.g. an open of /dev/null fail with EINTR, where Linux
//     never interrupts it. SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV covers calls already
//     received; the window before RECV needs the ptrace loop to restart such calls.
//   - Ownership xattrs differ from mkrootfs's directory scheme (user.gouml.uid/gid/mode/
//     rdev, see lib/rootfs): the kernel should read that scheme too.
package kernel
