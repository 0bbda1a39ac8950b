package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"github.com/gouml/gouml/lib/shadow"
	"golang.org/x/sys/unix"
)

// Config is what Boot needs (built from the command line by Main).
type Config struct {
	RootDir  string   // host directory that is the guest's /
	ReadOnly bool     // root mounted read-only
	Inits    []string // init candidates, tried in order
	InitArgs []string // extra argv words for init
	InitEnv  []string // init's environment
	Mem      uint64
	Hostname string
	CmdLine  string       // the kernel command line, for /proc/cmdline
	UBDs     []*blockDev  // block devices (blockdev.go), open for the whole run
	Shadow   *shadow.Tree // the unpacked image root (imageroot.go); nil for a directory root
	// HostFSPrefix is hostfs=: every hostfs mount lies below it ("" = below the directories
	// the command line names: hostfs.go).
	HostFSPrefix string
	// Eth is the ethN= specs of the command line, raw (netdev.go makes the devices).
	Eth map[int]string
	// Vec is the vecN: specs, raw (their host sides are opened by the outer process:
	// netvec.go).
	Vec map[int]string

	rootImage  *rootImage
	con0Line   bool // con0's channels are not fds: it is a line like the others (ttyline.go)
	Debug      bool
	NoReboot   bool
	Stdin      *os.File // host side of the console (con0): input and output
	Stdout     *os.File
	Console    consoleDev      // the guest side; made by Main from Stdin/Stdout (or a line)
	Lines      *ttyLines       // con1…con15 and ssl0…ssl63 (ttyline.go); made by Main
	Stderr     io.Writer       // kernel messages
	Stop       <-chan struct{} // closed on SIGTERM/SIGINT of linux: exit status 1
	work       string          // the private work directory (jail.go)
	procHelper *procfsClient   // nil: the kernel reads procfs itself
	procDir    int             // the detached tmpfs behind /proc listings (special.go)
	trees      extraTrees      // hostfs directories, tmpfs and devpts instances (trees.go)
	hostUID    uint32          // the host uid the kernel's uid 0 is (hostfs shows host ids)
	hostGID    uint32

	mc *mcHost // the management console, which outlives each boot
}

// Kernel is one running machine.
type Kernel struct {
	cfg   Config
	root  *Root
	self  string // argv0 for re-executing the launcher
	start time.Time

	mu       sync.Mutex
	tasks    map[int]*Task    // host tid -> task
	procs    map[int]*Process // host tgid -> process
	initTgid int              // host pid of guest init
	forks    forkTickets      // the fast forks' tickets (forkfast.go)
	uts      utsNames         // host and domain name, under a lock of their own
	log      klog             // the kernel log (klog.go)
	// kmsgWriters are the kernel's ends of the open /dev/kmsg files (kmsg.go)
	kmsgWriters sync.Map
	socks       sockNames // the guests' names of the Unix sockets the kernel bound (socknames.go)

	listener   int           // seccomp notification fd
	procfs     int           // procfs of the guest's PID namespace (not reachable by the guest)
	procHelper *procfsClient // opens files of procfs for the confined kernel (procfshelper.go)
	// a boot placeholder could not be attached: no shim path stats (placeholder.go)
	placeholdFailed atomic.Bool
	debugMu         sync.Mutex
	logged          map[int]bool
	stats           *callStats // under `debug`: the trapped calls served, printed at halt
	statOnce        sync.Once
	links           sync.RWMutex  // symbolic links' owners (linkowner.go)
	stat            shim.StatData // what the shim's stat path needs (shimstat.go)

	shutdown chan shutdownReq
	once     sync.Once
	loopDone chan struct{}
	dying    atomic.Bool // shutting down: kill every task that still shows up
	procMu   sync.Mutex
	nodes    kernelNodes // the host objects behind /dev entries and /proc links (special.go)
	pty      ptyState    // the guest's ptys: owners and devpts options (devpts.go)
	devMeta  devMeta     // owners and modes the guest gave the kernel's devices (devmeta.go)
	sysMu    sync.Mutex  // the /sys listing (sysfs.go)
	sysNL    int         // rtnetlink socket in the guest's network namespace (sysnet.go)
	nlMu     sync.Mutex  // sysNL's making, and one rtnetlink request at a time on it
	nlSeq    uint32
	sysMnt   uint64 // mount id of the tmpfs behind the /sys listing
	// the guest mounted its mqueue file system on /dev/mqueue (mqueuefs.go)
	mqMounted atomic.Bool

	procMnt uint64          // mount id of the tmpfs behind the /proc listing (special.go)
	sysctls []*sysctlWriter // guests' open writable /proc/sys files (special.go)

	cadOff atomic.Bool // reboot(2) CAD_OFF: Ctrl-Alt-Del signals init instead of restarting
	swapMu sync.Mutex
	swaps  map[int]bool // ubd units swapon'ed (blockdev.go)

	// init's traced calls are served on the thread that forked init (ptrace.go)
	initCalls chan *Call
	initWake  int // eventfd: a call is in initCalls

	epfd, epWake int               // the task watch (watch.go); epfd < 0: not running
	watch        map[int32]watched // pidfd -> what it watches (k.mu)
	watchDone    chan struct{}

	netMu sync.Mutex
	nets  []*netDevice // the network devices and their relays (netdev.go; netMu)
	// addrWatch runs uml_net's address hooks for helper-made taps (netaddr.go; netMu)
	addrWatch *addrWatch
}

// utsNames are the machine's host and domain names (uname, sethostname, /proc/sys/kernel).
type utsNames struct {
	mu               sync.Mutex
	hostname, domain string
}

func (u *utsNames) get() (hostname, domain string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hostname, u.domain
}

func (u *utsNames) set(hostname, domain *string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if hostname != nil {
		u.hostname = *hostname
	}
	if domain != nil {
		u.domain = *domain
	}
}

type shutdownReq struct {
	status int
	reboot bool
}

// Process is a guest process (a host thread group).
type Process struct {
	Tgid int
	Cred *Cred
	Root *Root // after chroot; nil = the machine's root
	// Loaded is the program a chrooted process runs through its ELF interpreter (loader.go)
	Loaded *loadedProg
	pidfd  int // watched for the process's end (watch.go)
	// ratcheted: the ratchet filter is in place in every thread (ratchet.go; k.mu). Only
	// ever set after the filter went in, and never cleared: the filter stays for good.
	ratcheted bool
}

// Task is a guest thread.
type Task struct {
	Tid   int
	Proc  *Process
	vtid  int    // its number in the guest's PID namespace (0 = not looked up yet)
	pidfd int    // PIDFD_THREAD, watched for the task's end (watch.go)
	born  *Task  // the task whose traced fork created it
	seq   uint64 // its notifications so far (k.mu): a fast fork's ticket knows when it returned
	// A traced call restarted by the kernel (ptrace.go): its one notification to let through
	// (contNr -1: none) and that call's first argument.
	contNr   int
	contArg0 uint64
	// exec / chdir in flight (ptrace.go, sys_exec.go)
	plan *tracePlan
	// forkRatcheted is Proc.ratcheted as the task's last traced call began, before any fork
	// it made: a child of that call has the ratchet filter if this is set (ratchet.go)
	forkRatcheted bool
}

// Boot runs the guest until it halts; it returns linux's exit status and whether the guest
// asked for a reboot.
func Boot(cfg Config) (status int, reboot bool, err error) {
	root, err := cloneRoot(cfg.RootDir, cfg.ReadOnly)
	if err != nil {
		return 1, false, err
	}
	defer root.Close()
	root.mounts = &mountTable{}
	procMnt, err := mountID(cfg.procDir)
	if err != nil {
		return 1, false, fmt.Errorf("tmpfs for /proc: %w", err)
	}
	clearDir(cfg.procDir) // the listing of the boot before
	var sysMnt uint64
	if cfg.trees.sys > 0 {
		if sysMnt, err = mountID(cfg.trees.sys); err != nil {
			return 1, false, fmt.Errorf("tmpfs for /sys: %w", err)
		}
		clearDir(cfg.trees.sys)
	}
	self := selfExe
	k := &Kernel{
		cfg: cfg, root: root, self: self, start: time.Now(),
		tasks: map[int]*Task{}, procs: map[int]*Process{},
		uts: utsNames{hostname: cfg.Hostname, domain: "(none)"}, logged: map[int]bool{},
		shutdown: make(chan shutdownReq, 1), listener: -1, procfs: -1, loopDone: make(chan struct{}),
		epfd: -1, procMnt: procMnt, sysMnt: sysMnt,
		procHelper: cfg.procHelper,
	}
	if k.uts.hostname == "" {
		k.uts.hostname = "(none)"
	}
	k.mountKernelFSes()
	k.placeholdKernelFSes()
	root.mounts.placehold = k.placehold
	if cfg.Debug {
		k.stats = new(callStats)
	}
	// the first records of the kernel log, as the real kernel's boot begins (dmesg)
	k.log.add(5, "Linux version "+Release+" (gouml) "+Version)
	k.log.add(6, "Kernel command line: "+cfg.CmdLine)
	k.log.add(6, fmt.Sprintf("Memory: %dK available", cfg.Mem>>10))
	// Files the kernel creates for the guest get exactly the guest's mode bits: the guest's
	// umask is applied by the handlers.
	unix.Umask(0)
	if cfg.mc != nil {
		cfg.mc.attach(k)
		defer cfg.mc.detach()
	}
	if err := k.startWatch(); err != nil {
		return 1, false, fmt.Errorf("epoll: %w", err)
	}
	defer k.stopWatch()
	memStop := make(chan struct{})
	defer close(memStop)
	go k.memWatch(memStop)
	k.initCalls = make(chan *Call, 4)
	if k.initWake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return 1, false, fmt.Errorf("eventfd: %w", err)
	}
	defer unix.Close(k.initWake)
	res := make(chan error, 1)
	go k.tracer(res)
	if err := <-res; err != nil {
		return 1, false, err
	}
	var req shutdownReq
	select {
	case req = <-k.shutdown:
	case <-cfg.Stop:
		req = shutdownReq{status: 1}
	}
	k.killAll()
	k.stopNet()
	select {
	case <-k.loopDone:
	case <-time.After(loopGrace):
		// A task the host kernel cannot finish (a thread of init still traced by a thread of
		// ours that is stuck) keeps init from being reaped. The machine is down anyway:
		// every guest process got SIGKILL; stop waiting, and do not boot again in this
		// process.
		fmt.Fprintf(cfg.Stderr, "linux: guest processes did not end within %v of the halt\n", loopGrace)
		req.reboot = false
	}
	k.stats.print(cfg.Stderr)
	k.unmountAll()
	if k.procfs >= 0 {
		unix.Close(k.procfs)
	}
	k.closeDevNodes()
	if k.sysNL > 0 {
		unix.Close(k.sysNL)
	}
	k.root.mounts.closeChroots()
	return req.status, req.reboot, nil
}

// loopGrace is how long a halting machine waits for its init to be reaped.
const loopGrace = 5 * time.Second

// halt ends the machine (first caller wins).
func (k *Kernel) halt(status int, reboot bool) {
	k.once.Do(func() { k.shutdown <- shutdownReq{status, reboot} })
}

// killAll kills every guest process: init first, which takes the guest's PID namespace with
// it (PR_SET_PDEATHSIG does the same when linux itself dies).
func (k *Kernel) killAll() {
	k.dying.Store(true)
	if k.initTgid > 0 {
		unix.Kill(k.initTgid, unix.SIGKILL)
	}
	k.mu.Lock()
	pids := make([]int, 0, len(k.procs))
	for p := range k.procs {
		pids = append(pids, p)
	}
	k.mu.Unlock()
	for _, p := range pids {
		unix.Kill(p, unix.SIGKILL)
	}
	if k.listener >= 0 {
		unix.Close(k.listener)
	}
}

// tracer starts init and then serves init's traced calls and waits for it to end. init is
// forked from this locked thread so that PR_SET_PDEATHSIG fires exactly when the kernel goes
// away, and the thread never ends before.
func (k *Kernel) tracer(res chan<- error) {
	runtime.LockOSThread()
	initPid, err := k.startInit()
	res <- err
	if err != nil {
		close(k.loopDone)
		return
	}
	k.initLoop(initPid)
}

// launcherFiles are the launcher's fds from 4 on: the root's tree copy (stubRootFD), the
// mount slots (stubSlotsFD) and the hostfs and tmpfs trees (stubTreesFD …), for its
// Landlock layer. The caller closes them once the launcher started.
func (k *Kernel) launcherFiles() ([]*os.File, error) {
	rfd, err := unix.Dup(k.root.fd)
	if err != nil {
		return nil, err
	}
	sfd, err := unix.Open(filepath.Join(k.cfg.work, workMnt), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(rfd)
		return nil, err
	}
	files := []*os.File{os.NewFile(uintptr(rfd), "root"), os.NewFile(uintptr(sfd), "slots")}
	return append(files, k.cfg.trees.launcherFiles()...), nil
}

// startInit starts the launcher (stub.go), which becomes the guest's init, and returns
// its host pid.
func (k *Kernel) startInit() (int, error) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	cfd, err := k.cfg.Console.Open(unix.O_RDWR)
	if err != nil {
		return 0, fmt.Errorf("console: %w", err)
	}
	con := os.NewFile(uintptr(cfd), "console")
	defer con.Close()
	ours := os.NewFile(uintptr(sp[0]), "stub-ctl")
	theirs := os.NewFile(uintptr(sp[1]), "stub-ctl")
	defer ours.Close()
	files, err := k.launcherFiles()
	if err != nil {
		theirs.Close()
		return 0, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	args := append([]string{}, k.cfg.Inits...)
	args = append(args, "--")
	args = append(args, k.cfg.InitArgs...)
	cmd := &exec.Cmd{
		Path:       k.self,
		Args:       append([]string{stubArg0}, args...),
		Env:        k.cfg.InitEnv,
		Stdin:      con,
		Stdout:     con,
		Stderr:     con,
		ExtraFiles: append([]*os.File{theirs}, files...),
		SysProcAttr: &unix.SysProcAttr{
			Setsid:    true,
			Pdeathsig: unix.SIGKILL,
			// The guest's own PID numbering, SysV IPC, abstract Unix sockets and loopback
			// network are the host kernel's, in namespaces that belong to the guest. They
			// are owned by a user namespace of the guest's own, below the kernel's (jail.go):
			// guest root's capabilities reach nothing of the kernel's, and the kernel, which
			// made the namespace, keeps every capability over it.
			Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
		},
	}
	if k.cfg.Debug {
		cmd.Env = append(cmd.Env, "GOUML_DEBUG_FILTER=1")
	}
	trees := len(files) - 2
	if k.cfg.trees.devpts > 0 {
		trees--
		cmd.Env = append(cmd.Env, stubDevptsEnv+"=1")
	}
	cmd.Env = append(cmd.Env, stubTreesEnv+"="+strconv.Itoa(trees), stubMemEnv+"="+strconv.FormatUint(k.cfg.Mem, 10))
	if err := cmd.Start(); err != nil {
		theirs.Close()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EACCES) {
			return 0, fmt.Errorf("starting init in new PID/mount/IPC/network namespaces: %w", err)
		}
		return 0, fmt.Errorf("starting init: %w", err)
	}
	theirs.Close()
	pid := cmd.Process.Pid
	fail := func(err error) (int, error) {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return 0, err
	}
	var b [8]byte
	if _, err := io.ReadFull(ours, b[:]); err != nil {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return 0, fmt.Errorf("init launcher failed (status %d)", ws.ExitStatus())
	}
	lfd := int(binary.LittleEndian.Uint32(b[:]))
	mfd := int(binary.LittleEndian.Uint32(b[4:]))
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fail(fmt.Errorf("pidfd_open: %w", err))
	}
	k.listener, err = unix.PidfdGetfd(pidfd, lfd, 0)
	if err == nil {
		k.procfs, err = unix.PidfdGetfd(pidfd, mfd, 0)
	}
	if err == nil && k.procHelper != nil {
		_, err = k.procHelper.call(procfsSet, "", k.procfs)
		if err == nil {
			var ipc int
			if ipc, err = unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/ipc", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				_, err = k.procHelper.call(mqSetNS, "", ipc)
				unix.Close(ipc)
			}
		}
	}
	unix.Close(pidfd)
	if err != nil {
		return fail(fmt.Errorf("pidfd_getfd: %w", err))
	}
	_ = notifSetSyncWakeUp(k.listener) // an optimisation only; older kernels lack it
	k.mu.Lock()
	k.initTgid = pid
	p := &Process{Tgid: pid, Cred: rootCred()}
	k.procs[pid] = p
	k.watchProcess(p)
	t := &Task{Tid: pid, Proc: p, vtid: 1, contNr: -1}
	k.tasks[pid] = t
	k.watchTask(t)
	k.mu.Unlock()
	go k.serve()
	k.startNet(pid) // before init runs, so that its first scripts see ethN
	if _, err := ours.Write([]byte{1}); err != nil {
		return fail(err)
	}
	return pid, nil
}

// task returns the task for a host tid, learning unknown ones from /proc.
func (k *Kernel) task(tid int) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.taskLocked(tid)
}

func (k *Kernel) taskLocked(tid int) *Task {
	if t := k.tasks[tid]; t != nil {
		if alive(t.pidfd) {
			return t
		}
		// ended; the tid is someone else's now
		delete(k.tasks, tid)
	}
	// A thread the kernel has not seen yet: threads are created natively (CLONE_THREAD), so
	// they are learnt at their first trapped call. Their process is known, created by a
	// traced fork (ptrace.go), or it is the child of a fast fork and has a ticket
	// (forkfast.go).
	tgid, _ := procTgidPpid(tid)
	if tgid == 0 {
		return nil
	}
	p := k.procs[tgid]
	if p != nil && !alive(p.pidfd) {
		k.debugf("stale process %d (pidfd %d)", tgid, p.pidfd)
		delete(k.procs, tgid)
		p = nil
	}
	if p == nil {
		// the child of a fast fork, at its first call (forkfast.go)
		p = k.claimLocked(tgid, tid)
	}
	if p == nil {
		// Not created by a traced fork: nothing says what its credentials are. It cannot
		// happen unless the filter is wrong; refuse the task rather than guess.
		k.debugf("task %d of unknown process %d killed", tid, tgid)
		unix.Kill(tid, unix.SIGKILL)
		return nil
	}
	t := &Task{Tid: tid, Proc: p, contNr: -1}
	k.tasks[tid] = t
	k.watchTask(t)
	return t
}

// guestPid maps a host tid to the guest's number (its number in the guest's PID namespace),
// 0 when it is not a guest task.
func (k *Kernel) guestPid(host int) int {
	k.mu.Lock()
	t := k.tasks[host]
	k.mu.Unlock()
	if t != nil && t.vtid != 0 {
		return t.vtid
	}
	v := nsPid(host)
	if t != nil {
		k.mu.Lock()
		t.vtid = v
		k.mu.Unlock()
	}
	return v
}

// nsPid reads the innermost number of a host task (the last NSpid field).
func nsPid(host int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(host) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(v)
			if len(f) < 2 {
				return 0 // not in a namespace below ours: not a guest task
			}
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// hostPid maps a guest pid/tid (> 0) to the host's; ok is false when no guest task has it.
// A child of a fast fork that has not called yet is found by a sweep (forkfast.go).
func (k *Kernel) hostPid(guest int) (int, bool) {
	if h, ok := k.hostPidKnown(guest); ok {
		return h, true
	}
	k.mu.Lock()
	pending := len(k.forks.m)
	k.mu.Unlock()
	if pending == 0 {
		return 0, false
	}
	k.sweepTickets()
	return k.hostPidKnown(guest)
}

// hostPidKnown maps a guest pid/tid to the host's among the tasks the kernel knows.
func (k *Kernel) hostPidKnown(guest int) (int, bool) {
	k.mu.Lock()
	var unknown []int
	for tid, t := range k.tasks {
		if t.vtid == guest {
			k.mu.Unlock()
			return tid, true
		}
		if t.vtid == 0 {
			unknown = append(unknown, tid)
		}
	}
	k.mu.Unlock()
	for _, tid := range unknown {
		if k.guestPid(tid) == guest {
			return tid, true
		}
	}
	return 0, false
}

func (k *Kernel) debugf(format string, a ...any) {
	if k.cfg.Debug {
		fmt.Fprintf(k.cfg.Stderr, "linux: "+format+"\n", a...)
	}
}
