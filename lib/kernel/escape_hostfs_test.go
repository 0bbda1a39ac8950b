package kernel_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostfsLab is the hostfs= directory of the escape suite (testdata/escape_hostfs.c): rw/ is
// mounted read-write by the guest and holds symlinks leading out (absolute, relative, up), a
// symlink the host swaps between a directory and the directory above while the guest runs;
// ro/ is mounted read-only and must not change at all. When the test runs as root, a host
// tmpfs is mounted at ro/mnt, so the guest's read-only mount has a host mount below it.
type hostfsLab struct {
	dir     string
	secret  string
	mounted bool
	ro      map[string]string
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newHostfsLab(t *testing.T, dir, secret string, uid, gid int) *hostfsLab {
	t.Helper()
	l := &hostfsLab{dir: filepath.Join(dir, "lab"), secret: secret, stop: make(chan struct{})}
	files := map[string]string{
		"rw/f": "lab\n", "rw/sub/s": "sub\n", "rw/hswdir/secret": "inside\n",
		"ro/f": "ro\n", "ro/sub/s": "ro sub\n",
	}
	for name, data := range files {
		p := filepath.Join(l.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"rw/abs": secret, "rw/rel": "../../secret", "rw/up": "../..", "rw/hsw": "hswdir",
	} {
		if err := os.Symlink(target, filepath.Join(l.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		mnt := filepath.Join(l.dir, "ro/mnt")
		os.Mkdir(mnt, 0o755)
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=1777"); err != nil {
			t.Fatalf("mounting a tmpfs below the hostfs directory: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		if err := os.WriteFile(filepath.Join(mnt, "w"), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(mnt, "w"), 0o666)
		l.mounted = true
	}
	filepath.WalkDir(l.dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, uid, gid)
		}
		return nil
	})
	l.ro = l.snapshotRO()
	// the host swaps rw/hsw between a directory of the lab and the directories above it
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		hsw, tmp := filepath.Join(l.dir, "rw/hsw"), filepath.Join(l.dir, "rw/hsw.host")
		targets := []string{"hswdir", filepath.Dir(secret), "../..", "hswdir"}
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			os.Remove(tmp)
			os.Symlink(targets[i%len(targets)], tmp)
			os.Rename(tmp, hsw)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	return l
}

// args are the command line words that give the guest the lab.
func (l *hostfsLab) args() []string {
	a := []string{"hostfs=" + l.dir, "HOSTFS=1"}
	if l.mounted {
		a = append(a, "HOSTMNT=1")
	}
	return a
}

// snapshotRO describes every file below ro/: type, mode, owner, contents, symlink target,
// xattrs, and times (a utimes reaching the host shows there).
func (l *hostfsLab) snapshotRO() map[string]string {
	out := map[string]string{}
	root := filepath.Join(l.dir, "ro")
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		out[p] = fmt.Sprintf("%s mtime %d.%d ctime %d.%d", describe(p), st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		return nil
	})
	return out
}

// check stops the host's swapping and judges from the host: nothing below ro/ changed, and
// no file of the lab is the secret beside it (a hard link made through a way out).
func (l *hostfsLab) check(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	for _, b := range changedFiles(l.ro, l.snapshotRO()) {
		t.Errorf("below the read-only hostfs mount: %s", b)
	}
	sec, err := os.Stat(l.secret)
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(l.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if fi, err := os.Lstat(p); err == nil && os.SameFile(fi, sec) {
			t.Errorf("%s is a hard link of the secret beside the hostfs directory", p)
		}
		return nil
	})
}
