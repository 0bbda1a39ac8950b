// Package guestmem reads and writes a guest task's memory and the few figures of its host
// /proc/PID/status and /proc/PID/syscall the kernel needs (tgid, parent, umask, the stack
// pointer of a blocked call). It is mechanism only: it knows
// nothing of files, paths or credentials, and every address it is given is the guest's to
// get wrong (EFAULT), never the kernel's.
package guestmem

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Guest memory is read and written with process_vm_readv/writev (about 1 µs per call here;
// PTRACE_PEEKDATA would cost 32 µs per word). The ptrace paths that must write below the
// stack pointer use /proc/PID/mem, which is not limited to mapped-writable pages.

// ErrGone: the task no longer exists.
var ErrGone = errors.New("guest thread gone")

// Read reads len(buf) bytes at addr of task tid (EFAULT if any of them is not readable).
func Read(tid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if addr == 0 {
		return unix.EFAULT
	}
	remote := unix.RemoteIovec{Base: uintptr(addr), Len: len(buf)}
	n, e := vm(unix.SYS_PROCESS_VM_READV, tid, &buf[0], len(buf), &remote, 1)
	if e != 0 {
		if e == unix.ESRCH {
			return ErrGone
		}
		return unix.EFAULT
	}
	if n != len(buf) {
		return unix.EFAULT
	}
	return nil
}

// Write writes buf at addr of task tid, where the task may write.
func Write(tid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if addr == 0 {
		return unix.EFAULT
	}
	remote := unix.RemoteIovec{Base: uintptr(addr), Len: len(buf)}
	n, e := vm(unix.SYS_PROCESS_VM_WRITEV, tid, &buf[0], len(buf), &remote, 1)
	if e != 0 || n != len(buf) {
		return unix.EFAULT
	}
	return nil
}

// WriteU32s writes vals[i] at addrs[i] of task tid, in order, with one process_vm_writev
// (a call costs about as much as the trap that asked for it). Like a run of put_user it
// stops at the first address that faults (EFAULT), the earlier values written. At most 8.
func WriteU32s(tid int, addrs []uint64, vals []uint32) error {
	var remote [8]unix.RemoteIovec
	if len(addrs) != len(vals) || len(addrs) > len(remote) {
		panic("guestmem: WriteU32s arguments")
	}
	if len(vals) == 0 {
		return nil
	}
	for i, a := range addrs {
		if a == 0 {
			// NULL faults; what comes before it is still written
			if err := WriteU32s(tid, addrs[:i], vals[:i]); err != nil {
				return err
			}
			return unix.EFAULT
		}
		remote[i] = unix.RemoteIovec{Base: uintptr(a), Len: 4}
	}
	var local [8]uint32
	copy(local[:], vals)
	n, e := vm(unix.SYS_PROCESS_VM_WRITEV, tid, (*byte)(unsafe.Pointer(&local[0])), 4*len(vals), &remote[0], len(vals))
	if e != 0 || n != 4*len(vals) {
		return unix.EFAULT
	}
	return nil
}

// vm is process_vm_readv or process_vm_writev of one local buffer, without allocating (the
// trap path calls it for most calls). It is a blocking call: reaching the guest's page may
// have to read it in.
func vm(nr uintptr, tid int, local *byte, n int, remote *unix.RemoteIovec, nremote int) (int, unix.Errno) {
	liov := unix.Iovec{Base: local, Len: uint64(n)}
	r, _, e := unix.Syscall6(nr, uintptr(tid), uintptr(unsafe.Pointer(&liov)), 1,
		uintptr(unsafe.Pointer(remote)), uintptr(nremote), 0)
	return int(r), e
}

// ReadString reads a NUL-terminated string of at most max bytes (not counting the NUL),
// one page-bounded chunk at a time so a string at the end of a mapping still reads. Most
// paths are short: the first chunk is at most 256 bytes, read into the stack, and such a
// path costs one allocation, the string's.
func ReadString(tid int, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	var first [256]byte
	var out []byte
	for len(out) <= max {
		n := 4096 - int(addr%4096)
		var chunk []byte
		if out == nil && n > len(first) {
			chunk = first[:]
		} else if out == nil {
			chunk = first[:n]
		} else {
			chunk = make([]byte, n)
		}
		if err := Read(tid, addr, chunk); err != nil {
			return "", err
		}
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			if len(out)+i > max {
				break
			}
			if out == nil {
				return string(chunk[:i]), nil
			}
			return string(append(out, chunk[:i]...)), nil
		}
		out = append(out, chunk...)
		addr += uint64(len(chunk))
	}
	return "", unix.ENAMETOOLONG
}

// ReadPtrs reads a NULL-terminated array of pointers (argv, envp).
func ReadPtrs(tid int, addr uint64, max int) ([]uint64, error) {
	var out []uint64
	if addr == 0 {
		return nil, nil
	}
	for {
		var b [8 * 32]byte
		if err := Read(tid, addr, b[:]); err != nil {
			// the array may end right before an unmapped page: fall back to single words
			if err := Read(tid, addr, b[:8]); err != nil {
				return nil, err
			}
			v := *(*uint64)(unsafe.Pointer(&b[0]))
			if v == 0 {
				return out, nil
			}
			out = append(out, v)
			addr += 8
			continue
		}
		for i := 0; i < 32; i++ {
			v := *(*uint64)(unsafe.Pointer(&b[8*i]))
			if v == 0 {
				return out, nil
			}
			out = append(out, v)
			if len(out) > max {
				return nil, unix.E2BIG
			}
		}
		addr += 8 * 32
	}
}

// WriteForce writes through /proc/PID/mem (used on stopped tracees only).
func WriteForce(tid int, addr uint64, buf []byte) error {
	f, err := os.OpenFile("/proc/"+strconv.Itoa(tid)+"/mem", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(buf, int64(addr))
	return err
}

// TgidPpid reads Tgid and PPid of a host task.
func TgidPpid(tid int) (tgid, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return tgid, ppid
}

// Umask reads a task's umask (needed when the kernel creates files for it). It is on the
// way of every create (tar, dpkg), so it reads the file's head into a stack buffer with raw
// calls and parses it in place: "Umask:" is the second line, after the escaped command name
// (at most 64 bytes). os.ReadFile and splitting the whole file cost about as much again as
// the host's generating it (24 against 15 µs here).
func Umask(tid int) uint32 {
	fd, err := unix.Open("/proc/"+strconv.Itoa(tid)+"/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0o022
	}
	var b [512]byte
	n, err := unix.Read(fd, b[:])
	unix.Close(fd)
	if err != nil || n <= 0 {
		return 0o022
	}
	if m, ok := parseUmask(b[:n]); ok {
		return m
	}
	return 0o022
}

// Site is where a task blocked in a system call made it: the number, the user stack pointer
// and the address after its syscall instruction (/proc/TID/syscall).
type Site struct {
	Nr     int64
	SP, PC uint64
}

// errNotBlocked: /proc/TID/syscall did not describe a blocked call ("running", or -1 for a
// task stopped outside any call).
var errNotBlocked = errors.New("task not blocked in a system call")

// SyscallSite reads where task tid, blocked in a system call, made it.
func SyscallSite(tid int) (Site, error) {
	var b [256]byte
	f, err := os.Open("/proc/" + strconv.Itoa(tid) + "/syscall")
	if err != nil {
		return Site{}, ErrGone
	}
	n, err := f.Read(b[:])
	f.Close()
	if err != nil {
		return Site{}, err
	}
	return parseSite(string(b[:n]))
}

// parseSite parses /proc/TID/syscall: "NR ARG0 … ARG5 SP PC", numbers in hex after NR.
func parseSite(s string) (Site, error) {
	f := strings.Fields(s)
	if len(f) != 9 {
		return Site{}, errNotBlocked
	}
	nr, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || nr < 0 {
		return Site{}, errNotBlocked
	}
	sp, err1 := strconv.ParseUint(f[7], 0, 64)
	pc, err2 := strconv.ParseUint(f[8], 0, 64)
	if err1 != nil || err2 != nil {
		return Site{}, errors.New("/proc/TID/syscall: bad number")
	}
	return Site{Nr: nr, SP: sp, PC: pc}, nil
}

// parseUmask finds the "Umask:\tNNNN" line of a status file's head.
func parseUmask(b []byte) (uint32, bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("Umask:")); ok {
			v = bytes.TrimSpace(v)
			var m uint32
			for _, c := range v {
				if c < '0' || c > '7' || m > 0o7777 {
					return 0, false
				}
				m = m<<3 | uint32(c-'0')
			}
			return m & 0o777, len(v) > 0
		}
	}
	return 0, false
}
