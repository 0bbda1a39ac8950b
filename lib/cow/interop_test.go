package cow_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/cow"
	"github.com/gouml/gouml/lib/testenv"
)

const backingSectors = 16384 // 8 MiB, docs/interfaces.md's worked example (§1.7)

var backingMTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// makeBacking writes an 8 MiB image whose every 8 bytes name their sector ("B0000042"), with
// a fixed mtime, as in docs/interfaces.md's recipe R3.
func makeBacking(t *testing.T, path string) {
	t.Helper()
	var b bytes.Buffer
	for i := 0; i < backingSectors; i++ {
		s := fmt.Sprintf("B%07d", i)
		b.WriteString(strings.Repeat(s, 64))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, backingMTime, backingMTime); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), 0
}

func mustRun(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	if out, rc := run(t, dir, name, args...); rc != 0 {
		t.Fatalf("%s %s: exit %d\n%s", filepath.Base(name), strings.Join(args, " "), rc, out)
	}
}

func mustEqualFiles(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da, db) {
		n := 0
		for n < len(da) && n < len(db) && da[n] == db[n] {
			n++
		}
		t.Fatalf("%s and %s differ (lengths %d, %d; first difference at byte %d)", a, b, len(da), len(db), n)
	}
}

func diskUsage(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// guestWrites is an init script that writes a distinct marker into sectors 0, 100 and the last
// sector of each named device through the page cache, then powers off.
func guestWrites(devs ...string) string {
	s := "#!/bin/sh\n"
	for _, d := range devs {
		s += fmt.Sprintf("printf 'WRITTEN-TO-%[1]s-SECTOR0' | dd of=/dev/%[1]s bs=512 seek=0 count=1 conv=sync 2>/dev/null\n", d)
		s += fmt.Sprintf("printf 'WRITTEN-TO-%[1]s-SECTOR100' | dd of=/dev/%[1]s bs=512 seek=100 count=1 conv=sync 2>/dev/null\n", d)
		s += fmt.Sprintf("printf 'LAST-%[1]s' | dd of=/dev/%[1]s bs=512 seek=%[2]d count=1 conv=sync 2>/dev/null\n", d, backingSectors-1)
	}
	return s + "sync\necho GUEST-WROTE\n/bin/busybox poweroff -f\n"
}

// guestReads is an init script that prints the first bytes of the given sectors of each device.
func guestReads(devSectors map[string][]int) string {
	s := "#!/bin/sh\n"
	for d, secs := range devSectors {
		for _, n := range secs {
			s += fmt.Sprintf("echo \"READ %[1]s %[2]d $(dd if=/dev/%[1]s bs=512 skip=%[2]d count=1 2>/dev/null | head -c 32)\"\n", d, n)
		}
	}
	return s + "/bin/busybox poweroff -f\n"
}

// checkMerged verifies an 8 MiB merged image: only sectors 0, 100 and the last changed, with
// the markers the guest wrote into device dev.
func checkMerged(t *testing.T, path, dev string) {
	t.Helper()
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != backingSectors*512 {
		t.Fatalf("%s: length %d", path, len(d))
	}
	want := map[int]string{0: "WRITTEN-TO-" + dev + "-SECTOR0", 100: "WRITTEN-TO-" + dev + "-SECTOR100", backingSectors - 1: "LAST-" + dev}
	for i := 0; i < backingSectors; i++ {
		sec := d[i*512 : (i+1)*512]
		if m, ok := want[i]; ok {
			if !bytes.HasPrefix(sec, []byte(m)) || !bytes.Equal(sec[len(m):], make([]byte, 512-len(m))) {
				t.Fatalf("%s: sector %d = %q, want %q + zeros", path, i, sec[:32], m)
			}
			continue
		}
		if exp := strings.Repeat(fmt.Sprintf("B%07d", i), 64); string(sec) != exp {
			t.Fatalf("%s: sector %d changed: %q", path, i, sec[:16])
		}
	}
}

// TestCOWAgainstRealKernelAndTools is the interop proof of issue 2, in both directions:
//   - COW files made by the real uml_mkcow, by the real kernel itself and by our uml_mkcow are
//     written through by the real linux.uml;
//   - each is merged by the real uml_moo and by ours, new-file and in-place: results identical
//     byte for byte, ours no larger on disk;
//   - our uml_mkcow's header equals the real one's, and the real kernel reads back what it
//     wrote through our COW file in a second boot.
func TestCOWAgainstRealKernelAndTools(t *testing.T) {
	realMkcow := testenv.Tool(t, "uml_mkcow")
	realMoo := testenv.Tool(t, "uml_moo")
	ourMkcow := testenv.Program(t, "uml_mkcow")
	ourMoo := testenv.Program(t, "uml_moo")
	w := t.TempDir()
	makeBacking(t, filepath.Join(w, "back.img"))

	mustRun(t, w, realMkcow, "real.cow", "back.img")
	mustRun(t, w, ourMkcow, "our.cow", "back.img")

	t.Run("MkcowHeaderEqualsRealUmlMkcow", func(t *testing.T) {
		mustEqualFiles(t, filepath.Join(w, "real.cow"), filepath.Join(w, "our.cow"))
	})

	root := testenv.BusyboxRoot(t, map[string]string{"/w.sh": guestWrites("ubdb", "ubdc", "ubdd")})
	u := &testenv.UML{Root: root, Init: "/w.sh", Dir: w,
		Args: []string{"ubd1=real.cow,back.img", "ubd2=kernel.cow,back.img", "ubd3=our.cow,back.img"}}
	console := u.Run(t)
	if !strings.Contains(console, "GUEST-WROTE") || !strings.Contains(console, `Creating "kernel.cow" as COW file for "back.img"`) {
		t.Fatalf("guest did not write through the COW files:\n%s", console)
	}

	t.Run("MkcowHeaderEqualsRealKernel", func(t *testing.T) {
		k, _ := os.ReadFile(filepath.Join(w, "kernel.cow"))
		o, _ := os.ReadFile(filepath.Join(w, "our.cow"))
		h, err := cow.Unmarshal(k)
		if err != nil {
			t.Fatal(err)
		}
		// Bytes after the path's NUL are undefined in kernel-written headers
		// (docs/interfaces.md §1.2).
		n := 32 + len(h.BackingFile) + 1
		if !bytes.Equal(k[:n], o[:n]) || len(k) != len(o) {
			t.Fatalf("headers differ in the first %d bytes or in length (%d vs %d)", n, len(k), len(o))
		}
	})

	for _, c := range []struct{ cow, dev string }{{"real.cow", "ubdb"}, {"kernel.cow", "ubdc"}, {"our.cow", "ubdd"}} {
		t.Run("MooAgainstRealUmlMoo/"+c.cow, func(t *testing.T) {
			mustRun(t, w, realMoo, c.cow, "real-"+c.cow+".img")
			mustRun(t, w, ourMoo, c.cow, "our-"+c.cow+".img")
			checkMerged(t, filepath.Join(w, "real-"+c.cow+".img"), c.dev)
			mustEqualFiles(t, filepath.Join(w, "real-"+c.cow+".img"), filepath.Join(w, "our-"+c.cow+".img"))
			if r, o := diskUsage(t, filepath.Join(w, "real-"+c.cow+".img")), diskUsage(t, filepath.Join(w, "our-"+c.cow+".img")); o > r {
				t.Errorf("our merged image uses %d bytes on disk, the real one %d", o, r)
			}
			// In place, both argument orders of ours, against the real tool's only working one.
			for _, ip := range []struct {
				tool, img string
				args      []string
			}{
				{realMoo, "ip-real.img", []string{"-d", "-b", "ip-real.img", c.cow}},
				{ourMoo, "ip-our1.img", []string{"-d", "-b", "ip-our1.img", c.cow}},
				{ourMoo, "ip-our2.img", []string{"-b", "ip-our2.img", "-d", c.cow}},
			} {
				img, tool, args := ip.img, ip.tool, ip.args
				copyFile(t, filepath.Join(w, "back.img"), filepath.Join(w, img))
				mustRun(t, w, tool, args...)
				mustEqualFiles(t, filepath.Join(w, "real-"+c.cow+".img"), filepath.Join(w, img))
				if _, err := os.Stat(filepath.Join(w, img+".uml_moo-merging")); err == nil {
					t.Fatalf("in-place merge left its journal behind")
				}
			}
		})
	}

	t.Run("RealKernelReadsBackThroughOurCOW", func(t *testing.T) {
		root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": guestReads(map[string][]int{"ubdb": {0, 1, 100, backingSectors - 1}})})
		u := &testenv.UML{Root: root, Init: "/r.sh", Dir: w, Args: []string{"ubd1=our.cow,back.img"}}
		out := u.Run(t)
		for _, want := range []string{"READ ubdb 0 WRITTEN-TO-ubdd-SECTOR0", "READ ubdb 1 B0000001B0000001B0000001",
			"READ ubdb 100 WRITTEN-TO-ubdd-SECTOR100", fmt.Sprintf("READ ubdb %d LAST-ubdd", backingSectors-1)} {
			if !strings.Contains(out, want) {
				t.Errorf("guest output lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("console:\n%s", out)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	d, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, d, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(from)
	if err := os.Chtimes(to, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// handMadeCOW writes a COW file of an old layout whose bitmap selects sectors 1 and 9, with
// the data "COW-V<n>-SECTOR<k>" there.
func handMadeCOW(t *testing.T, path, backing, kind string) {
	t.Helper()
	size := uint64(backingSectors * 512)
	mtime := uint32(backingMTime.Unix())
	layouts := map[string]struct {
		version int
		broken  bool
		align   uint32
	}{"v1": {1, false, 0}, "v2": {2, false, 0}, "v3-512": {3, false, 512}, "broken-v3": {3, true, 4096}}
	k := layouts[kind]
	hdr := cow.OldHeader(k.version, k.broken, backing, mtime, size, k.align)
	h, err := cow.Unmarshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := h.Layout()
	bmOff, dataOff := l.BitmapOffset, l.DataOffset
	f := make([]byte, dataOff+int64(size))
	copy(f, hdr)
	f[bmOff], f[bmOff+1] = 0x02, 0x02
	for _, s := range []int{1, 9} {
		copy(f[dataOff+int64(s)*512:], fmt.Sprintf("COW-%s-SECTOR%d", kind, s))
	}
	if err := os.WriteFile(path, f, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOldFormatsAgainstRealUmlMooAndKernel: hand-made V1, V2, V3 (alignment 512) and broken
// 64-bit V3 files are merged identically by the real uml_moo and ours, and the real kernel
// reads exactly sectors 1 and 9 from them — so our reading of each layout is UML's.
func TestOldFormatsAgainstRealUmlMooAndKernel(t *testing.T) {
	realMoo := testenv.Tool(t, "uml_moo")
	ourMoo := testenv.Program(t, "uml_moo")
	w := t.TempDir()
	back := filepath.Join(w, "back.img")
	makeBacking(t, back)
	kinds := []string{"v1", "v2", "v3-512", "broken-v3"}
	reads := map[string][]int{}
	var args []string
	for i, k := range kinds {
		handMadeCOW(t, filepath.Join(w, k+".cow"), back, k)
		// Merges first: the kernel must not be the one to touch the files before the tools.
		mustRun(t, w, realMoo, k+".cow", "real-"+k+".img")
		mustRun(t, w, ourMoo, k+".cow", "our-"+k+".img")
		mustEqualFiles(t, filepath.Join(w, "real-"+k+".img"), filepath.Join(w, "our-"+k+".img"))
		d, _ := os.ReadFile(filepath.Join(w, "our-"+k+".img"))
		for s := 0; s < 12; s++ {
			want := fmt.Sprintf("B%07d", s)
			if s == 1 || s == 9 {
				want = fmt.Sprintf("COW-%s-SECTOR%d", k, s)
			}
			if !bytes.HasPrefix(d[s*512:], []byte(want)) {
				t.Errorf("%s: merged sector %d = %q, want %q", k, s, d[s*512:s*512+20], want)
			}
		}
		dev := fmt.Sprintf("ubd%c", 'b'+i)
		reads[dev] = []int{0, 1, 9}
		args = append(args, fmt.Sprintf("ubd%d=%s.cow", i+1, k))
	}
	root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": guestReads(reads)})
	out := (&testenv.UML{Root: root, Init: "/r.sh", Dir: w, Args: args}).Run(t)
	for i, k := range kinds {
		dev := fmt.Sprintf("ubd%c", 'b'+i)
		for _, want := range []string{"READ " + dev + " 0 B0000000", fmt.Sprintf("READ %s 1 COW-%s-SECTOR1", dev, k), fmt.Sprintf("READ %s 9 COW-%s-SECTOR9", dev, k)} {
			if !strings.Contains(out, want) {
				t.Errorf("real kernel output lacks %q", want)
			}
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", out)
	}
}

// TestCommandLinesLikeRealTools: usage texts, exit codes and refusals match the real tools for
// the same bad invocations and broken inputs.
func TestCommandLinesLikeRealTools(t *testing.T) {
	realMoo, realMkcow := testenv.Tool(t, "uml_moo"), testenv.Tool(t, "uml_mkcow")
	ourMoo, ourMkcow := testenv.Program(t, "uml_moo"), testenv.Program(t, "uml_mkcow")
	w := t.TempDir()
	makeBacking(t, filepath.Join(w, "back.img"))
	mustRun(t, w, realMkcow, "good.cow", "back.img")
	os.WriteFile(filepath.Join(w, "notcow.img"), bytes.Repeat([]byte("x"), 8192), 0o644)
	os.WriteFile(filepath.Join(w, "short.cow"), []byte("OOOM\x00\x00\x00\x03xxxxxxxxxx"), 0o644)
	copyFile(t, filepath.Join(w, "back.img"), filepath.Join(w, "touched.img"))
	os.Chtimes(filepath.Join(w, "touched.img"), time.Now(), time.Now())
	os.WriteFile(filepath.Join(w, "small.img"), make([]byte, 4096), 0o644)
	os.Chtimes(filepath.Join(w, "small.img"), backingMTime, backingMTime)

	type inv struct {
		name string
		args []string
	}
	same := func(t *testing.T, realTool, ourTool string, invs []inv, sameText bool) {
		for _, c := range invs {
			rOut, rRC := run(t, w, realTool, c.args...)
			oOut, oRC := run(t, w, ourTool, c.args...)
			// Both print their argv[0] in usage texts.
			rOut = strings.ReplaceAll(rOut, realTool, "PROG")
			oOut = strings.ReplaceAll(oOut, ourTool, "PROG")
			if rRC != oRC {
				t.Errorf("%s %v: exit %d, real tool %d (real said %q, we said %q)", filepath.Base(ourTool), c.args, oRC, rRC, rOut, oOut)
			}
			if sameText && rOut != oOut {
				t.Errorf("%s %v: output differs\nreal: %q\nours: %q", filepath.Base(ourTool), c.args, rOut, oOut)
			}
			if !sameText && rRC != 0 && !strings.HasPrefix(oOut, filepath.Base(ourTool)+": ") {
				t.Errorf("%s %v: error %q does not start with the program name", filepath.Base(ourTool), c.args, oOut)
			}
			if !sameText && strings.Count(strings.TrimSpace(oOut), "\n") > 0 {
				t.Errorf("%s %v: error is not one line: %q", filepath.Base(ourTool), c.args, oOut)
			}
		}
	}
	same(t, realMoo, ourMoo, []inv{{"none", nil}, {"help", []string{"--help"}}, {"h", []string{"-h"}},
		{"one", []string{"good.cow"}}, {"three", []string{"a", "b", "c"}}, {"d two", []string{"-d", "good.cow", "out"}},
		{"b only", []string{"-b"}}}, true)
	same(t, realMoo, ourMoo, []inv{{"missing cow", []string{"nope.cow", "out.img"}},
		{"not cow", []string{"notcow.img", "out.img"}}, {"short", []string{"short.cow", "out.img"}},
		{"mtime", []string{"-b", "touched.img", "good.cow", "out.img"}}, {"size", []string{"-b", "small.img", "good.cow", "out.img"}},
		{"missing backing", []string{"-b", "nope.img", "good.cow", "out.img"}}}, false)
	same(t, realMkcow, ourMkcow, []inv{{"none", nil}, {"one", []string{"x.cow"}}, {"f one", []string{"-f", "x.cow"}},
		{"help", []string{"-h"}}}, true)
	same(t, realMkcow, ourMkcow, []inv{{"exists", []string{"good.cow", "back.img"}}}, false)
	if _, err := os.Stat(filepath.Join(w, "out.img")); err == nil {
		t.Errorf("a failed merge left out.img behind")
	}
	// Our messages for mismatches carry the real tool's wording.
	out, _ := run(t, w, ourMoo, "-b", "touched.img", "good.cow", "out.img")
	if !strings.Contains(out, "mtime mismatch (1704164645 vs ") {
		t.Errorf("mtime mismatch message: %q", out)
	}
	out, _ = run(t, w, ourMoo, "-b", "small.img", "good.cow", "out.img")
	if !strings.Contains(out, "Size mismatch (8388608 vs 4096)") {
		t.Errorf("size mismatch message: %q", out)
	}
}
