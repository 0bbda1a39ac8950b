package kernel

import (
	"golang.org/x/sys/unix"
)

// Scheduling and resource limits of other guest processes. To the host every guest process
// has the same credentials, so it would let any guest process renice, reschedule or change
// the limits of any other. The filter runs a call on the caller itself natively (pid 0);
// a call naming another process traps here, where Linux's rules between guest users are
// applied to the guest's credentials and a permitted call is CONTINUEd. The guest's PID
// namespace keeps every number inside the guest. The readers (getpriority of a process or
// group, sched_get*) need no permission on Linux and run natively.
//
// Like a signal (sys_signal.go), a target that ends and whose number is reused between the
// check and the host's call gets the call unchecked.

// procTarget finds the process of the guest task numbered guest: self when it is the
// caller's own process, found false for no such task (the host then says ESRCH).
func (c *Call) procTarget(guest int) (t sigTarget, self, found bool) {
	if guest == c.k.guestPid(c.Tid) || guest == c.k.guestPid(c.T.Proc.Tgid) {
		return t, true, true
	}
	t, found = c.k.signalTarget(guest)
	return t, found && t.host == c.T.Proc.Tgid, found
}

// myCred is a copy of the caller's credentials.
func (c *Call) myCred() Cred {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	return *c.cred()
}

// sysPrlimit is prlimit64 of another process: Linux's check_prlimit_permission. The
// caller's real uid must be each of the target's uids and its real gid each of its gids,
// or the caller has CAP_SYS_RESOURCE (guest root).
func sysPrlimit(c *Call) result {
	t, self, found := c.procTarget(int(c.Int(0)))
	me := c.myCred()
	if self || !found || me.EUID == 0 {
		return cont()
	}
	tc := t.cred
	if tc != nil && me.UID == tc.UID && me.UID == tc.EUID && me.UID == tc.SUID &&
		me.GID == tc.GID && me.GID == tc.EGID && me.GID == tc.SGID {
		return cont()
	}
	return errno(unix.EPERM)
}

// mayNice is Linux's set_one_prio_perm and check_same_owner: the caller's effective uid
// is the target's real or effective uid, or the caller has CAP_SYS_NICE (guest root).
func mayNice(me Cred, tc *Cred) bool {
	return me.EUID == 0 || tc != nil && (me.EUID == tc.UID || me.EUID == tc.EUID)
}

// sysSchedSet is sched_setaffinity, sched_setparam, sched_setscheduler and sched_setattr
// of another process.
func sysSchedSet(c *Call) result {
	t, self, found := c.procTarget(int(c.Int(0)))
	if self || !found || mayNice(c.myCred(), t.cred) {
		return cont()
	}
	return errno(unix.EPERM)
}

// priorityTargets are the guest processes a PRIO_PGRP or PRIO_USER call names (who 0: the
// caller's own group, or its real uid), as host tgids with their credentials.
func (c *Call) priorityTargets(which, who int) (hosts []int, creds []*Cred) {
	me := c.myCred()
	if which == unix.PRIO_USER && who == 0 {
		who = int(me.UID)
	}
	if which == unix.PRIO_PGRP && who == 0 {
		self := sigTarget{guest: c.k.guestPid(c.T.Proc.Tgid)}
		if self.guest == 0 || !c.k.statOf(&self) {
			return nil, nil
		}
		who = self.pgrp
	}
	c.k.knowAll()
	c.k.mu.Lock()
	all := make([]int, 0, len(c.k.procs))
	for h, p := range c.k.procs {
		if which != unix.PRIO_USER || int(p.Cred.UID) == who {
			all = append(all, h)
		}
	}
	c.k.mu.Unlock()
	for _, h := range all {
		g := c.k.guestPid(h)
		if g == 0 {
			continue
		}
		t, ok := c.k.signalTarget(g)
		if !ok || t.host != h || which == unix.PRIO_PGRP && (!c.k.statOf(&t) || t.pgrp != who) {
			continue
		}
		if which == unix.PRIO_USER && (t.cred == nil || int(t.cred.UID) != who) {
			continue
		}
		hosts, creds = append(hosts, h), append(creds, t.cred)
	}
	return hosts, creds
}

// sysSetpriority: of a process, Linux's permission; of a process group, each member's
// (when the caller may renice only some, the kernel renices those itself and the call
// fails with EPERM, as Linux's does); of a user, the guest's user, whom the host cannot
// tell from the others, so the kernel renices that user's processes itself.
func sysSetpriority(c *Call) result {
	which, who, nice := int(c.Int(0)), int(c.Int(1)), int(c.Int(2))
	switch which {
	case unix.PRIO_PROCESS:
		t, self, found := c.procTarget(who)
		if self || !found || mayNice(c.myCred(), t.cred) {
			return cont()
		}
		return errno(unix.EPERM)
	case unix.PRIO_PGRP, unix.PRIO_USER:
	default:
		return cont() // the host's EINVAL
	}
	hosts, creds := c.priorityTargets(which, who)
	me := c.myCred()
	var allowed []int
	for i, h := range hosts {
		if mayNice(me, creds[i]) {
			allowed = append(allowed, h)
		}
	}
	if which == unix.PRIO_PGRP && len(allowed) == len(hosts) {
		return cont() // every member (or none: the host's ESRCH)
	}
	if len(hosts) == 0 {
		return errno(unix.ESRCH)
	}
	nice = max(-20, min(19, nice))
	var err error
	for _, h := range allowed {
		if e := unix.Setpriority(unix.PRIO_PROCESS, h, nice); e != nil && e != unix.ESRCH {
			err = e
		}
	}
	if len(allowed) < len(hosts) {
		return errno(unix.EPERM)
	}
	return fail0(err)
}

// sysGetpriority: of a process or group the host answers; of a user, the kernel, which
// alone knows the guest's users: the highest priority (lowest nice) among that user's
// processes, as the raw call returns it (20 - nice).
func sysGetpriority(c *Call) result {
	which, who := int(c.Int(0)), int(c.Int(1))
	if which != unix.PRIO_USER {
		return cont()
	}
	hosts, _ := c.priorityTargets(which, who)
	best := -1
	for _, h := range hosts {
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, h); err == nil {
			best = max(best, p)
		}
	}
	if best < 0 {
		return errno(unix.ESRCH)
	}
	return ok(int64(best))
}
