package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/channel"
	"github.com/gouml/gouml/lib/cmdline"
	"golang.org/x/sys/unix"
)

// The xterm channel (docs/interfaces.md §5.2): a terminal emulator window per line, running
// port-helper, which sends its terminal to the kernel over a datagram socket. The confined
// kernel may execute nothing but itself, so the outer process runs the emulator for it: the
// kernel asks over a socketpair naming only the line ("open con 3", "close con 3"); the
// outer process builds the command itself from the command line's xterm= option — the
// kernel chooses neither the program nor its arguments — and kills only the windows it
// started.

const xtermEnv = "GOUML_XTERM_FD" // the kernel's end of the socketpair to the outer process

// portHelperPath is where the real kernel runs port-helper from (its literal path).
const portHelperPath = "/usr/lib//uml/port-helper"

// xtermTimeout is how long a line waits for the window's port-helper to call back.
const xtermTimeout = 60 * time.Second

// xtermOption splits xterm=PROG,TITLEOPT,EXECOPT (default x-terminal-emulator,-T,-e).
func xtermOption(s string) (prog, title, exe string) {
	prog, title, exe = "x-terminal-emulator", "-T", "-e"
	if s == "" {
		return
	}
	f := strings.SplitN(s, ",", 3)
	prog = f[0]
	if len(f) > 1 {
		title = f[1]
	}
	if len(f) > 2 {
		exe = f[2]
	}
	return
}

// xtermSocket is the datagram socket line kind/n's port-helper calls back on.
func xtermSocket(umidDir, kind string, n int) string {
	return filepath.Join(umidDir, "xterm-"+kind+strconv.Itoa(n))
}

// startXtermServer is the outer process's side: it returns the kernel's end of the
// socketpair (to pass as fd `first`) and the environment entry naming it.
func startXtermServer(c *cmdline.Config, umidDir string, first int) (*os.File, string, func()) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, xtermEnv + "=", func() {}
	}
	ours := os.NewFile(uintptr(sp[0]), "xterm-ctl")
	prog, titleOpt, execOpt := xtermOption(c.Xterm)
	helper := portHelperPath
	if unix.Access(helper, unix.X_OK) != nil {
		helper = "port-helper"
	}
	umid := filepath.Base(umidDir)
	var mu sync.Mutex
	windows := map[string]*exec.Cmd{}
	stop := func() {
		// the machine is gone: so are its windows
		ours.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, w := range windows {
			w.Process.Signal(syscall.SIGTERM)
		}
	}
	go func() {
		b := make([]byte, 64)
		for {
			n, err := ours.Read(b)
			if err != nil || n == 0 {
				return
			}
			f := strings.Fields(string(b[:n]))
			if len(f) != 3 || f[1] != "con" && f[1] != "ssl" {
				continue
			}
			num, err := strconv.Atoi(f[2])
			if err != nil || num < 0 || num >= cmdline.MaxSSL {
				continue
			}
			key := f[1] + f[2]
			mu.Lock()
			if w := windows[key]; w != nil {
				w.Process.Signal(syscall.SIGTERM)
				delete(windows, key)
			}
			if f[0] == "open" {
				title := fmt.Sprintf("%s #%d (%s)", map[string]string{"con": "Virtual Console", "ssl": "Serial Line"}[f[1]], num, umid)
				cmd := exec.Command(prog, titleOpt, title, execOpt, helper, "-uml-socket", xtermSocket(umidDir, f[1], num))
				cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
				if cmd.Start() == nil {
					windows[key] = cmd
					go cmd.Wait()
				}
			}
			mu.Unlock()
		}
	}()
	return os.NewFile(uintptr(sp[1]), "xterm-ctl"), xtermEnv + "=" + strconv.Itoa(first), stop
}

// xtermCtl is the kernel's end (nil when the outer process gave none).
var xtermCtl = sync.OnceValue(func() *os.File {
	n, err := strconv.Atoi(os.Getenv(xtermEnv))
	if err != nil || n < 3 {
		return nil
	}
	unix.CloseOnExec(n)
	return os.NewFile(uintptr(n), "xterm-ctl")
})

// openXterm asks for a window for the line and waits for its terminal.
func (l *ttyLine) openXterm() (hostChan, error) {
	if os.Getenv("DISPLAY") == "" {
		l.ls.log("xterm_open: $DISPLAY not set.")
		return nil, unix.ENODEV
	}
	ctl := xtermCtl()
	umidDir := os.Getenv(umidEnv)
	if ctl == nil || umidDir == "" {
		return nil, unix.ENODEV
	}
	path := xtermSocket(umidDir, l.kind, l.n)
	os.Remove(path)
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	if _, err := ctl.Write([]byte("open " + l.kind + " " + strconv.Itoa(l.n))); err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(xtermTimeout.Nanoseconds())
	unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	pid := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(s, pid, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		l.closeXterm()
		return nil, fmt.Errorf("xterm_open: no terminal from the window: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		l.closeXterm()
		return nil, errors.New("xterm_open: no terminal from the window")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		l.closeXterm()
		return nil, errors.New("xterm_open: no terminal from the window")
	}
	_ = binary.NativeEndian.Uint32(pid) // its pid: the outer process ends the window instead
	if err := channel.MakeRaw(fds[0]); err != nil {
		unix.Close(fds[0])
		l.closeXterm()
		return nil, err
	}
	unix.SetNonblock(fds[0], true)
	return &xtermChan{termChan{f: os.NewFile(uintptr(fds[0]), "xterm"), dropped: &l.dropped}, l}, nil
}

// closeXterm asks the outer process to close the line's window.
func (l *ttyLine) closeXterm() {
	if ctl := xtermCtl(); ctl != nil {
		ctl.Write([]byte("close " + l.kind + " " + strconv.Itoa(l.n)))
	}
}

// xtermChan is the window's terminal; closing it closes the window.
type xtermChan struct {
	termChan
	l *ttyLine
}

func (c *xtermChan) Close()      { c.termChan.Close(); c.l.closeXterm() }
func (c *xtermChan) dev() string { return "" }
