package hostmeta

import (
	"strings"
	"testing"
)

// TestXattrNames: the guest's user.* stays as it is, the names a host must not take are
// kept under user.gouml.x., and every host form maps back to the guest's name; the
// package's own metadata and other namespaces are never a guest's.
func TestXattrNames(t *testing.T) {
	for _, c := range []struct{ guest, host string }{
		{"user.note", "user.note"},
		{"security.capability", "user.gouml.x.security.capability"},
		{"trusted.t", "user.gouml.x.trusted.t"},
		{"user.gouml.uid", "user.gouml.x.user.gouml.uid"},
		{"system.posix_acl_access", ""},
		{"", ""},
		{"user." + strings.Repeat("a", 250), "user." + strings.Repeat("a", 250)},
		{"security." + strings.Repeat("a", 240), ""}, // too long once kept
	} {
		h, ok := XattrHostName(c.guest)
		if h != c.host || ok != (c.host != "") {
			t.Errorf("XattrHostName(%q) = %q %v, want %q", c.guest, h, ok, c.host)
		}
		if ok {
			if g, ok := XattrGuestName(h); !ok || g != c.guest {
				t.Errorf("XattrGuestName(%q) = %q %v, want %q", h, g, ok, c.guest)
			}
		}
	}
	for _, h := range []string{UID, GID, Mode, Rdev, LegacyOwner, LinkAttr("x"), "security.selinux", "trusted.x", XattrKept} {
		if g, ok := XattrGuestName(h); ok {
			t.Errorf("XattrGuestName(%q) = %q, want none: the host's own", h, g)
		}
	}
}
