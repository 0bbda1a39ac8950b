package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Without ptrace the kernel does not see guest tasks end: it watches a pidfd of each task it
// knows (PIDFD_THREAD) and of each process, and forgets them when they end. A task the kernel
// looks up is also checked against its pidfd, so that a host tid reused by a new task can
// never be mistaken for the one that had it (and lend it its credentials).

const pidfdThread = unix.O_EXCL // PIDFD_THREAD

type watched struct {
	t *Task
	p *Process
}

// startWatch makes the epoll set and its goroutine; stopWatch ends them.
func (k *Kernel) startWatch() error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return err
	}
	k.epfd, k.epWake, k.watch = ep, wake, map[int32]watched{}
	k.watchDone = make(chan struct{})
	go k.watchLoop()
	return nil
}

func (k *Kernel) stopWatch() {
	if k.epfd < 0 {
		return
	}
	var one = [8]byte{1}
	unix.Write(k.epWake, one[:])
	<-k.watchDone
	k.mu.Lock()
	for fd := range k.watch {
		unix.Close(int(fd))
	}
	k.watch = nil
	k.mu.Unlock()
	unix.Close(k.epfd)
	unix.Close(k.epWake)
	k.epfd = -1
}

func (k *Kernel) watchLoop() {
	defer close(k.watchDone)
	evs := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(k.epfd, evs, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == k.epWake {
				return
			}
			k.ended(ev.Fd)
		}
	}
}

// ended forgets the task or process whose pidfd fd became readable.
func (k *Kernel) ended(fd int32) {
	k.mu.Lock()
	w, ok := k.watch[fd]
	delete(k.watch, fd)
	if w.t != nil && w.t.pidfd == int(fd) {
		w.t.pidfd = -1
		if k.tasks[w.t.Tid] == w.t {
			delete(k.tasks, w.t.Tid)
		}
	}
	if w.p != nil && w.p.pidfd == int(fd) {
		w.p.pidfd = -1
		if k.procs[w.p.Tgid] == w.p {
			delete(k.procs, w.p.Tgid)
		}
	}
	k.mu.Unlock()
	if ok {
		unix.EpollCtl(k.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
		unix.Close(int(fd))
	}
}

// watchTask and watchProcess start watching (k.mu held).
func (k *Kernel) watchTask(t *Task) {
	t.pidfd = k.addWatch(t.Tid, pidfdThread, watched{t: t})
}

func (k *Kernel) watchProcess(p *Process) {
	p.pidfd = k.addWatch(p.Tgid, 0, watched{p: p})
}

func (k *Kernel) addWatch(pid, flags int, w watched) int {
	if k.watch == nil {
		return -1
	}
	fd, err := unix.PidfdOpen(pid, flags)
	if err != nil {
		return -1
	}
	if err := unix.EpollCtl(k.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		return -1
	}
	k.watch[int32(fd)] = w
	return fd
}

// alive reports whether a watched pidfd's task still runs (or is a zombie not yet reaped).
func alive(pidfd int) bool {
	if pidfd < 0 {
		return false
	}
	// Every trapped call asks this: a raw poll with no timeout, which never waits, and no
	// allocation.
	pfd := unix.PollFd{Fd: int32(pidfd), Events: unix.POLLIN}
	for {
		// poll fails with EINTR even with no timeout when a signal (Go's preemption) is
		// pending; that says nothing about the task
		n, _, e := unix.RawSyscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, 0)
		if e != unix.EINTR {
			return e == 0 && n == 0
		}
	}
}
