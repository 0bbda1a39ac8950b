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
	k.knowAll()
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
		p := k.procLocked(top.host)
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

// memFree is what the machine has free (bytes): mem= less what the guest's processes hold,
// and never more than the host has free.
func (k *Kernel) memFree() uint64 {
	used, _ := k.memUse()
	free := k.cfg.Mem - min(k.cfg.Mem, used*1024)
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		free = min(free, uint64(si.Freeram)*uint64(max(si.Unit, 1)))
	}
	return free
}
