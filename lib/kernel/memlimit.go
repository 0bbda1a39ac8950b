package kernel

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mem= as a limit. The guest's memory is the host's (docs/architecture.md, principle 4), and
// an ordinary user has no memory cgroup to put it in, so the kernel applies what Linux
// applies to one allocation in its default overcommit mode (OVERCOMMIT_GUESS): a mapping
// that would be charged to the machine's memory (private and writable, or shared
// anonymous, without MAP_NORESERVE) and is longer than all of it fails with ENOMEM. The
// filter traps only mmap calls longer than mem= (ruleMemSize); every other runs natively.
// The heap is held to the same bound as a whole: brk calls that set a break trap (brk(0),
// the query, runs natively), and one that would make the heap longer than mem= fails as
// Linux's brk fails, by returning the current break. glibc's malloc falls back to the heap
// when a long mmap fails, so this is what makes malloc(150M) fail on a machine of 64M.
// docs/memory.md says what this does not cover.

// stubMemEnv passes mem= to the launcher, which builds the filter with it.
const stubMemEnv = "GOUML_LAUNCHER_MEM"

// sysMmap is an mmap longer than the machine's memory (the filter lets shorter ones run).
func sysMmap(c *Call) result {
	length, prot, flags := c.Arg(1), c.Arg(2), c.Arg(3)
	shared := flags&unix.MAP_SHARED != 0 // MAP_SHARED or MAP_SHARED_VALIDATE
	charged := shared && flags&unix.MAP_ANONYMOUS != 0 || !shared && prot&unix.PROT_WRITE != 0
	if !charged || flags&unix.MAP_NORESERVE != 0 || c.k.cfg.Mem == 0 {
		return cont()
	}
	if (length+4095)/4096 > c.k.cfg.Mem/4096 {
		return errno(unix.ENOMEM)
	}
	return cont()
}

// sysBrk is brk(addr) with addr != 0 (the filter lets brk(0) run).
func sysBrk(c *Call) result {
	if c.k.cfg.Mem == 0 {
		return cont()
	}
	start, ok := heapStart(c.Tid)
	if !ok {
		return cont()
	}
	if addr := c.Arg(0); addr <= start || addr-start <= c.k.cfg.Mem {
		return cont()
	}
	// Linux's brk fails by returning the break it kept. Only a refusal reads the maps,
	// which cost a large process (a compiler's) ~0.1 ms on every brk when read each time.
	cur, ok := heapEnd(c.Tid, start)
	if !ok {
		return cont()
	}
	return ok64(cur)
}

// ok64 is ok for an address.
func ok64(v uint64) result { return ok(int64(v)) }

// heapStart reads where a process's heap starts: /proc/TID/stat's start_brk (proc(5) field
// 47).
func heapStart(tid int) (start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:])) // field 3 (state) onwards: start_brk is field 47
	if len(f) < 45 {
		return 0, false
	}
	start, err = strconv.ParseUint(f[44], 10, 64)
	if err != nil || start == 0 {
		return 0, false
	}
	return start, true
}

// heapEnd reads where a process's heap ends now: the end of its [heap] mapping, or its
// start while it has none (ok false: the maps could not be read).
func heapEnd(tid int, start uint64) (cur uint64, ok bool) {
	cur = start
	m, err := os.Open("/proc/" + strconv.Itoa(tid) + "/maps")
	if err != nil {
		return 0, false
	}
	defer m.Close()
	s := bufio.NewScanner(m)
	for s.Scan() {
		if l := s.Text(); strings.HasSuffix(l, "[heap]") {
			rng, _, _ := strings.Cut(l, " ")
			_, end, _ := strings.Cut(rng, "-")
			if e, err := strconv.ParseUint(end, 16, 64); err == nil {
				cur = e
			}
			break
		}
	}
	return cur, true
}
