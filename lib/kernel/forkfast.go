package kernel

import (
	crand "crypto/rand"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Fork without ptrace (issue 18). A plain fork (fork, or clone of a new process without
// CLONE_VM/CLONE_VFORK) by a single-threaded process runs natively: the kernel answers its
// notification with CONTINUE instead of attaching ptrace for the call, which cost about
// 0.3 ms per fork. The child is recorded at its first trapped call, as threads are, or when
// another call names it (kill, /proc). What the kernel keeps per process and a child
// inherits (credentials, the kernel's chroot, the program a chrooted process runs through
// its loader) must be the parent's at the moment of the fork, and the child must be tied to
// that moment by something it cannot forge:
//
//   - At the fork notification the kernel takes a copy of the parent's state (a ticket) and
//     writes a fresh random 128-bit token into the parent's shim data page
//     (shim.TokenOff). The fork copies the page, so the child carries the token.
//   - An unknown process (its tgid was never recorded) is recorded by reading the token from
//     its memory: a token with a ticket gives it that ticket's state, once (the ticket is
//     consumed). Anything else (no token, an unknown or used one) leaves it unknown, and an
//     unknown process's own call kills it, as before.
//
// Why a token cannot be abused. A ticket gives exactly the state its issuer had when it
// was issued. To claim it a process must know the token, which lives only in the memory
// of the issuer and of its children (and of whoever they hand it to: a process that gives
// its token away only gives away what it could do itself for the receiver). The state
// changes that matter (setuid and the other credential calls, chroot) wipe the token from
// the changing process's page before they return (wipeTokenLocked), so code that runs after
// a drop of privileges never finds a token of the privileges it dropped; exec replaces the
// page. If the wipe cannot be written, every ticket the process issued is revoked. The shim
// never reads the token, so it is in no register or stack of the guest's. 128 random bits
// from a ChaCha8 stream seeded from the host's getrandom cannot be guessed.
//
// Why the parent's state is the one at the fork. The parent is single-threaded (its task
// directory's link count says so; only its one thread, blocked in the call, could make
// another), so no other call of its can change its state between the copy taken here and
// the host's fork. A multi-threaded parent, vfork and CLONE_VM (rewritten to a fork: the
// child would otherwise return through the shim's frame on the parent's stack) keep the
// ptrace path of ptrace.go.
//
// Tickets whose child never makes a call (a subshell that only writes to a pipe) are
// collected by sweepTickets: after the sweep has recorded every unknown guest process it
// finds, a ticket whose fork is known to have returned (its parent made a later call, or
// ended) before the listing began belongs to a child that is gone, or that was found.

// forkToken is the random value a fast fork leaves in the parent's and child's shim page.
type forkToken [shimTokenLen]byte

// forkTicket is the parent's state at a fast fork, waiting for the child to claim it.
type forkTicket struct {
	cred   *Cred // the child's own copy
	root   *Root
	loaded *loadedProg
	// the parent's ratchet (ratchet.go): in place before the fork, so the child has it too
	ratcheted bool
	parent    *Task    // the forking task
	proc      *Process // its process: revokeTicketsLocked
	seq       uint64   // parent.seq at the fork; a later call of the parent's means it returned
}

// forkTickets is the kernel's table of tickets (its fields under Kernel.mu, but sweep).
type forkTickets struct {
	m         map[forkToken]*forkTicket
	rng       *rand.ChaCha8
	nextSweep int        // sweep when the table reaches this size
	sweep     sync.Mutex // one sweep at a time
	guestNS   string     // the guest's PID namespace, as /proc/PID/ns/pid names it
}

const (
	tokenAddr = shimAddr + shimPage1Off + shimTokenOff
	// sweepMin is the table size that starts the first sweep; a sweep sets the next one
	// to twice what it left (tickets of forks still in flight), at least this.
	sweepMin = 512
)

// forkHandler is the handler of fork and clone: a fast fork when fastFork allows it, else
// the traced path with hooks h.
func forkHandler(h *traceHooks) handler {
	traced := tracedBy(h)
	return func(c *Call) result {
		if fastForkable(c) && c.k.fastFork(c) {
			return cont()
		}
		return traced(c)
	}
}

// fastForkable reports whether the call makes a plain copy, which needs no rewriting.
func fastForkable(c *Call) bool {
	switch int(c.n.Data.Nr) {
	case unix.SYS_FORK:
		return true
	case unix.SYS_CLONE:
		// CLONE_THREAD never comes here (the filter lets threads run natively), nor
		// namespace flags (refused in the filter). CLONE_SIGHAND without CLONE_VM is
		// invalid; the traced path drops it with CLONE_VM, so it goes there too.
		return c.n.Data.Args[0]&(unix.CLONE_VM|unix.CLONE_VFORK|unix.CLONE_SIGHAND) == 0
	}
	return false
}

// fastFork issues a ticket for the caller's fork and leaves its token in the caller's shim
// page; false when the fork must be traced instead.
func (k *Kernel) fastFork(c *Call) bool {
	if !singleThreaded(c.T.Proc.Tgid) {
		return false
	}
	var tok forkToken
	k.mu.Lock()
	ft := &k.forks
	if ft.m == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			k.mu.Unlock()
			return false
		}
		ft.m = map[forkToken]*forkTicket{}
		ft.rng = rand.NewChaCha8(seed)
		ft.nextSweep = sweepMin
	}
	for tok == (forkToken{}) || ft.m[tok] != nil {
		ft.rng.Read(tok[:])
	}
	p := c.T.Proc
	ft.m[tok] = &forkTicket{cred: p.Cred.clone(), root: p.Root, loaded: p.Loaded, ratcheted: p.ratcheted, parent: c.T, proc: p, seq: c.T.seq}
	sweep := len(ft.m) >= ft.nextSweep
	if sweep {
		ft.nextSweep = 1 << 62 // until this sweep sets it
	}
	k.mu.Unlock()
	if err := writeMem(c.Tid, tokenAddr, tok[:]); err != nil {
		// no shim page (the guest unmapped it): the traced path records the child instead
		k.mu.Lock()
		delete(ft.m, tok)
		k.mu.Unlock()
		return false
	}
	if sweep {
		go k.sweepTickets()
	}
	return true
}

// singleThreaded reports whether a process has one thread: a task directory links to
// itself, its parent and one directory per thread.
func singleThreaded(tgid int) bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(tgid)+"/task", &st); err != nil {
		return false
	}
	return st.Nlink == 3
}

// claimLocked records an unknown process tgid (tid is one of its tasks) from the ticket
// its token names; nil when it has none.
func (k *Kernel) claimLocked(tgid, tid int) *Process {
	if len(k.forks.m) == 0 {
		return nil
	}
	var tok forkToken
	if readMem(tid, tokenAddr, tok[:]) != nil || tok == (forkToken{}) {
		return nil
	}
	tk := k.forks.m[tok]
	if tk == nil {
		return nil
	}
	delete(k.forks.m, tok)
	p := &Process{Tgid: tgid, Cred: tk.cred, Root: tk.root, Loaded: tk.loaded, ratcheted: tk.ratcheted}
	k.procs[tgid] = p
	k.watchProcess(p)
	return p
}

// procLocked returns the process of a host tgid, recording it from its ticket when it is
// the unknown child of a fast fork.
func (k *Kernel) procLocked(tgid int) *Process {
	if p := k.procs[tgid]; p != nil {
		return p
	}
	return k.claimLocked(tgid, tgid)
}

// wipeTokenLocked clears the token in the page of the process whose task tid changed its
// state (credentials, root), so that nothing it runs from now on can claim a ticket of the
// state it left. When the page cannot be written, the process's own tickets are revoked
// (their children, if they ever call, are killed): a token the kernel cannot wipe may still
// be readable somewhere.
func (k *Kernel) wipeTokenLocked(tid int, p *Process) {
	var zero forkToken
	if writeMem(tid, tokenAddr, zero[:]) == nil {
		return
	}
	for tok, tk := range k.forks.m {
		if tk.proc == p {
			delete(k.forks.m, tok)
		}
	}
}

// sweepTickets records every unknown guest process that carries a token and drops the
// tickets that can no longer be claimed (see the top of this file).
func (k *Kernel) sweepTickets() {
	ft := &k.forks
	ft.sweep.Lock()
	defer ft.sweep.Unlock()
	k.mu.Lock()
	var done []forkToken
	for tok, tk := range ft.m {
		if tk.parent.seq != tk.seq || !alive(tk.parent.pidfd) {
			done = append(done, tok)
		}
	}
	k.mu.Unlock()
	k.claimAll()
	k.mu.Lock()
	for _, tok := range done {
		delete(ft.m, tok)
	}
	ft.nextSweep = max(sweepMin, 2*len(ft.m))
	k.mu.Unlock()
}

// knowAll records every child of a fast fork that has not called yet, for what looks at
// every guest process the kernel knows (the OOM watch, kill(-1) and kill(-pgrp),
// setpriority of a group or user, mconsole's stop, a busy mount).
func (k *Kernel) knowAll() {
	k.mu.Lock()
	n := len(k.forks.m)
	k.mu.Unlock()
	if n > 0 {
		k.sweepTickets()
	}
}

// claimAll records every unknown process of the guest's PID namespace that has a ticket.
func (k *Kernel) claimAll() {
	ft := &k.forks
	k.mu.Lock()
	init := k.initTgid
	k.mu.Unlock()
	if ft.guestNS == "" {
		l, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/pid")
		if err != nil {
			return
		}
		ft.guestNS = l
	}
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		k.mu.Lock()
		p := k.procs[pid]
		known := p != nil && alive(p.pidfd)
		k.mu.Unlock()
		if known {
			continue
		}
		if l, _ := os.Readlink("/proc/" + name + "/ns/pid"); l != ft.guestNS {
			continue
		}
		k.mu.Lock()
		if p := k.procs[pid]; p == nil || !alive(p.pidfd) {
			if p != nil {
				delete(k.procs, pid)
			}
			if p := k.claimLocked(pid, pid); p != nil {
				if t := k.tasks[pid]; t == nil || !alive(t.pidfd) {
					t = &Task{Tid: pid, Proc: p, contNr: -1}
					k.tasks[pid] = t
					k.watchTask(t)
				}
			}
		}
		k.mu.Unlock()
	}
}
