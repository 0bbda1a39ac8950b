package ext4

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	must(t, err)
	must(t, os.WriteFile(dst, b, 0o644))
}

func readBlocks(t *testing.T, img string, bs int64, blks []int64) []byte {
	f, err := os.Open(img)
	must(t, err)
	defer f.Close()
	var out []byte
	for _, b := range blks {
		buf := make([]byte, bs)
		_, err := f.ReadAt(buf, b*bs)
		must(t, err)
		out = append(out, buf...)
	}
	return out
}

// dirtyJournal makes an image whose journal holds, written by debugfs: a committed
// transaction writing f's blocks 0 and 1 (block 0's data starts with the jbd2 magic, so it
// is escaped), a committed transaction revoking block 1, and an uncommitted one writing
// block 2. It returns the image and the three block numbers.
func dirtyJournal(t *testing.T, kind string, mkfsArgs []string, joArgs string) (string, int64, []int64) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	rng := rand.New(rand.NewSource(3))
	orig := make([]byte, 40000)
	rng.Read(orig)
	must(t, os.WriteFile(filepath.Join(src, "f"), orig, 0o644))
	img := mkfs(t, kind, 64<<20, src, mkfsArgs...)
	bs := int64(1024)
	if out := debugfs(t, img, "stats"); strings.Contains(out, "Block size:               4096") {
		bs = 4096
	}
	var blks []int64
	for i := 0; i < 3; i++ {
		out := debugfs(t, img, "bmap /f "+strconv.Itoa(i))
		f := strings.Fields(out)
		n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		must(t, err)
		blks = append(blks, n)
	}
	data := bytes.Repeat([]byte("J"), int(2*bs))
	copy(data, []byte{0xC0, 0x3B, 0x39, 0x98, 0, 0, 0, 1})
	dir := t.TempDir()
	df := filepath.Join(dir, "data")
	must(t, os.WriteFile(df, data, 0o644))
	cmds := "jo " + joArgs + "\n" +
		"jw -b " + strconv.FormatInt(blks[0], 10) + "," + strconv.FormatInt(blks[1], 10) + " " + df + "\n" +
		"jw -r " + strconv.FormatInt(blks[1], 10) + " /dev/null\n" +
		"jw -b " + strconv.FormatInt(blks[2], 10) + " -c " + df + "\njc\n"
	cf := filepath.Join(dir, "cmds")
	must(t, os.WriteFile(cf, []byte(cmds), 0o644))
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-w", "-f", cf, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	if st := debugfs(t, img, "stats"); !strings.Contains(st, "needs_recovery") {
		t.Fatalf("debugfs left no dirty journal:\n%s", st)
	}
	return img, bs, blks
}

func TestJournalReplayMatchesE2fsck(t *testing.T) {
	for _, c := range []struct {
		name, kind string
		args       []string
		jo         string
	}{
		{"ext3", "ext3", nil, ""},
		{"ext4-csum3", "ext4", nil, "-c"},
		{"ext4-csum2", "ext4", []string{"-b", "4096"}, "-c -v 2"},
		{"ext4-nocsum-4k", "ext4", []string{"-b", "4096", "-O", "^metadata_csum"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, bs, blks := dirtyJournal(t, c.kind, c.args, c.jo)
			ref := img + ".e2fsck"
			copyFile(t, img, ref)
			if code, out := fsck(t, ref, "-fy"); code > 1 {
				t.Fatalf("e2fsck -fy: %d\n%s", code, out)
			}
			// a read-only mount cannot replay
			dev, err := OpenFile(img, true)
			must(t, err)
			if _, err := Mount(dev, Options{ReadOnly: true}); !errors.Is(err, syscall.EROFS) {
				t.Fatalf("read-only mount of a dirty journal: %v", err)
			}
			fs, err := Mount(dev, Options{ReadOnly: true, NoLoad: true})
			must(t, err)
			must(t, fs.Unmount())
			dev.Close()

			fs, dev = mount(t, img, false)
			ino, err := walkPath(fs, "f")
			must(t, err)
			got := readAll(t, fs, ino)
			unmount(t, fs, dev)
			fsckClean(t, img)
			ours, theirs := readBlocks(t, img, bs, blks), readBlocks(t, ref, bs, blks)
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("replayed blocks differ from e2fsck's replay: ours %x %x %x, e2fsck %x %x %x", ours[:9], ours[bs:bs+4], ours[2*bs:2*bs+4], theirs[:9], theirs[bs:bs+4], theirs[2*bs:2*bs+4])
			}
			if ours[0] != 0xC0 || ours[8] != 'J' || ours[bs] == 'J' || ours[2*bs] == 'J' {
				t.Fatalf("unexpected replay result: block0 %x.. block1 %x.. block2 %x..", ours[:9], ours[bs:bs+4], ours[2*bs:2*bs+4])
			}
			if !bytes.Equal(got[:bs], ours[:bs]) {
				t.Fatalf("file read after replay does not show the journaled block")
			}
			if st := debugfs(t, img, "stats"); strings.Contains(st, "needs_recovery") {
				t.Fatalf("needs_recovery still set after our replay")
			}
		})
	}
}
