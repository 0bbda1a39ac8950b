// Package shadow unpacks an ext2/3/4 file system (lib/ext4) into a host directory and writes
// the directory's changes back. The emulator boots image roots this way: the guest works on
// real host files under $TMPDIR (so read, write and mmap run natively, the UML way of keeping
// a file system's pages in host files), and what it changed goes back into the image at
// sync, fsync and shutdown.
//
// Metadata a host file of an ordinary user cannot carry travels in lib/hostmeta's extended
// attributes, as in every directory root. Write-back compares each host inode with what it
// was when it was unpacked or last written back (its change time): unchanged files are not
// touched; changed files get their data and attributes rewritten in place; new names are
// created; names gone from the directory are removed from the image; hard links are kept.
package shadow

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	hostUID uint32
	hostGID uint32
	known   map[uint64]known // host inode -> the image inode it mirrors
}

type known struct {
	ino   ext4.Ino
	ctime unix.Timespec
}

const chunk = 1 << 20

// Unpack copies fs into dir, an empty directory.
func Unpack(fs *ext4.FS, dir string) (*Tree, error) {
	t := &Tree{Dir: dir, fs: fs, hostUID: uint32(os.Getuid()), hostGID: uint32(os.Getgid()), known: map[uint64]known{}}
	links := map[ext4.Ino]string{}
	if err := t.unpackDir(ext4.RootIno, dir, links); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tree) unpackDir(dino ext4.Ino, dir string, links map[ext4.Ino]string) error {
	ents, err := t.readDir(dino)
	if err != nil {
		return fmt.Errorf("reading directory inode %d: %w", dino, err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name)
		if err := t.unpackOne(e.Ino, p, links); err != nil {
			return err
		}
	}
	a, err := t.fs.Getattr(dino)
	if err != nil {
		return err
	}
	return t.finish(dir, a)
}

// readDir lists a directory of the image without "." and "..".
func (t *Tree) readDir(dino ext4.Ino) ([]ext4.DirEntry, error) {
	var out []ext4.DirEntry
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
			if e.Name != "." && e.Name != ".." {
				out = append(out, e)
			}
			cookie = e.Next
		}
	}
}

func (t *Tree) unpackOne(ino ext4.Ino, p string, links map[ext4.Ino]string) error {
	a, err := t.fs.Getattr(ino)
	if err != nil {
		return fmt.Errorf("inode %d (%s): %w", ino, p, err)
	}
	typ := a.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && a.Nlink > 1 {
		if first, ok := links[ino]; ok {
			return os.Link(first, p)
		}
		links[ino] = p
	}
	switch typ {
	case unix.S_IFDIR:
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		return t.unpackDir(ino, p, links)
	case unix.S_IFREG:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = t.copyOut(ino, f, int64(a.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	case unix.S_IFLNK:
		target, err := t.fs.Readlink(ino)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknod(p, typ|0o600, 0); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return err
		}
		if err := hostmeta.SetRdev(p, a.Rdev); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: inode %d has an unknown type %#o", p, ino, typ)
	}
	return t.finish(p, a)
}

// finish gives a host file the image inode's attributes and records it.
func (t *Tree) finish(p string, a ext4.Attr) error {
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
	ts := []unix.Timespec{unix.NsecToTimespec(a.Atime.UnixNano()), unix.NsecToTimespec(a.Mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	t.known[st.Ino] = known{ino: a.Ino, ctime: st.Ctim}
	return nil
}

// copyOut writes an image file's data into f, leaving holes as holes.
func (t *Tree) copyOut(ino ext4.Ino, f *os.File, size int64) error {
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		data, err := t.fs.SeekData(ino, off, false)
		if err != nil || data >= size {
			break // only a hole is left
		}
		end, err := t.fs.SeekData(ino, data, true)
		if err != nil || end > size {
			end = size
		}
		for pos := data; pos < end; {
			n := min(int64(len(buf)), end-pos)
			m, err := t.fs.ReadAt(ino, buf[:n], pos)
			if m > 0 {
				if _, werr := f.WriteAt(buf[:m], pos); werr != nil {
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
		off = end
	}
	return f.Truncate(size)
}

// copyIn replaces an image file's data with the host file's, holes kept.
func (t *Tree) copyIn(f *os.File, ino ext4.Ino, size int64) error {
	if _, err := t.fs.Setattr(ino, ext4.SetAttr{Valid: ext4.SetSize, Size: 0}); err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: only a hole is left
		}
		end, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
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
// image and syncs it.
func (t *Tree) WriteBack() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	created := map[uint64]ext4.Ino{}
	if err := t.syncDir(t.Dir, ext4.RootIno, created); err != nil {
		return err
	}
	return t.fs.Sync()
}

// WriteBackFile writes back one host file whose inode is known (fsync); it reports false
// when the file is not one the tree knows (then only a full WriteBack will do).
func (t *Tree) WriteBackFile(f *os.File) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.known[st.Ino]
	if !ok || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, nil
	}
	if st.Ctim != k.ctime {
		if a, err := t.fs.Getattr(k.ino); err != nil || a.Nlink == 0 || a.Mode&unix.S_IFMT != unix.S_IFREG {
			return false, nil
		}
		if err := t.update(f.Name(), f, k.ino, &st); err != nil {
			return true, err
		}
	}
	return true, t.fs.Fsync(k.ino)
}

func (t *Tree) guest(p string, st *unix.Stat_t) unix.Stat_t {
	g := *st
	hostmeta.Apply(p, &g, t.hostUID, t.hostGID)
	return g
}

func (t *Tree) syncDir(dir string, dino ext4.Ino, created map[uint64]ext4.Ino) error {
	img, err := t.readDir(dino)
	if err != nil {
		return err
	}
	inImg := map[string]ext4.DirEntry{}
	for _, e := range img {
		inImg[e.Name] = e
	}
	hostEnts, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	onHost := map[string]bool{}
	for _, e := range hostEnts {
		onHost[e.Name()] = true
	}
	for _, e := range img {
		if !onHost[e.Name] {
			if err := t.remove(dino, e.Name); err != nil {
				return fmt.Errorf("removing %s: %w", filepath.Join(dir, e.Name), err)
			}
		}
	}
	for _, he := range hostEnts {
		name := he.Name()
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue // gone meanwhile
		}
		g := t.guest(p, &st)
		typ := g.Mode & unix.S_IFMT
		k, isKnown := t.known[st.Ino]
		if xe, ok := inImg[name]; ok {
			if isKnown && k.ino == xe.Ino && t.sameType(xe.Ino, typ) && !t.newTarget(p, typ, xe.Ino, &st, k) {
				if typ == unix.S_IFDIR {
					if err := t.syncDir(p, xe.Ino, created); err != nil {
						return err
					}
				}
				if st.Ctim != k.ctime {
					if err := t.update(p, nil, xe.Ino, &st); err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
				}
				continue
			}
			if err := t.remove(dino, name); err != nil {
				return fmt.Errorf("replacing %s: %w", p, err)
			}
		}
		// A new name: a hard link to an inode already in the image, or a new inode.
		if typ != unix.S_IFDIR && st.Nlink > 1 {
			target, ok := created[st.Ino]
			if !ok && isKnown && t.sameType(k.ino, typ) {
				target, ok = k.ino, true
			}
			if ok {
				if err := t.fs.Link(target, dino, name); err == nil {
					if st.Ctim != k.ctime || !isKnown {
						if err := t.update(p, nil, target, &st); err != nil {
							return err
						}
					}
					continue
				}
			}
		}
		ino, err := t.create(dino, name, p, &g)
		if err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		created[st.Ino] = ino
		if typ == unix.S_IFDIR {
			if err := t.syncDir(p, ino, created); err != nil {
				return err
			}
		}
		if err := t.update(p, nil, ino, &st); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// newTarget: a symbolic link whose target changed (a new link that reused the old one's
// host inode number) must be made anew.
func (t *Tree) newTarget(p string, typ uint32, ino ext4.Ino, st *unix.Stat_t, k known) bool {
	if typ != unix.S_IFLNK || st.Ctim == k.ctime {
		return false
	}
	host, err1 := os.Readlink(p)
	img, err2 := t.fs.Readlink(ino)
	return err1 != nil || err2 != nil || host != img
}

func (t *Tree) sameType(ino ext4.Ino, typ uint32) bool {
	a, err := t.fs.Getattr(ino)
	return err == nil && a.Nlink > 0 && a.Mode&unix.S_IFMT == typ
}

func (t *Tree) create(dino ext4.Ino, name, p string, g *unix.Stat_t) (ext4.Ino, error) {
	typ := g.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFDIR:
		return t.fs.Mkdir(dino, name, g.Mode&0o7777, g.Uid, g.Gid)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return 0, err
		}
		return t.fs.Symlink(dino, name, target, g.Uid, g.Gid)
	default:
		return t.fs.Create(dino, name, g.Mode, g.Uid, g.Gid, g.Rdev)
	}
}

// update copies a host file's data (regular files) and attributes to its image inode and
// records it as written back. f may be an open descriptor of p.
func (t *Tree) update(p string, f *os.File, ino ext4.Ino, st *unix.Stat_t) error {
	g := t.guest(p, st)
	typ := g.Mode & unix.S_IFMT
	if typ == unix.S_IFREG {
		if f == nil {
			var err error
			if f, err = os.Open(p); err != nil {
				return err
			}
			defer f.Close()
		}
		if err := t.copyIn(f, ino, st.Size); err != nil {
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

// remove removes name from directory dino, a whole tree for a directory.
func (t *Tree) remove(dino ext4.Ino, name string) error {
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
	ents, err := t.readDir(ino)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := t.remove(ino, e.Name); err != nil {
			return err
		}
	}
	return t.fs.Rmdir(dino, name)
}
