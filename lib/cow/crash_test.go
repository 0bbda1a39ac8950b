package cow_test

import (
	"bytes"
	"math/rand/v2"
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

// fillCOW marks every other 64 KiB chunk of the device as written in the COW file, with data
// that differs from the backing file's (and some all-zero sectors, which must stay holes).
func fillCOW(t testing.TB, cowPath string) {
	t.Helper()
	f, err := cow.Open(cowPath, cow.OpenOptions{Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const chunk = 64 << 10
	data := make([]byte, chunk)
	for off := int64(0); off+chunk <= int64(f.Header.Size); off += 2 * chunk {
		for i := range data {
			data[i] = byte(off>>16) ^ byte(i) ^ 0x5a
		}
		if off%(8*chunk) == 0 {
			clear(data[:4096]) // zero sectors the guest wrote: merged as zeros
		}
		if err := f.WriteSectors(off/cow.SectorSize, data); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBacking(t testing.TB, path string, size int) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, backingMTime, backingMTime); err != nil {
		t.Fatal(err)
	}
}

// killAtRandom starts cmd and kills it with SIGKILL after a random delay (or lets it finish).
func killAtRandom(t *testing.T, r *rand.Rand, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(r.IntN(100)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestMooKilledAndRunAgain: uml_moo killed with SIGKILL at random moments never leaves a
// half-written image under the final name, and running it again gives the exact image a
// clean merge gives — for new-file and for in-place (-d) merges.
func TestMooKilledAndRunAgain(t *testing.T) {
	moo := testenv.Program(t, "uml_moo")
	w := t.TempDir()
	back := filepath.Join(w, "back.img")
	randomBacking(t, back, 48<<20)
	cowPath := filepath.Join(w, "c.cow")
	if _, err := cow.Create(cowPath, back, false); err != nil {
		t.Fatal(err)
	}
	fillCOW(t, cowPath)
	ref := filepath.Join(w, "ref.img")
	mustRun(t, w, moo, cowPath, ref)
	want, _ := os.ReadFile(ref)
	if bytes.Equal(want, mustRead(t, back)) {
		t.Fatal("the COW file changes nothing: the test would prove nothing")
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	t.Run("new file", func(t *testing.T) {
		for i := 0; i < 6; i++ {
			out := filepath.Join(w, "out.img")
			os.Remove(out)
			killAtRandom(t, r, moo, cowPath, out)
			if got, err := os.ReadFile(out); err == nil && !bytes.Equal(got, want) {
				t.Fatalf("round %d: a killed merge left a wrong image under the final name", i)
			}
			mustRun(t, w, moo, cowPath, out)
			if !bytes.Equal(mustRead(t, out), want) {
				t.Fatalf("round %d: rerun after kill gives a different image", i)
			}
			if left, _ := filepath.Glob(filepath.Join(w, ".out.img*")); len(left) != 0 {
				t.Fatalf("round %d: temporary files left behind: %v", i, left)
			}
		}
	})
	t.Run("in place", func(t *testing.T) {
		for i := 0; i < 6; i++ {
			ip := filepath.Join(w, "ip.img")
			copyFile(t, back, ip)
			killAtRandom(t, r, moo, "-d", "-b", ip, cowPath)
			out, rc := run(t, w, moo, "-d", "-b", ip, cowPath)
			if rc != 0 {
				// Only acceptable when the killed run had in fact finished.
				if !strings.Contains(out, "mtime mismatch") {
					t.Fatalf("round %d: rerun failed: %s", i, out)
				}
				if _, err := os.Stat(ip + ".uml_moo-merging"); err == nil {
					t.Fatalf("round %d: rerun refused although a journal exists", i)
				}
			}
			if !bytes.Equal(mustRead(t, ip), want) {
				t.Fatalf("round %d: in-place merge after kill gives a different image (rerun said %q)", i, out)
			}
		}
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMergeSparseAndPartial: zero sectors become holes, a trailing partial sector is merged
// (the real tool drops it) and the output has the backing file's exact length.
func TestMergeSparseAndPartial(t *testing.T) {
	w := t.TempDir()
	back := filepath.Join(w, "back.img")
	size := 1<<20 + 100
	b := make([]byte, size)
	copy(b[size-100:], "TAIL-OF-BACKING")
	copy(b[4096*10:], "DATA-IN-BLOCK-10")
	if err := os.WriteFile(back, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(w, "c.cow")
	if _, err := cow.Create(c, back, false); err != nil {
		t.Fatal(err)
	}
	cf, err := cow.Open(c, cow.OpenOptions{Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	last := cf.Header.Sectors() - 1
	sec := make([]byte, 512)
	copy(sec, "COW-TAIL")
	if err := cf.WriteSectors(last, sec); err != nil {
		t.Fatal(err)
	}
	if err := cf.WriteSectors(last, append(sec, sec...)); err == nil {
		t.Fatal("a write past the device's end was accepted")
	}
	out := filepath.Join(w, "out.img")
	if err := cf.MergeTo(out, nil); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, out)
	if len(got) != size {
		t.Fatalf("length %d, want %d", len(got), size)
	}
	if !bytes.HasPrefix(got[last*512:], []byte("COW-TAIL")) || !bytes.HasPrefix(got[4096*10:], []byte("DATA-IN-BLOCK-10")) {
		t.Fatalf("merged content wrong")
	}
	if du := diskUsage(t, out); du > 3*4096 {
		t.Fatalf("output not sparse: %d bytes on disk for 2 non-zero blocks", du)
	}
}
