package rootfs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// pipeline runs a bash pipeline (with pipefail) with our mkrootfs first in PATH and returns
// its standard output and standard error; a failing pipeline fails the test.
func pipeline(t *testing.T, script string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+testenv.BinDir(t, "mkrootfs")+":"+os.Getenv("PATH"))
	cmd.Dir = t.TempDir()
	var out, errb testenv.SafeBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%.2000s\nstderr:\n%s", script, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// q quotes a path for the shell.
func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// treePaths lists a host directory as tar -t and cpio -t name its members: "./x/y" (with a
// trailing slash on directories) or "x/y" or "x/y", the root as "./" or ".".
func treePaths(t *testing.T, root string, tarStyle bool) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case tarStyle && rel == ".":
			out = append(out, "./")
		case tarStyle && d.IsDir():
			out = append(out, "./"+rel+"/")
		case tarStyle:
			out = append(out, "./"+rel)
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func sortedLines(s string) []string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(l)
	return l
}

// TestTarFromStdinBootsOnRealUML: `tar -C ROOT -cf - . | mkrootfs -o img -` (the real GNU tar
// writing into a pipe) gives an image the real UML kernel boots.
func TestTarFromStdinBootsOnRealUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\necho FROM-A-PIPE-OK\n" + poweroffSh})
	img := filepath.Join(t.TempDir(), "img")
	out, errs := pipeline(t, "tar -C "+q(root)+" -cf - . | mkrootfs -o "+q(img)+" -")
	if !strings.Contains(out, "ext4 image") || errs != "" {
		t.Errorf("summary on stdout %q, stderr %q", out, errs)
	}
	fsck(t, img)
	if con := bootImage(t, img, "/t.sh", 60*time.Second); !strings.Contains(con, "FROM-A-PIPE-OK") {
		t.Fatalf("guest did not run:\n%s", lastLines(con, 30))
	}
}

// TestArchivesFromStdin: tarballs and cpio archives arrive on standard input plain or
// compressed by the real xz and gzip, and give the image the tarball file gives.
func TestArchivesFromStdin(t *testing.T) {
	fx := fixture(t)
	cases := []struct{ name, tool, producer string }{
		{"tar", "", "cat " + q(fx)},
		{"tar.xz", "xz", "xz -c " + q(fx)},
		{"tar.gz", "gzip", "gzip -c " + q(fx)},
		{"cpio", "", "mkrootfs -q --no-uml -t cpio -o - " + q(fx)},
		{"cpio.gz", "gzip", "mkrootfs -q --no-uml -t cpio -o - " + q(fx) + " | gzip -c"},
		{"cpio.xz", "xz", "mkrootfs -q --no-uml -t cpio -o - " + q(fx) + " | xz -c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.tool != "" {
				testenv.Tool(t, c.tool)
			}
			img := filepath.Join(t.TempDir(), "img")
			pipeline(t, c.producer+" | mkrootfs -q --no-uml -o "+q(img)+" -")
			fsck(t, img)
			if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
				t.Errorf("%s from stdin:\n%s\nwant:\n%s", c.name, got, fixtureWant)
			}
		})
	}
}

// TestCPIOToStdoutListedByRealCpio: `mkrootfs -t cpio -o - ROOT | cpio -t` lists the tree,
// and nothing but the archive reaches standard output.
func TestCPIOToStdoutListedByRealCpio(t *testing.T) {
	cpio := testenv.Tool(t, "cpio")
	root := testenv.BusyboxRoot(t, nil)
	out, errs := pipeline(t, "mkrootfs --no-uml -t cpio -o - "+q(root)+" | "+q(cpio)+" -t --quiet")
	if want := treePaths(t, root, false); strings.Join(sortedLines(out), "\n") != strings.Join(want, "\n") {
		t.Errorf("cpio -t lists:\n%.3000s\nwant:\n%.3000s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(errs, "mkrootfs: -: cpio initramfs") {
		t.Errorf("summary not on stderr: %q", errs)
	}
}

// TestTarToStdoutReadByRealTar: `mkrootfs -t tar -o - ROOT | tar -t` lists the tree; the
// archive carries the guest's owners, modes, devices, links and extended attributes (GNU
// tar shows them, and the archive imports back into the same image).
func TestTarToStdoutReadByRealTar(t *testing.T) {
	root := testenv.BusyboxRoot(t, nil)
	out, _ := pipeline(t, "mkrootfs -q --no-uml -t tar -o - "+q(root)+" | tar -t")
	if want := treePaths(t, root, true); strings.Join(sortedLines(out), "\n") != strings.Join(want, "\n") {
		t.Errorf("tar -t lists:\n%.3000s\nwant:\n%.3000s", out, strings.Join(want, "\n"))
	}

	fx := fixture(t)
	out, _ = pipeline(t, "mkrootfs -q --no-uml -t tar -o - "+q(fx)+" | TZ=UTC tar -tv --numeric-owner --xattrs --xattrs-include='*'")
	for _, want := range []string{
		`-rwsr-xr-x 0/0 70000 \S+ \S+ \./usr/bin/chfn`, // the walk is in name order
		`hrwsr-xr-x 0/0 0 \S+ \S+ \./usr/bin/passwd link to \./usr/bin/chfn`,
		`-rwxr-sr-x 0/5 4 \S+ \S+ \./usr/bin/wall`,
		`crw-rw-rw- 0/0 1,3 \S+ \S+ \./dev/null`,
		`brw-rw---- 0/6 8,1 \S+ \S+ \./dev/sda1`,
		`prw------- 0/0 0 \S+ \S+ \./run/initctl`,
		`lrwxrwxrwx 0/0 0 \S+ \S+ \./bin -> usr/bin`,
		`drwxr-x--- 1000/1000 0 \S+ \S+ \./home/user/`,
		`-rw-r----- 1000/100000 4 2023-06-10 12:00 \./home/user/notes`,
		`-rwxr-xr-x\* 0/0 4 \S+ \S+ \./usr/bin/ping`, // * = extended attributes
	} {
		re := strings.ReplaceAll(want, " ", `\s+`)
		if !regexp.MustCompile(`(?m)^` + re + `$`).MatchString(out) {
			t.Errorf("tar -tv lacks a line matching %s:\n%s", want, out)
		}
	}
	img := filepath.Join(t.TempDir(), "img")
	pipeline(t, "mkrootfs -q --no-uml -t tar -o - "+q(fx)+" | mkrootfs -q --no-uml -o "+q(img)+" -")
	if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
		t.Errorf("tar output imported again:\n%s\nwant:\n%s", got, fixtureWant)
	}
	dbg := testenv.Tool(t, "debugfs")
	b, _ := exec.Command(dbg, "-R", "ea_list /usr/bin/ping", img).CombinedOutput()
	if !strings.Contains(string(b), "security.capability (20) = 01 00 00 02 00 20") {
		t.Errorf("xattrs lost through the tar output:\n%s", b)
	}
}

// TestImageToPipePassesE2fsck: an ext4 or ext2 image written to a pipe (front to back, its
// holes as zeros) and saved with `cat > img` is e2fsck-clean and holds the tree; written to
// a redirected file it stays sparse.
func TestImageToPipePassesE2fsck(t *testing.T) {
	fx := fixture(t)
	for _, format := range []string{"ext4", "ext2"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "img")
			_, errs := pipeline(t, "mkrootfs --no-uml -t "+format+" -o - "+q(fx)+" | cat > "+q(img))
			m := regexp.MustCompile(`^mkrootfs: -: ` + format + ` image, .*image ([0-9.]+ MiB)`).FindStringSubmatch(errs)
			if m == nil {
				t.Fatalf("summary on stderr: %q", errs)
			}
			fsck(t, img)
			if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
				t.Errorf("image from a pipe:\n%s\nwant:\n%s", got, fixtureWant)
			}
			if st, _ := os.Stat(img); human(st.Size()) != m[1] {
				t.Errorf("image of %d bytes, the summary says %s", st.Size(), m[1])
			}
			redirected := filepath.Join(dir, "redirected")
			pipeline(t, "mkrootfs -q --no-uml -t "+format+" -o - "+q(fx)+" > "+q(redirected))
			fsck(t, redirected)
			st, _ := os.Stat(redirected)
			if du := st.Sys().(*syscall.Stat_t).Blocks * 512; du > st.Size()/4 {
				t.Errorf("-o - > file: %d bytes on disk for a %d-byte image, not sparse", du, st.Size())
			}
		})
	}
}

// TestStreamErrors: what cannot be streamed is refused with one line.
func TestStreamErrors(t *testing.T) {
	bin := testenv.Program(t, "mkrootfs")
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"-t", "dir", "-o", "-", "x"}, "", "mkrootfs: -o - (standard output) takes an archive or an image"},
		{[]string{"-o", "img", "-", "-"}, "", "mkrootfs: source - given more than once"},
		{[]string{"-o", "img", "-"}, "", "mkrootfs: source -: empty input, want a tar or cpio archive"},
		{[]string{"-o", "img", "-"}, strings.Repeat("not an archive\n", 100), "mkrootfs: source -: corrupt or unsupported tarball"},
		{[]string{"-o", "img", "-"}, "070701garbage", "mkrootfs: source -: corrupt cpio archive"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Dir = t.TempDir()
		cmd.Stdin = strings.NewReader(c.stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err == nil {
			t.Errorf("mkrootfs %v succeeded", c.args)
		}
		if line := strings.SplitN(errb.String(), "\n", 2)[0]; !strings.HasPrefix(line, c.want) || out.Len() != 0 {
			t.Errorf("mkrootfs %v: stdout %q, stderr %q; want a line starting %q", c.args, out.String(), errb.String(), c.want)
		}
		if ents, _ := os.ReadDir(cmd.Dir); len(ents) != 0 {
			t.Errorf("mkrootfs %v left %v behind", c.args, ents)
		}
	}
}
