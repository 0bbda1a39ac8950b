package mconsole

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

type captured struct {
	data    []byte
	fromLen uint32 // 2 = sent from an unbound socket
}

// listenNotify binds a notify socket and collects up to n datagrams until timeout.
func listenNotify(t *testing.T, path string) (*dgram, func(n int, timeout time.Duration) []captured) {
	t.Helper()
	a, err := fullAddr(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDgram(&a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, func(n int, timeout time.Duration) []captured {
		var out []captured
		d.f.SetReadDeadline(time.Now().Add(timeout))
		for len(out) < n {
			buf := make([]byte, 2048)
			m, from, err := d.recvFrom(buf)
			if err != nil {
				break
			}
			out = append(out, captured{buf[:m], from.len})
		}
		return out
	}
}

// TestNotifyAgainstRealUML receives what a real linux.uml sends to mconsole=notify:<path>
// (MCONSOLE_SOCKET at boot, MCONSOLE_USER_NOTIFY for guest writes to /proc/mconsole,
// MCONSOLE_PANIC when init dies) and checks our Server sends the same bytes for the same
// events, from an unbound socket like the kernel.
func TestNotifyAgainstRealUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/notify.sh": "#!/bin/sh\nmount -t proc proc /proc\n" +
		"echo x > /proc/mconsole\nprintf 'two words' > /proc/mconsole\nexit 3\n"})
	np := filepath.Join(t.TempDir(), "notify")
	_, collect := listenNotify(t, np)

	// init exits, so the kernel panics and aborts: keep it from writing a core file.
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_CORE, &old)
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: old.Max})
	u := &testenv.UML{Root: root, Init: "/notify.sh", Umid: "notify", Timeout: 5 * time.Minute,
		Args: []string{"mconsole=notify:" + np}}
	cmd, out := u.Start(t)
	syscall.Setrlimit(syscall.RLIMIT_CORE, &old)
	realPkts := collect(4, 3*time.Minute)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("the real kernel should die of the panic, got %v", err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
	}
	if len(realPkts) != 4 {
		t.Fatalf("got %d notifications from the real kernel, want 4\n--- console ---\n%s", len(realPkts), out.String())
	}
	realSock := filepath.Join(u.UmlDir, u.Umid, "mconsole")

	// Ours: the same events.
	dir := t.TempDir()
	ourNotify := filepath.Join(dir, "notify")
	_, collectOurs := listenNotify(t, ourNotify)
	s := NewServer()
	ourSock := filepath.Join(dir, "mconsole")
	if err := s.Listen(ourSock, ourNotify); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.NotifyUser([]byte("x\n"))
	s.NotifyUser([]byte("two words"))
	s.NotifyPanic("Attempted to kill init! exitcode=0x00000300")
	ourPkts := collectOurs(4, 10*time.Second)
	if len(ourPkts) != 4 {
		t.Fatalf("our server sent %d notifications, want 4", len(ourPkts))
	}

	for i := range realPkts {
		rp, op := realPkts[i], ourPkts[i]
		if rp.fromLen != op.fromLen {
			t.Errorf("notification %d: sender address length ours %d, real %d", i, op.fromLen, rp.fromLen)
		}
		rn, err := UnmarshalNotification(rp.data)
		if err != nil {
			t.Fatalf("real notification %d: %v", i, err)
		}
		on, err := UnmarshalNotification(op.data)
		if err != nil {
			t.Fatalf("our notification %d: %v", i, err)
		}
		if rn.Type != on.Type || rn.Magic != on.Magic || rn.Version != on.Version {
			t.Errorf("notification %d: ours %v/%#x/%d, real %v/%#x/%d", i, on.Type, on.Magic, on.Version, rn.Type, rn.Magic, rn.Version)
		}
		want := rp.data
		if i == 0 {
			// The socket path differs; the layout (path + NUL, len counting the NUL) must not.
			if string(rn.Data) != realSock+"\x00" {
				t.Errorf("real MCONSOLE_SOCKET data %q, want %q", rn.Data, realSock+"\x00")
			}
			w := NewNotification(NotifySocket, []byte(ourSock+"\x00"))
			want, _ = w.Marshal()
			rebuilt := NewNotification(rn.Type, []byte(realSock+"\x00"))
			if rb, _ := rebuilt.Marshal(); !bytes.Equal(rb, rp.data) {
				t.Errorf("real MCONSOLE_SOCKET is not header+path+NUL: %q", rp.data)
			}
		}
		if !bytes.Equal(op.data, want) {
			t.Errorf("notification %d:\nours %q\nreal %q", i, op.data, rp.data)
		}
	}
	if !strings.Contains(out.String(), "Kernel panic") {
		t.Errorf("expected the real kernel to panic\n%s", out.String())
	}
}
