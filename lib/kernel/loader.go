package kernel

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path"
	"sync"

	"golang.org/x/sys/unix"
)

// A chrooted guest process runs a dynamic executable as "ld.so [--argv0 NAME] program
// args…" (sys_exec.go): the host would resolve PT_INTERP in the machine's root, not in the
// kernel's chroot. What the guest can see of that is put back as Linux shows it, so that
// ps, pidof, killall and start-stop-daemon --exec name the program, not its loader:
//
//   - argv: the loader takes --argv0 (glibc 2.33 and later, musl) and gives the program the
//     caller's argv[0]; an older loader gives it the program's path;
//   - /proc/PID/cmdline: the loader's words are left out;
//   - /proc/PID/exe: readlink, open, stat and execve of it reach the program.
//
// AT_EXECFN is set apart below (fixExecfn): it concerns every process.

// loadedProg is a process's program run through its ELF interpreter by the kernel.
type loadedProg struct {
	interp   string // the interpreter's path: argv word 0
	argv0    bool   // words 1 and 2 are "--argv0" NAME, word 3 the program
	script   bool   // the program is a #! script's interpreter
	prog     string // the program's path in the process's root
	root     *Root  // that root
	dev, ino uint64 // the program's identity
}

// loaderArgv0 caches, per interpreter file, whether it takes --argv0.
var loaderArgv0 struct {
	sync.Mutex
	m map[[4]int64]bool
}

// takesArgv0 says whether the ELF interpreter open as fd (O_PATH) takes --argv0: glibc's
// and musl's loaders name the option in their option parsing ("argv0" with its NUL).
func takesArgv0(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	key := [4]int64{int64(st.Dev), int64(st.Ino), st.Size, st.Mtim.Nano()}
	loaderArgv0.Lock()
	v, ok := loaderArgv0.m[key]
	loaderArgv0.Unlock()
	if ok {
		return v
	}
	rfd, err := unix.Open(selfFD(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(rfd), "ld.so")
	b, _ := io.ReadAll(io.LimitReader(f, 8<<20))
	f.Close()
	v = bytes.Contains(b, []byte("argv0\x00"))
	loaderArgv0.Lock()
	if loaderArgv0.m == nil || len(loaderArgv0.m) > 64 {
		loaderArgv0.m = map[[4]int64]bool{}
	}
	loaderArgv0.m[key] = v
	loaderArgv0.Unlock()
	return v
}

// withArgv0 turns a prefix "interp X rest…" into "interp --argv0 NAME X rest…": NAME is
// the caller's argv[0] for a program (slot: the rewrite puts the caller's pointer there),
// or X itself for a #! script, whose interpreter's argv[0] is the #! line's path.
func withArgv0(prefix []string, script bool) (words []string, slot int) {
	words = append([]string{prefix[0], "--argv0", prefix[1]}, prefix[1:]...)
	if script {
		return words, -1
	}
	return words, 2
}

// loaded returns the program a process runs through its loader (nil: none).
func (k *Kernel) loaded(host int) *loadedProg {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p := k.procLocked(nsTgid(host)); p != nil {
		return p.Loaded
	}
	return nil
}

// cmdline leaves the loader's words out of a /proc/PID/cmdline read: b is what procfs
// shows. A process that rewrote its arguments (setproctitle) is shown as it wrote them.
func (l *loadedProg) cmdline(b []byte) []byte {
	w := bytes.SplitAfter(b, []byte{0})
	if len(w) < 2 || string(w[0]) != l.interp+"\x00" {
		return b
	}
	if !l.argv0 {
		return bytes.Join(w[1:], nil)
	}
	if len(w) < 4 || string(w[1]) != "--argv0\x00" {
		return b
	}
	out := append([]byte(nil), w[2]...)
	return append(out, bytes.Join(w[4:], nil)...)
}

// linkFor is what readlink of /proc/PID/exe shows the caller: the program's path seen from
// the caller's root (the whole guest path where the caller cannot see it).
func (l *loadedProg) linkFor(c *Call) string {
	full := path.Join(l.root.guest, l.prog)
	if g, ok := c.root().rel(full); ok {
		return g
	}
	return full
}

// open opens the program (flags as for a guest open); ENOENT when the path no longer names
// the same file.
func (l *loadedProg) open(flags int) (int, error) {
	fd, err := l.root.Open(l.prog, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, unix.ENOENT
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Dev != l.dev || st.Ino != l.ino {
		unix.Close(fd)
		return -1, unix.ENOENT
	}
	return fd, nil
}

// execfnOff is where in the shim's data page (page 1) a new image's AT_EXECFN string is
// kept; the handler never reads it (internal/shim: after CommOff).
const execfnOff = 0x200

// atExecfn is the auxiliary vector's AT_EXECFN.
const atExecfn = 31

// fixExecfn makes a new image's AT_EXECFN what Linux gives: the path the caller passed to
// execve. The host saw execveat(fd, "", AT_EMPTY_PATH) and gave "/dev/fd/N"; the string
// is put in the shim's data page and the auxiliary vector entry pointed at it. sp is the
// new image's stack pointer at the exit of execve: argc, argv, NULL, envp, NULL, auxv.
// Best effort: a path too long for the page, or a stack that is not as the host builds
// it, leaves the host's value.
func fixExecfn(tid int, sp uint64, execfn string) {
	if execfn == "" || len(execfn) >= shimPageSize-execfnOff {
		return
	}
	var w [8]byte
	word := func(at uint64) (uint64, bool) {
		if readMem(tid, at, w[:]) != nil {
			return 0, false
		}
		return binary.LittleEndian.Uint64(w[:]), true
	}
	argc, ok := word(sp)
	if !ok || argc > 1<<20 {
		return
	}
	at := sp + 8*(argc+2) // past argc, argv and its NULL
	for i := 0; ; i++ {   // envp
		v, ok := word(at)
		if !ok || i > 1<<20 {
			return
		}
		at += 8
		if v == 0 {
			break
		}
	}
	for i := 0; i < 64; i++ { // auxv
		typ, ok := word(at)
		if !ok || typ == 0 {
			return
		}
		if typ == atExecfn {
			old, ok := word(at + 8)
			var cur [8]byte
			if !ok || readMem(tid, old, cur[:]) != nil || string(cur[:]) != "/dev/fd/" {
				return
			}
			addr := uint64(shimAddr + shimPage1Off + execfnOff)
			if writeMem(tid, addr, append([]byte(execfn), 0)) != nil {
				return
			}
			binary.LittleEndian.PutUint64(w[:], addr)
			writeMem(tid, at+8, w[:])
			return
		}
		at += 16
	}
}

// noteLoader records, at the first ELF interpreter a chrooted execve meets, the program it
// will run (abs, st in root r); a program given by fd has no path to show.
func (plan *tracePlan) noteLoader(interp, abs string, r *Root, st *unix.Stat_t, byFD bool) {
	if plan.loader == nil && !byFD {
		plan.loader = &loadedProg{interp: interp, prog: abs, root: r, dev: st.Dev, ino: st.Ino, script: len(plan.prefix) > 0}
	}
}

// loaderArgv0 passes the caller's argv[0] through --argv0 when the interpreter (fd, the last
// file of the execve) takes it.
func (plan *tracePlan) loaderArgv0(fd int) {
	if l := plan.loader; l != nil && takesArgv0(fd) {
		plan.prefix, plan.slot = withArgv0(plan.prefix, l.script)
		l.argv0 = true
	}
}
