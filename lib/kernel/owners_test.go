package kernel_test

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// TestMkrootfsOwnersAndSetuid: a directory root made by our mkrootfs as an ordinary user
// carries owners, set-id bits and device nodes in extended attributes (lib/rootfs); the
// kernel, run by the same user, shows them to the guest, and a set-user-ID-root program run
// by guest uid 1000 gets euid 0, as on Linux.
func TestMkrootfsOwnersAndSetuid(t *testing.T) {
	bb := testenv.BusyboxRoot(t, nil)
	prog := filepath.Join(t.TempDir(), "euid")
	buildStatic(t, "testdata/euid.c", prog)
	dir := t.TempDir()
	tarball := filepath.Join(dir, "extra.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	progData, _ := os.ReadFile(prog)
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	add(&tar.Header{Name: "home/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "home/u/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000}, nil)
	add(&tar.Header{Name: "home/u/file", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 1000, Gid: 100}, []byte("mine\n"))
	add(&tar.Header{Name: "euid", Typeflag: tar.TypeReg, Mode: 0o755}, progData)
	add(&tar.Header{Name: "suid", Typeflag: tar.TypeReg, Mode: 0o4755}, progData)
	add(&tar.Header{Name: "dev/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "dev/mynull", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, nil)
	add(&tar.Header{Name: "t.sh", Typeflag: tar.TypeReg, Mode: 0o755}, []byte("#!/bin/sh\n"+
		"ls -ln /home/u/file | awk '{print $1, $3, $4}'\nstat -c '%a %u %g' /suid /home/u\n"+
		"ls -l /dev/mynull | awk '{print $1, $5, $6}'\necho x > /dev/mynull && echo wrote-null\n"+
		"/euid\n/euid drop\n/bin/busybox poweroff -f\n"))
	tw.Close()
	f.Close()

	root := filepath.Join(dir, "root")
	umlDir := unprivileged(t, dir) // chowns dir (with the tarball) to the test user
	mk := testenv.Program(t, "mkrootfs")
	if out, err := exec.Command("runuser", "-u", testUser, "--", mk, "-q", "--no-uml", "-t", "dir", "-o", root, bb, tarball).CombinedOutput(); err != nil {
		t.Fatalf("mkrootfs as %s: %v\n%s", testUser, err, out)
	}
	if st, err := os.Stat(filepath.Join(root, "suid")); err != nil || st.Mode()&os.ModeSetuid != 0 {
		t.Fatalf("the host file must not be setuid: %v %v", st.Mode(), err)
	}
	out, errs, status := run{asUser: true, timeout: 60 * time.Second,
		args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + umlDir}}.do(t)
	want := "-rw-r----- 1000 100\n4755 0 0\n700 1000 1000\ncrw-rw-rw- 1, 3\nwrote-null\n" +
		"/euid uid=0 euid=0 gid=0 egid=0\ndropped uid=1000 euid=1000\nsuid uid=1000 euid=0 gid=1000 egid=1000\n"
	if status != 0 || out != want {
		t.Fatalf("status %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", status, out, want, errs)
	}
}
