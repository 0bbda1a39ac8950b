// Package kernel is gouml's Linux: a system-call emulator that runs an unmodified x86-64
// userland as ordinary host processes of an unprivileged user. docs/architecture.md describes
// gouml as a whole; this comment is the map of this package.
//
// # Where a system call is implemented
//
// table.go holds THE system call table: one row per call with its disposition and, for
// trapped calls, the handler. Handlers live in one file per family:
//
//	sys_file.go   open (FIFOs, O_PATH, devices), the owner of what is created
//	sys_stat.go   stat, statx, statfs, access
//	sys_names.go  mkdir, unlink, rename, link, symlink, mknod, readlink (calls on names)
//	sys_meta.go   chmod, chown, utimes, truncate (fd twins share the code)
//	sys_xattr.go  extended attributes: the guest's kept as host user.* attributes
//	memlimit.go   mem=: one mapping and the heap (trapped mmap and brk); memwatch.go: the
//	              sum over the guest's processes, an OOM killer
//	sys_mount.go  getcwd, inotify, chroot, mount, umount
//	longpath.go   paths and directories of PATH_MAX bytes or more, walked a component at a time
//	sys_exec.go   execve, execveat, chdir (an fd installed in the caller, the call rewritten
//	              at a ptrace stop into execveat/fchdir of it: ptrace.go)
//	sys_proc.go   setsid (the rest of process identity is native)
//	sys_signal.go kill, tkill, tgkill, rt_[tg]sigqueueinfo, pidfd_send_signal: permission
//	              between guest users, then CONTINUE
//	sys_sched.go  prlimit, setpriority, getpriority (of a guest user), sched_set* of
//	              another process: permission between guest users, then CONTINUE
//	loader.go     what a chrooted process run through ld.so shows (argv, cmdline, exe),
//	              and AT_EXECFN of every new image
//	dac.go        guest discretionary access control for non-root callers: the checked
//	              path walk and the permission checks of open and the calls on names
//	ptrace.go     Trace rows: ptrace attached for the length of one call (the mechanism;
//	              the rows' hooks in table.go say what each call means)
//	watch.go      pidfds of every known task and process: the kernel forgets the ended
//	sigsys.go     the shim: mapped into every guest process, its data kept up to date
//	shim.go       the shim (internal/shim: its page, code generated from src/shim.S)
//	shimstat.go   the shim's stat path: what page 1 tells it, the filter rows it needs
//	ratchet.go    the second filter that takes the shim's native path lookups away from a
//	              process that stops being guest root without chroot
//	placeholder.go  mounts over each mount point in the root's tree copy, so that a native
//	              lookup through one ends on another mount (the shim's path stats)
//	console.go    con0: the guest's console pty and its relay to the host channels
//	devpts.go     the guest's own devpts instance: /dev/ptmx, /dev/pts, pty owners
//	ctty.go       a pty opened by a session leader becomes its controlling terminal
//	ttyline.go    con1-15, ssl0-63: kernel-held ptys of the guest's lines, config, hang-up
//	ttychan.go    the host ends of the lines' channels (fd, null, pts, tty, port)
//	sys_cred.go   uids, gids, groups, capabilities
//	sys_misc.go   uname, hostname, sysinfo, reboot
//	klog.go       the kernel log: syslog(2) for dmesg
//	sys_net.go    socket, bind, connect, sendto, sendmsg
//	devices.go    the device registry: every device by number and /dev name, how it opens,
//	              its node, the ioctl requests it answers (the filter traps those)
//	special.go    the kernel's own files: /dev, and the dispatch of /dev and /proc paths
//	proc.go       /proc's files, and the links of tasks followed as guest paths
//	proclist.go   /proc's directories and links (a detached tmpfs kept in step)
//	procfshelper.go  the helper that reads the guest's procfs and opens its POSIX message
//	              queues for the confined kernel (mq_open, mq_unlink)
//	blockdev.go   ubd block devices (/dev/ubdX, their ioctls, swapon)
//	partition.go  partition devices (/dev/ubdX1 …) through stand-in files
//	mount.go      the mount table: mount/umount/remount, path routing, /proc/mounts
//	mountstack.go mounts stacked on one mount point or above another: which one a path
//	              reaches, umount's and mountinfo's order
//	              lines; ubd devices are unpacked by lib/shadow
//	tmpfs.go      tmpfs mounts: host tmpfs instances made by stage 1
//	hostfs.go     hostfs mounts of the directories the command line gives the machine
//	fstypes.go    the file system types of the mount table behind one interface
//	mountflags.go a mount's ro, nosuid, nodev and noexec, decided in one place (exec, device
//	              opens, set-id, statfs), and the host mount's flags that back them
//	kernelfs.go   procfs, sysfs, devtmpfs, devpts and mqueue as entries of the mount table:
//	              mount and umount of them, procfs/sysfs/devtmpfs elsewhere too
//	bind.go       bind mounts of the guest's own directories
//	mqueuefs.go   the mqueue file system on /dev/mqueue (through the procfs helper)
//	sysfs.go      /sys: a declarative tree mirrored into a tmpfs, attributes at open
//	sysnet.go     /sys/class/net from the guest's network namespace (rtnetlink)
//	trees.go      the trees stage 1 prepares for those (Landlock needs them early)
//	imageroot.go  image root file systems; sync/fsync write them back
//	rootdev.go    the image root's own /dev/ubdX (fsck of the root), remounts of /
//	devmeta.go    owners and modes the guest gives the kernel's device nodes
//	jail.go       the outer process, the kernel's two stages, its Landlock rules and filter
//	stub.go       the launcher: chroot, Landlock layer, shim, filter, exec of init
//	vfs.go        the guest's root: every path resolved inside its tree copy, symlinks
//	              across file systems followed first (canon)
//	landlock.go   Landlock, used raw
//	userns.go     small helpers of the outer process
//	mconsole.go   the management console's commands (lib/mconsole serves the socket)
//	netdev.go     ethN devices: taps made in the guest's network namespace at each boot,
//	              relayed by lib/netdev to their transports, stopped at halt
//
// Mechanisms that know nothing of files or credentials are packages of their own:
// internal/seccomp (the notification ABI, installing a filter, the BPF assembler whose
// binary search filter.go fills from the table), internal/guestmem (guest memory, a task's
// tgid/parent/umask) and internal/shim (the code and pages mapped into every guest process).
//
// The same table generates the seccomp filter (filter.go), drives the dispatcher
// (notify.go) and prints `linux --showconfig`. Adding a system call is one row plus one
// handler. A call with no row fails with ENOSYS; under the `debug` option it is trapped
// instead and logged once.
//
// # Mechanism
//
// The costs are those bench/emu measures, as README.md reports them (docs/architecture.md,
// "Mechanisms by cost", orders the mechanisms by them).
//
//   - Passthrough rows run natively, untrapped: getppid costs 0.234 µs against 0.209 µs
//     natively. The filter is a binary search over runs of numbers with the same action, so
//     it stays ~8 comparisons.
//   - Notify rows trap through seccomp user notification: two context switches (5.3 µs for
//     a minimal C supervisor; getgroups(0, NULL), answered from the registers, 6.95 µs, the
//     loop's own cost; getresuid, answered with one write into the caller, 10.5 µs; stat
//     22 µs). The loop runs on a locked thread and allocates nothing per call (notify.go:
//     serve). The handler reads the caller's memory with process_vm_readv, acts, and
//     answers with a value, an errno, CONTINUE (run natively: only for calls whose checked
//     arguments are all registers), or a new fd. A new fd is installed with
//     SECCOMP_IOCTL_NOTIF_ADDFD *without* the SEND flag and then answered with NOTIF_SEND:
//     Go's SIGURG preemption can interrupt and restart an ADDFD+SEND ioctl, after which the
//     guest's open returns 0 with no fd (measured; TestManyOpens hammers this path). The
//     filter has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: once the kernel received a call,
//     only a fatal signal ends the caller's wait, so a signal can never separate what a
//     handler did (a directory made, an fd installed) from its answer
//     (TestSignalsDuringTrappedOpen). Until the kernel receives it, the host's wait stays
//     interruptible (seccomp_do_user_notification): a signal with a handler ends it with
//     ERESTARTSYS, which becomes EINTR without SA_RESTART, though nothing was done. The
//     opens (open, openat, openat2, creat) and the path and metadata calls Linux never
//     interrupts (stat … the xattr calls: table.go trapRetried) therefore go through the
//     shim like the Trace rows (below), which retries such an EINTR
//     (TestSignalsNeverInterruptRegularOpen).
//     Handlers that may block for long (a FIFO open, a connect to a full backlog, a send to
//     a full queue) run on their own goroutine, watch the caller for pending signals and
//     then answer ERESTARTSYS, which the host turns into a restart or EINTR exactly as for
//     an interrupted blocking call; for a call made from the shim the kernel first marks
//     the word at the caller's stack pointer (read from /proc/TID/syscall: notify.go,
//     markInterrupted), and the shim lets that EINTR through. The other handlers run on the
//     receiving goroutine (no cross-CPU wake-up). The listener has
//     SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set.
//   - InGuest rows never leave the caller's process. Every guest process has the shim mapped
//     at a fixed address (shim.go, sigsys.go): a small SIGSYS handler and a data page. The
//     filter answers get[e]uid/get[e]gid with SECCOMP_RET_TRAP, and the handler returns the
//     ids the kernel last wrote into the page: getuid costs 2.2 µs, one signal delivery and
//     no context switch. A seccomp trap finds SIGSYS blocked fatal, so rt_sigprocmask,
//     rt_sigaction and the waits with a signal mask go to the shim too, which makes them
//     natively from its own syscall site with SIGSYS taken out of every mask, and keeps the
//     guest's own SIGSYS action. The guest can overwrite the shim: it then lies only to
//     itself; the kernel's state is in the kernel.
//   - Trace rows (execve, execveat, chdir, fork, vfork and clone of a new process) need the
//     caller's registers or must see the child before it runs, which a notification cannot.
//     Guest tasks are not traced (a tracee stops in its tracer at every signal): the kernel
//     attaches for the length of the call only (ptrace.go), about 0.3 ms (fork+wait takes
//     466 µs against 129 µs natively). From anywhere but the shim's second syscall site
//     these calls go to the shim, which makes them from there and retries them when a signal
//     interrupts the notification before it was received (Linux never fails them with
//     EINTR). A plain fork by a single-threaded process is the exception (forkfast.go): it
//     runs natively, and the child is recorded at its first trapped call from the ticket a
//     random token it inherited in its shim page names, with its parent's state at the fork.
//     Every other new process is created under ptrace and recorded with its parent's
//     credentials before its first instruction; threads are created natively and learnt at
//     their first trapped call. A new process is a copy: vfork and CLONE_VM are dropped, as
//     the child would otherwise return through the shim's frame on the parent's stack.
//     pidfds tell the kernel when tasks end (watch.go). init's own traced calls are served
//     by the thread that forked it, which also waits for it: Linux hands a child's ptrace
//     stops to any waiting thread of its parent's process. When `linux` dies, init dies
//     (PR_SET_PDEATHSIG through its parent), and with it the guest's PID namespace.
//     The signal senders (sys_signal.go) take the same route through the shim, which
//     retries them, but are served as plain notifications: Linux never fails a kill with
//     EINTR.
//   - Errno and ArgRule rows are decided inside the filter: namespaces, io_uring (it would
//     open paths behind the filter's back), file handles, TIOCSTI (typing into the host's
//     terminal); the scheduling, priority and limits of the caller itself run natively,
//     those of another process trap (sys_sched.go: Linux's rules between guest users).
//
// # The jail (docs/security.md)
//
// `linux` as started by the user is a thin outer process (jail.go) that makes the umid and
// work directories, starts the kernel in a new user and mount namespace, forwards signals
// and cleans up however the kernel ends. The kernel's stage 1 opens what the machine needs,
// restricts its one thread with Landlock (only the root, the work directory and its mount
// slots, the umid directory, the ubd files, a few host devices, /proc and linux itself) and
// a seccomp filter of its own, and re-executes itself: stage 2, the kernel proper, starts
// single-threaded inside the domain. Started by root, the kernel runs as an unprivileged
// host uid, and sees a root-owned root directory through an id-mapped mount.
//
// Each boot, the kernel makes a detached copy of the root's mount (open_tree; nodev,
// nosuid, read-only when the root is) and re-executes itself as "[gouml-init]", the
// launcher (stub.go), in new user (below the kernel's), PID, mount, IPC and network
// namespaces: the launcher is PID 1 there. On its one locked thread it chroots into the copy
// (so no directory a guest ever holds leads to the host), makes a procfs instance of the new
// PID namespace (fsopen/fsmount, attached nowhere), adds a Landlock layer for the guest,
// maps the shim, sets PR_SET_NO_NEW_PRIVS and installs the filter with a new listener. It
// passes the listener's and the procfs's fd numbers to the kernel, which takes both with
// pidfd_getfd; then it closes every fd above 2 and execve()s the init candidates. Those
// execve calls are ordinary guest calls.
//
// # Paths
//
// The host never interprets a guest path (vfs.go): every path is resolved by openat2 with
// RESOLVE_IN_ROOT on a dirfd of the root's copy, or its parent is and the call is made with
// *at() on a single component. execve and chdir install the file the kernel opened in the
// caller (ADDFD) and become execveat/fchdir of it; the exec event checks the new image's
// inode before it runs. #! lines are resolved by the kernel in the guest root; the host
// loads PT_INTERP in the process's root, which is the guest's tree, so dynamic executables
// use the guest's ld.so (a process that chrooted, which only the kernel models, runs them as
// "ld.so --argv0 NAME program", and sees argv, cmdline and exe as the program's: loader.go).
// The working directory is the guest process's real cwd (inherited
// natively by fork), always a directory of a detached tree copy; the host names such a
// directory by its path inside the copy, which is its guest path (objPath tells the trees
// apart by mount id).
//
// # Identity
//
// The guest's PID namespace gives it Linux's own numbering: init is 1, fork returns guest
// numbers, wait4/waitid/setpgid/siginfo/orphan reparenting all run natively (kill and the
// other signal senders too, once their permission between guest users is checked), and
// no host process can be named. The kernel keeps host tids (ptrace, notifications and
// /proc/TID on the host use them) and maps them to guest numbers with NSpid (kernel.go).
// The guest's /proc is generated from the guest namespace's own procfs instance (special.go),
// with paths made guest paths and credentials the guest's. SysV IPC and POSIX message queues
// run natively in the guest's IPC namespace; Internet, netlink and packet sockets and
// abstract Unix names in its network namespace, whose devices are its loopback and the
// ethN taps of the command line (netdev.go).
//
// Credentials are the guest's own (sys_cred.go): every process starts as root, and files
// owned by the host user appear root-owned. What a host file of the user cannot carry is
// kept in lib/hostmeta's extended attributes, the scheme mkrootfs's directory output uses,
// so it survives reboots while the host sees the host user as owner: chown stores
// user.gouml.uid and user.gouml.gid; set-id and sticky bits live only in user.gouml.mode,
// never on the host file (chmod and fchmod alike); mknod of a device makes an empty file
// whose type and number are in user.gouml.mode and user.gouml.rdev, so stat shows the
// device and open gives the kernel's device of that number (ENXIO for numbers it does not
// have). The first version's user.gouml.owner and user.gouml.dev are still read.
//
// # Known limits
//
//   - chroot gives a process a Root of its own (Process.Root, inherited at fork); unlike
//     Linux a working directory left outside the new root counts as its "/", and the
//     process's host root stays the machine's (an ELF interpreter is then run explicitly).
//   - /dev, /proc and mount points are chosen by name once the symlinks on the way are
//     followed (vfs.go: canon). O_PATH opens of the root's tree run in the guest (seccomp
//     cannot install an O_PATH file); elsewhere (/proc, a mount) the guest gets a read-only
//     fd instead. The owner of a symlink itself is kept by its directory
//     (linkowner.go, with that file's limits). Relative paths are made absolute first; one
//     of PATH_MAX bytes or more (below a deep working directory) is walked a component at a
//     time and a deep directory named by walking up (longpath.go), which costs a call per
//     component and per level (a removed working directory is handled: "." is the directory
//     itself, ".." the one it was removed from).
//     Reopening an fd through /proc or /dev/fd gives more access than its open had only for
//     files and directories of the guest's trees (by their modes, as Linux) and anonymous
//     pipes; never for the kernel's own objects. openat2's RESOLVE_BENEATH, IN_ROOT,
//     NO_SYMLINKS, NO_MAGICLINKS and NO_XDEV are accepted but do not scope the guest's own
//     lookup (which stays inside its trees): where Linux says EXDEV or ELOOP the path is
//     opened, or fails with ENOENT. A trailing slash after a file of /proc stats the file
//     (Linux: ENOTDIR).
//   - pidfd_send_signal through an fd of a /proc/PID directory is sent by the kernel
//     (sys_signal.go: procDirSignal): the receiver's si_pid is 0, not the sender's pid.
//   - AT_EXECFN of a new image longer than about 3.5 KB is "/dev/fd/N" (the program is
//     executed by fd; shorter ones are put back: loader.go).
//   - No hot-plugged vecN devices (the sender address of a Unix datagram from a path-bound
//     socket is the kernel's name: socknames.go), legacy BSD pty channels (as on a real kernel whose host has none),
//     devpts and mqueue mounts other than on /dev/pts and /dev/mqueue, writable /sys
//     attributes (all are 0444), binds of /proc, /sys or /dev's devices. An fd of
//     /dev/tty that leads to a guest pty stats as that pty, not as 5:0, and a master's fd
//     as the instance's ptmx node (ptmxmode=), not /dev/ptmx's; mknod'ed nodes of
//     pty slaves open nothing (ENXIO: the console shares their major). A bind mount's ".."
//     reached natively (fchdir to a directory of it, then "..") goes on into the source's
//     tree, which the guest holds anyway. mem= is enforced after the fact over the sum of
//     the guest's processes, every 250 ms, counting their anonymous memory only
//     (memlimit.go, memwatch.go, docs/memory.md). Image file systems (root or
//     mounted) are written back only at sync/fsync/umount/halt. mconsole's stop is
//     SIGSTOP/SIGCONT to every guest process, which a guest parent can notice (SIGCHLD,
//     WUNTRACED).
//   - No call whose checked arguments live in guest memory is CONTINUEd (a racing guest
//     thread could change them between the check and the host's read; TestEscapes races
//     sendmsg's msg_name). The one scratch area the kernel writes into the guest, below the
//     stack pointer of an execve it rewrites (the empty path, a #! script's interpreter
//     words), could be raced too; the new image is checked by device and inode before it
//     runs, and the process is killed on a mismatch. chdir writes nothing: it becomes fchdir
//     of an fd the kernel installed.
//   - Permission checks for non-root guest users (dac.go, sys_signal.go; docs/security.md,
//     "Between guest users") are made on paths made absolute: the directories above a
//     relative path's starting point (the working directory, a dirfd) are searched too,
//     where Linux would start from the directory it holds. An O_PATH open of a file a
//     non-root caller may not read fails with EACCES where the kernel, not the guest, opens
//     it (in /proc, a mount): the read-only fd that stands in for the O_PATH one must not
//     give more. The kernel's own files of /dev and /proc are checked only for other
//     users' private /proc entries.
//   - A trapped call that has not been received yet can still be interrupted where the shim
//     does not route it: the opens, the path and metadata calls (shim.S: routed), the
//     Trace rows and the signal senders are retried by the shim; the other trapped calls
//     (socket, bind, connect, sendto with an address, mount, mq_open, …) can fail with EINTR
//     when a signal whose handler lacks SA_RESTART arrives in that window, where Linux would
//     not (no side effect is lost: nothing was done). Routing costs one SIGSYS delivery
//     (about 2.5 µs of the caller's CPU on a loaded machine). A call the kernel
//     interrupted (ERESTARTSYS) and the host restarted (SA_RESTART) keeps its mark: if a
//     signal without SA_RESTART then interrupts the restarted call before it is received,
//     the guest sees EINTR, as it would had the signal come a moment later.
//   - vfork is a fork, and clone without CLONE_THREAD drops CLONE_VM: a parent that relies
//     on seeing its child's writes (glibc's posix_spawn reports a failed exec that way)
//     sees the child exit with 127 instead.
//   - The shim reads the sets and actions given to rt_sigprocmask, rt_sigaction(SIGSYS) and
//     the masked waits itself: a bad pointer there is a SIGSEGV, not EFAULT. SIG_IGN for
//     SIGSYS is not kept across execve.
//   - Signals between guest users are checked against the target's credentials, then
//     CONTINUEd: a target that ends and whose number a new process takes in between gets
//     the signal unchecked (numbers are reused only after the namespace's pid_max). When a
//     group kill (kill(0), kill(-pgrp), kill(-1)) may reach only some of its targets, the
//     kernel signals those itself, and they see the kernel as the sender (si_pid 0).
//     pidfd_open has no ptrace-style check. The six signal calls always trap (the filter
//     cannot tell root from a user): root's cost one notification more than natively.
package kernel
