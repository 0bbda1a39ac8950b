package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Credentials are the guest's own: every process starts as root (uid 0) and can change its
// ids with the usual rules; the host only ever sees the host user running `linux`. A cred is
// copied at fork and shared by the threads of a process (Linux keeps per-thread creds, but
// libc's setxid broadcast keeps them equal, so one per process is what programs observe).
type Cred struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32
}

func rootCred() *Cred { return &Cred{} }

func (c *Cred) clone() *Cred {
	n := *c
	n.Groups = append([]uint32(nil), c.Groups...)
	return &n
}

// cred returns the caller's credentials; the lock is held while reading or changing them.
func (c *Call) cred() *Cred { return c.T.Proc.Cred }

// withCred runs f with the caller's credentials locked; when f changes the ids the shim
// answers get[e]uid/get[e]gid with, the caller's shim page is updated (under the lock, so
// two threads changing them at once cannot leave the older answer behind). Every change
// (f succeeded: only the setters use this) wipes the caller's fork token, so that what it
// runs next cannot give a child the credentials it had (forkfast.go).
//
// A change that would leave the process without guest FSUID 0 waits for the ratchet
// (ratchet.go): f is tried on a copy first, and the call is traced to put the filter in
// before anything changes; restarted, it finds the process ratcheted and commits. So f must
// change nothing but cr.
func (c *Call) withCred(f func(cr *Cred) result) result {
	on := c.k.ratchetOn()
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	cr := c.T.Proc.Cred
	if on && !c.T.Proc.ratcheted {
		trial := cr.clone()
		if r := f(trial); r.errno == 0 && needsRatchetLocked(on, c.T.Proc, trial, c.T.Proc.Root != nil) {
			return c.ratchetFirst()
		}
	}
	u, eu, g, eg := cr.UID, cr.EUID, cr.GID, cr.EGID
	r := f(cr)
	if cr.UID != u || cr.EUID != eu || cr.GID != g || cr.EGID != eg {
		publishCred(c.Tid, cr)
	}
	if r.errno == 0 {
		c.k.wipeTokenLocked(c.Tid, c.T.Proc)
	}
	return r
}

// putIDs writes the three ids at the first three arguments' addresses, in order, in one
// write into the caller's memory (getresuid/getresgid).
func (c *Call) putIDs(r, e, s uint32) result {
	addrs := [3]uint64{c.Arg(0), c.Arg(1), c.Arg(2)}
	ids := [3]uint32{r, e, s}
	if err := writeU32s(c.Tid, addrs[:], ids[:]); err != nil {
		return fail(err)
	}
	return ok(0)
}

func sysGetresuid(c *Call) result {
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	return c.putIDs(cr.UID, cr.EUID, cr.SUID)
}

func sysGetresgid(c *Call) result {
	c.k.mu.Lock()
	cr := *c.cred()
	c.k.mu.Unlock()
	return c.putIDs(cr.GID, cr.EGID, cr.SGID)
}

const noChange = ^uint32(0)

// setres implements setresuid/setresgid: an unprivileged process may only pick among its
// current real, effective and saved ids.
func setres(cr *Cred, r, e, s uint32, gid bool) unix.Errno {
	priv := cr.EUID == 0
	cur := [3]*uint32{&cr.UID, &cr.EUID, &cr.SUID}
	fs := &cr.FSUID
	if gid {
		cur = [3]*uint32{&cr.GID, &cr.EGID, &cr.SGID}
		fs = &cr.FSGID
	}
	allowed := func(v uint32) bool {
		return v == noChange || priv || v == *cur[0] || v == *cur[1] || v == *cur[2]
	}
	if !allowed(r) || !allowed(e) || !allowed(s) {
		return unix.EPERM
	}
	for i, v := range [3]uint32{r, e, s} {
		if v != noChange {
			*cur[i] = v
		}
	}
	*fs = *cur[1]
	return 0
}

func sysSetresuid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		return errOrZero(setres(cr, uint32(c.Arg(0)), uint32(c.Arg(1)), uint32(c.Arg(2)), false))
	})
}

func sysSetresgid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		return errOrZero(setres(cr, uint32(c.Arg(0)), uint32(c.Arg(1)), uint32(c.Arg(2)), true))
	})
}

func sysSetreuid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		r, e := uint32(c.Arg(0)), uint32(c.Arg(1))
		s := uint32(noChange)
		if r != noChange || (e != noChange && e != cr.UID) {
			if e != noChange {
				s = e
			} else {
				s = cr.EUID
			}
		}
		return errOrZero(setres(cr, r, e, s, false))
	})
}

func sysSetregid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		r, e := uint32(c.Arg(0)), uint32(c.Arg(1))
		s := uint32(noChange)
		if r != noChange || (e != noChange && e != cr.GID) {
			if e != noChange {
				s = e
			} else {
				s = cr.EGID
			}
		}
		return errOrZero(setres(cr, r, e, s, true))
	})
}

func sysSetuid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		u := uint32(c.Arg(0))
		if cr.EUID == 0 {
			return errOrZero(setres(cr, u, u, u, false))
		}
		return errOrZero(setres(cr, noChange, u, noChange, false))
	})
}

func sysSetgid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		g := uint32(c.Arg(0))
		if cr.EUID == 0 {
			return errOrZero(setres(cr, g, g, g, true))
		}
		return errOrZero(setres(cr, noChange, g, noChange, true))
	})
}

func sysSetfsuid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		old := cr.FSUID
		u := uint32(c.Arg(0))
		if cr.EUID == 0 || u == cr.UID || u == cr.EUID || u == cr.SUID {
			cr.FSUID = u
		}
		return ok(int64(old))
	})
}

func sysSetfsgid(c *Call) result {
	return c.withCred(func(cr *Cred) result {
		old := cr.FSGID
		g := uint32(c.Arg(0))
		if cr.EUID == 0 || g == cr.GID || g == cr.EGID || g == cr.SGID {
			cr.FSGID = g
		}
		return ok(int64(old))
	})
}

func sysGetgroups(c *Call) result {
	c.k.mu.Lock()
	groups := append([]uint32(nil), c.cred().Groups...)
	c.k.mu.Unlock()
	size := c.Int(0)
	if size < 0 {
		return errno(unix.EINVAL)
	}
	if size == 0 {
		return ok(int64(len(groups)))
	}
	if int(size) < len(groups) {
		return errno(unix.EINVAL)
	}
	b := make([]byte, 4*len(groups))
	for i, g := range groups {
		binary.LittleEndian.PutUint32(b[4*i:], g)
	}
	if err := c.Write(c.Arg(1), b); err != nil {
		return fail(err)
	}
	return ok(int64(len(groups)))
}

func sysSetgroups(c *Call) result {
	n := c.Int(0)
	if n < 0 || n > 65536 {
		return errno(unix.EINVAL)
	}
	b := make([]byte, 4*int(n))
	if err := c.Read(c.Arg(1), b); err != nil {
		return fail(err)
	}
	return c.withCred(func(cr *Cred) result {
		if cr.EUID != 0 {
			return errno(unix.EPERM)
		}
		cr.Groups = cr.Groups[:0]
		for i := 0; i < int(n); i++ {
			cr.Groups = append(cr.Groups, binary.LittleEndian.Uint32(b[4*i:]))
		}
		return ok(0)
	})
}

// capget: root has every capability, others none (no file capabilities yet).
func sysCapget(c *Call) result {
	var hdr [8]byte
	if err := c.Read(c.Arg(0), hdr[:]); err != nil {
		return fail(err)
	}
	version := binary.LittleEndian.Uint32(hdr[:])
	words := 2
	switch version {
	case unix.LINUX_CAPABILITY_VERSION_1:
		words = 1
	case unix.LINUX_CAPABILITY_VERSION_2, unix.LINUX_CAPABILITY_VERSION_3:
	default:
		binary.LittleEndian.PutUint32(hdr[:], unix.LINUX_CAPABILITY_VERSION_3)
		c.Write(c.Arg(0), hdr[:4])
		return errno(unix.EINVAL)
	}
	if c.Arg(1) == 0 {
		return ok(0)
	}
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	data := make([]byte, 12*words)
	if root {
		full := []uint32{0xffffffff, (1 << (unix.CAP_LAST_CAP - 31)) - 1}
		for w := 0; w < words; w++ {
			for f := 0; f < 3; f++ { // effective, permitted, inheritable
				v := full[w]
				if f == 2 {
					v = 0
				}
				binary.LittleEndian.PutUint32(data[12*w+4*f:], v)
			}
		}
	}
	if err := c.Write(c.Arg(1), data); err != nil {
		return fail(err)
	}
	return ok(0)
}

// capset: accepted for root (capabilities are not modelled further yet).
func sysCapset(c *Call) result {
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	return ok(0)
}

func errOrZero(e unix.Errno) result {
	if e != 0 {
		return errno(e)
	}
	return ok(0)
}
