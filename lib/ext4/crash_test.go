package ext4

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
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

// crashChild writes files through the driver until it is killed; after each Fsync returns
// it prints the file's id. When the image is full it says so and waits for the kill.
func crashChild(img string, base int) {
	fail := func(err error) {
		if errors.Is(err, syscall.ENOSPC) {
			fmt.Println("full")
			time.Sleep(time.Hour) // until killed
		}
		fmt.Println("error", err)
		os.Exit(2)
	}
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
		fail(err)
	}
	var logOff int64
	for i := base; ; i++ {
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
			fail(err)
		}
		data := crashContent(i)
		if _, err := fs.WriteAt(ino, data, 0); err != nil {
			fail(err)
		}
		if err := fs.Fsync(ino); err != nil {
			fail(err)
		}
		fmt.Println("ok", i)
	}
}

func TestCrashSafety(t *testing.T) {
	if img := os.Getenv(crashEnv); img != "" {
		base, _ := strconv.Atoi(os.Getenv(crashEnv + "_BASE"))
		crashChild(img, base)
		return
	}
	img := mkfs(t, "ext4", 256<<20, "")
	synced := map[int]bool{}
	seed := time.Now().UnixNano()
	if s := os.Getenv("GOUML_EXT4_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("kill timing seed %d (GOUML_EXT4_CRASH_SEED)", seed)
	rng := rand.New(rand.NewSource(seed))
	full := false
	// a fast machine fills the image before ten rounds are over: then the last round was
	// the last useful one
	for round := 0; round < 10 && !full; round++ {
		base := round * 100000
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashEnv+"="+img, crashEnv+"_BASE="+strconv.Itoa(base))
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
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		cmd.Process.Kill()
		for l := range lines {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == "ok" {
				id, _ := strconv.Atoi(f[1])
				synced[id] = true
			} else if len(f) == 1 && f[0] == "full" {
				full = true
				t.Logf("round %d filled the image", round)
			} else if len(f) > 0 && f[0] == "error" {
				t.Fatalf("round %d: child: %s", round, l)
			}
		}
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
	t.Logf("%d fsynced files survived the crashes", len(synced))
}
