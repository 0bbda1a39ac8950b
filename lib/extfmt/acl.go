package extfmt

import (
	"errors"
)

// POSIX ACL tags.
const (
	ACLUserObj  = 0x01
	ACLUser     = 0x02
	ACLGroupObj = 0x04
	ACLGroup    = 0x08
	ACLMask     = 0x10
	ACLOther    = 0x20
)

// ACL versions: the xattr form the kernel exchanges with user space (every entry 8 bytes)
// and ext4's compact disk form (entries without an id are 4 bytes).
const (
	ACLXattrVersion = 2
	ACLDiskVersion  = 1
)

// ACLUndefinedID is the id the xattr form gives entries that have none.
const ACLUndefinedID = 0xFFFFFFFF

// ErrBadACL is returned for an ACL that is malformed in either form.
var ErrBadACL = errors.New("malformed POSIX ACL")

// ACLToDisk converts an ACL from the xattr form to ext4's disk form. Unknown tags are
// refused, as the kernel refuses them: the disk form could not say how long they are.
func ACLToDisk(v []byte) ([]byte, error) {
	if len(v) < 4 || le.Uint32(v) != ACLXattrVersion || (len(v)-4)%8 != 0 {
		return nil, ErrBadACL
	}
	out := le.AppendUint32(nil, ACLDiskVersion)
	for p := v[4:]; len(p) > 0; p = p[8:] {
		out = append(out, p[:4]...)
		switch le.Uint16(p) {
		case ACLUser, ACLGroup:
			out = append(out, p[4:8]...)
		case ACLUserObj, ACLGroupObj, ACLMask, ACLOther:
		default:
			return nil, ErrBadACL
		}
	}
	return out, nil
}

// ACLFromDisk converts an ACL from ext4's disk form to the xattr form.
func ACLFromDisk(b []byte) ([]byte, error) {
	if len(b) < 4 || le.Uint32(b) != ACLDiskVersion {
		return nil, ErrBadACL
	}
	out := le.AppendUint32(nil, ACLXattrVersion)
	for p := b[4:]; len(p) > 0; {
		if len(p) < 4 {
			return nil, ErrBadACL
		}
		tag, perm := le.Uint16(p), le.Uint16(p[2:])
		id := uint32(ACLUndefinedID)
		if tag == ACLUser || tag == ACLGroup {
			if len(p) < 8 {
				return nil, ErrBadACL
			}
			id = le.Uint32(p[4:])
			p = p[8:]
		} else {
			p = p[4:]
		}
		out = le.AppendUint16(out, tag)
		out = le.AppendUint16(out, perm)
		out = le.AppendUint32(out, id)
	}
	return out, nil
}
