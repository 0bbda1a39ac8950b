package kernel_test

import (
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

func TestVersionHelpShowconfig(t *testing.T) {
	out, _, status := run{args: []string{"--version"}}.do(t)
	if status != 0 || out != "6.1.176-gouml\n" {
		t.Fatalf("--version: %d %q", status, out)
	}
	out, _, status = run{args: []string{"--help"}}.do(t)
	for _, w := range []string{"ubd0=<dir>", "hostfs=<dir>", "umid=<name>", "not supported yet", "noreboot"} {
		if status != 0 || !strings.Contains(out, w) {
			t.Errorf("--help lacks %q (status %d)", w, status)
		}
	}
	out, _, status = run{args: []string{"--showconfig"}}.do(t)
	for _, w := range []string{"CONFIG_HOSTFS=y", "#   0 read                     passthrough", "#   2 open                     trapped",
		"#  59 execve                   trapped(ptrace)", "io_uring_setup           error"} {
		if status != 0 || !strings.Contains(out, w) {
			t.Errorf("--showconfig lacks %q (status %d)", w, status)
		}
	}
}

// TestCommandLineErrors: bad values and options that are not supported yet are one-line
// errors naming them, exit status 1, and nothing is booted.
func TestCommandLineErrors(t *testing.T) {
	root := testenv.BusyboxRoot(t, nil)
	for args, want := range map[string]string{
		"ubd99=foo":                  `linux: "ubd99=foo": Device number out of range`,
		"mem=lots":                   `linux: "mem=lots": invalid size "lots"`,
		"con0=bogus":                 `parse_chan couldn't parse "bogus"`,
		"ubd0=ROOT/bin/busybox":      "root device ubda: mounting ROOT/bin/busybox: ext4: no ext2/3/4 superblock",
		"ubd0=/nonexistent":          "root device ubda: stat /nonexistent: no such file or directory",
		"root=/dev/root hostfs=ROOT": "root=/dev/root needs rootfstype=hostfs",
	} {
		argv := strings.Fields(strings.ReplaceAll(args, "ROOT", root))
		argv = append(argv, "uml_dir="+t.TempDir())
		out, errs, status := run{args: argv}.do(t)
		want = strings.ReplaceAll(want, "ROOT", root)
		if status != 1 || !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("%s: status %d stderr %q stdout %q, want %q", args, status, errs, out, want)
		}
	}
}
