package testenv

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRealUMLBootsBusyboxRoot proves the harness itself: the real kernel boots our busybox root
// over hostfs, runs the init script with its environment, and powers off with status 0.
func TestRealUMLBootsBusyboxRoot(t *testing.T) {
	root := BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc\necho \"HELLO-$greeting-$(cat /proc/sys/kernel/osrelease)\"\n/bin/busybox poweroff -f\n",
	})
	u := &UML{Root: root, Init: "/t.sh", Args: []string{"greeting=world"}}
	out := u.Run(t)
	if !strings.Contains(out, "HELLO-world-6.") {
		t.Fatalf("init script output missing:\n%s", out)
	}
	if strings.Contains(out, "buffer too short") {
		t.Fatalf("umid path too long for the kernel:\n%s", out)
	}
}

// TestListening tells a bound socket from a listening one.
func TestListening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if Listening(path) {
		t.Fatal("a bound socket that does not listen counts as listening")
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	if !Listening(path) {
		t.Fatal("a listening socket is not seen")
	}
	if Listening(path + "x") {
		t.Fatal("a path with no socket counts as listening")
	}
}
