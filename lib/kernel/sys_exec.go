package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// execve, execveat and chdir are Trace rows of the table: they must change what the host
// kernel does with the caller's registers, which a seccomp notification cannot (ptrace.go
// attaches for the length of the call).
//
// The kernel resolves the guest path inside the root (and #! interpreters), opens the file
// or directory itself, and installs that open file in the caller (SECCOMP_IOCTL_NOTIF_ADDFD,
// close-on-exec) before it answers the notification. At the caller's ptrace stop the call
// is rewritten to execveat(fd, "", argv', envp, AT_EMPTY_PATH) or fchdir(fd): the host
// never resolves a name for it, and no name that a racing guest thread could change is
// left in the caller's memory. The fd is closed again by a system call the kernel makes in
// the caller (inject) where the call leaves it open: after a failed execve and after every
// chdir. The exec event still checks that the new image is the file the kernel chose
// (device + inode), because set-id bits are applied for that file.
//
// An ELF program's interpreter (PT_INTERP) is loaded by the host, which resolves it in the
// caller's root: the guest's tree copy (jail.go), so a dynamic executable runs with the
// guest's own ld.so, shows as itself in /proc/PID/exe, and never with a host library. A
// process that chrooted (the kernel's chroot is its own, not the host's) runs a dynamic
// executable as "ld.so <program> args..." with both paths resolved in its root instead.

const (
	pendingNone = iota
	pendingExec
	pendingChdir
)

const maxInterpDepth = 4

// tracePlan is what the kernel decided for one execve or chdir before the caller is traced.
type tracePlan struct {
	kind     int
	fd       int         // the kernel's O_PATH fd of the program or directory
	gfd      int         // the same file's number in the caller (ADDFD), -1 once closed
	dev, ino uint64      // which file that is
	prefix   []string    // execve: argv words before the caller's argv[1:] (nil: argv unchanged)
	slot     int         // execve: the prefix word that is the caller's own argv[0] (-1: none)
	loader   *loadedProg // execve in a chroot: the program its ELF interpreter runs (loader.go)
	comm     string      // execve: the process name Linux would give ("" = the host's)
	execfn   string      // execve: AT_EXECFN as Linux gives it ("" = the host\'s)
	setid    execSetid
	argv     uint64 // execve: the caller's argv and envp
	envp     uint64
}

// installFlags are the flags of the readable description of the plan's file that is
// installed in the caller (ADDFD takes no O_PATH file): close-on-exec, so a successful
// execve leaves nothing behind, and a directory for chdir.
func (p *tracePlan) installFlags() int {
	fl := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if p.kind == pendingChdir {
		fl |= unix.O_DIRECTORY
	}
	return fl
}

// absPath is Call.abs for the ptrace paths.
func (k *Kernel) absPath(tid int, dirfd int32, p string) (string, error) {
	c := &Call{k: k, Tid: tid, T: k.task(tid)}
	return c.absFollow(dirfd, p)
}

// execCallArgs decodes the arguments of execve or execveat.
func execCallArgs(c *Call) (dirfd int32, pathPtr, argvPtr, envPtr, flags uint64, err error) {
	a := c.n.Data.Args
	if int(c.n.Data.Nr) != unix.SYS_EXECVEAT {
		return unix.AT_FDCWD, a[0], a[1], a[2], 0, nil
	}
	if a[4]&^uint64(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, 0, 0, 0, 0, unix.EINVAL
	}
	return int32(a[0]), a[1], a[2], a[3], a[4], nil
}

func (k *Kernel) prepareExec(c *Call) (*tracePlan, error) {
	t, tid := c.T, c.Tid
	dirfd, pathPtr, argvPtr, envPtr, flags, err := execCallArgs(c)
	if err != nil {
		return nil, err
	}
	p, err := readString(tid, pathPtr, 4095)
	if err != nil {
		return nil, err
	}
	r := k.rootOf(t)
	plan := &tracePlan{kind: pendingExec, fd: -1, gfd: -1, slot: -1, argv: argvPtr, envp: envPtr, comm: path.Base(p)}
	var abs string
	byFD := p == "" && flags&unix.AT_EMPTY_PATH != 0
	plan.execfn = execfnOf(p, dirfd, byFD)
	if byFD {
		plan.comm = "" // the host names it after the file, as Linux does for fexecve
	} else if abs, err = c.absOf(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0); err != nil {
		return nil, err
	}
	fail := func(err error) (*tracePlan, error) {
		if plan.fd >= 0 {
			unix.Close(plan.fd)
		}
		return nil, err
	}
	for depth := 0; ; depth++ {
		if depth > maxInterpDepth {
			return fail(unix.ELOOP)
		}
		fd, err := k.execOpen(c, r, abs, byFD && depth == 0, dirfd, depth > 0 || flags&unix.AT_SYMLINK_NOFOLLOW == 0)
		if err == errNotProgram {
			return fail(unix.EACCES)
		}
		if err != nil {
			k.debugf("execve %s: %v", abs, err)
			return fail(err)
		}
		if plan.fd >= 0 {
			unix.Close(plan.fd)
		}
		plan.fd = fd
		var st unix.Stat_t
		mf, err := k.execFile(fd, &st)
		if err != nil {
			return fail(err)
		}
		g := st
		guestStat(fd, &g)
		if !permits(c.fsCred(), &g, mayExec) {
			return fail(unix.EACCES)
		}
		hdr, err := readHeader(fd, 256)
		if err != nil {
			return fail(err)
		}
		if bytes.HasPrefix(hdr, []byte("#!")) {
			interp, arg, err := parseShebang(hdr)
			if err != nil {
				return fail(err)
			}
			// argv becomes: interp [arg] <path as passed> argv[1:]...
			w := []string{interp}
			if arg != "" {
				w = append(w, arg)
			}
			switch {
			case len(plan.prefix) > 0:
				w = append(w, plan.prefix...)
			case byFD:
				w = append(w, "/dev/fd/"+strconv.Itoa(int(dirfd)))
			default:
				w = append(w, p)
			}
			plan.prefix = w
			if abs, err = k.absPath(tid, unix.AT_FDCWD, interp); err != nil {
				return fail(err)
			}
			byFD = false
			p = interp
			continue
		}
		if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
			return fail(unix.ENOEXEC)
		}
		if depth == 0 && mf&unix.MS_NOSUID == 0 {
			// the program itself (not a #! script, not ld.so): its set-id bits count,
			// unless its mount is nosuid
			plan.setid = execSetid{uid: g.Uid, gid: g.Gid, suid: g.Mode&unix.S_ISUID != 0, sgid: g.Mode&unix.S_ISGID != 0}
		}
		plan.dev, plan.ino = st.Dev, st.Ino
		if r == k.root {
			return plan, nil // the host loads the interpreter, in the guest's root
		}
		interp, err := elfInterp(fd)
		if err != nil {
			return fail(unix.ENOEXEC)
		}
		if interp == "" {
			plan.loaderArgv0(fd)
			return plan, nil
		}
		// chrooted: "ld.so <program> args..." with both resolved in the process's root
		plan.noteLoader(interp, abs, r, &st, byFD)
		plan.prefix = interpPrefix(plan.prefix, interp, p, byFD, dirfd)
		if abs, err = k.absPath(tid, unix.AT_FDCWD, interp); err != nil {
			return fail(err)
		}
		byFD = false
		p = interp
	}
}

// execFile checks what an exec opened (fd; st gets its host stat) is a file that may run: a
// regular file (ELOOP for a symlink, EACCES for anything else) on a mount that is not
// noexec, as Linux's do_open_execat judges it. It returns the mount's flags (nosuid is
// bprm_fill_uid's; mountflags.go, where the host's mount of a noexec tree is noexec too).
func (k *Kernel) execFile(fd int, st *unix.Stat_t) (uint64, error) {
	if err := unix.Fstat(fd, st); err != nil {
		return 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return 0, unix.ELOOP
	default:
		return 0, unix.EACCES
	}
	mf := k.fdMountFlags(fd)
	if mf&unix.MS_NOEXEC != 0 {
		return 0, unix.EACCES
	}
	return mf, nil
}

// interpPrefix puts an ELF interpreter in front of what an execve runs: the program p (or
// the fd it was given as) and its arguments, or the #! words already in front of them.
func interpPrefix(prefix []string, interp, p string, byFD bool, dirfd int32) []string {
	if len(prefix) > 0 {
		return append([]string{interp}, prefix...)
	}
	if byFD {
		p = "/dev/fd/" + strconv.Itoa(int(dirfd))
	}
	return []string{interp, p}
}

// errNotProgram: the path names one of the kernel's files, which are not programs.
var errNotProgram = errors.New("not a program")

// execOpen opens (O_PATH) the file an execve names: the caller's fd dirfd (byFD), the file a
// task holds (/proc/PID/exe, /proc/PID/fd/N, /dev/fd/N), or a file of the caller's root r.
func (k *Kernel) execOpen(c *Call, r *Root, abs string, byFD bool, dirfd int32, follow bool) (int, error) {
	tid := c.Tid
	switch fs, rest := k.special(abs); {
	case byFD:
		fd, err := unix.Open("/proc/"+strconv.Itoa(tid)+"/fd/"+strconv.Itoa(int(dirfd)), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.EBADF
		}
		return fd, nil
	case fs == "/proc":
		// /proc/PID/exe (busybox runs its applets that way) and /proc/PID/fd/N: the
		// file the task holds
		first, sub, _ := strings.Cut(rest, "/")
		host, _, perr := k.procPid(c, first)
		if perr != nil || host == 0 || sub != "exe" && !(strings.HasPrefix(sub, "fd/") && strings.Count(sub, "/") == 1) {
			return -1, errNotProgram
		}
		if !k.mayInspect(c, host) {
			return -1, errNotProgram
		}
		if l := k.loaded(host); sub == "exe" && l != nil {
			return l.open(unix.O_PATH) // the program, not its loader (loader.go)
		}
		fd, err := unix.Open("/proc/"+strconv.Itoa(host)+"/"+sub, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.ENOENT
		}
		return fd, nil
	case fs == "/dev" && strings.HasPrefix(rest, "fd/"):
		fd, err := unix.Open("/proc/"+strconv.Itoa(tid)+"/"+rest, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.ENOENT
		}
		return fd, nil
	case fs != "":
		return -1, errNotProgram // devices and the kernel's files are not programs
	}
	if r != c.root() {
		return r.OpenPath(abs, follow)
	}
	return c.openPathAs(abs, follow)
}

// readHeader reads the first n bytes of the file behind an O_PATH fd.
func readHeader(fd int, n int) ([]byte, error) {
	// a regular file (checked by the caller): opening it cannot block
	rfd, err := unix.Open(selfFD(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rfd)
	hdr := make([]byte, n)
	m, _ := unix.Pread(rfd, hdr, 0)
	return hdr[:max(m, 0)], nil
}

func (k *Kernel) prepareChdir(c *Call) (*tracePlan, error) {
	p, err := readString(c.Tid, c.n.Data.Args[0], 4095)
	if err != nil {
		return nil, err
	}
	abs, err := c.absFollow(unix.AT_FDCWD, p)
	if err != nil {
		return nil, err
	}
	var fd int
	if fs, rest := k.special(abs); fs == "/proc" || fs == "/sys" {
		fd, err = k.openSpecial(c, fs, rest, unix.O_PATH|unix.O_DIRECTORY)
	} else {
		fd, err = c.openPathAs(abs, true)
	}
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return nil, unix.ENOTDIR
	}
	if !c.privileged() {
		if err := c.mayOn(c.fsCred(), fd, mayExec); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return &tracePlan{kind: pendingChdir, fd: fd, gfd: -1, dev: st.Dev, ino: st.Ino}, nil
}

// rewrite changes the caller's registers, at its first stop, into the call that runs the
// plan (see the top of the file). Argument words for a program run through an interpreter
// are written below the caller's stack pointer (red zone excluded).
func (k *Kernel) rewrite(t *Task, plan *tracePlan, regs *unix.PtraceRegs, sp uint64) error {
	if plan.kind == pendingChdir {
		regs.Orig_rax = unix.SYS_FCHDIR
		regs.Rdi = uint64(plan.gfd)
		return nil
	}
	tid := t.Tid
	var strs bytes.Buffer
	strs.WriteByte(0) // the empty path of AT_EMPTY_PATH
	type fix struct{ idx, off int }
	var fixes []fix
	var newArgv []uint64
	if plan.prefix != nil {
		old, err := readPtrs(tid, plan.argv, 1<<17)
		if err != nil {
			return err
		}
		for i, s := range plan.prefix {
			if i == plan.slot && len(old) > 0 {
				newArgv = append(newArgv, old[0]) // the caller's argv[0], as it is
				continue
			}
			fixes = append(fixes, fix{len(newArgv), strs.Len()})
			newArgv = append(newArgv, 0)
			strs.WriteString(s + "\x00")
		}
		if len(old) > 1 {
			newArgv = append(newArgv, old[1:]...)
		}
		newArgv = append(newArgv, 0)
	}
	size := (strs.Len() + 7) &^ 7
	total := size + 8*len(newArgv)
	base := (sp - 128 - uint64(total)) &^ 15
	for _, f := range fixes {
		newArgv[f.idx] = base + uint64(f.off)
	}
	block := make([]byte, total)
	copy(block, strs.Bytes())
	for i, v := range newArgv {
		binary.LittleEndian.PutUint64(block[size+8*i:], v)
	}
	if err := writeMemForce(tid, base, block); err != nil {
		return unix.EFAULT
	}
	regs.Orig_rax = unix.SYS_EXECVEAT
	regs.Rdi = uint64(plan.gfd)
	regs.Rsi = base
	if plan.prefix != nil {
		regs.Rdx = base + uint64(size)
	} else {
		regs.Rdx = plan.argv
	}
	regs.R10 = plan.envp
	regs.R8 = unix.AT_EMPTY_PATH
	return nil
}

// execSetid is what a program's set-user-ID and set-group-ID bits do to its caller.
type execSetid struct {
	uid, gid   uint32
	suid, sgid bool
}

// execCred changes a process's credentials as a successful execve does on Linux: set-id
// bits make the file's owner/group effective; the saved and file-system ids follow the
// effective ones.
func (k *Kernel) execCred(p *Process, s execSetid) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cr := p.Cred.clone()
	if s.suid {
		cr.EUID = s.uid
	}
	if s.sgid {
		cr.EGID = s.gid
	}
	cr.SUID, cr.FSUID = cr.EUID, cr.EUID
	cr.SGID, cr.FSGID = cr.EGID, cr.EGID
	p.Cred = cr
}

// parseShebang parses "#!interp [arg]" the way Linux does (one optional argument, the rest
// of the line, trimmed).
func parseShebang(hdr []byte) (string, string, error) {
	line := hdr[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if len(hdr) >= 256 {
		return "", "", unix.ENOEXEC
	}
	s := strings.Trim(string(line), " \t")
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return "", "", unix.ENOEXEC
	}
	interp, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	return interp, strings.Trim(arg, " \t"), nil
}

// elfInterp returns the PT_INTERP of an x86-64 ELF file ("" for static executables). The file
// is the guest's and may be hostile: every size is checked before it is used, as Linux's
// binfmt_elf does (ENOEXEC for what it would refuse).
func elfInterp(fd int) (string, error) {
	rfd, err := unix.Open(selfFD(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(rfd)
	return parseInterp(fdReader(rfd))
}

// parseInterp reads PT_INTERP from an ELF image (the fuzzed parser).
func parseInterp(r io.ReaderAt) (string, error) {
	var eh [64]byte
	if n, _ := r.ReadAt(eh[:], 0); n < len(eh) {
		return "", unix.ENOEXEC
	}
	le := binary.LittleEndian
	if string(eh[:4]) != "\x7fELF" || eh[4] != 2 /* ELFCLASS64 */ || eh[5] != 1 /* little endian */ ||
		le.Uint16(eh[18:]) != 62 /* EM_X86_64 */ {
		return "", unix.ENOEXEC
	}
	phoff, phentsize, phnum := le.Uint64(eh[32:]), le.Uint16(eh[54:]), le.Uint16(eh[56:])
	if phentsize != 56 || phnum == 0 || phnum > 65536/56 || phoff > 1<<30 {
		return "", unix.ENOEXEC
	}
	ph := make([]byte, int(phnum)*56)
	if n, _ := r.ReadAt(ph, int64(phoff)); n < len(ph) {
		return "", unix.ENOEXEC
	}
	for i := 0; i < int(phnum); i++ {
		e := ph[56*i:]
		if le.Uint32(e) != 3 /* PT_INTERP */ {
			continue
		}
		off, size := le.Uint64(e[8:]), le.Uint64(e[32:])
		if size < 2 || size > 4096 || off > 1<<40 {
			return "", unix.ENOEXEC
		}
		b := make([]byte, size)
		if n, _ := r.ReadAt(b, int64(off)); n < len(b) {
			return "", unix.ENOEXEC
		}
		if b[size-1] != 0 {
			return "", unix.ENOEXEC
		}
		s := string(b[:size-1])
		if s == "" || strings.IndexByte(s, 0) >= 0 {
			return "", unix.ENOEXEC
		}
		return s, nil
	}
	return "", nil
}

// execEvent: the new image is in place and has not run; check it is the file the kernel
// chose, or kill it. It reports whether the image may run.
func (k *Kernel) execEvent(t *Task) bool {
	if t.plan == nil || t.plan.kind != pendingExec {
		k.debugf("execve by %d: not arranged by the kernel: killed", k.guestPid(t.Tid))
		unix.Kill(t.Tid, unix.SIGKILL)
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(t.Tid)+"/exe", &st); err != nil || st.Dev != t.plan.dev || st.Ino != t.plan.ino {
		k.debugf("execve by %d: not the file the kernel chose (%v): killed", k.guestPid(t.Tid), err)
		unix.Kill(t.Tid, unix.SIGKILL)
		return false
	}
	k.execCred(t.Proc, t.plan.setid)
	k.mu.Lock()
	t.Proc.Loaded = t.plan.loader
	k.mu.Unlock()
	return true
}

// clearPending forgets the call's plan (the kernel's fd of it; the caller's copy is the
// trace's to close).
func (k *Kernel) clearPending(t *Task) {
	if t.plan != nil && t.plan.fd >= 0 {
		unix.Close(t.plan.fd)
		t.plan.fd = -1
	}
	t.plan = nil
}

// fdReader reads a kernel fd with pread without taking ownership of it.
type fdReader int

func (f fdReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := unix.Pread(int(f), b, off)
	if err != nil {
		return 0, err
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// execfnOf is AT_EXECFN as Linux gives it for an execve of p relative to dirfd: the path
// as passed, or "/dev/fd/N/p" (empty by fd: the host's "/dev/fd/N" is right then).
func execfnOf(p string, dirfd int32, byFD bool) string {
	switch {
	case byFD:
		return ""
	case strings.HasPrefix(p, "/") || dirfd == unix.AT_FDCWD:
		return p
	}
	return "/dev/fd/" + strconv.Itoa(int(dirfd)) + "/" + p
}
