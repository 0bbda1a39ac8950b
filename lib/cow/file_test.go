package cow

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAbsolutize follows the real tools' rule: the directory is resolved physically, the last
// component is kept even when it is a symbolic link.
func TestAbsolutize(t *testing.T) {
	w, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(w, "real/sub"), 0o755)
	os.Symlink("real", filepath.Join(w, "link"))
	os.WriteFile(filepath.Join(w, "real/sub/img"), nil, 0o644)
	os.Symlink("sub/img", filepath.Join(w, "real/imglink"))
	t.Chdir(w)
	for in, want := range map[string]string{
		"link/sub/img":             w + "/real/sub/img",
		"link/imglink":             w + "/real/imglink",
		w + "/link/sub/../sub/img": w + "/real/sub/img",
		"plain":                    w + "/plain",
		"/disk.img":                "/disk.img",
	} {
		got, err := Absolutize(in)
		if err != nil || got != want {
			t.Errorf("Absolutize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "dir/", "nonexistent/x"} {
		if got, err := Absolutize(bad); err == nil {
			t.Errorf("Absolutize(%q) = %q, want an error", bad, got)
		}
	}
}
