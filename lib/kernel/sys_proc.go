package kernel

// Process identity and signals need almost nothing from the kernel: the guest runs in a PID
// namespace of its own whose init is the guest's init (stub.go), so getpid, fork, wait4,
// setpgid, siginfo's si_pid and the reparenting of orphans are Linux's own, run natively,
// and a guest cannot name a process outside its namespace. Signals are delivered natively
// too, once the kernel checked the permission between guest users (sys_signal.go). What is
// left here is what the launcher changed.

// sysSetsid: init already leads its session (the launcher made it one, to leave the host's
// terminal); on Linux init's first setsid succeeds and returns its pid, 1.
func sysSetsid(c *Call) result {
	if c.T.Proc.Tgid == c.k.initTgid {
		return ok(1)
	}
	return cont()
}
