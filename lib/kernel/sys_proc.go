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

// traceKill serves kill, tkill and tgkill at their ptrace stop: the pid arguments are
// checked (only guest processes) and translated in the caller's registers, and the call then
// runs natively, so the signal comes from the caller (right si_pid, delivered to itself
// before the call returns, as Linux does).
func (k *Kernel) traceKill(t *Task, regs *unix.PtraceRegs) error {
	c := &Call{k: k, Tid: t.Tid, T: t}
	changed := false
	switch int(regs.Orig_rax) {
	case unix.SYS_KILL:
		h, translate, err := c.signalTarget(int32(regs.Rdi))
		if err != nil {
			return err
		}
		if translate && h == -1 {
			// every guest process but init (what kill(-1) means seen from the guest)
			sig := unix.Signal(int32(regs.Rsi))
			k.mu.Lock()
			var pids []int
			for p := range k.procs {
				if p != k.initTgid && p != t.Proc.Tgid {
					pids = append(pids, p)
				}
			}
			k.mu.Unlock()
			if len(pids) == 0 && t.Proc.Tgid == k.initTgid {
				return unix.ESRCH
			}
			for _, p := range pids {
				unix.Kill(p, sig)
			}
			if t.Proc.Tgid == k.initTgid {
				k.skipWith(t, regs, 0)
				return nil
			}
			h = t.Proc.Tgid // and the caller itself, natively
		}
		if translate {
			regs.Rdi, changed = uint64(int64(h)), true
		}
	case unix.SYS_TKILL:
		tid := int32(regs.Rdi)
		if tid <= 0 {
			return unix.EINVAL
		}
		h, ok := k.hostPid(int(tid))
		if !ok {
			return unix.ESRCH
		}
		if h != int(tid) {
			regs.Rdi, changed = uint64(h), true
		}
	case unix.SYS_TGKILL:
		tgid, tid := int32(regs.Rdi), int32(regs.Rsi)
		if tgid <= 0 || tid <= 0 {
			return unix.EINVAL
		}
		hg, ok1 := k.hostPid(int(tgid))
		ht, ok2 := k.hostPid(int(tid))
		if !ok1 || !ok2 {
			return unix.ESRCH
		}
		if hg != int(tgid) || ht != int(tid) {
			regs.Rdi, regs.Rsi, changed = uint64(hg), uint64(ht), true
		}
	}
	if changed {
		if err := unix.PtraceSetRegs(t.Tid, regs); err != nil {
			return err
		}
	}
	unix.PtraceCont(t.Tid, 0)
	return nil
}
