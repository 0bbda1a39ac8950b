package hostmeta

import "strings"

// The guest's own extended attributes. A guest "user.NAME" is the host's "user.NAME": it
// needs no privilege. The names a host file must never take from a guest — trusted.*,
// security.* (a guest's security.capability would grant capabilities on the host) and
// anything under user.gouml. (this package's metadata) — are kept as
// XattrKept+NAME ("user.gouml.x.security.capability"). Other namespaces (system.*, POSIX
// ACLs) have no host form. The emulator (lib/kernel sys_xattr.go) and mkrootfs's directory
// roots (lib/rootfs) both use this mapping.
const XattrKept = "user.gouml.x."

// XattrHostName is the host attribute name that holds the guest's attribute name; ok is
// false for a name the host cannot hold (empty, another namespace, or too long for the
// host's 255-byte limit once kept under XattrKept).
func XattrHostName(name string) (host string, ok bool) {
	switch {
	case name == "" || len(name) > 255:
		return "", false
	case strings.HasPrefix(name, "user.gouml."), strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."):
		if host = XattrKept + name; len(host) > 255 {
			return "", false
		}
		return host, true
	case strings.HasPrefix(name, "user."):
		return name, true
	}
	return "", false
}

// XattrGuestName is the guest's name of a host attribute; ok is false for the host's own
// (this package's metadata, and every namespace but user.).
func XattrGuestName(host string) (name string, ok bool) {
	if g, ok := strings.CutPrefix(host, XattrKept); ok {
		return g, g != ""
	}
	if strings.HasPrefix(host, "user.gouml.") || !strings.HasPrefix(host, "user.") {
		return "", false
	}
	return host, true
}
