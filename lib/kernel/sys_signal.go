package kernel

import (
	"bytes"
	"os"
	"path"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Signals between guest users. To the host every guest process is root of the guest's user
// namespace, so the host lets any guest process signal any other. Linux allows a signal when
// the sender's real or effective uid is the target's real or saved uid, when the sender has
// CAP_KILL (guest root: EUID 0), or for SIGCONT within the sender's session.
//
// The filter cannot tell root from anyone else (it sees registers only, and the shim's page,
// which the guest can write, cannot be trusted with a permission), so kill, tkill, tgkill,
// rt_sigqueueinfo, rt_tgsigqueueinfo and pidfd_send_signal always trap. For root the
// handler only reads the EUID and CONTINUEs the call; for anyone else it finds the target's
// credentials (the guest's procfs names the target's process, the kernel's table holds its
// credentials) and CONTINUEs a permitted call, so the host delivers it with the sender's
// own si_pid and si_uid, and the guest's PID namespace keeps every number inside the guest.
// A target that ends and whose number is taken by a new process between the check and the
// host's delivery gets the signal unchecked: numbers are reused only after the namespace
// went round its pid_max.

// signalRoot: the sender has CAP_KILL.
func (c *Call) signalRoot() bool {
	if c.T == nil {
		return true
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	return c.cred().EUID == 0
}

func sysKill(c *Call) result {
	if c.signalRoot() {
		return cont()
	}
	if pid := c.Int(0); pid <= 0 {
		return c.signalGroup(int(pid), int(c.Int(1)))
	}
	return c.signalTask(int(c.Int(0)), int(c.Int(1)))
}

func sysTkill(c *Call) result {
	if c.signalRoot() {
		return cont()
	}
	return c.signalTask(int(c.Int(0)), int(c.Int(1)))
}

func sysTgkill(c *Call) result {
	if c.signalRoot() {
		return cont()
	}
	return c.signalTask(int(c.Int(1)), int(c.Int(2)))
}

func sysRtSigqueueinfo(c *Call) result {
	if c.signalRoot() {
		return cont()
	}
	return c.signalTask(int(c.Int(0)), int(c.Int(1)))
}

func sysRtTgsigqueueinfo(c *Call) result {
	if c.signalRoot() {
		return cont()
	}
	return c.signalTask(int(c.Int(1)), int(c.Int(2)))
}

// sysPidfdSendSignal: the target is the process the caller's pidfd refers to, which the
// host's fdinfo of that fd names (in the kernel's numbering). Linux also takes an fd of a
// /proc/PID directory as a pidfd (Python's signal.pidfd_send_signal test does): the
// guest's /proc directories are the kernel's listings, which the host knows nothing of, so
// for those the kernel checks and sends the signal itself (procDirSignal).
func sysPidfdSendSignal(c *Call) result {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Tid) + "/fdinfo/" + strconv.Itoa(int(c.Int(0))))
	if err != nil {
		return errno(unix.EBADF)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			if c.signalRoot() {
				return cont()
			}
			host, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || host <= 0 {
				return cont() // the process ended: the host says ESRCH
			}
			g := c.k.guestPid(host)
			if g == 0 {
				return errno(unix.ESRCH)
			}
			return c.signalTask(g, int(c.Int(1)))
		}
	}
	if g := c.procPidDir(c.Int(0)); g > 0 {
		return c.procDirSignal(g)
	}
	return errno(unix.EBADF) // neither a pidfd nor a /proc/PID directory
}

// procPidDir returns the guest pid whose /proc directory the caller's fd is (0: none): a
// directory at the top of the kernel's /proc listing, named by the pid.
func (c *Call) procPidDir(gfd int32) int {
	h, err := c.guestFD(gfd)
	if err != nil {
		return 0
	}
	defer unix.Close(h)
	var st, top, named unix.Stat_t
	if unix.Fstat(h, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || unix.Fstat(c.k.cfg.procDir, &top) != nil || st.Dev != top.Dev {
		return 0
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlink(selfFD(h), buf)
	if err != nil {
		return 0
	}
	name := path.Base(string(buf[:n]))
	g, err := strconv.Atoi(name)
	if err != nil || g <= 0 || strconv.Itoa(g) != name {
		return 0
	}
	// the name read back must be this very directory of the listing
	if unix.Fstatat(c.k.cfg.procDir, name, &named, unix.AT_SYMLINK_NOFOLLOW) != nil || named.Ino != st.Ino || named.Dev != st.Dev {
		return 0
	}
	return g
}

// procDirSignal is pidfd_send_signal through a /proc/PID directory: Linux's checks (flags
// 0; a siginfo of the sender's making only to itself or with a negative si_code; the rules
// of kill), then the kernel sends the signal through its own pidfd of the process. The
// receiver sees si_pid 0 where Linux gives the sender's pid: the kernel is outside the
// guest's PID namespace.
func (c *Call) procDirSignal(guest int) result {
	sig := int(c.Int(1))
	if c.Arg(3) != 0 || sig < 0 || sig > 64 {
		return errno(unix.EINVAL)
	}
	t, found := c.k.signalTarget(guest)
	if !found || t.host == 0 {
		return errno(unix.ESRCH)
	}
	self := t.host == c.T.Proc.Tgid
	if !self && !c.signalRoot() && !c.maySignal(t, sig) {
		return errno(unix.EPERM)
	}
	var info *unix.Siginfo
	if addr := c.Arg(2); addr != 0 {
		var si unix.Siginfo
		if err := c.Read(addr, unsafe.Slice((*byte)(unsafe.Pointer(&si)), unsafe.Sizeof(si))); err != nil {
			return fail(err)
		}
		if int(si.Signo) != sig {
			return errno(unix.EINVAL)
		}
		if !self && (si.Code >= 0 || si.Code == -6) { // SI_TKILL
			return errno(unix.EPERM)
		}
		info = &si
	}
	if sig == 0 || c.k.initIgnores(t.host, sig) {
		return ok(0)
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock() // the watcher closes ended pidfds under it
	p := c.k.procs[t.host]
	if p == nil {
		return errno(unix.ESRCH)
	}
	if err := unix.PidfdSendSignal(p.pidfd, unix.Signal(sig), info, 0); err != nil {
		return fail(err)
	}
	return ok(0)
}

// initIgnores tells whether Linux would drop sig on its way from a guest process to the
// process host, because host is the guest's init: a PID namespace's init gets from inside
// it only the signals it catches, never SIGKILL or SIGSTOP. The host enforces that when
// it delivers a guest's call itself; a signal the kernel sends on the guest's behalf comes
// from outside the namespace, where nothing protects init, so the kernel asks this first.
func (k *Kernel) initIgnores(host, sig int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return host == k.initTgid && k.initIgnoresLocked(sig)
}

// initIgnoresLocked is initIgnores for init itself, k.mu held.
func (k *Kernel) initIgnoresLocked(sig int) bool {
	if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) || sig <= 0 || sig > 64 {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(k.initTgid) + "/status")
	if err != nil {
		return true // init has ended: the machine is going down
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<(sig-1)) == 0
		}
	}
	return true
}

// signalTask answers a signal to the guest task (thread or process) numbered guest.
func (c *Call) signalTask(guest, sig int) result {
	if guest <= 0 || sig < 0 || sig > 64 {
		return cont() // the host's EINVAL or ESRCH
	}
	if guest == c.k.guestPid(c.Tid) || guest == c.k.guestPid(c.T.Proc.Tgid) {
		return cont() // itself (raise, abort, kill(getpid())): always allowed
	}
	t, ok := c.k.signalTarget(guest)
	if !ok {
		return cont() // no such task (ESRCH), or a zombie, which no signal reaches
	}
	if !c.maySignal(t, sig) {
		return errno(unix.EPERM)
	}
	return cont()
}

// sigTarget is what a permission check needs of a target process.
type sigTarget struct {
	host  int // host tgid
	guest int // guest tgid
	cred  *Cred
	pgrp  int // guest number (group kills)
}

// signalTarget finds the process of a guest task: ok is false for no task or a zombie.
// A task the kernel knows is found by its table and the host's /proc; any other (a thread
// not seen yet, a zombie) through the guest's procfs. A task whose process the kernel does
// not know gets no credentials (nobody may signal it but root); it cannot happen unless the
// filter is wrong (kernel.go: taskLocked).
func (k *Kernel) signalTarget(guest int) (sigTarget, bool) {
	t := sigTarget{guest: guest}
	if host, ok := k.hostPid(guest); ok {
		if tgid, _ := procTgidPpid(host); tgid != 0 {
			k.mu.Lock()
			if p := k.procLocked(tgid); p != nil {
				t.host, t.cred = tgid, p.Cred.clone()
			}
			k.mu.Unlock()
			if t.host != 0 {
				return t, true
			}
		}
	}
	b, err := k.procfsRead(guest, "status")
	if err != nil {
		return t, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			t.guest, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if v, ok := strings.CutPrefix(l, "State:"); ok && strings.HasPrefix(strings.TrimSpace(v), "Z") {
			return t, false
		}
	}
	if !k.statOf(&t) {
		return t, false
	}
	host, ok := k.hostPid(t.guest)
	if !ok {
		return t, true
	}
	t.host = host
	k.mu.Lock()
	if p := k.procLocked(host); p != nil {
		t.cred = p.Cred.clone()
	}
	k.mu.Unlock()
	return t, true
}

// statOf reads a guest process's group from the guest's procfs.
func (k *Kernel) statOf(t *sigTarget) bool {
	b, err := k.procfsRead(t.guest, "stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp session …
	if len(f) < 4 {
		return false
	}
	t.pgrp, _ = strconv.Atoi(f[2])
	return true
}

// maySignal is Linux's check_kill_permission for a non-root sender.
func (c *Call) maySignal(t sigTarget, sig int) bool {
	if t.host == c.T.Proc.Tgid {
		return true // its own process
	}
	c.k.mu.Lock()
	me := *c.cred()
	c.k.mu.Unlock()
	if tc := t.cred; tc != nil && (me.EUID == tc.SUID || me.EUID == tc.UID || me.UID == tc.SUID || me.UID == tc.UID) {
		return true
	}
	if sig != int(unix.SIGCONT) || t.host == 0 {
		return false
	}
	s := hostSession(c.T.Proc.Tgid)
	return s != 0 && s == hostSession(t.host)
}

// hostSession reads the session of a host process (in the kernel's numbering, the same for
// every guest process); 0 if it cannot.
func hostSession(host int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(host) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp session …
	if len(f) < 4 {
		return 0
	}
	s, _ := strconv.Atoi(f[3])
	return s
}

// signalGroup answers kill(0), kill(-1) and kill(-pgrp) of a non-root sender. Linux signals
// every target it may and fails with EPERM only when it may signal none. When the sender
// may signal all of them (the usual case: a shell's own job) or none, the call is
// CONTINUEd or refused; otherwise the kernel sends the signal to the permitted ones itself,
// through their pidfds, and the targets then see the kernel (si_pid 0) as its sender.
func (c *Call) signalGroup(pid, sig int) result {
	if sig < 0 || sig > 64 {
		return cont()
	}
	self := sigTarget{guest: c.k.guestPid(c.T.Proc.Tgid)}
	if self.guest == 0 || !c.k.statOf(&self) {
		return cont()
	}
	want := -pid
	if pid == 0 {
		want = self.pgrp
	}
	c.k.knowAll()
	c.k.mu.Lock()
	hosts := make([]int, 0, len(c.k.procs))
	for h := range c.k.procs {
		hosts = append(hosts, h)
	}
	c.k.mu.Unlock()
	var allowed []int
	denied := 0
	for _, h := range hosts {
		g := c.k.guestPid(h)
		if g == 0 {
			continue
		}
		t, ok := c.k.signalTarget(g)
		if !ok || t.host != h || !c.k.statOf(&t) {
			continue
		}
		if pid == -1 && (g == 1 || h == c.T.Proc.Tgid) || pid != -1 && t.pgrp != want {
			continue
		}
		if c.maySignal(t, sig) {
			allowed = append(allowed, h)
		} else {
			denied++
		}
	}
	switch {
	case denied == 0:
		return cont()
	case len(allowed) == 0:
		return errno(unix.EPERM)
	}
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	for _, h := range allowed {
		if h == c.k.initTgid && c.k.initIgnoresLocked(sig) {
			continue
		}
		if p := c.k.procs[h]; p != nil {
			// under the lock: the watcher closes pidfds of ended processes under it
			unix.PidfdSendSignal(p.pidfd, unix.Signal(sig), nil, 0)
		}
	}
	return ok(0)
}

// isStopSignal: the signals whose default action stops the process.
func isStopSignal(sig int) bool {
	switch unix.Signal(sig) {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return true
	}
	return false
}

// sigcontPending reports whether task tid has a SIGCONT pending, its own or its process's.
func sigcontPending(tid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return false
	}
	const bit = 1 << (unix.SIGCONT - 1)
	for _, l := range strings.Split(string(b), "\n") {
		for _, key := range []string{"SigPnd:", "ShdPnd:"} {
			if v, ok := strings.CutPrefix(l, key); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && m&bit != 0 {
					return true
				}
			}
		}
	}
	return false
}
