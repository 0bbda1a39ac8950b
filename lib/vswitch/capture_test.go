package vswitch_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/vswitch"
)

// TestRequestFromRealUML stands in for a switch and takes the attach request the real
// linux.uml sends, checking it against docs/interfaces.md §3's layout (and our parser). With
// GOUML_CAPTURE_DIR set it writes the bytes there as a fuzz corpus file.
func TestRequestFromRealUML(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "fake.ctl")
	l, err := net.Listen("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		b := make([]byte, 124)
		n, _ := io.ReadFull(c, b)
		got <- b[:n]
		// No reply: the guest logs "read of data socket failed" and boots on without eth0.
	}()
	root := testenv.BusyboxRoot(t, map[string]string{"/halt.sh": "#!/bin/sh\n/bin/busybox poweroff -f\n"})
	u := &testenv.UML{Root: root, Init: "/halt.sh", Args: []string{"eth0=daemon,fe:fd:0a:00:00:09,unix," + ctl}}
	cmd, out := u.Start(t)
	var b []byte
	select {
	case b = <-got:
	case <-time.After(90 * time.Second):
		t.Fatalf("no request from linux.uml; console:\n%s", out.String())
	}
	_ = cmd.Wait()
	if len(b) != 124 {
		t.Fatalf("request of %d bytes, want 124: %x", len(b), b)
	}
	le := binary.LittleEndian
	if le.Uint32(b) != vswitch.Magic || le.Uint32(b[4:]) != 3 || le.Uint32(b[8:]) != vswitch.ReqNewControl {
		t.Errorf("header %x", b[:12])
	}
	if le.Uint16(b[12:]) != 1 || b[14] != 0 || b[15] != 0 || b[16] != 0 || b[17] != 0 {
		t.Errorf("data address does not start as an abstract AF_UNIX name: %x", b[12:24])
	}
	if pid := int(le.Uint32(b[18:])); pid != cmd.Process.Pid {
		t.Errorf("pid in the data address %d, linux.uml's pid %d", pid, cmd.Process.Pid)
	}
	r, err := vswitch.UnmarshalRequest(b)
	if err != nil || r.Version != 3 {
		t.Fatalf("our parser: %v %+v", err, r)
	}
	if d := os.Getenv("GOUML_CAPTURE_DIR"); d != "" {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(d, "linux-uml-6.1-request"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("request: %x", b)
	}
}
