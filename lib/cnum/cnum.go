// Package cnum parses numbers the way the C tools gouml replaces do, so that a word the real
// program accepts (or refuses) is accepted (or refused) by ours too.
package cnum

import (
	"strconv"
	"strings"
)

// Strtol is C's strtol(s, &end, 0) plus the test *end == '\0': whole reports whether the
// entire word was a number (an empty word counts, as it does in C).
func Strtol(s string) (v int64, whole bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && isHex(t[2]):
		base, t = 16, t[2:]
	case len(t) >= 1 && t[0] == '0':
		base = 8
	}
	n := 0
	for n < len(t) && digitOK(t[n], base) {
		n++
	}
	if n == 0 {
		// No digits: strtol leaves end at the start of the word.
		return 0, s == ""
	}
	u, err := strconv.ParseUint(t[:n], base, 64)
	switch {
	case err != nil || (!neg && u > 1<<63-1):
		v = 1<<63 - 1
		if neg {
			v = -1 << 63
		}
	case neg && u > 1<<63:
		v = -1 << 63
	case neg:
		v = -int64(u)
	default:
		v = int64(u)
	}
	return v, n == len(t)
}

func isHex(c byte) bool { return digitOK(c, 16) }

func digitOK(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}
