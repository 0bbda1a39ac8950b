package cow_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestDashIsRefused: "-" cannot stand for standard input or output with uml_mkcow and
// uml_moo (COW files and images are read and written at offsets): each use is refused with
// one line on standard error naming the file and why, exit status 1 as for any failure of
// the real tools, nothing on standard output, no file called "-" made, and the COW file given
// beside it left as it was.
func TestDashIsRefused(t *testing.T) {
	moo, mkcow := testenv.Program(t, "uml_moo"), testenv.Program(t, "uml_mkcow")
	w := t.TempDir()
	makeBacking(t, filepath.Join(w, "back.img"))
	mustRun(t, w, mkcow, "good.cow", "back.img")
	before, _ := os.ReadFile(filepath.Join(w, "good.cow"))
	for _, c := range []struct {
		prog string
		args []string
		what string
	}{
		{mkcow, []string{"-", "back.img"}, "COW file"},
		{mkcow, []string{"-f", "x.cow", "-"}, "backing file"},
		{moo, []string{"-", "out.img"}, "COW file"},
		{moo, []string{"good.cow", "-"}, "new image"},
		{moo, []string{"-d", "-"}, "COW file"},
		{moo, []string{"-b", "-", "good.cow", "out.img"}, "backing file"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, c.prog, c.args...)
		cmd.Dir = w
		stdin := strings.NewReader("stdin must not be read")
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
		err := cmd.Run()
		cancel()
		name := filepath.Base(c.prog)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s %v: %v, want exit status 1", name, c.args, err)
		}
		want := name + ": the " + c.what + " cannot be '-' (standard input or output): "
		if e := errb.String(); !strings.HasPrefix(e, want) || strings.Count(e, "\n") != 1 || !strings.Contains(e, "offsets") {
			t.Errorf("%s %v: stderr %q, want one line starting %q", name, c.args, e, want)
		}
		if out.Len() != 0 {
			t.Errorf("%s %v: stdout %q", name, c.args, out.String())
		}
		for _, f := range []string{"-", "x.cow", "out.img"} {
			if _, err := os.Lstat(filepath.Join(w, f)); err == nil {
				t.Errorf("%s %v made %s", name, c.args, f)
			}
		}
	}
	if after, _ := os.ReadFile(filepath.Join(w, "good.cow")); !bytes.Equal(before, after) {
		t.Errorf("good.cow changed")
	}
}
