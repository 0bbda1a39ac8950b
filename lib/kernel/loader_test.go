package kernel_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// copyDynamic puts a dynamic program and the libraries it loads (the host's, found by
// ldd) into root at the same paths.
func copyDynamic(t *testing.T, prog, root, as string) {
	t.Helper()
	f, err := elf.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", prog, err)
	}
	files := map[string]string{prog: as}
	for _, m := range regexp.MustCompile(`(?m)(/\S+) \(0x`).FindAllStringSubmatch(string(out), -1) {
		files[m[1]] = m[1]
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, to)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoaderVisibility: a dynamic executable shows as itself, never as its ELF interpreter,
// in argv, /proc/PID/cmdline, /proc/PID/exe, comm and AT_EXECFN, and pidof finds it, both
// in the machine's root and in a chroot (where the kernel runs it through ld.so itself).
func TestLoaderVisibility(t *testing.T) {
	testenv.Tool(t, "gcc")
	prog := filepath.Join(t.TempDir(), "showexec")
	if b, err := exec.Command("gcc", "-O2", "-o", prog, "testdata/loader/showexec.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc && mount -t proc proc /sub/proc\n" +
			"echo '== root'\n/usr/local/bin/showexec parent\n" +
			"echo '== relative'\ncd /usr/local/bin && ./showexec && cd /\n" +
			"echo '== chroot'\nchroot /sub /bin/showexec parent\n" +
			"echo '== chroot pidof'\nchroot /sub /bin/sh -c '/bin/showexec sleep >/dev/null & sleep 0.5; pidof showexec >/dev/null && echo found; kill $!'\n" +
			"/bin/busybox poweroff -f\n",
	})
	copyDynamic(t, prog, root, "/usr/local/bin/showexec")
	sub := filepath.Join(root, "sub")
	copyDynamic(t, prog, sub, "/bin/showexec")
	os.MkdirAll(filepath.Join(sub, "proc"), 0o755)
	bb, _ := os.ReadFile(filepath.Join(root, "bin/busybox"))
	os.WriteFile(filepath.Join(sub, "bin/busybox"), bb, 0o755)
	for _, a := range []string{"sh", "sleep", "pidof", "kill"} {
		os.Symlink("busybox", filepath.Join(sub, "bin", a))
	}
	out, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
	want := func(dir, name string) string {
		return "argc=2 argv0=" + dir + "/" + name + "\ncmdline: " + dir + "/" + name + " parent \ncomm: " + name +
			"\nexe: " + dir + "/" + name + "\nexecfn: " + dir + "/" + name +
			"\nargc=2 argv0=child-name\ncmdline: child-name sleep \ncomm: " + name + "\nexe: " + dir + "/" + name +
			"\nexecfn: " + dir + "/" + name + "\nchild cmdline: child-name sleep \nchild comm: " + name +
			"\nchild exe: " + dir + "/" + name + "\n"
	}
	for _, w := range []string{
		"== root\n" + want("/usr/local/bin", "showexec"),
		"== relative\nargc=1 argv0=./showexec\ncmdline: ./showexec \ncomm: showexec\nexe: /usr/local/bin/showexec\nexecfn: ./showexec\n",
		"== chroot\n" + want("/bin", "showexec"),
		"== chroot pidof\nfound\n",
	} {
		if !strings.Contains(regexp.MustCompile(`(?m)^child stat: .*\n`).ReplaceAllString(out, ""), w) {
			t.Errorf("missing from the console:\n%s", w)
		}
	}
	if t.Failed() || status != 0 {
		t.Logf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}
