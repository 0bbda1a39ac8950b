package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// TestLinuxUmlName: Debian's kernel is /usr/bin/linux.uml, /usr/bin/linux a symbolic link to
// it (alternatives), and scripts call either; the gouml package installs the program as
// linux.uml, make install adds linux.uml as a link. Each name must behave the same.
func TestLinuxUmlName(t *testing.T) {
	linux := testenv.Program(t, "linux")
	dir := t.TempDir()
	link := filepath.Join(dir, "linux.uml")
	if err := os.Symlink(linux, link); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(linux)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "bin", "linux.uml")
	if err := os.MkdirAll(filepath.Dir(cp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--version"}, {"--help"}} {
		want, werr := exec.Command(linux, args...).CombinedOutput()
		for _, prog := range []string{link, cp} {
			got, gerr := exec.Command(prog, args...).CombinedOutput()
			if string(got) != string(want) || (gerr == nil) != (werr == nil) {
				t.Errorf("%s %q: %v\n%s\nwant (as linux): %v\n%s", prog, args, gerr, got, werr, want)
			}
		}
	}
}
