package kernel

import (
	"golang.org/x/sys/unix"
)

// Process identity and signals. Guest PIDs are the host's, except init: the host pid of
// init is guest pid 1 (and guest pid 1 is the host pid of init), in pids, tids, pgids and sids.
// wait4/waitid/fork therefore run natively and report right numbers; what returns or takes
// a pid that may be init's is translated here. kill and friends are checked so that a
// guest can only signal guest processes.

func sysGetpid(c *Call) result { return ok(int64(c.k.guestPid(c.T.Proc.Tgid))) }

func sysGettid(c *Call) result { return ok(int64(c.k.guestPid(c.Tid))) }

func sysGetppid(c *Call) result {
	if c.T.Proc.Tgid == c.k.initTgid {
		return ok(0)
	}
	c.k.mu.Lock()
	parent := c.T.Proc.Parent
	c.k.mu.Unlock()
	if parent == 0 {
		_, parent = procTgidPpid(c.T.Proc.Tgid)
	}
	return ok(int64(c.k.guestPid(parent)))
}

// target maps a pid argument (0 = the caller) to the host pid, refusing non-guest pids.
func (c *Call) target(pid int32) (int, error) {
	if pid == 0 {
		return c.T.Proc.Tgid, nil
	}
	if pid < 0 {
		return 0, unix.ESRCH
	}
	h, ok := c.k.hostPid(int(pid))
	if !ok {
		return 0, unix.ESRCH
	}
	return h, nil
}

func sysGetpgid(c *Call) result {
	h, err := c.target(c.Int(0))
	if err != nil {
		return fail(err)
	}
	g, err := unix.Getpgid(h)
	if err != nil {
		return fail(err)
	}
	return ok(int64(c.k.guestPid(g)))
}

func sysGetpgrp(c *Call) result {
	g, err := unix.Getpgid(c.T.Proc.Tgid)
	if err != nil {
		return fail(err)
	}
	return ok(int64(c.k.guestPid(g)))
}

func sysGetsid(c *Call) result {
	h, err := c.target(c.Int(0))
	if err != nil {
		return fail(err)
	}
	s, err := unix.Getsid(h)
	if err != nil {
		return fail(err)
	}
	return ok(int64(c.k.guestPid(s)))
}

func sysSetsid(c *Call) result {
	if c.T.Proc.Tgid == c.k.initTgid {
		// init already leads its session (the launcher made it); Linux's init gets 1 here
		return ok(1)
	}
	return cont()
}

func sysSetpgid(c *Call) result {
	pid, pgid := c.Int(0), c.Int(1)
	if pid < 0 || pgid < 0 {
		return errno(unix.EINVAL)
	}
	if pid == 1 || pgid == 1 {
		// init's numbers differ between guest and host; only init itself may do this
		if c.T.Proc.Tgid != c.k.initTgid {
			return errno(unix.EPERM)
		}
		return ok(0)
	}
	if pid != 0 {
		if _, err := c.target(pid); err != nil {
			return fail(err)
		}
	}
	return cont()
}

// signalTarget resolves a kill() pid argument: positive pids must be guest processes,
// negative ones guest process groups. It returns the host value and whether the host
// value differs from the guest's (then the kernel sends the signal itself).
func (c *Call) signalTarget(pid int32) (int, bool, error) {
	switch {
	case pid == 0:
		return 0, false, nil
	case pid == -1:
		return -1, true, nil
	case pid > 0:
		h, ok := c.k.hostPid(int(pid))
		if !ok {
			return 0, false, unix.ESRCH
		}
		return h, h != int(pid), nil
	default:
		g := int(-pid)
		h, ok := c.k.hostPid(g)
		if !ok {
			// a group whose leader is gone: any guest member will do
			if !c.k.groupExists(g) {
				return 0, false, unix.ESRCH
			}
			h = g
		}
		return -h, h != g, nil
	}
}

func (k *Kernel) groupExists(pgid int) bool {
	k.mu.Lock()
	pids := make([]int, 0, len(k.procs))
	for p := range k.procs {
		pids = append(pids, p)
	}
	k.mu.Unlock()
	for _, p := range pids {
		if g, err := unix.Getpgid(p); err == nil && g == pgid {
			return true
		}
	}
	return false
}

func sysKill(c *Call) result {
	sig := unix.Signal(c.Int(1))
	h, translate, err := c.signalTarget(c.Int(0))
	if err != nil {
		return fail(err)
	}
	if !translate {
		return cont()
	}
	if h == -1 {
		// every guest process but init (Linux semantics of kill(-1) seen from the guest)
		c.k.mu.Lock()
		pids := make([]int, 0, len(c.k.procs))
		for p := range c.k.procs {
			if p != c.k.initTgid {
				pids = append(pids, p)
			}
		}
		c.k.mu.Unlock()
		if len(pids) == 0 {
			return errno(unix.ESRCH)
		}
		for _, p := range pids {
			if p != c.T.Proc.Tgid {
				unix.Kill(p, sig)
			}
		}
		if c.T.Proc.Tgid != c.k.initTgid {
			unix.Kill(c.T.Proc.Tgid, sig)
		}
		return ok(0)
	}
	if err := unix.Kill(h, sig); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysTkill(c *Call) result {
	tid := c.Int(0)
	if tid <= 0 {
		return errno(unix.EINVAL)
	}
	h, ok2 := c.k.hostPid(int(tid))
	if !ok2 {
		return errno(unix.ESRCH)
	}
	if h == int(tid) {
		return cont()
	}
	if err := unix.Tgkill(h, h, unix.Signal(c.Int(1))); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysTgkill(c *Call) result {
	tgid, tid := c.Int(0), c.Int(1)
	if tgid <= 0 || tid <= 0 {
		return errno(unix.EINVAL)
	}
	hg, ok1 := c.k.hostPid(int(tgid))
	ht, ok2 := c.k.hostPid(int(tid))
	if !ok1 || !ok2 {
		return errno(unix.ESRCH)
	}
	if hg == int(tgid) && ht == int(tid) {
		return cont()
	}
	if err := unix.Tgkill(hg, ht, unix.Signal(c.Int(2))); err != nil {
		return fail(err)
	}
	return ok(0)
}
