package ubd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/cow"
	"github.com/gouml/gouml/lib/testenv"
)

// Interop tests: the real Debian linux.uml (and uml_moo) on one side, this package on the
// other, on the same files.

// readSectorsScript is an init script printing the first bytes of some sectors of a device.
func readSectorsScript(dev string, sectors ...int64) string {
	s := "#!/bin/sh\n"
	for _, n := range sectors {
		s += fmt.Sprintf("echo \"READ %[1]s %[2]d $(dd if=/dev/%[1]s bs=512 skip=%[2]d count=1 2>/dev/null | head -c 24)\"\n", dev, n)
	}
	return s
}

const poweroff = "/bin/busybox poweroff -f\n"

// consoleLines returns the lines of a real kernel's console, without "\r".
func consoleLines(out string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		m[strings.TrimSpace(l)] = true
	}
	return m
}

// sameMessages checks that every line we logged was printed verbatim by the real kernel
// (which prints more: boot messages, the guest's output).
func sameMessages(t *testing.T, ours, real string) {
	t.Helper()
	rl := consoleLines(real)
	for _, l := range strings.Split(strings.TrimSuffix(ours, "\n"), "\n") {
		if l != "" && !rl[l] {
			t.Errorf("we log %q; the real kernel did not print that line", l)
		}
	}
	if t.Failed() {
		t.Logf("real console:\n%s", real)
	}
}

func realMerge(t *testing.T, dir, cowName, out string) []byte {
	t.Helper()
	moo := testenv.Tool(t, "uml_moo")
	cmd := exec.Command(moo, cowName, out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("uml_moo: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOurCOWAgainstRealUML: a COW file created and written by our Open is used by the real
// kernel (it reads our sectors and the base's, and writes its own), and we read back what it
// wrote; the final image equals the real uml_moo's merge of the COW file.
func TestOurCOWAgainstRealUML(t *testing.T) {
	w := t.TempDir()
	chdir(t, w)
	makeBase(t, "base.img")
	d, log := open(t, "ubd1=our.cow,base.img")
	if log != "Creating \"our.cow\" as COW file for \"base.img\"\n" {
		t.Fatalf("log %q", log)
	}
	d.WriteAt([]byte("OURS-SECTOR0"), 0)
	d.WriteAt([]byte("OURS-SECTOR5000"), 5000*512)
	// And a write a guest would make natively through the host-fd stand-in.
	hf, err := d.HostFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hf.WriteAt([]byte("STANDIN-SECTOR9000"), 9000*512); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	script := readSectorsScript("ubdb", 0, 1, 5000, 9000, baseSectors-1) +
		"printf 'REAL-SECTOR200' | dd of=/dev/ubdb bs=512 seek=200 count=1 conv=sync 2>/dev/null\nsync\n" + poweroff
	root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": script})
	out := (&testenv.UML{Root: root, Init: "/r.sh", Dir: w, Args: []string{"ubd1=our.cow,base.img"}}).Run(t)
	for _, want := range []string{"READ ubdb 0 OURS-SECTOR00000B0000000", "READ ubdb 1 B0000001B0000001B0000001",
		"READ ubdb 5000 OURS-SECTOR50000B0005000", "READ ubdb 9000 STANDIN-SECTOR9000009000", fmt.Sprintf("READ ubdb %d B%07dB%07dB%07d", baseSectors-1, baseSectors-1, baseSectors-1, baseSectors-1)} {
		if !strings.Contains(out, want) {
			t.Errorf("real kernel output lacks %q", want)
		}
	}
	if strings.Contains(out, "Creating") || strings.Contains(out, "mismatch") {
		t.Errorf("real kernel did not take our COW file as it is:\n%s", out)
	}
	d2, _ := open(t, "ubd1=our.cow,base.img")
	got := readAll(t, d2, d2.Size())
	if !bytes.HasPrefix(got[200*512:], []byte("REAL-SECTOR200\x00")) {
		t.Errorf("we do not see the real kernel's write: %q", got[200*512:200*512+20])
	}
	if m := realMerge(t, w, "our.cow", "merged.img"); !bytes.Equal(m, got) {
		t.Error("our device's view differs from uml_moo's merge")
	}
	if t.Failed() {
		t.Logf("console:\n%s", out)
	}
}

// TestRealUMLCOWThroughOurDevice: a COW file the real kernel created and wrote is read
// through our Device byte-identically to the real uml_moo's merge, and the real kernel's
// "Creating" line is the one we print.
func TestRealUMLCOWThroughOurDevice(t *testing.T) {
	w := t.TempDir()
	chdir(t, w)
	makeBase(t, "base.img")
	script := "#!/bin/sh\n" +
		"printf 'REAL-0' | dd of=/dev/ubdb bs=512 seek=0 count=1 conv=sync 2>/dev/null\n" +
		"printf 'REAL-77' | dd of=/dev/ubdb bs=512 seek=77 count=1 conv=sync 2>/dev/null\n" +
		fmt.Sprintf("printf 'REAL-LAST' | dd of=/dev/ubdb bs=512 seek=%d count=1 conv=sync 2>/dev/null\n", baseSectors-1) +
		"sync\n" + poweroff
	root := testenv.BusyboxRoot(t, map[string]string{"/w.sh": script})
	out := (&testenv.UML{Root: root, Init: "/w.sh", Dir: w, Args: []string{"ubd1=k.cow,base.img"}}).Run(t)
	ourCreate := func() string {
		os.MkdirAll("x", 0o755)
		os.Link("base.img", "x/base.img")
		old, _ := os.Getwd()
		os.Chdir("x")
		defer os.Chdir(old)
		_, log := open(t, "ubd1=k.cow,base.img")
		return log
	}()
	sameMessages(t, ourCreate, out)
	d, log := open(t, "ubd1=k.cow,base.img")
	if log != "" {
		t.Errorf("opening the real kernel's COW file logged %q", log)
	}
	got := readAll(t, d, d.Size())
	if m := realMerge(t, w, "k.cow", "merged.img"); !bytes.Equal(m, got) {
		t.Fatal("our view of the real kernel's COW file differs from uml_moo's merge")
	}
	if !bytes.HasPrefix(got[77*512:], []byte("REAL-77\x00")) {
		t.Fatalf("sector 77: %q", got[77*512:77*512+10])
	}
}

// TestMessagesAgainstRealUML: mtime and size mismatches, a backing file switch and a file
// that is not COW produce the real kernel's lines, and the same outcome.
func TestMessagesAgainstRealUML(t *testing.T) {
	w := t.TempDir()
	chdir(t, w)
	makeBase(t, "base.img")
	if _, err := cow.Create("k.cow", "base.img", false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile("plain.cow", bytes.Repeat([]byte{9}, 8192), 0o644)
	script := "#!/bin/sh\n" +
		"dd if=/dev/ubdb of=/dev/null bs=512 count=1 2>/dev/null; echo \"OPENRC=$?\"\n" + poweroff
	root := testenv.BusyboxRoot(t, map[string]string{"/o.sh": script})
	realRun := func(word string) string {
		return (&testenv.UML{Root: root, Init: "/o.sh", Dir: w, Args: []string{word}}).Run(t)
	}
	ourRun := func(word string) (string, error) {
		var log bytes.Buffer
		d, err := Open(spec(t, word), false, &log)
		if err == nil {
			d.Close()
		}
		return log.String(), err
	}
	check := func(name, word, mustLog string, wantOK bool) {
		t.Run(name, func(t *testing.T) {
			real := realRun(word)
			ours, err := ourRun(word)
			if !strings.Contains(ours, mustLog) {
				t.Errorf("our log %q lacks %q", ours, mustLog)
			}
			sameMessages(t, ours, real)
			realOK := strings.Contains(real, "OPENRC=0")
			if realOK != wantOK || (err == nil) != wantOK {
				t.Errorf("open ok: real %v, ours %v (%v), want %v", realOK, err == nil, err, wantOK)
			}
		})
	}
	later := baseMTime.Add(time.Hour)
	os.Chtimes("base.img", later, later)
	check("mtime", "ubd1=k.cow,base.img", "mtime mismatch (", false)
	os.Truncate("base.img", baseSectors*512+512)
	os.Chtimes("base.img", baseMTime, baseMTime)
	check("size", "ubd1=k.cow,base.img", "Size mismatch (", false)
	os.Truncate("base.img", baseSectors*512)
	os.Chtimes("base.img", baseMTime, baseMTime)
	check("notcow", "ubd1=plain.cow,base.img", "Failed to read COW header", false)
	check("missing", "ubd1=nothere.img", "Failed to initialize ubd device 1 :Couldn't determine size of device's file", false)
	check("missingbacking", "ubd1=k.cow,nothere.img", "Failed to initialize ubd device 1 :Couldn't determine size of device's file", false)

	t.Run("switch", func(t *testing.T) {
		makeBase(t, "moved.img")
		data, _ := os.ReadFile("k.cow")
		os.WriteFile("real.cow", data, 0o644)
		os.WriteFile("our.cow", data, 0o644)
		real := realRun("ubd1=real.cow,moved.img")
		ours, err := ourRun("ubd1=our.cow,moved.img")
		if err != nil || !strings.Contains(ours, "Switching backing file to 'moved.img'") {
			t.Fatalf("%v, log %q", err, ours)
		}
		// The real kernel names its own COW file; compare with names swapped.
		sameMessages(t, strings.ReplaceAll(ours, "our.cow", "real.cow"), real)
		rh, _ := os.ReadFile("real.cow")
		oh, _ := os.ReadFile("our.cow")
		h, err := cow.Unmarshal(rh)
		if err != nil || h.BackingFile != w+"/moved.img" {
			t.Fatalf("real kernel's header after the switch: %v %+v", err, h)
		}
		n := 32 + len(h.BackingFile) + 1 // bytes after the NUL are undefined in kernel headers
		if !bytes.Equal(rh[:n], oh[:n]) || len(rh) != len(oh) {
			t.Fatal("headers after the switch differ")
		}
	})
}

// TestLockingAgainstRealUML: while the real kernel holds an image writable our Open fails
// with EAGAIN and UML's message naming its pid; while we hold it the real kernel fails the
// same way naming ours; a read-only base is used by both at once.
func TestLockingAgainstRealUML(t *testing.T) {
	w := t.TempDir()
	chdir(t, w)
	makeBase(t, "base.img")
	os.WriteFile("img.raw", make([]byte, 1<<20), 0o644)

	t.Run("RealHolds", func(t *testing.T) {
		script := "#!/bin/sh\n" +
			// The kernel opens (and locks) the host file while the guest has the device open.
			"exec 3</dev/ubdb 4</dev/ubdc\n" +
			"echo GUEST-HOLDS\nwhile [ ! -e /go ]; do sleep 0.2; done\n" + poweroff
		root := testenv.BusyboxRoot(t, map[string]string{"/h.sh": script})
		u := &testenv.UML{Root: root, Init: "/h.sh", Dir: w, Args: []string{"ubd1=img.raw", "ubd2r=base.img"}}
		cmd, out := u.Start(t)
		if !testenv.WaitFor(60*time.Second, func() bool { return strings.Contains(out.String(), "GUEST-HOLDS") }) {
			t.Fatalf("guest did not open its devices:\n%s", out.String())
		}
		var log bytes.Buffer
		d, err := Open(spec(t, "ubd1=img.raw"), false, &log)
		m := regexp.MustCompile(`^F_SETLK failed, file already locked by pid (\d+)\nFailed to lock 'img.raw', err = 11\nFailed to open 'img.raw', errno = 11\n$`).FindStringSubmatch(log.String())
		if err == nil {
			d.Close()
		}
		if err == nil || m == nil {
			t.Errorf("our open of the image the real kernel holds: %v, log %q", err, log.String())
		} else if pid := fmt.Sprint(cmd.Process.Pid); m[1] != pid {
			t.Errorf("lock holder pid %s, the real kernel is %s", m[1], pid)
		}
		// The read-only base is shared.
		d, err = Open(spec(t, "ubd2=mine.cow,base.img"), false, nil)
		if err != nil {
			t.Errorf("COW over the base the real kernel reads: %v", err)
		} else {
			d.Close()
		}
		if d, err := Open(spec(t, "ubd2=base.img"), false, nil); err == nil {
			d.Close()
			t.Error("we could open the base writable while the real kernel reads it")
		}
		os.WriteFile(filepath.Join(root, "go"), nil, 0o644)
		if err := cmd.Wait(); !testenv.HaltedCleanly(t, err, out.String()) {
			t.Fatalf("real kernel: %v\n%s", err, out.String())
		}
	})

	t.Run("WeHold", func(t *testing.T) {
		img, _ := open(t, "ubd1=img.raw")
		cw, _ := open(t, "ubd2=ours.cow,base.img")
		script := "#!/bin/sh\n" +
			"dd if=/dev/ubdb of=/dev/null bs=512 count=1 2>/dev/null; echo \"IMGRC=$?\"\n" +
			"dd if=/dev/ubdc of=/dev/null bs=512 count=1 2>/dev/null; echo \"BASERC=$?\"\n" + poweroff
		root := testenv.BusyboxRoot(t, map[string]string{"/l.sh": script})
		out := (&testenv.UML{Root: root, Init: "/l.sh", Dir: w, Args: []string{"ubd1=img.raw", "ubd2r=base.img"}}).Run(t)
		// Our lock is an OFD lock (lock.go): the real kernel's F_GETLK cannot name its owner.
		for _, want := range []string{"F_SETLK failed, file already locked by pid -1",
			"Failed to lock 'img.raw', err = 11", "IMGRC=1", "BASERC=0"} {
			if !strings.Contains(out, want) {
				t.Errorf("real console lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("console:\n%s", out)
		}
		img.Close()
		cw.Close()
	})
}

// mkTables makes a 64 MiB image with sfdisk (MBR with logical partitions) and one with
// sgdisk (GPT), as a user would.
func mkTables(t *testing.T, dir string) (mbr, gpt string) {
	t.Helper()
	need := func(tool, pkg string) string {
		p, err := exec.LookPath(tool)
		if err != nil {
			msg := fmt.Sprintf("%s not found: apt-get install %s", tool, pkg)
			if testenv.Required() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		return p
	}
	sfdisk, sgdisk := need("sfdisk", "fdisk"), need("sgdisk", "gdisk")
	mbr, gpt = filepath.Join(dir, "mbr.img"), filepath.Join(dir, "gpt.img")
	for _, p := range []string{mbr, gpt} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Truncate(p, 64<<20)
	}
	cmd := exec.Command(sfdisk, "-q", mbr)
	cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=40960, type=5\n" +
		"start=12288, size=4096, type=83\nstart=18432, size=2048, type=82\nstart=22528, size=1000, type=7\nstart=51200, size=10000, type=c\n")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, b)
	}
	if b, err := exec.Command(sgdisk, "-o", "-n", "1:2048:+4M", "-c", "1:boot", "-t", "1:ef00", "-n", "2:0:+8M",
		"-n", "4:0:+1M", "-n", "9:0:+2M", gpt).CombinedOutput(); err != nil {
		t.Fatalf("sgdisk: %v\n%s", err, b)
	}
	return mbr, gpt
}

// TestPartitionsAndSysfsAgainstRealUML: for sfdisk and sgdisk images, an odd-sized raw
// image and a COW device, the real kernel's /proc/partitions, /sys/block values, blockdev
// ioctl answers and fdisk's geometry are what this package answers.
func TestPartitionsAndSysfsAgainstRealUML(t *testing.T) {
	w := t.TempDir()
	chdir(t, w)
	mkTables(t, w)
	os.WriteFile("odd.img", bytes.Repeat([]byte{1}, 1000000), 0o644)
	makeBase(t, "base.img")
	if _, err := cow.Create("c.cow", "base.img", false); err != nil {
		t.Fatal(err)
	}
	// ubd5d: a COW file used as plain data is sized like its backing file (a quirk).
	words := []string{"ubd1=mbr.img,,SER1", "ubd2rt=gpt.img", "ubd3=odd.img", "ubd4=c.cow,base.img", "ubd5d=c.cow"}
	devs := []string{"ubdb", "ubdb1", "ubdb2", "ubdb7", "ubdc", "ubdc4", "ubdc9", "ubdd", "ubde", "ubdf"}
	script := "#!/bin/sh\nmount -t proc proc /proc\nmount -t sysfs sys /sys\necho PROC-BEGIN\ncat /proc/partitions\necho PROC-END\n"
	for _, d := range []string{"ubdb", "ubdc", "ubdd", "ubde", "ubdf"} {
		script += fmt.Sprintf("echo \"SYS %[1]s size=$(cat /sys/block/%[1]s/size) ro=$(cat /sys/block/%[1]s/ro) serial=$(cat /sys/block/%[1]s/serial) dmax=$(cat /sys/block/%[1]s/queue/discard_max_bytes)\"\n", d)
		script += fmt.Sprintf("echo \"GEO %[1]s $(fdisk -l /dev/%[1]s 2>/dev/null | grep -o '[0-9]* cylinders, [0-9]* heads, [0-9]* sectors/track')\"\n", d)
	}
	for _, d := range devs {
		script += fmt.Sprintf("echo \"BLK %[1]s $(blockdev --getsize64 /dev/%[1]s) $(blockdev --getsz /dev/%[1]s) $(blockdev --getss /dev/%[1]s) $(blockdev --getro /dev/%[1]s) $(blockdev --getbsz /dev/%[1]s) $(blockdev --getra /dev/%[1]s)\"\n", d)
	}
	root := testenv.BusyboxRoot(t, map[string]string{"/p.sh": script + poweroff})
	out := strings.ReplaceAll((&testenv.UML{Root: root, Init: "/p.sh", Dir: w, Args: words}).Run(t), "\r", "")

	var ds []*Device
	for _, word := range words {
		d, _ := open(t, word)
		ds = append(ds, d)
	}
	a, b := strings.Index(out, "PROC-BEGIN\n"), strings.Index(out, "PROC-END\n")
	if a < 0 || b < a {
		t.Fatalf("no /proc/partitions in the console:\n%s", out)
	}
	if real, ours := out[a+len("PROC-BEGIN\n"):b], ProcPartitions(ds...); real != ours {
		t.Errorf("/proc/partitions differs:\nreal:\n%s\nours:\n%s", real, ours)
	}
	for _, d := range ds {
		want := fmt.Sprintf("SYS %s size=%s ro=%s serial=%s dmax=%d", d.Name, strings.TrimSpace(d.SysfsSize()), strings.TrimSpace(d.SysfsRO()), d.SysfsSerial(), d.DiscardMaxBytes())
		if !strings.Contains(out, want+"\n") {
			t.Errorf("real console lacks %q", want)
		}
		if d.Name == "ubdc" {
			// busybox fdisk prefers the geometry a table's CHS fields imply, and the
			// protective MBR of a GPT implies its own.
			continue
		}
		_, g, _ := d.Ioctl(HDIO_GETGEO, nil)
		want = fmt.Sprintf("GEO %s %d cylinders, %d heads, %d sectors/track", d.Name, binary.LittleEndian.Uint16(g[2:]), g[0], g[1])
		if !strings.Contains(out, want+"\n") {
			t.Errorf("real console lacks %q", want)
		}
	}
	for _, name := range devs {
		var dev interface {
			Ioctl(uintptr, []byte) (int, []byte, error)
		}
		for _, d := range ds {
			if d.Name == name {
				dev = d
			}
			for _, p := range d.Partitions() {
				if p.Name() == name {
					dev = p
				}
			}
		}
		if dev == nil {
			t.Errorf("we have no %s", name)
			continue
		}
		_, s64, _ := dev.Ioctl(BLKGETSIZE64, nil)
		_, ss, _ := dev.Ioctl(BLKSSZGET, nil)
		_, ro, _ := dev.Ioctl(BLKROGET, nil)
		_, bsz, _ := dev.Ioctl(BLKBSZGET, nil)
		_, ra, _ := dev.Ioctl(BLKRAGET, nil)
		want := fmt.Sprintf("BLK %s %d %d %d %d %d %d", name, u64(s64), u64(s64)/512, binary.LittleEndian.Uint32(ss),
			binary.LittleEndian.Uint32(ro), binary.LittleEndian.Uint32(bsz), u64(ra))
		if !strings.Contains(out, want+"\n") {
			t.Errorf("real console lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("console:\n%s", out)
	}
}
