package kernel

import "testing"

// TestHasDotDot: openPlain leaves every path with a ".." component to absOf, and only those.
func TestHasDotDot(t *testing.T) {
	for p, want := range map[string]bool{
		"..": true, "/..": true, "/a/..": true, "/a/../b": true, "../a": true, "/a/b/..//": true,
		"/": false, "/a": false, "/a..": false, "/..a": false, "/a/..b/c": false, "/a/b../": false,
		"/.../x": false, "/./x": false, "": false, ".": false, "/a/.": false,
	} {
		if got := hasDotDot(p); got != want {
			t.Errorf("hasDotDot(%q) = %v, want %v", p, got, want)
		}
	}
}
