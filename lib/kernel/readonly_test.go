package kernel

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadOnlyCoversHostMountsBelow: a tree copy made read-only refuses writes on the host
// all the way down, in the host mounts below its directory too (a hostfs directory or a
// directory root with a mount inside), and a file open for writing there keeps it from
// becoming read-only (EBUSY, as Linux's remount with a writer). Run in a mount namespace of
// one locked thread, so nothing is mounted on the host.
func TestReadOnlyCoversHostMountsBelow(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a host mount below the directory needs root")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, 16)
	go func() {
		defer close(errs)
		// never unlocked: the thread leaves its mount namespace only by ending
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errs <- "unshare: " + err.Error()
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			errs <- "making the namespace private: " + err.Error()
			return
		}
		if err := unix.Mount("tmpfs", filepath.Join(dir, "sub"), "tmpfs", 0, "size=1m"); err != nil {
			errs <- "mounting a tmpfs below: " + err.Error()
			return
		}
		r, err := cloneRoot(dir, false)
		if err != nil {
			errs <- err.Error()
			return
		}
		defer unix.Close(r.clone)
		create := func(name string) error {
			fd, err := unix.Openat(r.fd, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}
		if err := create("sub/a"); err != nil {
			errs <- "writable copy: " + err.Error()
		}
		if err := r.SetReadOnly(true); err != nil {
			errs <- "read-only: " + err.Error()
		}
		for _, name := range []string{"b", "sub/b"} {
			if err := create(name); err != unix.EROFS {
				errs <- "creating " + name + " below the read-only copy: " + errString(err) + ", want EROFS"
			}
		}
		if fd, err := unix.Openat(r.fd, "sub/a", unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0); err != unix.EROFS {
			errs <- "truncating sub/a below the read-only copy: " + errString(err) + ", want EROFS"
			if err == nil {
				unix.Close(fd)
			}
		}
		if err := r.SetReadOnly(false); err != nil {
			errs <- "read-write again: " + err.Error()
		}
		if err := create("sub/c"); err != nil {
			errs <- "writable again below: " + err.Error()
		}
		fd, err := unix.Openat(r.fd, "sub/a", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errs <- "opening sub/a for writing: " + err.Error()
			return
		}
		if err := r.SetReadOnly(true); err != unix.EBUSY {
			errs <- "read-only with a writer below: " + errString(err) + ", want EBUSY"
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			errs <- "the writer after the refused remount: " + err.Error()
		}
		unix.Close(fd)
	}()
	for e := range errs {
		t.Error(e)
	}
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}
