package kernel

import "testing"

// TestTmpfsOptions: size= as Linux's tmpfs reads it, against the machine's memory.
func TestTmpfsOptions(t *testing.T) {
	const mem = 64 << 20
	for _, c := range []struct {
		data string
		size uint64
		mode uint32
		bad  bool
	}{
		{"", mem / 2, 0o1777, false},
		{"size=1m", 1 << 20, 0o1777, false},
		{"size=10%,mode=0755", (mem/100*10 + 4095) &^ 4095, 0o755, false}, // whole pages
		{"size=1G", mem, 0o1777, false},                                   // capped at mem=
		{"size=99999999999999999999999", mem, 0o1777, false},
		{"nr_blocks=256", 256 * 4096, 0o1777, false},
		{"size=", 0, 0, true},
		{"size=12q", 0, 0, true},
		{"size=101%", 0, 0, true},
		{"mode=99999", 0, 0, true},
		{"bogus=1", 0, 0, true},
		{"nosuid,nodev,size=4k", 4096, 0o1777, false},
	} {
		o, err := parseTmpfsOptions(c.data, mem)
		if (err != nil) != c.bad {
			t.Errorf("%q: %v", c.data, err)
			continue
		}
		if !c.bad && (o.size != c.size || o.mode != c.mode) {
			t.Errorf("%q: size %d mode %o, want %d %o", c.data, o.size, o.mode, c.size, c.mode)
		}
	}
	if got := hostfsDirs("", []string{"hostlab=/nonexistent-dir", "x=/"}); len(got) != 1 || got[0] != "/" {
		t.Errorf("hostfsDirs: %v", got)
	}
}
