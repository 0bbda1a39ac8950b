package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const ptraceListen = 0x4208

// loop is the ptrace event loop: it follows every guest task (fork/vfork/clone events
// auto-attach children, so no guest process escapes the kernel), serves the Trace calls of
// the table (sys_exec.go) and reaps what exits. It returns when no tracee is left.
func (k *Kernel) loop(initPid int) {
	defer close(k.loopDone)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // ECHILD: nobody left
		}
		switch {
		case ws.Exited() || ws.Signaled():
			k.exited(pid)
			if pid == initPid && !k.dying.Load() {
				k.initDied(ws)
			}
		case ws.Stopped():
			k.stopped(pid, ws)
		}
	}
}

func (k *Kernel) initDied(ws unix.WaitStatus) {
	if ws.Exited() && ws.ExitStatus() == stubNoInit {
		k.halt(134, false) // "No working init found" panic, already printed by the launcher
		return
	}
	code := 0
	if ws.Exited() {
		code = ws.ExitStatus() << 8
	} else {
		code = int(ws.Signal())
	}
	k.panicf("Attempted to kill init! exitcode=0x%08x", code)
}

// panicf ends the machine like a kernel panic of the real UML (exit status 134).
func (k *Kernel) panicf(format string, a ...any) {
	k.once.Do(func() {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintf(k.cfg.Stderr, "Kernel panic - not syncing: %s\n", msg)
		if k.cfg.mc != nil && k.cfg.mc.srv != nil {
			k.cfg.mc.srv.NotifyPanic(msg)
		}
		k.shutdown <- shutdownReq{status: 134}
	})
}

func (k *Kernel) exited(tid int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.tasks[tid]
	delete(k.tasks, tid)
	if t != nil {
		k.clearPending(t)
	}
	if p := k.procs[tid]; p != nil {
		delete(k.procs, tid)
		for _, q := range k.procs {
			if q.Parent == tid {
				q.Parent = k.initTgid // the host reparents to init, the child subreaper
			}
		}
	}
}

func (k *Kernel) stopped(pid int, ws unix.WaitStatus) {
	sig := ws.StopSignal()
	event := int(ws >> 16)
	k.mu.Lock()
	t := k.taskLocked(pid)
	k.mu.Unlock()
	if t == nil || k.dying.Load() {
		if k.dying.Load() {
			unix.Kill(pid, unix.SIGKILL) // created while the machine went down
		}
		unix.PtraceCont(pid, 0)
		return
	}
	switch {
	case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_SECCOMP:
		k.traceSyscall(t)
	case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
		msg, err := unix.PtraceGetEventMsg(pid)
		if err == nil {
			k.newTask(t, int(msg), event)
		}
		unix.PtraceCont(pid, 0)
	case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_EXEC:
		k.execEvent(t)
	case sig == unix.SIGTRAP|0x80:
		k.syscallExit(t)
	case event == unix.PTRACE_EVENT_STOP:
		if !t.started {
			t.started = true
			unix.PtraceCont(pid, 0)
			return
		}
		if sig == unix.SIGTRAP {
			// the group-stop ended (SIGCONT) or PTRACE_INTERRUPT: run on
			unix.PtraceCont(pid, 0)
			return
		}
		// group-stop (job control, mconsole's stop): stay stopped, but keep reporting events
		unix.Syscall6(unix.SYS_PTRACE, ptraceListen, uintptr(pid), 0, 0, 0, 0)
	default:
		// signal-delivery-stop: deliver it
		if !t.started && sig == unix.SIGSTOP {
			t.started = true
			unix.PtraceCont(pid, 0)
			return
		}
		unix.PtraceCont(pid, int(sig))
	}
}

// newTask records a task created by fork/vfork/clone.
func (k *Kernel) newTask(parent *Task, tid int, event int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := k.tasks[tid]; old != nil {
		return // already learnt from its own first stop
	}
	isThread := false
	if event == unix.PTRACE_EVENT_CLONE {
		tgid, _ := procTgidPpid(tid)
		isThread = tgid == parent.Proc.Tgid
	}
	var p *Process
	if isThread {
		p = parent.Proc
	} else {
		p = &Process{Tgid: tid, Parent: parent.Proc.Tgid, Cred: parent.Proc.Cred.clone(), Root: parent.Proc.Root}
		k.procs[tid] = p
	}
	k.tasks[tid] = &Task{Tid: tid, Proc: p, pendingFD: -1}
}
