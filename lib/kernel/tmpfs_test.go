package kernel

import (
	"strings"
	"testing"
)

// TestTmpfsOptionsShown: a tmpfs mount's data string as Linux reads it on a machine of 64 MiB
// (sizes in whole pages, at most mem=), and /proc/mounts's spelling of it.
func TestTmpfsOptionsShown(t *testing.T) {
	const mem = 64 << 20
	for _, c := range []struct {
		data, shown string
		bad         bool
	}{
		{"", "size=32768k", false},
		{"size=1m", "size=1024k", false},
		{"size=1000", "size=4k", false},
		{"size=50%,mode=755", "size=32768k,mode=755", false},
		{"nr_blocks=16,nosuid,noexec", "size=64k", false},
		{"size=1g", "size=65536k", false},
		{"size=99999999999999999999999", "size=65536k", false},
		{"size=", "", true},
		{"size=101%", "", true},
		{"mode=8", "", true},
		{"nr_blocks=x", "", true},
		{"bogus", "", true},
	} {
		o, err := parseTmpfsOptions(c.data, mem)
		if (err != nil) != c.bad {
			t.Errorf("%q: %v", c.data, err)
			continue
		}
		if got := tmpfsOptString(o.size, o.mode); !c.bad && got != c.shown {
			t.Errorf("%q shows %q, want %q", c.data, got, c.shown)
		}
	}
}

// FuzzTmpfsOptions: any mount or remount data string is parsed or refused, never a panic;
// what is accepted is a size of whole pages no larger than mem= and a mode of permission
// bits, and prints back as options that parse to the same.
func FuzzTmpfsOptions(f *testing.F) {
	for _, s := range []string{"", "size=1m", "size=10%,mode=1777", "nr_blocks=3", "size=1000,uid=0,huge=never"} {
		f.Add(s)
	}
	const mem = 64 << 20
	f.Fuzz(func(t *testing.T, data string) {
		o, err := parseTmpfsOptions(data, mem)
		if err != nil {
			return
		}
		if o.size == 0 || o.size > mem || o.size%4096 != 0 || o.mode > 0o7777 {
			t.Fatalf("%q -> %+v", data, o)
		}
		shown := tmpfsOptString(o.size, o.mode)
		again, err := parseTmpfsOptions(shown, mem)
		if err != nil || again != o {
			t.Fatalf("%q -> %q -> %+v, %v", data, shown, again, err)
		}
		if strings.ContainsAny(shown, " \n") {
			t.Fatalf("%q shows %q", data, shown)
		}
	})
}
