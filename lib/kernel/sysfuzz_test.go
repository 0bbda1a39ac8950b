package kernel_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// TestSyscallFuzz boots testdata/sysfuzz.c as init: worker processes of several threads make
// random trapped calls with boundary arguments (bad pointers, huge sizes, paths through
// /proc, /dev, .., symlinks, FIFOs, paths aimed at the host directory around the root) for
// a bounded time, then power the machine off with workers still running. linux must
// survive, answer every call (the fuzzer reports a call that takes over 20 s as a HANG),
// leave everything outside the root as it was (a decoy tree beside the root is compared
// before and after) and halt cleanly.
//
// The fuzzing time is 60 s in all (GOUML_SYSFUZZ_TIME, seconds or a duration, overrides it;
// -short makes it 6 s). As root it is split between two runs of equal length: linux as root,
// and linux as the unprivileged test user (who then owns the decoys, so only the kernel's
// own walls keep the guest off them); otherwise the one run as the invoking user gets it
// all. Each run uses a new seed unless GOUML_SYSFUZZ_SEED is set; a failure prints the
// seed and the command line that replays it. GOUML_SYSFUZZ_OPS (the fuzzer's FUZZOPS, e.g.
// "-fifo,-mknod") leaves ops or system calls out, to tell one failure from another by hand.
func TestSyscallFuzz(t *testing.T) {
	total := 60 * time.Second
	if testing.Short() {
		total = 6 * time.Second
	}
	if v := os.Getenv("GOUML_SYSFUZZ_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		if n, aerr := strconv.Atoi(v); aerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d < time.Second {
			t.Fatalf("GOUML_SYSFUZZ_TIME=%q: want seconds or a duration of at least 1s", v)
		}
		total = d
	}
	seed := rand.Uint64()>>1 | 1
	if v := os.Getenv("GOUML_SYSFUZZ_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 0, 63)
		if err != nil || s == 0 {
			t.Fatalf("GOUML_SYSFUZZ_SEED=%q: want a positive number", v)
		}
		seed = s
	}
	each := total
	if os.Geteuid() == 0 {
		each = total / 2
	}
	t.Run("self", func(t *testing.T) { sysfuzz(t, false, each, seed) })
	t.Run("unprivileged", func(t *testing.T) { sysfuzz(t, true, each, seed+1) })
}

// hangLimit is the fuzzer's FUZZHANG: how long a call may take before it is reported.
const hangLimit = 20 * time.Second

func sysfuzz(t *testing.T, asUser bool, fuzzTime time.Duration, seed uint64) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	if err := os.Rename(testenv.BusyboxRoot(t, nil), root); err != nil {
		t.Fatal(err)
	}
	buildStatic(t, "testdata/sysfuzz.c", filepath.Join(root, "sysfuzz"))
	uid, gid := os.Getuid(), os.Getgid()
	if asUser {
		unprivileged(t, root) // skips unless root; also makes dir/uml, which becomes a decoy
		u, err := user.Lookup(testUser)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	// linux's own places are elsewhere: its umid directory comes and goes, and /dev/ubdb is
	// the guest's to scribble on
	private := func() string {
		d := t.TempDir()
		os.Chmod(d, 0o755)
		os.Chown(d, uid, gid)
		return d
	}
	umlDir := private()
	img := filepath.Join(private(), "ubdb.img")
	makeUbdImage(t, img)
	os.Chown(img, uid, gid)
	makeDecoys(t, dir, uid, gid)
	before := snapshot(t, dir)

	secs := int((fuzzTime + time.Second - 1) / time.Second)
	args := []string{"ubd0=" + root, "ubd1=" + img, "rw", "init=/sysfuzz", "FUZZTIME=" + strconv.Itoa(secs),
		"FUZZSEED=" + strconv.FormatUint(seed, 10), "FUZZHANG=" + strconv.Itoa(int(hangLimit/time.Second)),
		"HOSTDIR=" + dir, "uml_dir=" + umlDir}
	if ops := os.Getenv("GOUML_SYSFUZZ_OPS"); ops != "" {
		args = append(args, "FUZZOPS="+ops)
	}
	// the fuzzing, then at most a hang's worth of waiting for workers to end, then the halt
	limit := time.Duration(secs)*time.Second + hangLimit + 60*time.Second
	res := runFuzz(t, args, asUser, limit)

	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	switch {
	case res.killed != "":
		fail("%s", res.killed)
	case res.status != 0:
		fail("linux exited with status %d", res.status)
	}
	var lines []string
	for _, l := range strings.Split(res.out, "\n") {
		// a worker's random write to the console may have left bytes at the line's start
		if i := strings.Index(l, "sysfuzz: "); i >= 0 {
			lines = append(lines, l[i:])
		}
	}
	report := strings.Join(lines, "\n")
	if !strings.Contains(report, "sysfuzz: start ") {
		fail("the fuzzer did not start")
	} else if !strings.Contains(report, "sysfuzz: done") {
		fail(`no "sysfuzz: done"`)
	}
	if strings.Contains(report, "sysfuzz: HANG") {
		fail("a system call hung")
	}
	if strings.Contains(report, "sysfuzz: ODD") {
		fail("a system call returned a kernel-internal restart code")
	}
	if m := regexp.MustCompile(`sysfuzz: summary .* calls=(\d+) `).FindStringSubmatch(report); m != nil && len(problems) == 0 {
		// that the fuzzer fuzzed: far below what it manages on an idle machine
		if n, _ := strconv.Atoi(m[1]); n < 100*secs {
			fail("only %d calls in %d s", n, secs)
		}
	}
	// judged from the host: nothing outside the root changed, nothing appeared beside it,
	// and the set-id bits the guest gave its files stayed in its metadata
	problems = append(problems, compareSnapshots(before, snapshot(t, dir))...)
	problems = append(problems, setID(root)...)

	if len(problems) == 0 {
		t.Logf("seed %d, %d s: %s", seed, secs, summaryLine(report))
		return
	}
	replayTime := secs // GOUML_SYSFUZZ_TIME is the total, split in two as root
	if os.Geteuid() == 0 {
		replayTime *= 2
	}
	log := filepath.Join(os.TempDir(), fmt.Sprintf("gouml-sysfuzz-%d.log", seed))
	os.WriteFile(log, []byte("linux "+strings.Join(args, " ")+"\n--- stdout ---\n"+res.out+"\n--- stderr ---\n"+res.errs), 0o644)
	name, replaySeed := "self", seed
	if asUser {
		name, replaySeed = "unprivileged", seed-1 // TestSyscallFuzz gives this run GOUML_SYSFUZZ_SEED+1
	}
	t.Errorf("sysfuzz seed %d (%s, %d s of fuzzing, linux ran %v):\n  %s\n"+
		"replay: GOUML_SYSFUZZ_SEED=%d GOUML_SYSFUZZ_TIME=%ds%s go test -run 'TestSyscallFuzz/%s' ./lib/kernel\n"+
		"--- the fuzzer's report ---\n%s\n--- linux's stderr, the kernel's goroutines only ---\n%s\nfull output: %s",
		seed, name, secs, res.elapsed.Round(time.Second), strings.Join(problems, "\n  "), replaySeed, replayTime, opsEnv(), name,
		report, kernelStacks(res.errs), log)
}

// taskListing describes every thread of the host processes pids as the host sees them —
// state, wait channel, the system call it is in, the signals it has pending and blocked —
// so a hung machine's report shows where the guest stands, not only the kernel.
func taskListing(pids []int) string {
	var b strings.Builder
	b.WriteString("host tasks (pid tid state wchan syscall pending blocked comm):")
	for _, p := range pids {
		tids, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, e := range tids {
			dir := fmt.Sprintf("/proc/%d/task/%s/", p, e.Name())
			read := func(f string) string {
				v, _ := os.ReadFile(dir + f)
				return strings.TrimSpace(string(v))
			}
			field := func(status, key string) string {
				for _, l := range strings.Split(status, "\n") {
					if v, ok := strings.CutPrefix(l, key+":"); ok {
						return strings.TrimSpace(v)
					}
				}
				return "?"
			}
			st := read("status")
			sc := strings.Fields(read("syscall"))
			if len(sc) > 0 {
				sc[0] = sysName(sc[0])
			}
			if len(sc) > 4 {
				sc = sc[:4]
			}
			fmt.Fprintf(&b, "\n  %d %s %s %s [%s] %s %s %s", p, e.Name(), field(st, "State"), read("wchan"),
				strings.Join(sc, " "), field(st, "SigPnd"), field(st, "SigBlk"), read("comm"))
		}
	}
	return b.String()
}

// sysName names a system call number of /proc/PID/syscall when it knows it.
func sysName(nr string) string {
	n, err := strconv.Atoi(nr)
	if err != nil {
		return nr
	}
	names := map[int]string{0: "read", 1: "write", 7: "poll", 35: "nanosleep", 61: "wait4", 202: "futex",
		230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid", 281: "epoll_pwait", 271: "ppoll", 16: "ioctl"}
	if s, ok := names[n]; ok {
		return s
	}
	return nr
}

// fuzzResult is what a run of linux under runFuzz left.
type fuzzResult struct {
	out, errs string
	status    int
	killed    string // why the test killed linux ("" when it exited by itself)
	elapsed   time.Duration
}

// hangWatch passes output on and closes seen when a line reports a hang.
type hangWatch struct {
	buf  testenv.SafeBuffer
	seen chan struct{}
	done bool
	tail []byte
}

func (h *hangWatch) Write(p []byte) (int, error) {
	h.buf.Write(p)
	if !h.done {
		h.tail = append(h.tail, p...)
		if bytes.Contains(h.tail, []byte("sysfuzz: HANG")) {
			h.done = true
			close(h.seen)
		}
		if len(h.tail) > 64 {
			h.tail = h.tail[len(h.tail)-64:]
		}
	}
	return len(p), nil
}

// runFuzz runs linux with a time limit of its own. A machine that reports a hang is given
// a few seconds to print the rest of the report; one that is killed first gets SIGQUIT, so
// that the Go runtime of the kernel prints every goroutine's stack (where it hangs) to
// stderr, and then SIGKILL.
func runFuzz(t *testing.T, args []string, asUser bool, limit time.Duration) fuzzResult {
	t.Helper()
	bin := testenv.Program(t, "linux")
	argv := append([]string{bin}, args...)
	if asUser {
		argv = append([]string{"runuser", "-u", testUser, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	out := &hangWatch{seen: make(chan struct{})}
	var errb testenv.SafeBuffer
	cmd.Stdout, cmd.Stderr = out, &errb
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res fuzzResult
	var err error
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	select {
	case err = <-done:
	case <-deadline.C:
		res.killed = fmt.Sprintf("linux did not exit within %v: killed", limit)
	case <-out.seen:
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			res.killed = "linux was killed 10 s after the fuzzer reported a hang"
		}
	}
	if res.killed != "" {
		tree := append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...)
		res.killed += "\n" + taskListing(tree)
		// the kernel is what the launcher (the first linux, below runuser if any) started
		// (jail.go); it may be named after its re-executed binary
		outer := 0
		for _, p := range tree {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(b)) == "linux" {
				outer = p
				break
			}
		}
		for _, p := range tree {
			if outer != 0 && ppid(p) == outer {
				unix.Kill(p, unix.SIGQUIT)
			}
		}
		select {
		case err = <-done:
		case <-time.After(3 * time.Second):
		}
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		for _, p := range tree {
			unix.Kill(p, unix.SIGKILL)
		}
		if err == nil {
			err = <-done
		}
	}
	res.elapsed = time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok {
		res.status = ee.ExitCode()
	} else if err != nil && res.killed == "" {
		t.Fatal(err)
	}
	res.out = strings.ReplaceAll(out.buf.String(), "\r\n", "\n")
	res.errs = errb.String()
	return res
}

// ppid returns the parent of a process (0 if it is gone).
func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// the fields after the command name, which may hold spaces and parentheses
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// makeUbdImage makes the guest's /dev/ubdb: a small ext4 file system when mkfs.ext4 is
// there (the fuzzer mounts it, corrupts it and mounts it again), else zeros.
func makeUbdImage(t *testing.T, img string) {
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 4<<20); err != nil {
		t.Fatal(err)
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		mkfs = "/sbin/mkfs.ext4"
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		t.Logf("no file system on /dev/ubdb (%v %s): the fuzzer mounts zeros", err, out)
	}
}

// makeDecoys fills the directory that holds the root with things an escaped guest could
// read, change or run. The names are also in sysfuzz.c (setup_hostpaths), which aims
// paths at them.
func makeDecoys(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	mine := []string{}
	file := func(name, content string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, []byte(content), mode))
		must(os.Chmod(p, mode))
		mine = append(mine, p)
	}
	mkdir := func(name string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		must(os.Mkdir(p, mode))
		must(os.Chmod(p, mode))
		mine = append(mine, p)
	}
	link := func(target, name string) {
		p := filepath.Join(dir, name)
		must(os.Symlink(target, p))
		mine = append(mine, p)
	}
	file("secret", "SECRET\n", 0o600)
	link("secret", "link")
	file("tool.sh", "#!/bin/sh\ntouch '"+dir+"/ran'\nexit 42\n", 0o755)
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	mine = append(mine, filepath.Join(dir, "fifo"))
	mkdir("decoy", 0o755)
	file("decoy/file", "decoy file\n", 0o644)
	unix.Setxattr(filepath.Join(dir, "decoy/file"), "user.decoy", []byte("1"), 0)
	mkdir("decoy/sub", 0o700)
	file("decoy/sub/deep", "deep\n", 0o600)
	link("sub", "decoy/dirlink")
	mkdir("decoy/empty", 0o755)
	for _, p := range mine {
		must(os.Lchown(p, uid, gid))
	}
	if os.Geteuid() != 0 {
		return
	}
	// files of other host users: root's, and a user's that is neither root nor linux's
	must(os.Mkdir(filepath.Join(dir, "rootowned"), 0o755))
	for name, mode := range map[string]os.FileMode{"f600": 0o600, "f644": 0o644, "f755": 0o755} {
		file("rootowned/"+name, "root's "+name+"\n", mode)
		must(os.Lchown(filepath.Join(dir, "rootowned", name), 0, 0))
	}
	file("rootowned/other", "another user's\n", 0o600)
	must(os.Lchown(filepath.Join(dir, "rootowned/other"), 12345, 12345))
}

// fileState is what the test compares of a file outside the root.
type fileState struct {
	mode         os.FileMode
	uid, gid     uint32
	size         int64
	mtime, ctime int64
	content      string // sha256 of a regular file, the target of a symlink
	xattrs       string
	list         string // a directory's names
}

func (f fileState) String() string {
	return fmt.Sprintf("%v %d:%d size %d mtime %d ctime %d %q xattrs %q list %q", f.mode, f.uid, f.gid, f.size,
		f.mtime, f.ctime, f.content, f.xattrs, f.list)
}

// snapshot records dir and everything below it except the guest root (whose name stays in
// dir's listing).
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	root := filepath.Join(dir, "root")
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return filepath.SkipDir
		}
		st := fi.Sys().(*syscall.Stat_t)
		s := fileState{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, size: st.Size,
			mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			s.content = hex.EncodeToString(sum[:])
		case fi.Mode()&os.ModeSymlink != 0:
			s.content, _ = os.Readlink(p)
		case fi.IsDir():
			names, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			var l []string
			for _, n := range names {
				l = append(l, n.Name())
			}
			s.list = strings.Join(l, " ")
		}
		s.xattrs = xattrs(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return out
}

func xattrs(p string) string {
	b := make([]byte, 4096)
	n, err := unix.Llistxattr(p, b)
	if err != nil || n <= 0 {
		return ""
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(b[:n]), "\x00"), "\x00") {
		v := make([]byte, 4096)
		m, _ := unix.Lgetxattr(p, name, v)
		out = append(out, name+"="+string(v[:max(m, 0)]))
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

func compareSnapshots(before, after map[string]fileState) []string {
	var out []string
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("outside the root, %s is gone", p))
		case a != b:
			out = append(out, fmt.Sprintf("outside the root, %s changed:\n      was %v\n      now %v", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, fmt.Sprintf("outside the root, %s appeared", p))
		}
	}
	sort.Strings(out)
	return out
}

func opsEnv() string {
	if ops := os.Getenv("GOUML_SYSFUZZ_OPS"); ops != "" {
		return " GOUML_SYSFUZZ_OPS=" + ops
	}
	return ""
}

// setID lists the host files below root with a set-user-ID or set-group-ID bit: one would
// run with the identity of the user running linux (or root's) for anyone on the host.
func setID(root string) []string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 && !fi.IsDir() {
			out = append(out, fmt.Sprintf("host file %s is %v", p, fi.Mode()))
		}
		return nil
	})
	return out
}

func summaryLine(report string) string {
	for _, l := range strings.Split(report, "\n") {
		if s, ok := strings.CutPrefix(l, "sysfuzz: summary "); ok {
			return s
		}
	}
	return "(no summary)"
}

// kernelStacks shortens linux's stderr for a report: the lines before the first goroutine
// (a panic's message), then only the goroutines that are in the kernel's own code, with
// only gouml's frames and no addresses. The whole of it is in the log file.
func kernelStacks(errs string) string {
	var out []string
	for i, b := range strings.Split(errs, "\n\n") {
		if !strings.HasPrefix(b, "goroutine ") {
			if i == 0 || !strings.Contains(b, "goroutine ") {
				out = append(out, b)
			}
			continue
		}
		if !strings.Contains(b, "gouml/lib/kernel.") {
			continue
		}
		lines := strings.Split(b, "\n")
		keep := lines[:1]
		// then pairs: the function, and its file and line indented below it
		for j := 1; j+1 < len(lines); j += 2 {
			if strings.Contains(lines[j], "gouml/") {
				l := lines[j+1]
				if k := strings.Index(l, " +0x"); k > 0 {
					l = l[:k]
				}
				keep = append(keep, lines[j], l)
			}
		}
		out = append(out, strings.Join(keep, "\n"))
	}
	s := strings.Join(out, "\n\n")
	if len(s) > 20000 {
		s = s[:20000] + "\n…"
	}
	return s
}
