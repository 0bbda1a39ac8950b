package kernel

import (
	"sync"
	"unsafe"

	"github.com/gouml/gouml/lib/kernel/internal/seccomp"
	"github.com/gouml/gouml/lib/kernel/internal/shim"
	"golang.org/x/sys/unix"
)

// The shim's stat path (issue 18). fstat, and newfstatat with AT_EMPTY_PATH (glibc's fstat),
// are answered inside the guest for a file of the machine's root tree, without a round trip
// to the kernel: the shim (internal/shim/src/shim.S) takes the host's stat of the fd and
// applies lib/hostmeta's attributes exactly as writeStat does (sys_stat.go). A file is the
// root tree's when the mount its fd was opened through is the machine's tree copy (the mount
// id that statx reports): a device, a /proc or /sys file, a pty, a socket, a pipe, a file of
// a mounted image, tmpfs, hostfs or bind mount all lie on other mounts and go to the kernel,
// whose stat rewrites them. On the tree copy the kernel rewrites only what page 1 tells the
// shim (shim.StatData): the image root's device number, and the inodes of ubd images or
// kernel device nodes that lie inside the root directory (blockStat, kernelStat). Owners the
// guest's user namespace cannot show (it maps root only) go to the kernel too.
//
// Why it is safe: the shim runs in the guest with the guest's own rights, so it can do
// nothing the guest could not do itself; what matters is what the filter lets any code do
// from the shim's first syscall site (G1), since a guest may jump there:
//   - statx with a NULL path (args[1] == 0: never a path lookup, the fd itself, Linux 6.11+)
//     and fstat: the host's metadata of an object the guest already holds; statx,
//     newfstatat and getxattrat (the names in page 0 only) with a path too, under pathStats
//     (below), for guest root without chroot alone: the ratchet (ratchet.go) fails them for
//     every other process, and the placeholders (placeholder.go) keep lookups through mount
//     points off the root tree's mount;
//   - fgetxattr with a name pointer equal to one of the six names in page 0 (lib/hostmeta's
//     user.gouml.* names), which the kernel seals with mseal (Linux 6.10+) so that no guest
//     can remap or rewrite them: the guest's own metadata, which stat shows anyway. No other
//     attribute (a guest's user.* of another guest user, its trusted.*, a host file's
//     security.*) can be read that way.
// Page 1 is the guest's to write: forging it (or racing a dup2 against the shim) changes only
// what the guest is told about its own files. A host without mseal or statx's NULL path gets
// no stat path (the rows trap as before).

// fastStatHost reports whether the host has what the stat path needs: mseal (a length of 0
// is a no-op where the call exists) and statx with a NULL path.
var fastStatHost = sync.OnceValue(func() bool {
	if _, _, e := unix.RawSyscall(unix.SYS_MSEAL, 0, 0, 0); e != 0 {
		return false
	}
	var stx unix.Statx_t
	fd := unix.AT_FDCWD
	_, _, e := unix.RawSyscall6(unix.SYS_STATX, uintptr(fd), 0, unix.AT_EMPTY_PATH, unix.STATX_MNT_ID,
		uintptr(unsafe.Pointer(&stx)), 0)
	return e == 0 && stx.Mask&unix.STATX_MNT_ID != 0
})

// statData is what the kernel writes into every new image's shim page for the stat path,
// worked out once per boot. The zero value turns the path off.
func (k *Kernel) statData() shim.StatData {
	k.statOnce.Do(func() {
		if !fastStatHost() || k.root == nil {
			return
		}
		var root unix.Stat_t
		if unix.Fstat(k.root.fd, &root) != nil {
			return
		}
		sd := shim.StatData{RootMnt: k.root.mnt}
		if r := k.cfg.rootImage; r != nil && r.hostDev != 0 {
			sd.DevFrom, sd.DevTo = r.hostDev, unix.Mkdev(98, uint32(r.unit*16))
		}
		// ubd images and the kernel's device nodes that lie on the root's file system, and
		// so may be files of the root tree: blockStat and kernelStat rewrite their stat
		var files []string
		for _, b := range k.cfg.UBDs {
			files = append(files, b.dev.File(), b.dev.BackingFile())
		}
		if b := k.rootBlockDev(); b != nil {
			files = append(files, b.dev.File(), b.dev.BackingFile())
		}
		for _, f := range files {
			var st unix.Stat_t
			if f != "" && unix.Stat(f, &st) == nil && st.Dev == root.Dev {
				sd.Excl = append(sd.Excl, st.Ino)
			}
		}
		for key := range k.devNodes().nodes {
			if key[0] == root.Dev {
				sd.Excl = append(sd.Excl, key[1])
			}
		}
		if len(sd.Excl) > shim.NExcl {
			return // too many to tell the shim: no stat path
		}
		k.stat = sd
	})
	return k.stat
}

// emitShimStat emits the stat path's filter rules (table.go).
func emitShimStat(p *seccomp.Prog, r argRule) {
	g1, g2 := uint64(shimAddr+shimG1RetOff), uint64(shimAddr+shimG2RetOff)
	hi := uint32(g1 >> 32) // both sites lie in page 0: one high half
	ld := func(off uint32) { p.Stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off) }
	jeq := func(k uint32, jt, jf uint8) { p.Jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, k, jt, jf) }
	ret := func(v uint32) { p.Stmt(unix.BPF_RET|unix.BPF_K, v) }
	switch r {
	case ruleShimFstat:
		ld(offIP + 4)
		jeq(hi, 0, 5) // 1 → 7
		ld(offIP)
		jeq(uint32(g1), 0, 1) // 3 → 4 | 5
		ret(retAllow)         // 4: the shim's own, into the guest's buffer
		jeq(uint32(g2), 0, 1) // 5 → 6 | 7
		ret(retNotify)        // 6: forwarded by the shim
		ret(retShim)          // 7
	case ruleShimFstatat:
		if pathStats {
			// every other site's to the shim, which answers by path for guest root
			// (page 1's hint) or forwards it; natively from G1 (the ratchet's to revoke)
			ld(offIP + 4)
			jeq(hi, 0, 5) // 1 → 7
			ld(offIP)
			jeq(uint32(g2), 0, 1) // 3 → 4 | 5
			ret(retNotify)        // 4: forwarded by the shim
			jeq(uint32(g1), 0, 1) // 5 → 6 | 7
			ret(retAllow)         // 6: the shim's own path stat, into the guest's buffer
			ret(retShim)          // 7
			return
		}
		ld(offIP + 4)
		jeq(hi, 0, 3) // 1 → 5
		ld(offIP)
		jeq(uint32(g2), 0, 1) // 3 → 4 | 5
		ret(retNotify)        // 4: forwarded by the shim
		ld(offArg0 + 24)      // 5: flags
		p.Jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, unix.AT_EMPTY_PATH, 0, 1)
		ret(retShim)
		ret(retNotify)
	case ruleShimStatx:
		if pathStats {
			ld(offIP + 4)
			jeq(hi, 0, 3) // 1 → 5
			ld(offIP)
			jeq(uint32(g1), 0, 1) // 3 → 4 | 5
			ret(retAllow)         // 4: the shim's, an fd's or (guest root's) a path's
			ret(retNotify)        // 5
			return
		}
		ld(offIP + 4)
		jeq(hi, 0, 6) // 1 → 8
		ld(offIP)
		jeq(uint32(g1), 0, 4) // 3 → 4 | 8
		ld(offArg0 + 8)
		jeq(0, 0, 2) // 5 → 6 | 8
		ld(offArg0 + 12)
		jeq(0, 1, 0)   // 7 → 9 | 8
		ret(retNotify) // 8
		ret(retAllow)  // 9: a NULL path, from the shim's site
	case ruleShimXattr, ruleShimXattrAt:
		name := uint32(offArg0 + 8) // fgetxattr's args[1]
		if r == ruleShimXattrAt {
			if !pathStats {
				ret(retNotify)
				return
			}
			name = offArg0 + 24 // getxattrat's args[3]
		}
		n := uint8(len(shim.XNames))
		name0 := uint64(shimAddr + shim.XNamesOff)
		notify := 7 + n // the index of RET notify; RET allow follows it
		ld(offIP + 4)
		jeq(hi, 0, notify-2)
		ld(offIP)
		jeq(uint32(g1), 0, notify-4)
		ld(name + 4)
		jeq(uint32(name0>>32), 0, notify-6)
		ld(name)
		for i := uint8(0); i < n; i++ {
			jeq(uint32(name0)+uint32(i)*shim.XNameSize, n-i, 0)
		}
		ret(retNotify)
		ret(retAllow)
	}
}

// pathStats turns on the shim's path stats (newfstatat by path, for a process the kernel
// knows as guest root without chroot): the filter lets the shim look paths up natively from
// G1, which the ratchet (ratchet.go) takes away from every process that stops being such a
// caller, and the placeholders (placeholder.go) keep a lookup through the guest's mounts
// and the kernel's file systems off the root tree's mount. Off, the rows are as before.
const pathStats = true
