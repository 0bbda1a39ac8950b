package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/channel"
	"github.com/gouml/gouml/lib/cmdline"
	"golang.org/x/sys/unix"
)

// The consoles con1…con15 (/dev/tty1…, major 4 minor N) and serial lines ssl0…ssl63
// (/dev/ttyS0…, minors 64…) — con0 is the Console (console.go). Each configured line is a
// pseudo-terminal the kernel holds: its slave is what the guest opens as the device, so the
// guest has a real terminal (termios, job control, window size, TIOCSCTTY for getty) from
// the host kernel; its master is relayed to the line's host channels (ttychan.go). As with
// the real kernel, a line's channels are opened when the guest first opens it: a pts is
// allocated and announced then, and an open of a port: line waits for a telnet client.
//
// A hang-up (the telnet client left, or mconsole gave the line a new channel) closes the
// master: the guest's fds on the line are hung up (its session gets SIGHUP, reads end) and
// the next open gets a new terminal and new channels — a getty respawned by init serves the
// next client. The real kernel refuses to reconfigure an open line; gouml hangs it up.

// ttyLines are the machine's lines; they outlive reboots, like the management console.
type ttyLines struct {
	log   func(string) // kernel messages
	ports channel.Ports
	con   [cmdline.MaxCon]*ttyLine
	ssl   [cmdline.MaxSSL]*ttyLine
	// nodes maps the host identity (dev, ino) of a session's slave to its line, for stat
	// and /proc/PID/fd (the host shows a pty of its devpts).
	nodesMu sync.Mutex
	nodes   map[[2]uint64]*ttyLine
}

// ttyLine is one line.
type ttyLine struct {
	ls   *ttyLines
	kind string // "con" or "ssl"
	n    int

	mu    sync.Mutex
	valid bool
	// init is what `config` answers while the line is not open: the configuration text up
	// to its first comma, as the real kernel keeps it (parse_chan_pair cuts its string).
	init    string
	spec    *cmdline.Line
	ports   []int // ports listened on for this configuration
	sess    *ttySession
	waiting chan struct{} // closed when a channel open a guest waits for ends
	waiters int
	cancel  context.CancelFunc
	dropped atomic.Int64
	standIn int // memfd standing for the node in stat while there is no terminal (-1: none)
}

// ttySession is one terminal of a line, from its first open to its hang-up.
type ttySession struct {
	master  *os.File // the guest pty's master
	node    [2]uint64
	in, out hostChan
	done    chan struct{}
	once    sync.Once
}

// newTTYLines configures the lines of the command line. Lines without a configuration of
// their own take con=/ssl=; con1… have no default (the real kernel's, x-terminal-emulator,
// is no channel type), serial lines default to pty.
func newTTYLines(c *cmdline.Config, log func(string), con0 bool) *ttyLines {
	ls := &ttyLines{log: log, nodes: map[[2]uint64]*ttyLine{}}
	ls.ports.Log = log
	xtermCtl() // close-on-exec from now on: no guest inherits it
	for i := range ls.con {
		ls.con[i] = &ttyLine{ls: ls, kind: "con", n: i, standIn: -1}
	}
	for i := range ls.ssl {
		ls.ssl[i] = &ttyLine{ls: ls, kind: "ssl", n: i, standIn: -1}
	}
	sslDefault := &cmdline.Line{In: cmdline.Chan{Type: "pty"}, Out: cmdline.Chan{Type: "pty"}, Spec: "pty"}
	if c.SSLDefault != nil {
		sslDefault = c.SSLDefault
	}
	first := 1
	if con0 {
		first = 0
	}
	for i := first; i < cmdline.MaxCon; i++ {
		if l := c.ConsoleLine(i); l != nil {
			ls.con[i].boot(l.Spec)
		}
	}
	for i := range ls.ssl {
		l := c.SSL[i]
		if l == nil {
			l = sslDefault
		}
		ls.ssl[i].boot(l.Spec)
	}
	return ls
}

func (l *ttyLine) boot(spec string) {
	if spec == "none" {
		return
	}
	if msg, code := l.configure(spec); code != 0 {
		l.ls.log(fmt.Sprintf("setup_one_line failed for device %d : %s", l.n, msg))
	}
}

// line returns line n of a kind (nil: out of range).
func (ls *ttyLines) line(kind string, n int) *ttyLine {
	switch {
	case ls == nil || n < 0:
		return nil
	case kind == "con" && n < len(ls.con):
		return ls.con[n]
	case kind == "ssl" && n < len(ls.ssl):
		return ls.ssl[n]
	}
	return nil
}

// name is the guest's device name of the line.
func (l *ttyLine) name() string {
	if l.kind == "ssl" {
		return "ttyS" + strconv.Itoa(l.n)
	}
	return "tty" + strconv.Itoa(l.n)
}

func (l *ttyLine) isValid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.valid
}

// configure gives the line a new configuration (setup_one_line): "none" unconfigures it.
// It returns the real kernel's message and code. A line open in the guest is hung up first.
func (l *ttyLine) configure(spec string) (string, int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if spec == "none" {
		if !l.valid {
			return "configured as 'none'", -int32(unix.EINVAL)
		}
		l.unconfigureLocked()
		return "configured as 'none'", 0
	}
	if l.valid {
		l.unconfigureLocked()
	}
	p, err := cmdline.ParseLine(spec)
	if err != nil {
		return "failed to parse channel pair", -1
	}
	p.Spec = spec
	var ports []int
	for _, ch := range []cmdline.Chan{p.In, p.Out} {
		n, _ := cmdline.Strtoul(ch.Arg) // checked by ParseChan: at most 65535
		if ch.Type != "port" || len(ports) > 0 && ports[0] == int(n) {
			continue
		}
		if err := l.ls.ports.Listen(int(n)); err != nil {
			for _, q := range ports {
				l.ls.ports.Release(q)
			}
			return fmt.Sprintf("port_init : couldn't listen on port %d: %v", n, err), -int32(unix.EINVAL)
		}
		ports = append(ports, int(n))
	}
	l.valid, l.spec, l.ports = true, p, ports
	l.init, _, _ = strings.Cut(spec, ",")
	return "", 0
}

func (l *ttyLine) unconfigureLocked() {
	l.hangupLocked()
	if l.cancel != nil {
		l.cancel()
	}
	for _, p := range l.ports {
		l.ls.ports.Release(p)
	}
	l.valid, l.spec, l.ports, l.init = false, nil, nil, ""
}

// hangup ends the line's current terminal (the guest's fds on it are hung up).
func (l *ttyLine) hangup(s *ttySession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess == s {
		l.hangupLocked()
	}
}

func (l *ttyLine) hangupLocked() {
	s := l.sess
	if s == nil {
		return
	}
	l.sess = nil
	l.ls.nodesMu.Lock()
	delete(l.ls.nodes, s.node)
	l.ls.nodesMu.Unlock()
	s.close()
	lost := l.dropped.Swap(0)
	if pc, ok := s.out.(*portChan); ok {
		lost += pc.c.Dropped()
	}
	if lost > 0 {
		l.ls.log(fmt.Sprintf("%s: %d bytes of output dropped (not taken by the host side)", l.name(), lost))
	}
}

func (s *ttySession) close() {
	s.once.Do(func() {
		close(s.done)
		s.in.Close()
		if s.out != s.in {
			s.out.Close()
		}
		s.master.Close()
	})
}

// configString is what `config conN` answers (line_get_config).
func (l *ttyLine) configString() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.valid:
		return "none"
	case l.sess != nil:
		one := func(ch cmdline.Chan, hc hostChan) string {
			if d := hc.dev(); d != "" {
				return ch.Type + ":" + d
			}
			return ch.Type
		}
		if l.sess.in == l.sess.out {
			return one(l.spec.In, l.sess.in)
		}
		return one(l.spec.In, l.sess.in) + "," + one(l.spec.Out, l.sess.out)
	case l.waiters > 0:
		// a guest open waits for the channel (a port's client): open, with no device yet
		if l.spec.In == l.spec.Out {
			return l.spec.In.Type
		}
		return l.spec.In.Type + "," + l.spec.Out.Type
	}
	return l.init
}

// errWaitOpen is an open that must wait (a port: line waits for its client): the caller
// runs wait on its own goroutine.
type errWaitOpen struct {
	wait func(tid int) (int, error)
}

func (e *errWaitOpen) Error() string { return "open waits for the line's channel" }

// open gives the guest a new fd on the line's terminal (flags are the guest's).
func (l *ttyLine) open(flags int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.valid {
		return -1, unix.ENXIO
	}
	if l.sess != nil {
		return l.sess.peer(flags)
	}
	if flags&unix.O_PATH != 0 {
		// a stat or a lookup: no channel is opened for it
		return l.standInLocked()
	}
	if l.waits() {
		return -1, &errWaitOpen{wait: func(tid int) (int, error) { return l.waitOpen(tid, flags) }}
	}
	in, out, err := l.openChans(nil)
	if err != nil {
		return -1, err
	}
	if err := l.startLocked(in, out); err != nil {
		return -1, err
	}
	return l.sess.peer(flags)
}

// standInLocked returns an O_PATH fd of an empty memfd that stands for the line's node
// while it has no terminal (stat shows it as the line's device: lineOfNode).
func (l *ttyLine) standInLocked() (int, error) {
	if l.standIn < 0 {
		fd, err := unix.MemfdCreate("gouml-dev-"+l.name(), unix.MFD_CLOEXEC)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		l.standIn = fd
		l.ls.nodesMu.Lock()
		l.ls.nodes[[2]uint64{st.Dev, st.Ino}] = l
		l.ls.nodesMu.Unlock()
	}
	return unix.Open(selfFD(l.standIn), unix.O_PATH|unix.O_CLOEXEC, 0)
}

// waitOpen waits for a port line's client, as long as the opener has no signal to handle.
func (l *ttyLine) waitOpen(tid int, flags int) (int, error) {
	l.mu.Lock()
	if !l.valid {
		l.mu.Unlock()
		return -1, unix.ENXIO
	}
	l.waiters++
	ch := l.waitingLocked()
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.waiters--; l.waiters == 0 && l.sess == nil && l.cancel != nil {
			l.cancel() // nobody waits any more: the next client goes to another line
		}
		l.mu.Unlock()
	}()
	// a getty may wait for days: look for signals often enough to answer them promptly,
	// seldom enough to cost nothing
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ch != nil {
			select {
			case <-ch:
				ch = nil
			case <-tick.C:
				if tid > 0 && signalPending(tid) {
					return -1, errRestart
				}
				continue
			}
		}
		l.mu.Lock()
		if l.sess != nil {
			defer l.mu.Unlock()
			return l.sess.peer(flags)
		}
		if !l.valid {
			l.mu.Unlock()
			return -1, unix.ENXIO
		}
		ch = l.waitingLocked()
		l.mu.Unlock()
	}
}

// waitingLocked returns the channel closed when the wait for the line's client ends,
// starting that wait if none runs (nil: the line has its terminal already).
func (l *ttyLine) waitingLocked() chan struct{} {
	if l.sess != nil {
		return nil
	}
	if l.waiting == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l.waiting, l.cancel = make(chan struct{}), cancel
		go l.connect(ctx, l.waiting)
	}
	return l.waiting
}

// waits reports whether opening the line waits for its channel: a port's client, an xterm
// window.
func (l *ttyLine) waits() bool {
	for _, t := range []string{l.spec.In.Type, l.spec.Out.Type} {
		if t == "port" || t == "xterm" {
			return true
		}
	}
	return false
}

// connect waits for the line's slow channel (a client of its port, its xterm window) and
// starts the line's terminal with it.
func (l *ttyLine) connect(ctx context.Context, done chan struct{}) {
	l.mu.Lock()
	spec, ports := l.spec, l.ports
	l.mu.Unlock()
	var slow hostChan
	var err error
	if len(ports) > 0 {
		var c *channel.Conn
		if c, err = l.ls.ports.Wait(ctx, ports[0]); err == nil {
			slow = &portChan{c: c, port: strconv.Itoa(ports[0])}
		}
	} else if spec.In.Type == "xterm" || spec.Out.Type == "xterm" {
		slow, err = l.openXterm()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer close(done)
	if l.waiting == done {
		l.waiting, l.cancel = nil, nil
	}
	if err != nil {
		if ctx.Err() == nil {
			l.ls.log(fmt.Sprintf("%s: %v", l.name(), err))
		}
		return
	}
	closeSlow := func() {
		if slow != nil {
			slow.Close()
		}
	}
	if !l.valid || l.sess != nil || ctx.Err() != nil || l.spec != spec {
		// reconfigured meanwhile (the waiting opens look again), or no longer wanted
		closeSlow()
		return
	}
	in, out, err := l.openChans(slow)
	if err == nil {
		err = l.startLocked(in, out)
	}
	if err != nil {
		closeSlow()
		l.ls.log(fmt.Sprintf("%s: %v", l.name(), err))
	}
}

// openChans opens the line's host channels (slow: the port client or xterm window, for
// such a channel).
func (l *ttyLine) openChans(slow hostChan) (in, out hostChan, err error) {
	in, err = l.openChan(l.spec.In, slow)
	if err != nil {
		return nil, nil, err
	}
	if l.spec.Out == l.spec.In {
		return in, in, nil
	}
	if out, err = l.openChan(l.spec.Out, slow); err != nil {
		if in != slow {
			in.Close()
		}
		return nil, nil, err
	}
	return in, out, nil
}

func (l *ttyLine) openChan(ch cmdline.Chan, slow hostChan) (hostChan, error) {
	switch ch.Type {
	case "fd":
		return openFdChan(ch)
	case "null":
		return newNullChan(), nil
	case "port", "xterm":
		if slow == nil {
			return nil, unix.EIO
		}
		return slow, nil
	case "pts":
		m, path, err := channel.OpenPts()
		if err != nil {
			return nil, err
		}
		l.ls.log(channel.Announce(l.kind, l.n, path))
		return &termChan{f: nonBlocking(m), path: path, dropped: &l.dropped}, nil
	case "tty":
		f, err := channel.OpenTTY(ch.Arg)
		if err != nil {
			return nil, err
		}
		return &termChan{f: nonBlocking(f), path: ch.Arg, dropped: &l.dropped}, nil
	case "pty":
		// legacy BSD ptys: Linux hosts have had none for years (the real kernel says this)
		l.ls.log("getmaster - no usable host pty devices")
		return nil, unix.ENOENT
	}
	return nil, fmt.Errorf("channel type %s is not supported", ch.Type)
}

// startLocked makes the line's terminal and starts relaying it to its channels.
func (l *ttyLine) startLocked(in, out hostChan) error {
	var m *os.File
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err == nil {
		var unlock int32
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
			unix.Close(fd)
			err = e
		} else {
			m = os.NewFile(uintptr(fd), "ptmx") // non-blocking: Go's poller waits on it
		}
	}
	if err != nil {
		in.Close()
		if out != in {
			out.Close()
		}
		return err
	}
	s := &ttySession{master: m, in: in, out: out, done: make(chan struct{})}
	if fd, err := s.peer(unix.O_PATH); err == nil {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			s.node = [2]uint64{st.Dev, st.Ino}
		}
		unix.Close(fd)
	}
	l.ls.nodesMu.Lock()
	l.ls.nodes[s.node] = l
	l.ls.nodesMu.Unlock()
	l.sess = s
	if cols, rows, ok := out.window(); ok {
		unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
	}
	go l.output(s)
	go l.input(s)
	go l.watchWindow(s)
	return nil
}

// peer opens the guest's side of the terminal (never as the kernel's controlling tty).
func (s *ttySession) peer(flags int) (int, error) {
	fl := flags&(unix.O_ACCMODE|unix.O_NONBLOCK) | unix.O_NOCTTY | unix.O_CLOEXEC
	if flags&unix.O_PATH != 0 {
		fl = unix.O_RDONLY | unix.O_NOCTTY | unix.O_CLOEXEC
	}
	peer, e := -1, unix.Errno(0)
	if err := withFD(s.master, func(fd int) {
		r, _, en := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(fl))
		peer, e = int(r), en
	}); err != nil {
		return -1, err
	}
	if e != 0 {
		return -1, e
	}
	return peer, nil
}

// output copies what the guest writes to the output channel. EIO means no guest fd holds
// the terminal now; the line stays.
func (l *ttyLine) output(s *ttySession) {
	b := make([]byte, 4096)
	for {
		n, err := s.master.Read(b)
		if n > 0 {
			s.out.Write(b[:n])
		}
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// no guest fd on the terminal: what a later open writes waits in the pty
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// input copies the input channel to the guest. A port client that leaves hangs the line up.
func (l *ttyLine) input(s *ttySession) {
	b := make([]byte, 4096)
	for {
		n, err := s.in.Read(b)
		if n > 0 {
			if _, werr := s.master.Write(b[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if _, ok := s.in.(*portChan); ok {
				l.hangup(s)
			}
			return
		}
	}
}

// windowPoll is how often a host terminal's window size is looked at: a pty master gets no
// SIGWINCH when the user's terminal resizes the slave.
const windowPoll = 250 * time.Millisecond

// watchWindow passes the host side's window size to the guest's terminal, whose foreground
// process group the host kernel then sends SIGWINCH.
func (l *ttyLine) watchWindow(s *ttySession) {
	var resized <-chan struct{}
	switch c := s.out.(type) {
	case *portChan:
		resized = c.c.Resized()
	case *nullChan:
		return // no window, ever
	case *fdChan:
		if !isTerminal(c.f) {
			return
		}
	}
	t := time.NewTicker(windowPoll)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-resized:
		case <-t.C:
		}
		cols, rows, ok := s.out.window()
		if !ok {
			continue
		}
		withFD(s.master, func(fd int) {
			ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
			if err == nil && (ws.Col != cols || ws.Row != rows) {
				unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
			}
		})
	}
}

// lineOfNode returns the line whose terminal has this host identity (nil: none).
func (ls *ttyLines) lineOfNode(dev, ino uint64) *ttyLine {
	if ls == nil {
		return nil
	}
	ls.nodesMu.Lock()
	defer ls.nodesMu.Unlock()
	return ls.nodes[[2]uint64{dev, ino}]
}

// lineOfRdev returns the line whose terminal is the host tty number rdev (a task's
// controlling terminal in /proc/PID/stat).
func (ls *ttyLines) lineOfRdev(rdev uint64) *ttyLine {
	if ls == nil {
		return nil
	}
	ls.nodesMu.Lock()
	var cand []*ttyLine
	for _, l := range ls.nodes {
		cand = append(cand, l)
	}
	ls.nodesMu.Unlock()
	for _, l := range cand {
		l.mu.Lock()
		s := l.sess
		l.mu.Unlock()
		if s == nil {
			continue
		}
		if fd, err := s.peer(unix.O_PATH); err == nil {
			var st unix.Stat_t
			same := unix.Fstat(fd, &st) == nil && st.Rdev == rdev
			unix.Close(fd)
			if same {
				return l
			}
		}
	}
	return nil
}

// close hangs every line up and stops listening (the machine stops).
func (ls *ttyLines) close() {
	if ls == nil {
		return
	}
	for _, l := range append(ls.con[:], ls.ssl[:]...) {
		l.mu.Lock()
		l.hangupLocked()
		if l.cancel != nil {
			l.cancel()
		}
		l.mu.Unlock()
	}
	ls.ports.Close()
}

// consoleDev is con0 as the kernel opens it: the Console (fd and null channels) or a line.
type consoleDev interface {
	Open(flags int) (int, error)
}

// lineConsole is con0 on other channels (pts, port, tty, xterm): line 0 of the consoles.
// The boot waits for its channel (a port's client, a window), as the real kernel's does.
type lineConsole struct{ l *ttyLine }

func (c *lineConsole) Open(flags int) (int, error) {
	fd, err := c.l.open(flags)
	var w *errWaitOpen
	if errors.As(err, &w) {
		return w.wait(0) // the kernel's own open (init's console): no caller to interrupt
	}
	return fd, err
}
