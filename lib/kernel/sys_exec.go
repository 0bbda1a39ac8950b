package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// execve, execveat and chdir are Trace rows of the table: they must change what the host
// kernel does with the caller's registers, which a seccomp notification cannot (ptrace.go
// attaches for the length of the call).
//
// execve: the kernel resolves the guest path inside the root (and #! interpreters, and the
// PT_INTERP of dynamic executables, recursively), opens the final executable itself, and
// rewrites the call to execve("/proc/<kernel pid>/fd/<n>", argv', envp): the host follows
// that magic link to exactly the file the kernel opened, so the host never interprets a
// guest path. The new argv is written below the caller's stack pointer (red zone excluded).
// A racing guest thread could overwrite that scratch memory; the exec event then checks
// that the new image is the file the kernel chose (device + inode) and kills the process
// before it runs an instruction otherwise. chdir works the same way with the directory.

const (
	pendingNone = iota
	pendingExec
	pendingChdir
)

const maxInterpDepth = 4

// absPath is Call.abs for the ptrace paths.
func (k *Kernel) absPath(tid int, dirfd int32, p string) (string, error) {
	c := &Call{k: k, Tid: tid, T: k.task(tid)}
	return c.abs(dirfd, p)
}

func (k *Kernel) traceExec(t *Task, regs *unix.PtraceRegs, sp uint64) error {
	tid := t.Tid
	dirfd := int32(unix.AT_FDCWD)
	pathPtr, argvPtr, envPtr, flags := regs.Rdi, regs.Rsi, regs.Rdx, uint64(0)
	if int(regs.Orig_rax) == unix.SYS_EXECVEAT {
		dirfd, pathPtr, argvPtr, envPtr, flags = int32(regs.Rdi), regs.Rsi, regs.Rdx, regs.R10, regs.R8
	}
	p, err := readString(tid, pathPtr, 4095)
	if err != nil {
		return err
	}
	comm := path.Base(p) // Linux names the process after the path passed (even for scripts)
	var abs string
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 {
		if abs, err = k.fdPath(k.rootOf(t), tid, dirfd); err != nil {
			return unix.EBADF
		}
	} else if abs, err = k.absPath(tid, dirfd, p); err != nil {
		return err
	}
	var prefix []string // argv words inserted before the caller's argv[1:]
	var setid execSetid
	replaceArgv0 := false
	var fd int
	for depth := 0; ; depth++ {
		if depth > maxInterpDepth {
			return unix.ELOOP
		}
		if fs, rest := special(abs); fs != "" {
			// /proc/self/exe (busybox runs its applets that way): the caller's executable
			_, sub, _ := strings.Cut(rest, "/")
			if fs != "/proc" || sub != "exe" {
				return unix.EACCES
			}
			target, err := k.readlinkSpecial(&Call{k: k, Tid: tid, T: t}, fs, rest)
			if err != nil || !strings.HasPrefix(target, "/") || target == "/dev/console" {
				return unix.ENOENT
			}
			abs = target
		}
		fd, err = k.rootOf(t).Open(abs, unix.O_RDONLY, 0)
		if err != nil {
			k.debugf("execve %s: %v", abs, err)
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return unix.EACCES
		}
		if st.Mode&0o111 == 0 {
			unix.Close(fd)
			return unix.EACCES
		}
		hdr := make([]byte, 256)
		n, _ := unix.Pread(fd, hdr, 0)
		hdr = hdr[:max(n, 0)]
		if bytes.HasPrefix(hdr, []byte("#!")) {
			interp, arg, err := parseShebang(hdr)
			if err != nil {
				unix.Close(fd)
				return err
			}
			// argv becomes: interp [arg] <path as passed> argv[1:]...
			w := []string{interp}
			if arg != "" {
				w = append(w, arg)
			}
			if len(prefix) == 0 {
				w = append(w, p)
			} else {
				w = append(w, prefix...)
			}
			prefix, replaceArgv0 = w, true
			unix.Close(fd)
			if abs, err = k.absPath(tid, unix.AT_FDCWD, interp); err != nil {
				return err
			}
			p = interp
			continue
		}
		if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
			unix.Close(fd)
			return unix.ENOEXEC
		}
		if depth == 0 {
			// the program itself (not a #! script, not ld.so): its set-id bits count
			g := st
			guestStat(fd, &g)
			setid = execSetid{uid: g.Uid, gid: g.Gid, suid: g.Mode&unix.S_ISUID != 0, sgid: g.Mode&unix.S_ISGID != 0}
		}
		interp, err := elfInterp(fd)
		if err != nil {
			unix.Close(fd)
			return unix.ENOEXEC
		}
		if interp == "" {
			break
		}
		// A dynamic executable runs with the guest's own ld.so: run it as
		// "ld.so <program> args..." with both paths resolved in the guest.
		if len(prefix) == 0 {
			prefix = []string{interp, p}
		} else {
			prefix = append([]string{interp}, prefix...)
		}
		replaceArgv0 = true
		unix.Close(fd)
		if abs, err = k.absPath(tid, unix.AT_FDCWD, interp); err != nil {
			return err
		}
		p = interp
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)

	// Build the scratch block: filename, argv strings, argv pointer array.
	fn, link := k.execLink(fd, comm)
	fn += "\x00"
	var newArgv []uint64
	var strs bytes.Buffer
	strs.WriteString(fn)
	type fix struct{ idx, off int }
	var fixes []fix
	if replaceArgv0 {
		old, err := readPtrs(tid, argvPtr, 1<<17)
		if err != nil {
			unix.Close(fd)
			return err
		}
		for _, s := range prefix {
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
		os.Remove(link)
		unix.Close(fd)
		return unix.EFAULT
	}
	regs.Orig_rax = unix.SYS_EXECVE
	regs.Rdi = base
	if replaceArgv0 {
		regs.Rsi = base + uint64(size)
	} else {
		regs.Rsi = argvPtr
	}
	regs.Rdx = envPtr
	t.pendingFD, t.pendingKind, t.pendingLink = fd, pendingExec, link
	t.pendingDev, t.pendingIno = st.Dev, st.Ino
	t.pendingSetid = setid
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
	if s == "" {
		return "", "", unix.ENOEXEC
	}
	interp, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	return interp, strings.Trim(arg, " \t"), nil
}

// elfInterp returns the PT_INTERP of an ELF file ("" for static executables).
func elfInterp(fd int) (string, error) {
	ef, err := elf.NewFile(fdReader(fd))
	if err != nil {
		return "", err
	}
	if ef.Machine != elf.EM_X86_64 || ef.Class != elf.ELFCLASS64 {
		return "", unix.ENOEXEC
	}
	for _, pr := range ef.Progs {
		if pr.Type == elf.PT_INTERP {
			b := make([]byte, pr.Filesz)
			if _, err := pr.ReadAt(b, 0); err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", nil
}

func (k *Kernel) traceChdir(t *Task, regs *unix.PtraceRegs, sp uint64) error {
	p, err := readString(t.Tid, regs.Rdi, 4095)
	if err != nil {
		return err
	}
	abs, err := k.absPath(t.Tid, unix.AT_FDCWD, p)
	if err != nil {
		return err
	}
	fd, err := k.rootOf(t).Open(abs, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	fn := []byte("/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd) + "\x00")
	base := (sp - 128 - uint64(len(fn))) &^ 15
	if err := writeMemForce(t.Tid, base, fn); err != nil {
		unix.Close(fd)
		return unix.EFAULT
	}
	regs.Rdi = base
	t.pendingFD, t.pendingKind = fd, pendingChdir
	t.pendingDev, t.pendingIno = st.Dev, st.Ino
	return nil
}

// execEvent: the new image is in place and has not run; check it is the file the kernel
// chose, or kill it. It reports whether the image may run.
func (k *Kernel) execEvent(t *Task) bool {
	if t.pendingKind != pendingExec {
		k.debugf("execve by %d: not arranged by the kernel: killed", k.guestPid(t.Tid))
		unix.Kill(t.Tid, unix.SIGKILL)
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(t.Tid)+"/exe", &st); err != nil || st.Dev != t.pendingDev || st.Ino != t.pendingIno {
		k.debugf("execve by %d: not the file the kernel chose (%v): killed", k.guestPid(t.Tid), err)
		unix.Kill(t.Tid, unix.SIGKILL)
		return false
	}
	k.execCred(t.Proc, t.pendingSetid)
	return true
}

// chdirDone checks, at the end of a chdir, that the new cwd is the directory the kernel chose.
func (k *Kernel) chdirDone(t *Task) {
	var regs unix.PtraceRegs
	if unix.PtraceGetRegs(t.Tid, &regs) == nil && int64(regs.Rax) == 0 {
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+strconv.Itoa(t.Tid)+"/cwd", &st); err != nil || st.Dev != t.pendingDev || st.Ino != t.pendingIno {
			k.debugf("chdir by %d: not the directory the kernel chose (%v): killed", k.guestPid(t.Tid), err)
			unix.Kill(t.Tid, unix.SIGKILL)
		}
	}
}

func (k *Kernel) clearPending(t *Task) {
	if t.pendingFD >= 0 {
		unix.Close(t.pendingFD)
	}
	if t.pendingLink != "" {
		os.Remove(t.pendingLink)
	}
	t.pendingFD, t.pendingKind, t.pendingLink = -1, pendingNone, ""
}

// execLink returns the host path the guest's execve is pointed at: a symlink named like the
// program (Linux names the process, /proc/PID/comm, after the last component of the path)
// to the magic link /proc/<kernel pid>/fd/<fd>, in a kernel-private directory. Without a
// private directory (it could not be made) the magic link itself is used.
func (k *Kernel) execLink(fd int, comm string) (string, string) {
	magic := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd)
	if comm == "" || comm == "/" || comm == "." || comm == ".." {
		return magic, ""
	}
	k.execMu.Lock()
	defer k.execMu.Unlock()
	if k.execDir == "" {
		d, err := os.MkdirTemp(k.cfg.RunDir, "gouml-exec-")
		if err != nil {
			return magic, ""
		}
		os.Chmod(d, 0o755)
		k.execDir = d
	}
	dir := k.execDir + "/" + strconv.Itoa(fd) // fd numbers are unique while the exec is pending
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return magic, ""
	}
	link := dir + "/" + comm
	os.Remove(link)
	if err := os.Symlink(magic, link); err != nil {
		return magic, ""
	}
	return link, link
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
