package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/gouml/gouml/lib/hostmeta"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// WriteDir writes the tree as a host directory at dir (which must not exist yet) for hostfs
// roots. The guest's metadata that an ordinary user cannot give a host file travels in
// extended attributes on every regular file and directory:
//
//	user.gouml.uid, user.gouml.gid   decimal owner and group
//	user.gouml.mode                  octal st_mode, type bits included ("100644", "20666")
//	user.gouml.rdev                  "MAJOR:MINOR" for device nodes
//	user.NAME                        the guest's own user.NAME attribute, as it is
//	user.gouml.x.NAME                the guest's trusted.*, security.* (security.capability …)
//	                                 or user.gouml.* attribute NAME (lib/hostmeta, as the
//	                                 emulator keeps them)
//
// As an ordinary user, device nodes, FIFOs and sockets become empty regular files whose
// user.gouml.mode says what they are; host permissions are the guest's plus owner read/write
// (so the tree stays readable and removable). As root the real owner, mode, device node and
// attributes are set as well, like tar -x would. Symbolic links cannot carry user.*
// attributes on Linux: the directory keeps the owner of each of its links,
//
//	user.gouml.link.NAME             "UID:GID" of the symbolic link NAME (lib/hostmeta)
//
// as root too, so that both runs describe the same guest.
func WriteDir(t *fstree.Tree, dir string, progress func(done, total int64), warn func(string)) error {
	root := os.Geteuid() == 0
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	st := t.Stats()
	var done int64
	first := map[*fstree.Inode]string{}
	var dirs []*fstree.Node
	err := t.Walk(func(n *fstree.Node) error {
		hp := filepath.Join(dir, filepath.FromSlash(n.Path()))
		in := n.Inode
		if prev, ok := first[in]; ok && !in.IsDir() {
			if err := os.Link(prev, hp); err != nil {
				return err
			}
			if typ := in.Type(); typ == fstree.TypeLink {
				return setLinkOwner(hp, in) // this name keeps the owner too
			}
			return nil
		}
		first[in] = hp
		typ := in.Type()
		switch typ {
		case fstree.TypeDir:
			if n.Parent != nil {
				if err := os.Mkdir(hp, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, n)
			return nil // metadata after the children are written
		case fstree.TypeReg:
			if err := writeFile(hp, in); err != nil {
				return err
			}
			done += in.Size
			if progress != nil {
				progress(done, st.Bytes)
			}
		case fstree.TypeLink:
			if err := os.Symlink(in.Target, hp); err != nil {
				return err
			}
			if root {
				if err := os.Lchown(hp, int(in.UID), int(in.GID)); err != nil {
					return err
				}
			}
			if err := setLinkOwner(hp, in); err != nil {
				return err
			}
			if len(in.Xattrs) > 0 && !root {
				warn(fmt.Sprintf("%s: extended attributes of a symbolic link not stored", n.Path()))
			}
			return setTimes(hp, in)
		default:
			if root {
				if err := unix.Mknod(hp, in.Mode, int(unix.Mkdev(in.Major, in.Minor))); err != nil {
					return fmt.Errorf("mknod %s: %w", hp, err)
				}
			} else if err := os.WriteFile(hp, nil, 0o600); err != nil {
				return err
			}
		}
		return setMeta(hp, in, root)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- { // children first: a 0555 directory is filled already
		hp := filepath.Join(dir, filepath.FromSlash(dirs[i].Path()))
		if err := setMeta(hp, dirs[i].Inode, root); err != nil {
			return err
		}
	}
	return nil
}

// setLinkOwner keeps the owner of the symbolic link hp in its directory (lib/hostmeta: a
// link cannot carry user.* attributes); root's needs no entry.
func setLinkOwner(hp string, in *fstree.Inode) error {
	if in.UID == 0 && in.GID == 0 {
		return nil
	}
	if err := hostmeta.SetLinkOwner(filepath.Dir(hp), filepath.Base(hp), in.UID, in.GID); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("%s: the output file system does not support user extended attributes, which carry the guest's owners and modes", hp)
		}
		return fmt.Errorf("%s: keeping the link's owner %d:%d in its directory: %w", hp, in.UID, in.GID, err)
	}
	return nil
}

func writeFile(hp string, in *fstree.Inode) error {
	f, err := os.OpenFile(hp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if in.Size > 0 {
		rc, err := in.Data.Open()
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", in.Origin, err)
		}
		n, err := io.Copy(f, io.LimitReader(rc, in.Size))
		rc.Close()
		if err == nil && n != in.Size {
			err = fmt.Errorf("%s: file shrank while being read (%d of %d bytes)", in.Origin, n, in.Size)
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func setMeta(hp string, in *fstree.Inode, root bool) error {
	typ := in.Type()
	xattrOK := root && (typ == fstree.TypeReg || typ == fstree.TypeDir) || !root
	if xattrOK {
		set := func(name string, v []byte) error {
			if err := unix.Lsetxattr(hp, name, v, 0); err != nil {
				if errors.Is(err, unix.ENOTSUP) {
					return fmt.Errorf("%s: the output file system does not support user extended attributes, which carry the guest's owners and modes", hp)
				}
				return fmt.Errorf("%s: setting %s: %w", hp, name, err)
			}
			return nil
		}
		if err := set(XattrUID, []byte(strconv.FormatUint(uint64(in.UID), 10))); err != nil {
			return err
		}
		if err := set(XattrGID, []byte(strconv.FormatUint(uint64(in.GID), 10))); err != nil {
			return err
		}
		if err := set(XattrMode, []byte(strconv.FormatUint(uint64(in.Mode), 8))); err != nil {
			return err
		}
		if typ == fstree.TypeChr || typ == fstree.TypeBlk {
			if err := set(XattrRdev, []byte(fmt.Sprintf("%d:%d", in.Major, in.Minor))); err != nil {
				return err
			}
		}
		for name, v := range in.Xattrs {
			host, ok := hostmeta.XattrHostName(name)
			if !ok {
				return fmt.Errorf("%s: the guest's attribute %q has no host form (only user.*, trusted.* and security.* do)", hp, name)
			}
			if err := set(host, v); err != nil {
				return err
			}
		}
	}
	if root {
		if err := os.Lchown(hp, int(in.UID), int(in.GID)); err != nil {
			return err
		}
		for name, v := range in.Xattrs {
			if err := unix.Lsetxattr(hp, name, v, 0); err != nil {
				return fmt.Errorf("%s: setting %s: %w", hp, name, err)
			}
		}
		// chmod after chown: chown clears the setuid and setgid bits
		if err := unix.Fchmodat(unix.AT_FDCWD, hp, in.Mode&0o7777, 0); err != nil {
			return err
		}
	} else {
		// No setuid, setgid or sticky bit on the host: a setuid file owned by the user
		// would hand the user's identity to anyone who runs it. The guest's bits are in
		// user.gouml.mode.
		host := in.Mode&0o777 | 0o600
		if typ == fstree.TypeDir {
			host |= 0o700
		} else if typ != fstree.TypeReg {
			host = 0o600
		}
		if err := os.Chmod(hp, os.FileMode(host)); err != nil {
			return err
		}
	}
	return setTimes(hp, in)
}

func setTimes(hp string, in *fstree.Inode) error {
	mt := in.Mtime
	at := in.Atime
	if at.IsZero() {
		at = mt
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, hp, ts, unix.AT_SYMLINK_NOFOLLOW)
}
