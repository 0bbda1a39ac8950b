package kernel

import "testing"

// FuzzKmsgWrite: what a guest writes to /dev/kmsg never panics the parser, the prefix it
// yields is a valid one of the user facility or above, and a record of it formats as one
// line.
func FuzzKmsgWrite(f *testing.F) {
	for _, s := range []string{"<5>hello", "plain", "<>x", "<9999>x", "<0>kern", "<", "<13>\n", "a\x00b\nc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, text := parseKmsgWrite(b)
		if p < 8 || p > 1023 {
			t.Fatalf("prefix %d for %q", p, b)
		}
		rec := kmsgRec{prefix: p, text: text}.format()
		for i, c := range rec {
			if c == '\n' && i != len(rec)-1 {
				t.Fatalf("record %q of %q is not one line", rec, b)
			}
		}
	})
}
