package uroot

import (
	"errors"
	"path/filepath"
	"testing"
)

// The full build is exercised by lib/rootfs's TestURootOnRealUML, which also boots it.

// TestMissingGoIsNamed: without the go command the error says what is missing and what to do.
func TestMissingGoIsNamed(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Build(filepath.Join(t.TempDir(), "u.cpio"), Options{})
	if !errors.Is(err, ErrNoGo) {
		t.Fatalf("got %v, want ErrNoGo", err)
	}
}
