package ext4

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const crashEnv = "GOUML_EXT4_CRASH_CHILD"

func crashContent(id int) []byte {
	rng := rand.New(rand.NewSource(int64(id)))
	b := make([]byte, rng.Intn(300000))
	rng.Read(b)
	return b
}

// The child writes at most crashFiles fsynced files per round, so the image's use is bounded
// by the test, not by how fast the machine is: one iteration adds at most a churn file and a
// synced file (each < 300000 bytes), 5000 bytes of log and a directory, under 620 KiB with
// metadata on 1 KiB blocks. crashRounds × crashFiles × 620 KiB is about 145 MiB, well inside
// the 256 MiB image even if no churn is ever freed, so ENOSPC in the child is a leak: a failure.
const (
	crashRounds = 10
	crashFiles  = 24
	crashImage  = 256 << 20
)

// crashChild writes files through the driver; after each Fsync returns it prints the file's
// id. After crashFiles files it says "done" and waits for the kill (or for stdin to close, so
// that it never outlives a parent that died).
func crashChild(img string, base int) {
	dev, err := OpenFile(img, false)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fs, err := Mount(dev, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	root := fs.Root()
	rng := rand.New(rand.NewSource(int64(base)))
	logIno, err := fs.Create(root, fmt.Sprintf("log%d", base), 0o644, 0, 0, 0)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	var logOff int64
	for i := base; i < base+crashFiles; i++ {
		// churn that is never synced on purpose
		tmp := fmt.Sprintf("tmp%d", i)
		if t, err := fs.Create(root, tmp, 0o644, 0, 0, 0); err == nil {
			fs.WriteAt(t, crashContent(i+1e6), 0)
			if rng.Intn(2) == 0 {
				fs.Unlink(root, tmp)
			}
		}
		if rng.Intn(4) == 0 {
			fs.Mkdir(root, fmt.Sprintf("dir%d", i), 0o755, 0, 0)
		}
		n, _ := fs.WriteAt(logIno, bytes.Repeat([]byte{byte(i)}, 5000), logOff)
		logOff += int64(n)

		name := fmt.Sprintf("f%d", i)
		ino, err := fs.Create(root, name, 0o644, 0, 0, 0)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		data := crashContent(i)
		if _, err := fs.WriteAt(ino, data, 0); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if err := fs.Fsync(ino); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ok", i)
	}
	fmt.Println("done")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestCrashSafety kills a child that writes through the driver at random points of its work,
// then checks that e2fsck can repair the image, that it is clean afterwards and that every file
// the child had fsynced is intact. The kill point is chosen by progress, not by wall time, so
// that it falls anywhere in the child's work on a fast machine and a slow one alike: wait for a
// random number of fsynced files, then for a random fraction of one file's time.
func TestCrashSafety(t *testing.T) {
	if img := os.Getenv(crashEnv); img != "" {
		base, _ := strconv.Atoi(os.Getenv(crashEnv + "_BASE"))
		crashChild(img, base)
		return
	}
	img := mkfs(t, "ext4", crashImage, "")
	synced := map[int]bool{}
	seed := time.Now().UnixNano()
	if s := os.Getenv("GOUML_EXT4_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("kill timing seed %d (GOUML_EXT4_CRASH_SEED)", seed)
	rng := rand.New(rand.NewSource(seed))
	// How long one file takes in the child, measured between its progress lines over all
	// rounds so far; the first guess only matters for a kill in round 0's first file.
	var stepSum time.Duration
	steps := 0
	step := func() time.Duration {
		if steps == 0 {
			return 5 * time.Millisecond
		}
		return stepSum / time.Duration(steps)
	}
	for round := 0; round < crashRounds; round++ {
		base := round * 100000
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashEnv+"="+img, crashEnv+"_BASE="+strconv.Itoa(base))
		stdin, err := cmd.StdinPipe()
		must(t, err)
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill while the child works on file number "after" (counted from 0 in this round):
		// after "ready" and that many "ok" lines, somewhere in the next file's churn, create,
		// write or fsync.
		after := rng.Intn(crashFiles)
		delay := time.Duration(rng.Float64() * 1.2 * float64(step()))
		handle := func(l string) {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == "ok" {
				id, _ := strconv.Atoi(f[1])
				synced[id] = true
			} else if len(f) > 0 && f[0] == "error" {
				cmd.Process.Kill()
				t.Fatalf("round %d: child: %s", round, l)
			}
		}
		progress, last := -1, time.Time{}
		deadline := time.After(2 * time.Minute)
		for progress < after {
			select {
			case l, ok := <-lines:
				if !ok {
					cmd.Process.Kill()
					t.Fatalf("round %d: child exited after %d files, before the kill", round, progress)
				}
				handle(l)
				if l == "ready" || strings.HasPrefix(l, "ok ") {
					now := time.Now()
					if progress >= 0 {
						stepSum += now.Sub(last)
						steps++
					}
					progress, last = progress+1, now
				}
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("round %d: child made no progress for 2 minutes (%d files)", round, progress)
			}
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		for l := range lines {
			handle(l)
		}
		stdin.Close()
		cmd.Wait()
		if code, out := fsck(t, img, "-fy"); code > 1 {
			t.Fatalf("round %d: e2fsck -fy could not repair: exit %d\n%s", round, code, out)
		}
		fsckClean(t, img)
		fs, dev := mount(t, img, true)
		for id := range synced {
			ino, err := fs.Lookup(fs.Root(), fmt.Sprintf("f%d", id))
			if err != nil {
				t.Fatalf("round %d: fsynced file f%d lost: %v", round, id, err)
			}
			if got := readAll(t, fs, ino); !bytes.Equal(got, crashContent(id)) {
				t.Fatalf("round %d: fsynced file f%d damaged (%d bytes, want %d)", round, id, len(got), len(crashContent(id)))
			}
		}
		unmount(t, fs, dev)
	}
	if len(synced) == 0 {
		t.Fatal("the child never completed an fsync")
	}
	t.Logf("%d fsynced files survived %d crashes (a file took %v in the child)", len(synced), crashRounds, step())
}
