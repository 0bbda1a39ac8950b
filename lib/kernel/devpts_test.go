package kernel

import (
	"strings"
	"testing"
)

// TestDevptsOptions: the options of a guest's devpts mount as Linux reads them, and
// /proc/mounts's spelling of them.
func TestDevptsOptions(t *testing.T) {
	for _, c := range []struct {
		data, shown string
		bad         bool
	}{
		{"", "mode=600,ptmxmode=000", false},
		{"gid=5,mode=620", "gid=5,mode=620,ptmxmode=000", false},
		{"noexec,nosuid,gid=5,mode=0620,ptmxmode=0666", "gid=5,mode=620,ptmxmode=666", false},
		{"newinstance,max=1024,uid=0", "mode=600,ptmxmode=000", false},
		{"mode=9", "", true},
		{"gid=-1", "", true},
		{"gid", "", true},
		{"nosuid=1", "", true},
		{"bogus", "", true},
	} {
		o, err := parseDevptsOptions(c.data)
		if (err != nil) != c.bad {
			t.Errorf("%q: %v", c.data, err)
			continue
		}
		if !c.bad && o.String() != c.shown {
			t.Errorf("%q shows %q, want %q", c.data, o.String(), c.shown)
		}
	}
}

// FuzzDevptsOptions: any mount data string is parsed or refused, never a panic, and what is
// accepted prints back as options that parse to the same.
func FuzzDevptsOptions(f *testing.F) {
	for _, s := range []string{"", "gid=5,mode=620", "ptmxmode=0666,newinstance", "mode=", "max=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		o, err := parseDevptsOptions(data)
		if err != nil {
			return
		}
		again, err := parseDevptsOptions(o.String())
		if err != nil || again != o {
			t.Fatalf("%q -> %q -> %+v, %v", data, o.String(), again, err)
		}
		if strings.ContainsAny(o.String(), " \n") {
			t.Fatalf("%q shows %q", data, o.String())
		}
	})
}
