// Package shadow unpacks an ext2/3/4 file system (lib/ext4) into a host directory and writes
// the directory's changes back. The emulator boots image roots this way: the guest works on
// real host files under $TMPDIR (so read, write and mmap run natively, the UML way of keeping
// a file system's pages in host files), and what it changed goes back into the image at
// sync, fsync and shutdown.
//
// Metadata a host file of an ordinary user cannot carry travels in lib/hostmeta's extended
// attributes, as in every directory root; a symbolic link's owner is kept by its directory
// (so an lchown changes the directory, not the link, and write-back compares every link's
// owner with the image's). Write-back compares each host inode with what it
// was when it was unpacked or last written back (its change time): unchanged files are not
// touched; changed files get their data and attributes rewritten in place; new names are
// created; names gone from the directory are removed from the image; hard links are kept.
//
// Both directions treat their input as hostile: the image is bytes a guest wrote, and the
// directory is the guest's to change while it is read. Nothing is done by host path below
// Dir: every file is reached from Dir's descriptor one checked name at a time, relative to
// its directory's descriptor, without following symbolic links (O_NOFOLLOW, and
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where a path is walked), and a file is worked on
// through the descriptor it was found by. So Unpack creates nothing outside Dir whatever
// names, links or cycles the image holds, and write-back reads nothing outside Dir whatever
// the guest plants or swaps meanwhile (a race may make it fail, or store what it saw).
package shadow

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gouml/gouml/lib/ext4"
	"github.com/gouml/gouml/lib/hostmeta"
	"golang.org/x/sys/unix"
)

// Tree is a file system unpacked into Dir.
type Tree struct {
	Dir string

	mu      sync.Mutex
	fs      *ext4.FS
	root    *os.File // Dir as Unpack opened it: write-back starts here, never at the path
	dev     uint64   // Dir's host device; nothing on another device is part of the tree
	hostUID uint32
	hostGID uint32
	known   map[uint64]known // host inode -> the image inode it mirrors
}

type known struct {
	ino   ext4.Ino
	ctime unix.Timespec
}

const (
	chunk = 1 << 20
	// maxDepth bounds directory nesting in both directions: each level holds a descriptor
	// while it is walked, and an image can nest as deep as it likes.
	maxDepth = 1024
	// maxTarget is the longest symbolic link target read from the host (PATH_MAX).
	maxTarget = 4096
)

// procFD names one of our own descriptors: the attribute and mode calls that take only a
// path reach exactly the inode behind it this way, whatever is at its old name now.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// checkName is the rule for one path component, applied to every name read from the image
// or the host directory even though lib/ext4 checks image names itself.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%q is not a file name", name)
	}
	return nil
}

// relPath shows where in the tree something is (name in the directory at rel, or that
// directory if name is empty), quoted so that any name stays on one line.
func relPath(rel []string, name string) string {
	if name != "" {
		rel = append(rel[:len(rel):len(rel)], name)
	}
	return strconv.Quote("/" + strings.Join(rel, "/"))
}

func closeFD(fd int) { unix.Close(fd) }

// Unpack copies fs into dir, an empty directory. A directory reached twice (a cycle or a
// hard-linked directory), a name twice in a directory, an invalid name, nesting deeper than
// 1024 levels and more data than the image has room for are errors that name the place.
func Unpack(fs *ext4.FS, dir string) (*Tree, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	root := os.NewFile(uintptr(fd), dir)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		root.Close()
		return nil, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	sfs, err := fs.Statfs()
	if err != nil {
		root.Close()
		return nil, err
	}
	t := &Tree{Dir: dir, fs: fs, root: root, dev: st.Dev, hostUID: uint32(os.Getuid()), hostGID: uint32(os.Getgid()),
		known: map[uint64]known{}}
	u := &unpacker{t: t, rootFD: fd, dirs: map[ext4.Ino]bool{}, links: map[ext4.Ino]firstName{},
		budget: int64(min(sfs.Blocks+1, 1<<62/uint64(sfs.Bsize))) * sfs.Bsize}
	if err := u.dir(fd, ext4.RootIno, nil, "", 0); err != nil {
		root.Close()
		return nil, fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	return t, nil
}

// unpacker is the state of one Unpack.
type unpacker struct {
	t      *Tree
	rootFD int
	dirs   map[ext4.Ino]bool      // directories unpacked so far
	links  map[ext4.Ino]firstName // where each other inode was unpacked first
	// budget is what the image can hold (its blocks); directory and file data charged
	// against it stop an image whose files share blocks from filling the host.
	budget int64
}

type firstName struct {
	dir  []string // path of its directory below the root
	name string
	ino  uint64 // the host inode made for it
}

func (u *unpacker) spend(n int64, rel []string, name string) error {
	u.budget -= n
	if u.budget < 0 {
		return fmt.Errorf("%s: the image holds more data than it has room for (blocks shared between files)", relPath(rel, name))
	}
	return nil
}

// dir unpacks directory dino, already created and opened as fd; rel and name are its place.
func (u *unpacker) dir(fd int, dino ext4.Ino, rel []string, name string, depth int) error {
	where := relPath(rel, name)
	if depth > maxDepth {
		return fmt.Errorf("%s: directories nest more than %d deep", where, maxDepth)
	}
	if u.dirs[dino] {
		return fmt.Errorf("%s: directory inode %d is reached a second time (a directory cycle or a hard-linked directory)", where, dino)
	}
	u.dirs[dino] = true
	a, err := u.t.fs.Getattr(dino)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := u.spend(int64(min(a.Size, 1<<62)), rel, name); err != nil {
		return err
	}
	ents, err := u.t.listImage(dino)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	sub := rel
	if name != "" {
		sub = append(rel[:len(rel):len(rel)], name)
	}
	for _, e := range ents {
		if err := u.entry(fd, e, sub, depth); err != nil {
			return err
		}
	}
	if err := u.t.finish(fd, a); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// entry unpacks one name of the directory open as dfd.
func (u *unpacker) entry(dfd int, e ext4.DirEntry, rel []string, depth int) error {
	where := relPath(rel, e.Name)
	fail := func(err error) error { return fmt.Errorf("%s: %w", where, err) }
	a, err := u.t.fs.Getattr(e.Ino)
	if err != nil {
		return fail(err)
	}
	typ := a.Mode & unix.S_IFMT
	if typ == unix.S_IFDIR {
		if err := unix.Mkdirat(dfd, e.Name, 0o700); err != nil {
			return fail(err)
		}
		fd, err := unix.Openat(dfd, e.Name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(err)
		}
		defer closeFD(fd)
		return u.dir(fd, e.Ino, rel, e.Name, depth+1)
	}
	// A second name for an inode becomes a hard link to the first: nlink or not, the
	// image says both names are one file, and a copy would let a small image expand.
	if first, ok := u.links[e.Ino]; ok {
		if err := u.link(first, dfd, e.Name); err != nil {
			return fail(err)
		}
		if typ == unix.S_IFLNK {
			if err := u.t.linkOwner(dfd, e.Name, a); err != nil {
				return fail(err)
			}
		}
		return nil
	}
	var fd int
	switch typ {
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFBLK:
		// device nodes are empty files carrying the number in an attribute
		fd, err = unix.Openat(dfd, e.Name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fail(err)
		}
		defer closeFD(fd)
		if typ == unix.S_IFREG {
			err = u.copyOut(e.Ino, fd, int64(min(a.Size, 1<<62)), rel, e.Name)
		} else {
			err = hostmeta.SetRdev(procFD(fd), a.Rdev)
		}
		if err != nil {
			return fail(err)
		}
	case unix.S_IFLNK:
		target, err := u.t.fs.Readlink(e.Ino)
		if err != nil {
			return fail(err)
		}
		if err := unix.Symlinkat(target, dfd, e.Name); err != nil {
			return fail(fmt.Errorf("symlink to %q: %w", target, err))
		}
		if err := u.t.linkOwner(dfd, e.Name, a); err != nil {
			return fail(err)
		}
	case unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dfd, e.Name, typ|0o600, 0); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("inode %d has an unknown type %#o", e.Ino, typ))
	}
	if typ == unix.S_IFLNK || typ == unix.S_IFIFO || typ == unix.S_IFSOCK {
		// what was just made, and nothing a name could lead to instead
		if fd, err = openNoFollow(dfd, e.Name, typ); err != nil {
			return fail(err)
		}
		defer closeFD(fd)
	}
	if err := u.t.finish(fd, a); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	u.links[e.Ino] = firstName{dir: rel, name: e.Name, ino: st.Ino}
	return nil
}

// linkOwner keeps the owner of the image's symbolic link a, unpacked as name in the
// directory dfd, where lib/hostmeta keeps it: in the directory (root's needs nothing, the
// host user's link shows as root's).
func (t *Tree) linkOwner(dfd int, name string, a ext4.Attr) error {
	if a.UID == 0 && a.GID == 0 {
		return nil
	}
	if err := hostmeta.SetLinkOwner(procFD(dfd), name, a.UID, a.GID); err != nil {
		if err == unix.ENOSPC || err == unix.E2BIG {
			return fmt.Errorf("keeping the link's owner %d:%d: %w (the host directory's extended attributes are full: too many links of owners other than root in one directory for the file system under $TMPDIR)", a.UID, a.GID, err)
		}
		return fmt.Errorf("keeping the link's owner %d:%d: %w", a.UID, a.GID, err)
	}
	return nil
}

// openNoFollow opens name in dfd as an O_PATH descriptor, checking it is of type typ.
func openNoFollow(dfd int, name string, typ uint32) (int, error) {
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		closeFD(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != typ {
		closeFD(fd)
		return -1, fmt.Errorf("changed while being unpacked (type %#o, want %#o)", st.Mode&unix.S_IFMT, typ)
	}
	return fd, nil
}

// link makes name in dfd a hard link to the host file first names.
func (u *unpacker) link(first firstName, dfd int, name string) error {
	pfd, err := openBeneath(u.rootFD, first.dir)
	if err != nil {
		return fmt.Errorf("finding %s again: %w", relPath(first.dir, first.name), err)
	}
	defer closeFD(pfd)
	fd, err := unix.Openat(pfd, first.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("finding %s again: %w", relPath(first.dir, first.name), err)
	}
	defer closeFD(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Ino != first.ino || st.Dev != u.t.dev {
		return fmt.Errorf("%s changed while being unpacked", relPath(first.dir, first.name))
	}
	// through the descriptor, so the link is to exactly that inode (a symbolic link
	// included: the magic link is not followed further)
	if err := unix.Linkat(unix.AT_FDCWD, procFD(fd), dfd, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		return fmt.Errorf("linking to %s: %w", relPath(first.dir, first.name), err)
	}
	// linking changed the inode's ctime; record it so write-back does not copy it again
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if k, ok := u.t.known[st.Ino]; ok {
		u.t.known[st.Ino] = known{ino: k.ino, ctime: st.Ctim}
	}
	return nil
}

// openBeneath opens the directory at the path comps below the directory rootFD as an
// O_PATH descriptor: beneath it, through no symbolic link and no mount point, which the
// host kernel enforces (openat2); where openat2 is missing or the path too long for it,
// one component at a time with O_NOFOLLOW, which holds the same line.
func openBeneath(rootFD int, comps []string) (int, error) {
	for _, c := range comps {
		if err := checkName(c); err != nil {
			return -1, err
		}
	}
	p := strings.Join(comps, "/")
	if p == "" {
		p = "."
	}
	if len(p) < unix.PathMax {
		fd, err := unix.Openat2(rootFD, p, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
		})
		if err != unix.ENOSYS && err != unix.EPERM {
			return fd, err
		}
	}
	return walkBeneath(rootFD, comps)
}

// walkBeneath is openBeneath one component at a time.
func walkBeneath(rootFD int, comps []string) (int, error) {
	fd, err := unix.Openat(rootFD, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var top unix.Stat_t
	if err := unix.Fstat(fd, &top); err != nil {
		closeFD(fd)
		return -1, err
	}
	for _, c := range comps {
		if err := checkName(c); err != nil {
			closeFD(fd)
			return -1, err
		}
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		closeFD(fd)
		if err != nil {
			return -1, err
		}
		fd = next
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Dev != top.Dev {
			closeFD(fd)
			if err == nil {
				err = unix.EXDEV
			}
			return -1, err
		}
	}
	return fd, nil
}

// listImage lists a directory of the image without "." and "..", refusing a name that is
// not one path component or that comes twice.
func (t *Tree) listImage(dino ext4.Ino) ([]ext4.DirEntry, error) {
	var out []ext4.DirEntry
	seen := map[string]bool{}
	var cookie uint64
	for {
		ents, err := t.fs.ReadDir(dino, cookie, 1024)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			return out, nil
		}
		for _, e := range ents {
			cookie = e.Next
			if e.Name == "." || e.Name == ".." {
				continue
			}
			if err := checkName(e.Name); err != nil {
				return nil, fmt.Errorf("directory inode %d: %w", dino, err)
			}
			if seen[e.Name] {
				return nil, fmt.Errorf("directory inode %d has the name %q twice", dino, e.Name)
			}
			seen[e.Name] = true
			out = append(out, e)
		}
	}
}

// finish gives the host file open as fd (any kind of descriptor, O_PATH included) the image
// inode's attributes and records it.
func (t *Tree) finish(fd int, a ext4.Attr) error {
	p := procFD(fd)
	typ := a.Mode & unix.S_IFMT
	if typ != unix.S_IFLNK {
		if err := unix.Chmod(p, a.Mode&0o777); err != nil {
			return err
		}
		if a.UID != 0 || a.GID != 0 {
			if err := hostmeta.SetOwner(p, a.UID, a.GID); err != nil {
				return err
			}
		}
		if a.Mode&0o7000 != 0 || typ == unix.S_IFCHR || typ == unix.S_IFBLK {
			if err := hostmeta.SetMode(p, a.Mode); err != nil {
				return err
			}
		}
	}
	// the magic link ends at the inode itself, a symbolic link included
	ts := []unix.Timespec{unix.NsecToTimespec(a.Atime.UnixNano()), unix.NsecToTimespec(a.Mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	t.known[st.Ino] = known{ino: a.Ino, ctime: st.Ctim}
	return nil
}

// copyOut writes an image file's data into fd, leaving holes as holes.
func (u *unpacker) copyOut(ino ext4.Ino, fd int, size int64, rel []string, name string) error {
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		data, err := u.t.fs.SeekData(ino, off, false)
		if err != nil || data >= size {
			break // only a hole is left
		}
		end, err := u.t.fs.SeekData(ino, data, true)
		if err != nil || end > size {
			end = size
		}
		for pos := data; pos < end; {
			n := min(int64(len(buf)), end-pos)
			m, err := u.t.fs.ReadAt(ino, buf[:n], pos)
			if m > 0 {
				if err := u.spend(int64(m), rel, name); err != nil {
					return err
				}
				if _, werr := unix.Pwrite(fd, buf[:m], pos); werr != nil {
					return werr
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if m == 0 {
				break
			}
			pos += int64(m)
		}
		if end <= off {
			break
		}
		off = end
	}
	return unix.Ftruncate(fd, size)
}

// copyIn replaces an image file's data with that of the host file open as f (read from
// the start up to size, the size it had when it was looked at), holes kept.
func (t *Tree) copyIn(f *os.File, ino ext4.Ino, size int64) error {
	if _, err := t.fs.Setattr(ino, ext4.SetAttr{Valid: ext4.SetSize, Size: 0}); err != nil {
		return err
	}
	fd := int(f.Fd())
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil || data >= size {
			break // ENXIO: only a hole is left
		}
		end, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil || end > size {
			end = size
		}
		for pos := data; pos < end; {
			n := min(int64(len(buf)), end-pos)
			m, err := f.ReadAt(buf[:n], pos)
			if m > 0 {
				if _, werr := t.fs.WriteAt(ino, buf[:m], pos); werr != nil {
					return werr
				}
			}
			if err != nil && err != io.EOF {
				return err
			}
			if m == 0 {
				break
			}
			pos += int64(m)
		}
		if end <= off {
			break
		}
		off = end
	}
	_, err := t.fs.Setattr(ino, ext4.SetAttr{Valid: ext4.SetSize, Size: uint64(size)})
	return err
}

// SetFS replaces the file system the tree writes back into by the same file system mounted
// anew (remounting read-write): inode numbers stay valid.
func (t *Tree) SetFS(fs *ext4.FS) {
	t.mu.Lock()
	t.fs = fs
	t.mu.Unlock()
}

// WriteBack writes every change made under Dir since Unpack or the last WriteBack into the
// image and syncs it. It starts from the directory Unpack opened, reads the host tree only
// through descriptors found one name at a time without following symbolic links (a link
// the guest planted is stored as a link), skips what lies on another host device, and
// writes nothing to the host.
func (t *Tree) WriteBack() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := &writer{t: t, created: map[uint64]ext4.Ino{}, seen: map[uint64]bool{}, maxNames: 1 << 20}
	if st, err := t.fs.Statfs(); err == nil {
		w.maxNames = int64(min(st.Blocks, 1<<50) * uint64(st.Bsize) / 12)
	}
	if err := w.dir(int(t.root.Fd()), ext4.RootIno, nil, "", 0); err != nil {
		return fmt.Errorf("writing %s back: %w", t.Dir, err)
	}
	return t.fs.Sync()
}

// WriteBackFile writes back one host file whose inode is known (fsync); it reports false
// when the file is not one the tree knows (then only a full WriteBack will do). Only f's
// descriptor is used, never its name.
func (t *Tree) WriteBackFile(f *os.File) (bool, error) {
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.known[st.Ino]
	if !ok || st.Dev != t.dev || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, nil
	}
	if st.Ctim != k.ctime {
		if a, err := t.fs.Getattr(k.ino); err != nil || a.Nlink == 0 || a.Mode&unix.S_IFMT != unix.S_IFREG {
			return false, nil
		}
		g := t.guest(fd, &st)
		if err := t.update(fd, f, k.ino, &st, &g); err != nil {
			return true, err
		}
	}
	return true, t.fs.Fsync(k.ino)
}

// guest is the guest's view of the host file open as fd (lib/hostmeta).
func (t *Tree) guest(fd int, st *unix.Stat_t) unix.Stat_t {
	g := *st
	hostmeta.Apply(procFD(fd), &g, t.hostUID, t.hostGID)
	return g
}

// writer is the state of one WriteBack.
type writer struct {
	t       *Tree
	created map[uint64]ext4.Ino // host inode -> image inode made for it in this write-back
	seen    map[uint64]bool     // host directories walked (a bind mount could repeat one)
	// maxNames bounds the names read from one host directory: as many as the image could
	// hold entries of (12 bytes at least), so a guest's huge directory is refused, not read
	maxNames int64
}

// dir brings image directory dino in line with the host directory open as dfd.
func (w *writer) dir(dfd int, dino ext4.Ino, rel []string, name string, depth int) error {
	t := w.t
	if depth > maxDepth {
		return fmt.Errorf("%s: directories nest more than %d deep", relPath(rel, name), maxDepth)
	}
	if name != "" {
		rel = append(rel[:len(rel):len(rel)], name)
	}
	img, err := t.listImage(dino)
	if err != nil {
		return fmt.Errorf("%s: %w", relPath(rel, ""), err)
	}
	inImg := map[string]ext4.DirEntry{}
	for _, e := range img {
		inImg[e.Name] = e
	}
	hostNames, err := readNames(dfd, w.maxNames)
	if err != nil {
		return fmt.Errorf("%s: %w", relPath(rel, ""), err)
	}
	onHost := map[string]bool{}
	for _, n := range hostNames {
		onHost[n] = true
	}
	for _, e := range img {
		if !onHost[e.Name] {
			if err := w.remove(dino, e.Name, 0); err != nil {
				return fmt.Errorf("removing %s: %w", relPath(rel, e.Name), err)
			}
		}
	}
	for _, n := range hostNames {
		if err := w.entry(dfd, dino, rel, n, inImg, depth); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists the directory open as dfd (through a descriptor of its own, so that
// the directory offset of dfd does not matter), up to limit names.
func readNames(dfd int, limit int64) ([]string, error) {
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), ".")
	defer f.Close()
	var names []string
	for {
		more, err := f.Readdirnames(4096)
		names = append(names, more...)
		if int64(len(names)) > limit {
			return nil, fmt.Errorf("more names than the image has room for (%d)", limit)
		}
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// entry writes back the host name in the directory open as dfd (image directory dino).
func (w *writer) entry(dfd int, dino ext4.Ino, rel []string, name string, inImg map[string]ext4.DirEntry, depth int) error {
	t := w.t
	where := relPath(rel, name)
	if err := checkName(name); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil // gone meanwhile
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer func() { closeFD(fd) }()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if st.Dev != t.dev {
		return nil // a mount point: not the tree's, so neither copied nor removed
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// walk it through a readable descriptor of this very inode
		dirFD, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		closeFD(fd)
		fd = dirFD
		if w.seen[st.Ino] {
			return nil
		}
		w.seen[st.Ino] = true
	}
	g := t.guest(fd, &st)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		hostmeta.ApplyLink(procFD(dfd), name, &g, t.hostUID, t.hostGID)
	}
	typ := g.Mode & unix.S_IFMT
	k, isKnown := t.known[st.Ino]
	if xe, ok := inImg[name]; ok {
		if isKnown && k.ino == xe.Ino && t.sameType(xe.Ino, typ) && !t.newTarget(fd, typ, xe.Ino, &st, k) {
			if typ == unix.S_IFDIR {
				if err := w.dir(fd, xe.Ino, rel, name, depth+1); err != nil {
					return err
				}
			}
			// a link's owner changes in its directory, not its inode (its ctime stays)
			if st.Ctim != k.ctime || typ == unix.S_IFLNK && t.ownerChanged(xe.Ino, &g) {
				if err := t.update(fd, nil, xe.Ino, &st, &g); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
			}
			return nil
		}
		if err := w.remove(dino, name, 0); err != nil {
			return fmt.Errorf("replacing %s: %w", where, err)
		}
	}
	// A new name: a hard link to an inode already in the image, or a new inode.
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		target, ok := w.created[st.Ino]
		if !ok && isKnown && t.sameType(k.ino, typ) {
			target, ok = k.ino, true
		}
		if ok {
			if err := t.fs.Link(target, dino, name); err == nil {
				if st.Ctim != k.ctime || !isKnown {
					if err := t.update(fd, nil, target, &st, &g); err != nil {
						return fmt.Errorf("%s: %w", where, err)
					}
				}
				return nil
			}
		}
	}
	ino, err := t.create(dino, name, fd, &g)
	if err != nil {
		return fmt.Errorf("creating %s: %w", where, err)
	}
	w.created[st.Ino] = ino
	if typ == unix.S_IFDIR {
		if err := w.dir(fd, ino, rel, name, depth+1); err != nil {
			return err
		}
	}
	if err := t.update(fd, nil, ino, &st, &g); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// readTarget reads the target of the symbolic link open (O_PATH|O_NOFOLLOW) as fd.
func readTarget(fd int) (string, error) {
	buf := make([]byte, maxTarget+1)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n > maxTarget {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// newTarget: a symbolic link whose target changed (a new link that reused the old one's
// host inode number) must be made anew.
func (t *Tree) newTarget(fd int, typ uint32, ino ext4.Ino, st *unix.Stat_t, k known) bool {
	if typ != unix.S_IFLNK || st.Ctim == k.ctime {
		return false
	}
	host, err1 := readTarget(fd)
	img, err2 := t.fs.Readlink(ino)
	return err1 != nil || err2 != nil || host != img
}

// ownerChanged: the image inode's owner is not g's.
func (t *Tree) ownerChanged(ino ext4.Ino, g *unix.Stat_t) bool {
	a, err := t.fs.Getattr(ino)
	return err != nil || a.UID != g.Uid || a.GID != g.Gid
}

func (t *Tree) sameType(ino ext4.Ino, typ uint32) bool {
	a, err := t.fs.Getattr(ino)
	return err == nil && a.Nlink > 0 && a.Mode&unix.S_IFMT == typ
}

// create makes name in image directory dino for the host file open as fd.
func (t *Tree) create(dino ext4.Ino, name string, fd int, g *unix.Stat_t) (ext4.Ino, error) {
	switch g.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return t.fs.Mkdir(dino, name, g.Mode&0o7777, g.Uid, g.Gid)
	case unix.S_IFLNK:
		target, err := readTarget(fd)
		if err != nil {
			return 0, err
		}
		return t.fs.Symlink(dino, name, target, g.Uid, g.Gid)
	default:
		return t.fs.Create(dino, name, g.Mode, g.Uid, g.Gid, g.Rdev)
	}
}

// update copies a host file's data (regular files) and attributes to its image inode and
// records it as written back. fd is the descriptor the file was found by; data, if not
// nil, is one already open for reading it. g is the guest's view of st.
func (t *Tree) update(fd int, data *os.File, ino ext4.Ino, st, g *unix.Stat_t) error {
	typ := g.Mode & unix.S_IFMT
	if typ == unix.S_IFREG && st.Mode&unix.S_IFMT == unix.S_IFREG {
		if data == nil {
			// the inode found, reopened for reading: a regular file stays one, so this
			// cannot block on a FIFO or reach anything else
			dfd, err := unix.Open(procFD(fd), unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			data = os.NewFile(uintptr(dfd), "")
			defer data.Close()
		}
		if err := t.copyIn(data, ino, st.Size); err != nil {
			return err
		}
	}
	sa := ext4.SetAttr{Valid: ext4.SetUID | ext4.SetGID | ext4.SetAtime | ext4.SetMtime,
		UID: g.Uid, GID: g.Gid,
		Atime: time.Unix(st.Atim.Sec, st.Atim.Nsec), Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
	if typ != unix.S_IFLNK {
		sa.Valid |= ext4.SetMode
		sa.Mode = g.Mode & 0o7777
	}
	if _, err := t.fs.Setattr(ino, sa); err != nil {
		return err
	}
	t.known[st.Ino] = known{ino: ino, ctime: st.Ctim}
	return nil
}

// remove removes name from image directory dino, a whole tree for a directory. The image
// may have been changed under the mount, so its directories are bounded in depth here too.
func (w *writer) remove(dino ext4.Ino, name string, depth int) error {
	t := w.t
	if depth > maxDepth {
		return fmt.Errorf("directories nest more than %d deep (a directory cycle in the image?)", maxDepth)
	}
	ino, err := t.fs.Lookup(dino, name)
	if err != nil {
		return err
	}
	a, err := t.fs.Getattr(ino)
	if err != nil {
		return err
	}
	if a.Mode&unix.S_IFMT != unix.S_IFDIR {
		return t.fs.Unlink(dino, name)
	}
	ents, err := t.listImage(ino)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := w.remove(ino, e.Name, depth+1); err != nil {
			return err
		}
	}
	return t.fs.Rmdir(dino, name)
}
