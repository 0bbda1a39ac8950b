package kernel

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// The jail: how the host kernel, not only our code, keeps a guest in (docs/security.md).
//
// `linux` runs as three programs in one process tree:
//
//  1. The outer process, as the user started it. It makes the umid directory and a private
//     work directory under $TMPDIR, starts the kernel process in a new user and mount
//     namespace, forwards the signals that stop a machine, and removes both directories
//     when the kernel process ends, however it ends. Started by root, it maps the kernel's
//     user namespace to an unprivileged host uid (rootGuestIDs) and gives it an id-mapped
//     view of a root directory owned by root, so that neither the kernel nor any guest
//     process ever runs with host root's identity.
//  2. Stage 1 of the kernel process: uid 0 of that user namespace, with its own mount
//     namespace. It does the few things that need mount operations (the id-mapped root is
//     attached here), opens the ubd files once to create COW files and learn every host
//     file the machine will use, builds a Landlock ruleset of exactly those files and
//     directories, restricts its one (locked) thread with it and with a seccomp filter of
//     its own, and re-executes itself: stage 2 starts single-threaded inside the domain,
//     so every thread it ever makes shares it.
//  3. Stage 2 is the kernel: it serves the guest. Its guest processes are started by the
//     launcher (stub.go) in a user namespace of their own, chrooted into a detached copy
//     of the root's mount (a mount in no namespace: ".." cannot climb out of it, and no
//     path leads from it to the host), with a Landlock layer of their own that stops them
//     from signalling anything outside the guest.

// Environment of the kernel process's stages (never passed to guests: the launcher gives
// init the environment the command line asks for).
const (
	stageEnv   = "GOUML_STAGE"      // "1": confine, then re-execute as "2"
	umidEnv    = "GOUML_UMID_DIR"   // the umid directory the outer process made
	workEnv    = "GOUML_WORK_DIR"   // the private work directory the outer process made
	idmapEnv   = "GOUML_IDMAP_FD"   // root mode: fd of the id-mapped root tree
	procDirEnv = "GOUML_PROCDIR_FD" // stage 2: fd of the detached tmpfs behind /proc listings
	ubdOKEnv   = "GOUML_UBD_OK"     // stage 2: the ubd units stage 1 opened, comma-separated
	rootEnv    = "GOUML_ROOT_MODE"  // "1": started by root (host root is id rootIDRange of the namespace)
)

// Work directory layout (made by stage 1, below the directory the outer process made).
const (
	workRoot   = "root" // an image root's unpacked tree
	workMnt    = "mnt"  // ubd mount slots, mnt/00 … (mount.go)
	workTmp    = "tmp"  // $TMPDIR of the kernel: ubd and partition stand-ins
	mountSlots = 32
)

// slotName is the name of ubd mount slot i below workMnt.
func slotName(i int) string { return fmt.Sprintf("%02d", i) }

// selfExe is how linux runs itself again (the launcher, the helpers, the kernel's stages):
// through its own /proc/self/exe, never by its path, which a process in a user namespace
// of its own may not be allowed to look up (a binary below a directory only root can
// search).
const selfExe = "/proc/self/exe"

// defaultGuestID is the host uid and gid a root-started machine runs as when /etc/subuid
// gives root no range: just above systemd's container range (524288…1879048191).
const defaultGuestID = 1879048192

// rootIDRange is how many ids a root-started machine's user namespace maps from its
// unprivileged start (X): the ids a root-owned Debian tree uses (shadow, utmp, staff …)
// then map as themselves, X+id on the host, and stay writable; host root comes after them,
// as id rootIDRange.
const rootIDRange = 65536

// rootGuestIDs returns the unprivileged host ids a machine started by root runs as: the
// first of root's subordinate ids (/etc/subuid, /etc/subgid) when root has rootIDRange of
// them, else defaultGuestID.
func rootGuestIDs() (uid, gid int) {
	first := func(file string) int {
		f, err := os.Open(file)
		if err != nil {
			return defaultGuestID
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fl := strings.Split(strings.TrimSpace(sc.Text()), ":")
			if len(fl) != 3 || (fl[0] != "root" && fl[0] != "0") {
				continue
			}
			start, err1 := strconv.Atoi(fl[1])
			n, err2 := strconv.Atoi(fl[2])
			if err1 == nil && err2 == nil && start > 0 && n >= rootIDRange && start < 1<<31-rootIDRange {
				return start
			}
		}
		return defaultGuestID
	}
	return first("/etc/subuid"), first("/etc/subgid")
}

// idnsArg0 marks the helper whose only job is to own a user namespace mapping uid and gid 0
// to the ids an id-mapped mount should show root's files as.
const idnsArg0 = "[gouml-idns]"

// idmappedTree returns a detached, recursive copy of the mount tree of dir in which files
// owned by dir's own owner (root, usually) appear as owned by uid:gid, and files uid:gid
// creates are that owner's on disk. Only root can make it (CAP_SYS_ADMIN over the file
// system).
func idmappedTree(dir string, uid, gid int) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return -1, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	h := exec.Command(selfExe)
	h.Args[0] = idnsArg0
	h.Stdin = r
	h.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		Pdeathsig:   syscall.SIGKILL,
		UidMappings: idmapFor(int(st.Uid), uid),
		GidMappings: idmapFor(int(st.Gid), gid),
	}
	if err := h.Start(); err != nil {
		r.Close()
		w.Close()
		return -1, fmt.Errorf("user namespace for the id mapping: %w", err)
	}
	r.Close()
	ns, err := unix.Open("/proc/"+strconv.Itoa(h.Process.Pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	w.Close()
	h.Wait()
	if err != nil {
		return -1, fmt.Errorf("user namespace for the id mapping: %w", err)
	}
	defer unix.Close(ns)
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("copying the mount of %s: %w", dir, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: its file system cannot be id-mapped (%v); run linux as an ordinary user", dir, err)
	}
	return fd, nil
}

// idmapFor is the id-mapped mount's map of one kind of id: the ids below rootIDRange on disk
// show as x+id (the owner root as x itself, a group such as shadow as x+42: the kernel's
// namespace maps them back to themselves); a tree whose owner is beyond that range gets
// only its owner mapped, to x.
func idmapFor(owner, x int) []syscall.SysProcIDMap {
	if owner < rootIDRange && owner == 0 {
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: x, Size: rootIDRange}}
	}
	return []syscall.SysProcIDMap{{ContainerID: owner, HostID: x, Size: 1}}
}

// idnsMain is the id-mapping helper: it holds its user namespace until its stdin closes.
func idnsMain() {
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// makeWorkDir makes the machine's private work directory under $TMPDIR and removes those of
// machines whose outer process is gone (a SIGKILL leaves them behind).
func makeWorkDir() (string, error) {
	tmp := os.TempDir()
	if old, _ := filepath.Glob(filepath.Join(tmp, "gouml-work-*")); len(old) > 0 {
		for _, d := range old {
			f := strings.Split(filepath.Base(d), "-")
			if len(f) < 3 {
				continue
			}
			pid, err := strconv.Atoi(f[2])
			if err != nil || pid <= 0 || pid == os.Getpid() {
				continue
			}
			var st unix.Stat_t
			if unix.Lstat(d, &st) != nil || int(st.Uid) != os.Getuid() && os.Getuid() != 0 {
				continue
			}
			if e := unix.Kill(pid, 0); e == unix.ESRCH {
				os.RemoveAll(d)
			}
		}
	}
	return os.MkdirTemp(tmp, "gouml-work-"+strconv.Itoa(os.Getpid())+"-")
}

// runOuter is the outer process: it starts the kernel (stage 1) and waits for it.
func runOuter(c *cmdline.Config, cfg Config, args []string, stdin, stdout *os.File, stderr io.Writer) int {
	rootMode := os.Geteuid() == 0
	u, err := makeUmid(c.UmlDir, c.Umid, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	defer u.remove()
	work, err := makeWorkDir()
	if err != nil {
		fmt.Fprintf(stderr, "linux: work directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(work)
	extra := inheritedFiles()
	taps, tapEnv, endNet := openHostNet(c, 3+len(extra), stderr)
	defer endNet()
	xt, xtEnv, xtStop := startXtermServer(c, u.dir, 3+len(extra)+len(taps)) // xterm channels (xterm.go)
	defer xtStop()
	extra = append(append(extra, taps...), xt)
	env := append(os.Environ(), usernsEnv+"="+strconv.Itoa(os.Getpid()), stageEnv+"=1", umidEnv+"="+u.dir, workEnv+"="+work, xtEnv)
	env = append(env, tapEnv...)
	attr := &syscall.SysProcAttr{
		Pdeathsig:  syscall.SIGKILL, // the caller's thread is locked (cmd/linux): it never exits first
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
	}
	if rootMode {
		// The kernel is uid 0 of its namespace = host uid X, an id without privilege, and
		// ids 1… of it are X+1… (a root-owned tree's other owners and groups, through the
		// id-mapped mount); host root is mapped too (as rootIDRange), so that the kernel
		// may open the root-owned files the command line names, but the kernel never has
		// root's identity.
		x, xg := rootGuestIDs()
		for _, d := range []string{u.dir, work} {
			if err := os.Chown(d, x, xg); err != nil {
				fmt.Fprintf(stderr, "linux: %v\n", err)
				return 1
			}
		}
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: x, Size: rootIDRange}, {ContainerID: rootIDRange, HostID: 0, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: xg, Size: rootIDRange}, {ContainerID: rootIDRange, HostID: 0, Size: 1}}
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		env = append(env, rootEnv+"=1")
		if cfg.rootImage == nil {
			fd, err := idmappedTree(cfg.RootDir, x, xg)
			if err != nil {
				fmt.Fprintf(stderr, "linux: started by root: %v\n", err)
				return 1
			}
			extra = append(extra, os.NewFile(uintptr(fd), "idmap"))
			env = append(env, idmapEnv+"="+strconv.Itoa(2+len(extra)))
		}
	} else {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	cmd := exec.Command(selfExe, args...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = attr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "linux: starting the kernel in a new user namespace: %v (gouml needs unprivileged user namespaces: check sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns)\n", err)
		return 1
	}
	for _, f := range append(append(taps, xt), extra[len(extra)-boolInt(rootMode && cfg.rootImage == nil):]...) {
		f.Close()
	}
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		var deadline <-chan time.Time
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
				if s != syscall.SIGUSR1 && s != syscall.SIGUSR2 && deadline == nil {
					// A machine asked to stop gets this long to do so cleanly; then it is
					// killed, whatever state its tasks are in.
					deadline = time.After(stopGrace)
				}
			case <-deadline:
				cmd.Process.Kill()
				close(killed)
				return
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	select {
	case <-killed:
		fmt.Fprintf(stderr, "linux: the kernel did not stop within %v: killed\n", stopGrace)
		return 1
	default:
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		u.remove()
		os.RemoveAll(work)
		// die the same way, so that a caller's wait sees what happened
		signal.Reset(ws.Signal())
		unix.Kill(os.Getpid(), ws.Signal())
		return 128 + int(ws.Signal())
	}
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}

// stopGrace is how long a kernel asked to stop (SIGTERM, SIGINT, SIGHUP) may take before
// the outer process kills it.
const stopGrace = 10 * time.Second

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stage1 confines the kernel process and re-executes it as stage 2 (see the top of the file).
func stage1(c *cmdline.Config, cfg Config, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "linux: "+format+"\n", a...)
		return 1
	}
	work := os.Getenv(workEnv)
	if work == "" || os.Getenv(umidEnv) == "" {
		return fail("started without its outer process")
	}
	// Nothing mounted here may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("making the mount namespace private: %v", err)
	}
	for _, d := range []string{workMnt, workTmp} {
		if err := os.Mkdir(filepath.Join(work, d), 0o700); err != nil {
			return fail("work directory: %v", err)
		}
	}
	for i := 0; i < mountSlots; i++ {
		if err := os.Mkdir(filepath.Join(work, workMnt, slotName(i)), 0o700); err != nil {
			return fail("work directory: %v", err)
		}
	}
	rootDir := cfg.RootDir
	if cfg.rootImage != nil {
		rootDir = filepath.Join(work, workRoot)
		if err := os.Mkdir(rootDir, 0o700); err != nil {
			return fail("work directory: %v", err)
		}
	} else {
		real, err := filepath.EvalSymlinks(rootDir)
		if err != nil {
			return fail("root directory: %v", err)
		}
		rootDir = real
		if s := os.Getenv(idmapEnv); s != "" {
			fd, _ := strconv.Atoi(s)
			if err := unix.MoveMount(fd, "", unix.AT_FDCWD, rootDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
				return fail("attaching the id-mapped root: %v", err)
			}
			unix.Close(fd)
		}
	}
	// Every ubd file, opened once here: COW files are created and backing files found, so
	// that the ruleset can name each; stage 2 opens them again.
	files, ok, err := stage1UBDs(c, cfg)
	if err != nil {
		return fail("%v", err)
	}
	// The helper that reads the guest's procfs for the confined kernel (procfshelper.go).
	helper, err := startProcfsHelper()
	if err != nil {
		return fail("procfs helper: %v", err)
	}
	unix.FcntlInt(uintptr(helper), unix.F_SETFD, 0)
	// The detached tmpfs behind the /proc directories the guest lists (special.go).
	procDir, err := detachedTmpfs()
	if err != nil {
		return fail("tmpfs for /proc: %v", err)
	}
	// hostfs directories and tmpfs instances the guest may mount (trees.go)
	trees, err := prepareTrees(c.HostFS, append(append([]string{}, c.InitEnv...), c.InitArgs...), c.Mem)
	if err != nil {
		return fail("%v", err)
	}
	abi, llErr := landlockABI()
	switch {
	case abi == 0 && !c.NoLandlock:
		return fail("%v: the kernel process cannot confine itself to the files it serves; the option nolandlock runs it anyway, with our own checks as the only wall", llErr)
	case abi == 0:
		fmt.Fprintf(stderr, "linux: warning: %v: running without Landlock (nolandlock)\n", llErr)
	}
	self, err := os.Executable()
	if err != nil {
		return fail("%v", err)
	}
	var rs *llRuleset
	if abi > 0 {
		rs, err = newRuleset(abi, llKernelScopes)
		if err != nil {
			return fail("%v", err)
		}
		err = kernelRules(rs, rootDir, work, os.Getenv(umidEnv), procDir, trees, files, self, func(p string, a uint64) {
			if c.Debug {
				fmt.Fprintf(stderr, "linux: Landlock (ABI %d): %s: %#x\n", abi, p, a&rs.handled)
			}
		})
		if err == nil {
			err = errors.Join(ttyRules(rs, c), netRules(rs, c.Eth, func(p string, a uint64) {
				if c.Debug {
					fmt.Fprintf(stderr, "linux: Landlock (ABI %d): %s: %#x\n", abi, p, a&rs.handled)
				}
			}))
		}
		if err != nil {
			return fail("Landlock rules: %v", err)
		}
	}
	// From here on this thread is alone in what it does: it restricts itself and execs.
	if err := installKernelFilter(); err != nil {
		return fail("seccomp filter of the kernel: %v", err)
	}
	if rs != nil {
		if err := rs.restrictThread(); err != nil {
			return fail("%v", err)
		}
	}
	unix.FcntlInt(uintptr(procDir), unix.F_SETFD, 0)
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, stageEnv+"=") && !strings.HasPrefix(e, idmapEnv+"=") {
			env = append(env, e)
		}
	}
	env = append(env, stageEnv+"=2", procDirEnv+"="+strconv.Itoa(procDir), ubdOKEnv+"="+strings.Join(ok, ","),
		procfsHelperEnv+"="+strconv.Itoa(helper))
	env = append(env, trees.env()...)
	err = syscall.Exec(selfExe, os.Args, env)
	return fail("re-executing the kernel: %v", err)
}

// stage1UBDs opens every ubd file of the command line once and returns the host files the
// machine will use and the units that opened.
func stage1UBDs(c *cmdline.Config, cfg Config) (files, ok []string, err error) {
	rootUnit := -1
	if src, err := c.RootSource(); err == nil && src.Kind == "ubd" {
		rootUnit = src.Unit
	}
	for unit := 0; unit < cmdline.MaxUBD; unit++ {
		spec := c.UBD[unit]
		if unit == rootUnit && cfg.rootImage != nil {
			spec = cfg.rootImage.spec
		}
		if spec == nil || unit == rootUnit && cfg.rootImage == nil {
			continue
		}
		_, statErr := os.Stat(spec.File)
		d, err := ubd.Open(spec, c.UBDSync, cfg.Stdout)
		if err != nil {
			if unit == rootUnit {
				return nil, nil, fmt.Errorf("root device ubd%c: %v", 'a'+unit, err)
			}
			continue // like UML: lib/ubd said why; the device is left out and the machine boots on
		}
		files = append(files, d.File())
		if b := d.BackingFile(); b != "" {
			files = append(files, b)
		}
		d.Close()
		if os.IsNotExist(statErr) && os.Getenv(rootEnv) == "1" {
			os.Chown(spec.File, rootIDRange, rootIDRange) // a COW file a root-started machine made stays root's
		}
		ok = append(ok, strconv.Itoa(unit))
	}
	return files, ok, nil
}

// kernelRules are the files the kernel process may use once it serves the guest.
func kernelRules(rs *llRuleset, rootDir, work, umidDir string, procDir int, trees extraTrees, files []string, self string, log func(string, uint64)) error {
	all := []struct {
		path   string
		access uint64
	}{
		// The guest's trees. A detached copy of a mount is walked up only to its own top, so
		// each tree's top needs its own rule, not only the work directory's.
		{rootDir, llAll},
		{work, llAll},
		{umidDir, llAll},
		// The host devices the guest's /dev hands out (special.go), the console's pty.
		{"/dev/null", llRW}, {"/dev/zero", llRW}, {"/dev/full", llRW}, {"/dev/random", llRW},
		{"/dev/urandom", llRW}, {"/dev/ptmx", llRW}, {"/dev/pts", llRW | unix.LANDLOCK_ACCESS_FS_READ_DIR},
		// Guest tasks' status, memory and fds; a few host figures (cpuinfo, loadavg).
		{"/proc", llRead | unix.LANDLOCK_ACCESS_FS_WRITE_FILE},
		// The launcher is this program.
		{self, llExec},
	}
	for i := 0; i < mountSlots; i++ {
		all = append(all, struct {
			path   string
			access uint64
		}{filepath.Join(work, workMnt, slotName(i)), llAll})
	}
	for _, f := range files {
		all = append(all, struct {
			path   string
			access uint64
		}{f, llRW})
	}
	if dynamicExecutable(self) {
		// A build with cgo needs its loader and libraries to start the launcher.
		for _, d := range []string{"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache"} {
			all = append(all, struct {
				path   string
				access uint64
			}{d, llExec | unix.LANDLOCK_ACCESS_FS_READ_DIR})
		}
	}
	for _, r := range all {
		if err := rs.allow(r.path, r.access); err != nil {
			return err
		}
		log(r.path, r.access)
	}
	for _, fd := range trees.hostDirs {
		p, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		log(p+" (hostfs)", llAll)
		if err := rs.allowFD(fd, llAll); err != nil {
			return err
		}
	}
	for _, fd := range trees.tmpfs {
		if err := rs.allowFD(fd, llAll); err != nil {
			return err
		}
	}
	log(fmt.Sprintf("(%d tmpfs instances)", len(trees.tmpfs)), llAll)
	if trees.devpts > 0 {
		if err := rs.allowFD(trees.devpts, llRW|unix.LANDLOCK_ACCESS_FS_READ_DIR); err != nil {
			return err
		}
		log("(the guest's devpts instance)", llRW|unix.LANDLOCK_ACCESS_FS_READ_DIR)
	}
	if trees.sys > 0 {
		if err := rs.allowFD(trees.sys, llAll); err != nil {
			return err
		}
		log("(the /sys listings' tmpfs)", llAll)
	}
	log("(the /proc listings' tmpfs)", llAll)
	return rs.allowFD(procDir, llAll)
}

// dynamicExecutable reports whether a program has an ELF interpreter.
func dynamicExecutable(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// detachedTmpfs makes a small tmpfs attached nowhere and returns its root.
func detachedTmpfs() (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fs)
	for k, v := range map[string]string{"size": "4m", "nr_inodes": "65536", "mode": "0755"} {
		if err := unix.FsconfigSetString(fs, k, v); err != nil {
			return -1, fmt.Errorf("fsconfig %s: %w", k, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("fsconfig: %w", err)
	}
	m, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsmount: %w", err)
	}
	return m, nil
}

// ubdOK returns the ubd units stage 1 could open (stage 2 opens only those).
func ubdOK() map[int]bool {
	out := map[int]bool{}
	for _, s := range strings.Split(os.Getenv(ubdOKEnv), ",") {
		if n, err := strconv.Atoi(s); err == nil {
			out[n] = true
		}
	}
	return out
}
