package kernel_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// knownGaps lists the conformance programs whose guest output differs from Linux's today
// because of a known, open gap of the kernel. For them TestConform asserts that the outputs
// STILL differ (and logs the difference): fixing a gap fails the test until its entry is
// removed here, so this list cannot go stale and the test cannot be unable to fail. It is
// empty now; an entry is the program's name and why it differs.
var knownGaps = map[string]string{}

// conformNeedsHostRoot marks a program whose native run needs real host root (it makes
// device nodes, gives files to other uids or becomes another user); without root such
// programs are compared only if the native side can run in a user namespace, which cannot.
const conformNeedsHostRoot = "conform: needs host root"

// conformTimeout bounds one program's run, natively and in the guest, where a hang is killed
// (SIGKILL: exit status 137) instead of stopping the whole boot. The programs take
// milliseconds; the bound only turns a hang into a reported difference.
const conformTimeout = 20 * time.Second

// roTree is the content of the read-only mount the programs get as argv[1]: in the guest an
// ext4 image attached as ubd1r= and mounted -o ro on /ro, natively a read-only bind mount of
// the same tree in a private mount namespace.
var roTree = []struct {
	path, content string // content "/" makes a directory, "->x" a symlink to x
	mode          os.FileMode
}{
	{"f", "read-only\n", 0o644},
	{"x", "#!/bin/sh\n", 0o755},
	{"d", "/", 0o755},
	{"d/g", "inner\n", 0o600},
	{"l", "->f", 0},
	{"dl", "->d", 0},
}

// TestConform is the differential conformance harness: every testdata/conform/*.c program
// runs natively in a fresh scratch directory and inside one booted guest in a fresh scratch
// directory, and their outputs (one normalized line per check, see conform.h) and exit
// statuses must be equal. Both sides run as root: the guest's programs as guest root, the
// native ones as host root (or, for a non-root `go test`, as root of a user namespace, where
// the programs marked conformNeedsHostRoot are left out).
func TestConform(t *testing.T) {
	testenv.Tool(t, "gcc")
	mkfs := testenv.Tool(t, "mkfs.ext4")
	unshare := testenv.Tool(t, "unshare")
	srcs, err := filepath.Glob("testdata/conform/*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no conformance programs: %v", err)
	}
	sort.Strings(srcs)
	hostRoot := os.Geteuid() == 0

	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	bbroot := testenv.BusyboxRoot(t, map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n",
		"/etc/group":  "root:x:0:\nuser:x:1000:\n",
	})
	if err := os.Rename(bbroot, root); err != nil {
		t.Fatal(err)
	}
	// Debian's /etc/mtab (the regression case: a relative symlink into /proc)
	if err := os.Symlink("../proc/self/mounts", filepath.Join(root, "etc/mtab")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"conform", "scratch", "ro"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	bin := filepath.Join(root, "conform")

	var names []string
	skipped := map[string]bool{}
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		names = append(names, name)
		if b, _ := os.ReadFile(src); !hostRoot && bytes.Contains(b, []byte(conformNeedsHostRoot)) {
			skipped[name] = true
		}
	}
	if len(names) < 40 {
		t.Errorf("only %d conformance programs; the harness promises at least 40", len(names))
	}
	compileConform(t, srcs, bin)

	// The read-only tree, natively and as an image.
	roSrc := filepath.Join(dir, "rosrc")
	os.Mkdir(roSrc, 0o755)
	for _, e := range roTree {
		p := filepath.Join(roSrc, e.path)
		switch {
		case e.content == "/":
			err = os.Mkdir(p, e.mode)
		case strings.HasPrefix(e.content, "->"):
			err = os.Symlink(e.content[2:], p)
		default:
			err = os.WriteFile(p, []byte(e.content), e.mode)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.content != "" && !strings.HasPrefix(e.content, "->") {
			os.Chmod(p, e.mode) // not umask's
		}
	}
	img := filepath.Join(dir, "ro.img")
	if out, err := exec.Command(mkfs, "-q", "-d", roSrc, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}

	// One boot runs every program, each in a fresh scratch directory, between markers. A
	// program that hangs (a kernel bug) is killed so that the others still report.
	var script strings.Builder
	// stdin is /dev/null once, before any child exists: the programs must not read the
	// console. (A redirection per program once met ash's SIGCHLD, whose handler has no
	// SA_RESTART, before the kernel received the open: EINTR. The shim retries opens now:
	// TestSignalsNeverInterruptRegularOpen.)
	script.WriteString("#!/bin/sh\nexec </dev/null\nmount -t ext4 -o ro /dev/ubdb /ro || echo 'conform: mounting /ro failed'\n")
	for _, n := range names {
		fmt.Fprintf(&script, "mkdir /scratch/%[1]s && cd /scratch/%[1]s && { echo '=== begin %[1]s'; timeout -s KILL %[2]d /conform/%[1]s /ro 2>&1; echo \"=== end %[1]s $?\"; }\n", n, int(conformTimeout/time.Second))
	}
	script.WriteString("cd /\nsync\n/bin/busybox poweroff -f\n")
	os.WriteFile(filepath.Join(root, "conform.sh"), []byte(script.String()), 0o755)

	os.Mkdir(filepath.Join(dir, "native"), 0o755)
	var native sync.Map
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// The native runs overlap the boot; two at a time, the machine has few cores.
		defer wg.Done()
		sem := make(chan struct{}, 2)
		var w sync.WaitGroup
		for _, n := range names {
			if skipped[n] {
				continue
			}
			w.Add(1)
			sem <- struct{}{}
			go func() {
				defer w.Done()
				defer func() { <-sem }()
				native.Store(n, runNative(t, unshare, hostRoot, filepath.Join(bin, n), roSrc, filepath.Join(dir, "native")))
			}()
		}
		w.Wait()
	}()

	out, errs, status := run{timeout: 120 * time.Second, args: []string{"ubd0=" + root, "rw", "ubd1r=" + img,
		"init=/conform.sh", "uml_dir=" + t.TempDir()}}.do(t)
	wg.Wait()
	if status != 0 {
		t.Errorf("linux exited with status %d\nstderr:\n%s", status, errs)
	}
	if strings.Contains(out, "conform: mounting /ro failed") {
		t.Errorf("the guest could not mount the read-only image:\n%s", out)
	}
	guest := splitConformOutput(out)

	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			if skipped[n] {
				t.Skip("the native run needs host root (" + conformNeedsHostRoot + ")")
			}
			g, ok := guest[n]
			if !ok {
				t.Fatalf("no output of %s in the guest's console:\n%s\nstderr:\n%s", n, out, errs)
			}
			v, _ := native.Load(n)
			nat := v.(string)
			gap, isGap := knownGaps[n]
			if nat == g {
				if isGap {
					t.Errorf("%s now conforms: remove it from knownGaps (%s)", n, gap)
				}
				return
			}
			d := lineDiff(nat, g)
			if isGap {
				t.Logf("known gap (%s); it still differs:\n%s", gap, d)
				return
			}
			t.Errorf("guest differs from native (- native, + guest):\n%s", d)
		})
	}
	// fchmod(fd, 04755) in the guest keeps the set-id bits in metadata: the host file the
	// guest's scratch files live in never gets one (setid.c leaves such files behind).
	noSetidBelow(t, filepath.Join(root, "scratch"))
}

// compileConform builds every program statically, two compilers at a time.
func compileConform(t *testing.T, srcs []string, bin string) {
	t.Helper()
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, src := range srcs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out := filepath.Join(bin, strings.TrimSuffix(filepath.Base(src), ".c"))
			if b, err := exec.Command("gcc", "-O2", "-Wall", "-static", "-o", out, src).CombinedOutput(); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s: %v\n%s", src, err, b))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("gcc:\n%s", strings.Join(failed, "\n"))
	}
}

// runNative runs one program in a fresh scratch directory below base with a read-only bind
// mount of roSrc as its argv[1], in a private mount namespace of its own (and, without host
// root, a user namespace where it is root). It returns the output in the guest's form: the
// lines, then "=== exit N".
func runNative(t *testing.T, unshare string, hostRoot bool, prog, roSrc, base string) string {
	name := filepath.Base(prog)
	scratch := filepath.Join(base, name)
	mnt := filepath.Join(base, name+".ro")
	os.Mkdir(scratch, 0o755) // as the guest's mkdir makes it: umask 022
	os.Mkdir(mnt, 0o755)
	args := []string{"--mount", "--propagation", "private"}
	if !hostRoot {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", "/bin/sh", "-c",
		`mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && exec "$3" "$2" </dev/null 2>&1`,
		"sh", roSrc, mnt, prog)
	ctx, cancel := context.WithTimeout(context.Background(), conformTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.Dir = scratch
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			status = 128 + int(ws.Signal()) // as the guest's shell reports it
		}
	} else if err != nil {
		return fmt.Sprintf("running natively: %v\n", err)
	}
	return out.String() + "=== exit " + strconv.Itoa(status) + "\n"
}

var conformMarker = regexp.MustCompile(`(?m)^=== (begin|end) (\S+)(?: (\d+))?$`)

// splitConformOutput cuts the guest's console output into each program's output, ending in
// "=== exit N" as runNative's does.
func splitConformOutput(out string) map[string]string {
	res := map[string]string{}
	var cur string
	start := 0
	for _, m := range conformMarker.FindAllStringSubmatchIndex(out, -1) {
		kind, name := out[m[2]:m[3]], out[m[4]:m[5]]
		switch kind {
		case "begin":
			cur, start = name, m[1]+1
		case "end":
			if name == cur && m[6] >= 0 && start <= m[0] {
				res[name] = out[start:m[0]] + "=== exit " + out[m[6]:m[7]] + "\n"
			}
			cur = ""
		}
	}
	return res
}

// lineDiff is a line diff (longest common subsequence) of a and b, with every line shown:
// the programs are short and a check reads best among its neighbours.
func lineDiff(a, b string) string {
	x := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	l := make([][]int, len(x)+1)
	for i := range l {
		l[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			fmt.Fprintf(&sb, "  %s\n", x[i])
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || l[i][j+1] >= l[i+1][j]):
			fmt.Fprintf(&sb, "+ %s\n", y[j])
			j++
		default:
			fmt.Fprintf(&sb, "- %s\n", x[i])
			i++
		}
	}
	return sb.String()
}
