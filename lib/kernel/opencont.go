package kernel

import (
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A root caller's read-only open, let through (issue 18). grep -r, git, a compiler and an
// interpreter's imports open thousands of files read-only. Installing each with ADDFD makes
// the kernel wait until the caller's task wakes to take the fd, a second switch per open
// (25–50 µs when the two are not on one CPU). Where the host's own lookup in the guest's
// chroot must find the file the kernel would open, and may open it, the call runs natively
// instead (SECCOMP_USER_NOTIF_FLAG_CONTINUE), as O_PATH opens already do (nativeOPath).
//
// Why it is safe (docs/security.md, "A root caller's read-only open"):
//   - Only open and openat: their flags are registers, which a racing thread cannot change
//     (openat2's are in guest memory). They ask for reading only (O_RDONLY, nothing that
//     creates, truncates or makes an O_PATH descriptor), so the native call can at most
//     read a file or list a directory.
//   - The caller is guest root (FSUID 0) of the machine's own root, unchrooted: the kernel
//     would check no permission for it. Credentials are a thread's own on Linux, and the
//     caller waits in this very call, so its own cannot change before the native open runs.
//   - The host resolves the path in the guest's chroot, the detached copy of the root tree
//     (no other file exists there), under Landlock layer G (read and execute only), on a
//     nodev, nosuid mount. A thread that rewrites the path or swaps a component meanwhile
//     only changes which file of its own tree guest root reads.

// contOpenFlags are the open flags the native open may carry: read-only, creating and
// truncating nothing. O_NOATIME is left out: the host allows it only to a file's owner or to
// a capability the guest's user namespace (which maps root only) lacks for other owners'
// files, where Linux's root may always.
const contOpenFlags = unix.O_NOCTTY | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC |
	unix.O_DIRECT | unix.O_LARGEFILE | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_ASYNC

// openCont answers a root caller's read-only open of a plain path of the machine's root
// tree with CONTINUE (ok), when the host's native open will find what the kernel's ordinary
// way would open and allow it: a regular file or directory, no device placeholder and no
// ubd image, reached with no symbolic link, no "..", outside /dev, /proc, /sys and every
// mount (the conditions of openPlain, with the tree the guest's chroot holds). ENOENT and
// ENOTDIR are final, as openPlain's. Anything else goes on to openPlainFile and the
// ordinary way, which open again.
//
// The host checks permissions natively as root of the guest's user namespace, which maps
// only the kernel's root: its DAC capabilities cover root's own files only, and a directory
// of another guest user that its modes close to others would stop the native lookup where
// Linux's root passes. So the probe is the lookup the guest's would be, made without the
// DAC capabilities (probeAsGuest): it succeeds only where the native one must (the guest's
// capabilities only add to what it may), and the file itself must be readable as the
// native open judges it (nativeMayRead).
func (c *Call) openCont(abs string, flags int, follow bool) (result, bool) {
	if flags&^contOpenFlags != 0 || c.n.Data.Nr == unix.SYS_OPENAT2 {
		return result{}, false // O_RDONLY is 0: any access mode, create or truncate stays
	}
	if !c.privileged() || c.root() != c.k.root {
		return result{}, false
	}
	if fs, _ := specialPath(abs); fs != "" || hasDotDot(abs) {
		return result{}, false
	}
	if fs, _ := c.k.special(abs); fs != "" {
		return result{}, false
	}
	rt, rest := c.k.root.route(abs)
	if rt != c.k.root {
		return result{}, false // a mount's tree: the guest's chroot holds what lies below it
	}
	fl := uint64(unix.O_PATH|unix.O_CLOEXEC) | uint64(flags&unix.O_DIRECTORY)
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: fl, Resolve: resolveFlags | unix.RESOLVE_NO_SYMLINKS}
	fd, err := probeAsGuest(rt.fd, rest, &how)
	switch err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR:
		return fail(err), true
	default:
		return result{}, false // a link on the way, a closed directory: the ordinary way
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || !nativeMayRead(&st) {
		return result{}, false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		if b, _ := c.k.blockDevOf(&st); b != nil {
			return result{}, false // a ubd image lying in the root tree: the kernel's
		}
		if typ, _ := deviceOf(fd, &st); typ != 0 {
			return result{}, false // a device placeholder opens the kernel's device
		}
	default:
		return result{}, false // a FIFO, a socket, a device node, a final link
	}
	c.fs = rt
	return cont(), true
}

// nativeMayRead says whether the guest's native open may read a file the kernel fstat'ed:
// one of root's whose group is root's too (the guest's capabilities apply to it), or one of
// root's whose owner may read it. Another owner's file, judged by group or other bits,
// ACLs and the guest's groups, is left to the kernel.
func nativeMayRead(st *unix.Stat_t) bool {
	if st.Uid != hostUID {
		return false
	}
	return st.Gid == hostGID || st.Mode&0o400 != 0
}

// guestCaps are the kernel's capabilities (full) and the same without CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH (noDAC), read once: every thread of the kernel has the same.
var guestCaps = sync.OnceValues(func() (full, noDAC [2]unix.CapUserData) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if unix.Capget(&hdr, &full[0]) != nil {
		return full, full // no way to drop them: probeAsGuest refuses every probe
	}
	noDAC = full
	noDAC[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
	return full, noDAC
})

// probeAsGuest is openat2 made by the calling thread without its DAC capabilities, so that
// the host checks search permission on every directory of the path as for the kernel's
// uid and groups alone, which guest processes share: whatever it passes, the guest's own
// lookup passes too. Capabilities are a thread's own, so the thread is kept for the call
// (a thread the Go runtime starts meanwhile comes from its template thread, not from a
// locked one) and given its capabilities back before anything else runs on it.
func probeAsGuest(dirfd int, p string, how *unix.OpenHow) (int, error) {
	full, noDAC := guestCaps()
	if full == noDAC {
		return -1, unix.EPERM
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&noDAC[0])), 0); e != 0 {
		return -1, e
	}
	fd, err := openat2(dirfd, p, how)
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&full[0])), 0); e != 0 {
		// raising the effective set back within the permitted one cannot fail; a thread
		// left without its capabilities would fail later handlers in ways nobody asked for
		panic("linux: giving the kernel's thread its capabilities back: " + e.Error())
	}
	return fd, err
}

// nativeMayWalk says whether the guest's own lookup of raw (an absolute path in the tree r,
// links in it unresolved) will pass every directory on the way, as far as the host's
// permissions go: a probe as the guest's would be (probeAsGuest) meets no EACCES. The host
// judges a guest process as root of the guest's namespace, which has no capability over a
// file of another host owner (a Debian tree's /home/user, 0700): a native O_PATH open of a
// name below such a directory fails there, where Linux lets its owner and root through, so
// the kernel opens it instead.
func nativeMayWalk(r *Root, raw string, flags int, follow bool) bool {
	fl := uint64(unix.O_PATH|unix.O_CLOEXEC) | uint64(flags&unix.O_DIRECTORY)
	if !follow {
		fl |= unix.O_NOFOLLOW
	}
	rest := strings.TrimLeft(raw, "/")
	if rest == "" {
		rest = "."
	}
	fd, err := probeAsGuest(r.fd, rest, &unix.OpenHow{Flags: fl, Resolve: resolveFlags})
	if err == nil {
		unix.Close(fd)
	}
	return err != unix.EACCES && err != unix.EPERM
}
