package kernel

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/mconsole"
	"golang.org/x/sys/unix"
)

// FuzzMconsoleCommand sends arbitrary command texts to the emulator's console handlers
// (attached to a machine with no processes): every command gets a complete answer, and no
// handler panics (the server would answer "internal error").
func FuzzMconsoleCommand(f *testing.F) {
	for _, s := range []string{"version", "proc meminfo", "proc uptime", "proc 1/status", "proc self/status",
		"proc ../../etc/passwd", "proc sys/kernel/ctrl-alt-del", "config ubd0", "config ubd99", "config con",
		"config con0", "config eth0=daemon", "config mem", "remove ubd0", "remove ubdx", "remove ubd16",
		"remove mem", "remove foo", "stack", "stack 1", "stack -5", "sysrq", "sysrq h", "sysrq e", "sysrq 7",
		"log hello", "log", "help", "stop", "go", "cad", "halt", "reboot", "bogus", "version\x00x"} {
		f.Add(s)
	}
	dir := f.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	root := &Root{fd: fd, clone: -1, guest: "/", ro: new(atomic.Bool)}
	defer root.Close()
	h := &mcHost{stderr: io.Discard, rootUnit: 0, rootFile: dir, conSpec: "fd:0,fd:1"}
	startMconsole(h, dir)
	if h.srv == nil {
		f.Fatal("mconsole did not start")
	}
	defer h.close()
	k := &Kernel{cfg: Config{Mem: 64 << 20, RootDir: dir}, root: root, start: time.Now(), tasks: map[int]*Task{},
		procs: map[int]*Process{}, uts: utsNames{hostname: "(none)", domain: "(none)"}, logged: map[int]bool{},
		shutdown: make(chan shutdownReq, 1), listener: -1}
	h.attach(k)
	c, err := mconsole.Dial(h.path)
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	f.Fuzz(func(t *testing.T, cmd string) {
		r, err := c.Command(cmd)
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		if strings.HasPrefix(r.Text, "internal error") {
			t.Fatalf("%q: %q", cmd, r.Text)
		}
	})
}
