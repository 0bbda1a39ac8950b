package testenv

import (
	"strings"
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
