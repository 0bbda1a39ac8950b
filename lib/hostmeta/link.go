package hostmeta

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Symbolic links cannot carry user.* attributes, and an ordinary host user cannot lchown,
// so the guest owner of a symbolic link is kept by the directory that holds it, one
// attribute per link, keyed by the link's name:
//
//	user.gouml.link.NAME    "UID:GID" of the symbolic link NAME of this directory
//	user.gouml.linkh.HASH   the same for a name too long for the first form (more than
//	                        LinkNameMax bytes): HASH is the lower-case hex SHA-256 of NAME
//
// An attribute counts only while NAME is a symbolic link; no attribute means the host's
// owner (the host user's ids are root's, as for every file). Keyed by name, not by inode
// number, the owners survive a copy of the tree that keeps attributes (cp -a, rsync -X,
// tar --xattrs), whose inode numbers are new. Whoever renames, links or removes a link
// moves, copies or drops its attribute (lib/kernel does for the guest, lib/shadow and
// mkrootfs when they write trees); a link made beside the scheme at a name that still has
// an attribute takes that owner.
const (
	LinkPrefix     = "user.gouml.link."
	LinkHashPrefix = "user.gouml.linkh."
	// LinkNameMax is the longest name kept in the readable form: an attribute name has at
	// most 255 bytes.
	LinkNameMax = 255 - len(LinkPrefix)
)

// LinkAttr is the name of the attribute of a directory that holds the owner of its
// symbolic link name.
func LinkAttr(name string) string {
	if len(name) <= LinkNameMax {
		return LinkPrefix + name
	}
	sum := sha256.Sum256([]byte(name))
	return LinkHashPrefix + hex.EncodeToString(sum[:])
}

// ErrBadOwner is ParseOwner's error for a value that is not "UID:GID".
var ErrBadOwner = errors.New(`owner is not "UID:GID" in decimal`)

// ParseOwner parses an owner value, "UID:GID", each a decimal number below 2^32 (digits
// only, as strconv.ParseUint takes them: no sign, no space).
func ParseOwner(v []byte) (uid, gid uint32, err error) {
	u, g, found := strings.Cut(string(v), ":")
	if !found {
		return 0, 0, ErrBadOwner
	}
	uu, err1 := strconv.ParseUint(u, 10, 32)
	gg, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, ErrBadOwner
	}
	return uint32(uu), uint32(gg), nil
}

// FormatOwner is the value ParseOwner reads.
func FormatOwner(uid, gid uint32) []byte {
	return []byte(strconv.FormatUint(uint64(uid), 10) + ":" + strconv.FormatUint(uint64(gid), 10))
}

// LinkOwner reads the owner kept for the symbolic link name of the directory dir (a path;
// a /proc/self/fd/N name reaches the directory behind a descriptor). ok is false when dir
// keeps none (or a value that does not parse, which counts as none); err is set only for
// a failure to read one that may be there.
func LinkOwner(dir, name string) (uid, gid uint32, ok bool, err error) {
	var b [64]byte
	n, err := unix.Getxattr(dir, LinkAttr(name), b[:])
	return linkOwnerValue(b[:], n, err)
}

// LinkOwnerFD is LinkOwner for a directory open as fd (not O_PATH): one call less than
// the /proc/self/fd/N name costs the host a path walk through /proc.
func LinkOwnerFD(fd int, name string) (uid, gid uint32, ok bool, err error) {
	var b [64]byte
	n, err := unix.Fgetxattr(fd, LinkAttr(name), b[:])
	return linkOwnerValue(b[:], n, err)
}

// linkOwnerValue reads an entry's value as LinkOwner reports it: no entry, one too long
// or none the file system can keep is none; any other error is an error.
func linkOwnerValue(b []byte, n int, err error) (uid, gid uint32, ok bool, _ error) {
	switch err {
	case nil:
	case unix.ENODATA, unix.EOPNOTSUPP, unix.ERANGE:
		return 0, 0, false, nil
	default:
		return 0, 0, false, err
	}
	uid, gid, perr := ParseOwner(b[:n])
	return uid, gid, perr == nil, nil
}

// SetLinkOwner keeps uid:gid as the owner of the symbolic link name of the directory dir.
// A directory whose attributes are full fails with the file system's error (ENOSPC on
// ext4, E2BIG elsewhere).
func SetLinkOwner(dir, name string, uid, gid uint32) error {
	return unix.Setxattr(dir, LinkAttr(name), FormatOwner(uid, gid), 0)
}

// RemoveLinkOwner drops what dir keeps for name; none kept is no error.
func RemoveLinkOwner(dir, name string) error {
	err := unix.Removexattr(dir, LinkAttr(name))
	if err == unix.ENODATA || err == unix.EOPNOTSUPP {
		return nil
	}
	return err
}

// ApplyLink is Apply for a symbolic link, whose host stat is st and which is name in the
// directory dir: the host user's ids become root's, and the directory's attribute for the
// link, if any, gives owner and group.
func ApplyLink(dir, name string, st *unix.Stat_t, hostUID, hostGID uint32) {
	if st.Uid == hostUID {
		st.Uid = 0
	}
	if st.Gid == hostGID {
		st.Gid = 0
	}
	if u, g, ok, _ := LinkOwner(dir, name); ok {
		st.Uid, st.Gid = u, g
	}
}
