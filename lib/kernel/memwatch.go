package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The sum of the guest's memory against mem=. What the guest's processes hold (their
// anonymous resident memory and swap, read from the host's /proc) is what the real machine
// would hold in its RAM; when it exceeds mem=, the kernel does what Linux's OOM killer
// does: it kills the process holding the most (init last) and logs it in the kernel log.
// It looks every memWatchEvery, so a process may hold more than mem= for that long; what
// /proc/meminfo and sysinfo report as used is the same sum (docs/memory.md).

// memWatchEvery is how often the guest's memory is summed.
const memWatchEvery = 250 * time.Millisecond

// procMem is one guest process's memory, in kB.
type procMem struct {
	host          int
	anon, vm      uint64
	name          string
	uid           uint32
	init, visible bool
}

// memUse sums the memory of the guest's processes (kB) and returns the largest holder.
func (k *Kernel) memUse() (used uint64, top procMem) {
	k.mu.Lock()
	hosts := make([]int, 0, len(k.procs))
	uids := make(map[int]uint32, len(k.procs))
	for h, p := range k.procs {
		hosts = append(hosts, h)
		uids[h] = p.Cred.UID
	}
	initTgid := k.initTgid
	k.mu.Unlock()
	var initMem procMem
	for _, h := range hosts {
		m, ok := readProcMem(h)
		if !ok {
			continue
		}
		m.uid, m.init = uids[h], h == initTgid
		used += m.anon
		if m.init {
			initMem = m
		} else if !top.visible || m.anon > top.anon {
			top = m
		}
	}
	if !top.visible || top.anon == 0 {
		top = initMem // init only when nothing else holds memory, as Linux kills it last
	}
	return used, top
}

// readProcMem reads RssAnon, VmSwap, VmSize and Name from a host /proc/PID/status.
func readProcMem(host int) (procMem, bool) {
	m := procMem{host: host, visible: true}
	f, err := os.Open("/proc/" + strconv.Itoa(host) + "/status")
	if err != nil {
		return m, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "Name":
			m.name = v
		case "RssAnon", "VmSwap":
			m.anon += n
		case "VmSize":
			m.vm = n
		}
	}
	return m, true
}

// memWatch enforces mem= over the sum until stop is closed.
func (k *Kernel) memWatch(stop <-chan struct{}) {
	if k.cfg.Mem == 0 {
		return
	}
	t := time.NewTicker(memWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if k.dying.Load() {
			return
		}
		used, top := k.memUse()
		if used*1024 <= k.cfg.Mem || !top.visible || top.anon == 0 {
			continue
		}
		k.mu.Lock()
		p := k.procs[top.host]
		if p != nil {
			unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0) // under the lock: the watcher closes ended pidfds under it
		}
		k.mu.Unlock()
		if p == nil {
			continue
		}
		k.log.add(3, fmt.Sprintf("Out of memory: Killed process %d (%s) total-vm:%dkB, anon-rss:%dkB, UID:%d",
			k.guestPid(top.host), top.name, top.vm, top.anon, top.uid))
	}
}

// memFigures are the machine's memory as /proc/meminfo and sysinfo show it (bytes).
type memFigures struct {
	free  uint64 // mem= less anon and shmem (MemFree, and MemAvailable: nothing else is reclaimable)
	anon  uint64 // the processes' anonymous memory and swap (AnonPages)
	shmem uint64 // the files of the guest's tmpfs mounts (Shmem, and Cached: Linux counts them in both)
}

// memStat sums the machine's memory. Linux's MemTotal - MemFree is what its processes and
// its tmpfs files hold (and the kernel's own, which has no counterpart here): the same sum
// here, so that free's used and buff/cache follow what the guest does (a process that
// allocates, a file written to /dev/shm) as on the real machine.
func (k *Kernel) memStat() memFigures {
	used, _ := k.memUse()
	f := memFigures{anon: used * 1024, shmem: k.tmpfsUsed()}
	f.free = k.cfg.Mem - min(k.cfg.Mem, f.anon+f.shmem)
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		f.free = min(f.free, uint64(si.Freeram)*uint64(max(si.Unit, 1)))
	}
	return f
}

// tmpfsUsed is what the files of the guest's tmpfs mounts hold (bytes), by their instances'
// statfs.
func (k *Kernel) tmpfsUsed() uint64 {
	if k.root == nil || k.root.mounts == nil {
		return 0
	}
	t := k.root.mounts
	t.mu.Lock()
	var fds []int
	for i, inUse := range t.tmpfs {
		if inUse && i < len(k.cfg.trees.tmpfs) {
			fds = append(fds, k.cfg.trees.tmpfs[i])
		}
	}
	t.mu.Unlock()
	var sum uint64
	for _, fd := range fds {
		var sf unix.Statfs_t
		if unix.Fstatfs(fd, &sf) == nil && sf.Blocks >= sf.Bfree {
			sum += (sf.Blocks - sf.Bfree) * uint64(sf.Bsize)
		}
	}
	return sum
}
