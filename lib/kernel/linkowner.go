package kernel

import (
	"path"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/hostmeta"
	"golang.org/x/sys/unix"
)

// The guest owner of a symbolic link. A host symlink cannot carry user.* attributes and the
// host user cannot lchown, so the directory that holds a link keeps its owner, by the link's
// name (lib/hostmeta, link.go: user.gouml.link.NAME). Every call that makes a name a
// symbolic link writes that name's entry — symlink (the creator), rename and
// renameat2 (the entry moves, or both swap for RENAME_EXCHANGE), link of a symlink (a copy)
// — and lchown rewrites it; unlink and rename drop the entry a name leaves behind. So an
// entry left over at a name (a link removed on the host meanwhile) is overwritten before any
// link the guest makes there can show it.
//
// These writers hold k.links for writing from the entries' first read to their last write,
// host call included, and the owner's readers (stat, permission checks) hold it for reading:
// no stat sees a link at its new name without its owner, and an lchown racing a rename of
// the same link cannot write the owner to the name the link just left. A link is found from
// the kernel's O_PATH fd of it (linkPlace): the host's name of the fd, checked against the
// inode a lookup of that name finds now.
//
// Known limits: a directory's attributes are bounded (about 4 KiB on ext4 without
// ea_inode: some 80 links of other owners than root in one directory); past that lchown,
// symlink by a non-root user, and a rename or link of such a link into it fail with the
// host's ENOSPC (E2BIG on some file systems) and change nothing. A hard link of a symlink
// into another directory gets a copy: an lchown through one name later changes that name
// only. A link that no name leads to any more (open as O_PATH, then unlinked) shows the
// host's owner, and lchown of it succeeds without keeping anything. On a file system with
// large attribute space (xfs, btrfs), a directory with thousands of owned links can pass
// the host's 64 KiB listing limit, and the guest's listxattr of that directory fails. A
// path longer than PATH_MAX from its mount's top has no name the kernel can read: its
// links show the host's owner and lchown fails with ENAMETOOLONG.

// linkPlace finds where the symbolic link the kernel holds as fd is named: an fd of its
// directory open for reading (the caller closes it; f*xattr calls take it, which spares the
// host a walk through /proc) and its name there. ENOENT: no name leads to it.
func (k *Kernel) linkPlace(fd int) (int, string, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID|unix.STATX_INO|unix.STATX_NLINK, &stx); err != nil {
		return -1, "", err
	}
	dev := unix.Mkdev(stx.Dev_major, stx.Dev_minor)
	// A rename between reading the name and looking it up moves the link away from it:
	// the lookup then finds another inode or none, and the name is read again.
	var buf [unix.PathMax]byte
	for try := 0; try < 8; try++ {
		n, err := readFDLink(fd, buf[:])
		if err != nil {
			return -1, "", err
		}
		if n == len(buf) {
			return -1, "", unix.ENAMETOOLONG
		}
		l := string(buf[:n])
		top, rel, ok := k.mountTop(stx.Mnt_id, l)
		if !ok {
			return -1, "", unix.ENOENT
		}
		dir, name := path.Split(rel)
		if name == "" || name == "." || name == ".." {
			return -1, "", unix.ENOENT
		}
		if dir = strings.Trim(dir, "/"); dir == "" {
			dir = "."
		}
		dfd, err := unix.Openat2(top, dir, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
		if err == nil {
			var st unix.Stat_t
			if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Ino == stx.Ino && st.Dev == dev {
				return dfd, name, nil
			}
			unix.Close(dfd)
		}
		if stx.Nlink == 0 || strings.HasSuffix(l, " (deleted)") {
			return -1, "", unix.ENOENT
		}
	}
	return -1, "", unix.ENOENT
}

// readFDLink reads the host's name of one of the kernel's fds below the kept /proc/self/fd
// (procSelfFD): half the cost of a readlink of the whole /proc/self/fd/N path, which is
// the fallback when that directory could not be opened.
func readFDLink(fd int, buf []byte) (int, error) {
	if d := procSelfFD(); d >= 0 {
		return unix.Readlinkat(d, strconv.Itoa(fd), buf)
	}
	return unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf)
}

// mountTop gives the directory fd the host's name l of a file on mount mnt is relative to,
// and l relative to it: the machine's tree copy (and the host mounts inside the root
// directory, which the copy holds), or a file system mounted in the guest (its mounted
// directory).
func (k *Kernel) mountTop(mnt uint64, l string) (int, string, bool) {
	if !strings.HasPrefix(l, "/") || k.root == nil {
		return -1, "", false
	}
	if mnt == k.root.mnt || k.root.mounts.belowRoot(mnt) {
		return k.root.fd, l, true
	}
	if m := k.root.mounts.byMount(mnt); m != nil {
		if rel, ok := m.inRoot(l); ok {
			return m.root.fd, rel, true
		}
	}
	return -1, "", false
}

// linkOwner gives st, the stat of the symbolic link the kernel holds as fd, the guest owner
// its directory keeps for it (st already shows the host user's ids as root's).
func (k *Kernel) linkOwner(fd int, st *unix.Stat_t) {
	k.links.RLock()
	defer k.links.RUnlock()
	dfd, name, err := k.linkPlace(fd)
	if err != nil {
		return
	}
	defer unix.Close(dfd)
	if u, g, ok, _ := hostmeta.LinkOwnerFD(dfd, name); ok {
		st.Uid, st.Gid = u, g
	}
}

// linkEntry is what a directory keeps for one name: an owner, or none.
type linkEntry struct {
	dir      int // the kernel's O_PATH fd of the directory
	name     string
	uid, gid uint32
	has      bool
}

func readLinkEntry(dir int, name string) linkEntry {
	u, g, ok, _ := hostmeta.LinkOwner(selfFD(dir), name)
	return linkEntry{dir: dir, name: name, uid: u, gid: g, has: ok}
}

// write makes the directory keep e: its owner, or none. An owner that the host's own
// would show anyway (root's, for a link the host user owns) is kept as none.
func (e linkEntry) write() error {
	if e.has && (e.uid != 0 || e.gid != 0) {
		return hostmeta.SetLinkOwner(selfFD(e.dir), e.name, e.uid, e.gid)
	}
	return hostmeta.RemoveLinkOwner(selfFD(e.dir), e.name)
}

// withLinkEntries writes the entries want, then runs op, the host call that puts the links
// in place; if a write or op fails, every entry is put back as it was and nothing changed.
// Writing first means a full directory fails the call before anything moved, and no stat
// (k.links is held) sees the names in between. The caller holds k.links.
func withLinkEntries(want []linkEntry, op func() error) error {
	prev := make([]linkEntry, 0, len(want))
	undo := func() {
		for i := len(prev) - 1; i >= 0; i-- {
			prev[i].write()
		}
	}
	for _, e := range want {
		p := readLinkEntry(e.dir, e.name)
		if err := e.write(); err != nil {
			undo()
			return err
		}
		prev = append(prev, p)
	}
	if err := op(); err != nil {
		undo()
		return err
	}
	return nil
}

// isLinkAt reports whether name in the directory fd dir is a symbolic link now.
func isLinkAt(dir int, name string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return st, false
	}
	return st, st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// setLinkOwner keeps uid:gid as the owner of the symbolic link the kernel holds as fd
// (lchown).
func (k *Kernel) setLinkOwner(fd int, uid, gid uint32) error {
	k.links.Lock()
	defer k.links.Unlock()
	dfd, name, err := k.linkPlace(fd)
	if err == unix.ENOENT {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Nlink == 0 {
			return nil // no name leads to it: nothing can keep its owner (Known limits)
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return linkEntry{dir: dfd, name: name, uid: uid, gid: gid, has: true}.write()
}

// symlinkAt makes name in the directory dir a symbolic link to target owned by uid:gid.
func (k *Kernel) symlinkAt(target string, dir int, name string, uid, gid uint32) error {
	k.links.Lock()
	defer k.links.Unlock()
	return withLinkEntries([]linkEntry{{dir: dir, name: name, uid: uid, gid: gid, has: true}}, func() error {
		return unix.Symlinkat(target, dir, name)
	})
}

// unlinkAt removes name from the directory dir (unlinkat with flags) and the owner the
// directory kept for it, if it was a symbolic link.
func (k *Kernel) unlinkAt(dir int, name string, flags int) error {
	if _, link := isLinkAt(dir, name); !link || flags&unix.AT_REMOVEDIR != 0 {
		return unix.Unlinkat(dir, name, flags)
	}
	k.links.Lock()
	defer k.links.Unlock()
	if err := unix.Unlinkat(dir, name, flags); err != nil {
		return err
	}
	hostmeta.RemoveLinkOwner(selfFD(dir), name)
	return nil
}

// renameAt is renameat2 from oname in odir to nname in ndir with the owners of the symbolic
// links involved: a link's owner moves with it, RENAME_EXCHANGE swaps them, a name left
// behind or replaced loses its entry.
func (k *Kernel) renameAt(odir int, oname string, ndir int, nname string, flags uint) error {
	k.links.Lock()
	defer k.links.Unlock()
	ost, oLink := isLinkAt(odir, oname)
	nst, nLink := isLinkAt(ndir, nname)
	rename := func() error { return unix.Renameat2(odir, oname, ndir, nname, flags) }
	if !oLink && !nLink {
		return rename()
	}
	if nst.Ino == ost.Ino && nst.Dev == ost.Dev {
		return rename() // two names of one link: rename leaves both, exchange swaps equals
	}
	moved := func(from linkEntry, dir int, name string) linkEntry {
		return linkEntry{dir: dir, name: name, uid: from.uid, gid: from.gid, has: from.has}
	}
	// what each name is to keep once renamed: the entry of the link that comes to it, or
	// none (a file that is no link comes to it)
	dest := linkEntry{dir: ndir, name: nname}
	if oLink {
		dest = moved(readLinkEntry(odir, oname), ndir, nname)
	}
	want := []linkEntry{dest}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	if exchange {
		back := linkEntry{dir: odir, name: oname}
		if nLink {
			back = moved(readLinkEntry(ndir, nname), odir, oname)
		}
		want = append(want, back)
	}
	if err := withLinkEntries(want, rename); err != nil {
		return err
	}
	if oLink && !exchange {
		hostmeta.RemoveLinkOwner(selfFD(odir), oname)
	}
	return nil
}

// linkAt makes nname in ndir another name of the file op links (a hard link): when that
// file is a symbolic link, src (a kernel fd of it), the new name gets a copy of its owner.
func (k *Kernel) linkAt(src int, ndir int, nname string, op func() error) error {
	var st unix.Stat_t
	if unix.Fstat(src, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return op()
	}
	k.links.Lock()
	defer k.links.Unlock()
	want := linkEntry{dir: ndir, name: nname}
	if dfd, name, err := k.linkPlace(src); err == nil {
		e := readLinkEntry(dfd, name)
		unix.Close(dfd)
		want.uid, want.gid, want.has = e.uid, e.gid, e.has
	}
	return withLinkEntries([]linkEntry{want}, op)
}
