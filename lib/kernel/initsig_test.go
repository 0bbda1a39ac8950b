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

// TestInitSignals runs testdata/initsig.c as init: no signal a guest process sends reaches
// init unless init catches it — SIGKILL and SIGSTOP never, whichever call sends them (kill,
// tgkill, rt_sigqueueinfo, a pidfd, a /proc/1 directory fd used as a pidfd, a group kill).
// The kernel sends some of those itself from outside the guest's PID namespace, where the
// host would not protect init. The same program runs natively as the init of a new PID
// namespace (as root), and the reports must be equal; as the guest, once with linux run by
// root and once by the unprivileged test user.
func TestInitSignals(t *testing.T) {
	root := testenv.BusyboxRoot(t, nil)
	bin := filepath.Join(root, "initsig")
	buildStatic(t, "testdata/initsig.c", bin)
	var native string
	if os.Geteuid() == 0 {
		b, _ := exec.Command("unshare", "-pf", "--mount-proc", bin).Output() // its init ends by reboot: SIGINT
		native = string(b)
		if !strings.HasSuffix(native, "done\n") {
			t.Fatalf("natively, as the init of a PID namespace:\n%s", native)
		}
	}
	for _, asUser := range []bool{false, true} {
		umlDir := t.TempDir()
		if asUser {
			umlDir = unprivileged(t, root)
		}
		out, errs, status := run{timeout: 120 * time.Second, asUser: asUser, args: []string{"ubd0=" + root, "init=/initsig", "uml_dir=" + umlDir}}.do(t)
		if status != 0 || !strings.HasSuffix(out, "done\n") {
			t.Fatalf("as user %v: status %d\nstdout:\n%s\nstderr:\n%s", asUser, status, out, errs)
		}
		n := 0
		for _, l := range strings.Split(strings.TrimSuffix(out, "done\n"), "\n") {
			if l == "" {
				continue
			}
			n++
			if !strings.HasSuffix(l, ": OK") {
				t.Errorf("as user %v: %s", asUser, l)
			}
		}
		if n != 47 {
			t.Errorf("as user %v: %d cases, want 47:\n%s", asUser, n, out)
		}
		if native != "" && out != native {
			t.Errorf("as user %v: differs from native:\n%s\nnative:\n%s", asUser, out, native)
		}
	}
}
