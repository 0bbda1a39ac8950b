package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestURootGuest boots a u-root root made by our mkrootfs (a directory root): u-root's init
// starts, runs /bin/uinit (a gosh script), which runs commands, `gosh -c`, ps and poweroff.
// The build of the Go userland takes a minute or two.
func TestURootGuest(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		if testenv.Required() {
			t.Fatal("go not on PATH: needed to build u-root")
		}
		t.Skip("go not on PATH: needed to build u-root")
	}
	mkrootfs := testenv.Program(t, "mkrootfs")
	dir := t.TempDir()
	uinit := filepath.Join(dir, "uinit")
	os.WriteFile(uinit, []byte("#!/bbin/gosh\necho UROOT-UINIT\ngosh -c 'echo GOSH-C-RAN'\ncat /proc/cmdline\n"+
		"ps -e\nls /bbin\npoweroff\n"), 0o755)
	root := filepath.Join(dir, "root")
	cmd := exec.Command(mkrootfs, "-q", "-t", "dir", "-o", root, "--add", uinit+":/bin/uinit",
		"--uroot-commands", "init,gosh,ls,cat,echo,ps,poweroff", "u-root")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkrootfs: %v\n%s", err, b)
	}
	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "rw", "uml_dir=" + t.TempDir(), "quiet"}}.do(t)
	for _, want := range []string{"UROOT-UINIT\n", "GOSH-C-RAN\n", "ubd0=" + root + " rw ", "gosh\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	// ps: init is 1 and the uinit script's gosh a small guest number
	psInit := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "1" && f[3] == "init" {
			psInit = true
		}
	}
	if !psInit {
		t.Errorf("ps shows no init as pid 1")
	}
	if status != 0 || t.Failed() {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}
