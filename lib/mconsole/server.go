package mconsole

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Reply texts of the kernel's request checks.
const (
	textVersion0     = "ERR Version 0 mconsole clients are not supported by this driver"
	textTooLarge     = "Request too large"
	textWrongVersion = "This driver only supports version 2 clients"
	textUnknown      = "Unknown command"
	textStopped      = "stopped"
	textAlready      = "Already stopped"
	textNotStopped   = "Not stopped"
)

// HelpText is the kernel's answer to `help`, byte for byte (trailing spaces included).
const HelpText = "Commands: \n" +
	"    version - Get kernel version \n" +
	"    help - Print this message \n" +
	"    halt - Halt UML \n" +
	"    reboot - Reboot UML \n" +
	"    config <dev>=<config> - Add a new device to UML;  \n" +
	"\tsame syntax as command line \n" +
	"    config <dev> - Query the configuration of a device \n" +
	"    remove <dev> - Remove a device from UML \n" +
	"    sysrq <letter> - Performs the SysRq action controlled by the letter \n" +
	"    cad - invoke the Ctrl-Alt-Del handler \n" +
	"    stop - pause the UML; it will do nothing until it receives a 'go' \n" +
	"    go - continue the UML after a 'stop' \n" +
	"    log <string> - make UML enter <string> into the kernel log\n" +
	"    proc <file> - returns the contents of the UML's /proc/<file>\n" +
	"    stack <pid> - returns the stack of the specified pid\n"

// CommandNames are the kernel's commands in its lookup order. Lookup is by prefix in this
// order, so "versionXYZ" runs version and "gox" runs go.
var CommandNames = []string{"version", "halt", "reboot", "config", "remove", "sysrq", "help",
	"cad", "stop", "go", "log", "proc", "stack"}

// A Handler answers one command. It must eventually call Call.Reply with more = false (the
// server sends an empty OK reply for it if the handler returns without doing so).
type Handler func(c *Call)

// Call is one command being answered.
type Call struct {
	Name    string // the table entry that matched, e.g. "sysrq"
	Command string // the whole command text
	// Args is the text after the name with leading white space skipped, as the kernel's
	// handlers see it; for "log" it is the text after exactly "log " (4 bytes), as the
	// kernel's mconsole_log takes it.
	Args string

	srv  *Server
	to   sockAddr
	done atomic.Bool
}

// Reply sends text as one answer part, split into packets like the kernel's
// mconsole_reply_len. err goes on the first packet only; more = true means more parts follow
// (e.g. proc's leading "\n" and its chunks), more = false ends the answer.
func (c *Call) Reply(text string, err int32, more bool) error {
	if !more {
		c.done.Store(true)
	}
	return c.srv.sendReplies(&c.to, SplitReply(text, err, more))
}

// OK ends the answer with text and err 0.
func (c *Call) OK(text string) error { return c.Reply(text, 0, false) }

// Error ends the answer with text and err.
func (c *Call) Error(text string, err int32) error { return c.Reply(text, err, false) }

// Server answers mconsole requests on a datagram socket. Handlers run one at a time on the
// goroutine that calls Serve, in arrival order, like requests on the kernel's socket.
type Server struct {
	// OnStop and OnGo, when set, are called when `stop` pauses and `go` resumes the machine
	// (the emulator freezes and thaws the guest there). While stopped the server keeps
	// answering every command, as the kernel's mconsole_stop loop does.
	OnStop, OnGo func()

	mu       sync.Mutex
	names    []string
	handlers map[string]Handler
	stopped  bool

	sock   *dgram
	path   string
	notify string
	closed atomic.Bool
}

// NewServer returns a server whose table holds the kernel's command names with the built-in
// help, stop and go handlers; register the others with Handle.
func NewServer() *Server {
	s := &Server{handlers: map[string]Handler{}}
	s.names = append(s.names, CommandNames...)
	s.handlers["help"] = func(c *Call) { c.OK(HelpText) }
	s.handlers["stop"] = s.stop
	s.handlers["go"] = s.goCmd
	return s
}

// Handle sets the handler for name. A kernel command keeps its place in the lookup order; a
// new name is matched after all the kernel's.
func (s *Server) Handle(name string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.handlers[name]; !ok && !contains(s.names, name) {
		s.names = append(s.names, name)
	}
	s.handlers[name] = h
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Stopped reports whether a `stop` is in effect.
func (s *Server) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Reset forgets a `stop` without calling OnGo: the machine behind the console restarted
// (after a reboot the real kernel is a new, running one).
func (s *Server) Reset() {
	s.mu.Lock()
	s.stopped = false
	s.mu.Unlock()
}

func (s *Server) stop(c *Call) {
	s.mu.Lock()
	already := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if already {
		c.Error(textAlready, 1)
		return
	}
	if s.OnStop != nil {
		s.OnStop()
	}
	c.OK(textStopped)
}

func (s *Server) goCmd(c *Call) {
	s.mu.Lock()
	was := s.stopped
	s.stopped = false
	s.mu.Unlock()
	if !was {
		c.Error(textNotStopped, 1)
		return
	}
	if s.OnGo != nil {
		s.OnGo()
	}
	c.OK("")
}

// Listen binds the server's socket at path (a filesystem path, created like the kernel's:
// SOCK_DGRAM, 110-byte address). If notifyPath is not empty, an MCONSOLE_SOCKET notification
// carrying path is sent there, as the kernel does at start-up with mconsole=notify:<path>;
// failing to deliver it is not an error (nobody may be listening).
func (s *Server) Listen(path, notifyPath string) error {
	if len(path) > sunPathLen-1 {
		return fmt.Errorf("mconsole: socket path %q longer than %d bytes", path, sunPathLen-1)
	}
	a, err := fullAddr(path)
	if err != nil {
		return fmt.Errorf("mconsole: %v", err)
	}
	d, err := newDgram(&a)
	if err != nil {
		return fmt.Errorf("mconsole: binding %s: %w", path, err)
	}
	s.sock, s.path, s.notify = d, path, notifyPath
	if notifyPath != "" {
		_ = s.Notify(NotifySocket, append([]byte(path), 0))
	}
	return nil
}

// Path returns the socket path given to Listen.
func (s *Server) Path() string { return s.path }

// Notify sends a notification to the notify socket given to Listen (a no-op without one),
// from an unbound socket with a 110-byte address, like the kernel.
func (s *Server) Notify(t NotifyType, data []byte) error {
	if s.notify == "" {
		return nil
	}
	return SendNotification(s.notify, NewNotification(t, data))
}

// NotifyPanic sends MCONSOLE_PANIC with msg and its NUL.
func (s *Server) NotifyPanic(msg string) error {
	if len(msg) > MaxData-1 {
		msg = msg[:MaxData-1]
	}
	return s.Notify(NotifyPanic, append([]byte(msg), 0))
}

// NotifyUser sends MCONSOLE_USER_NOTIFY with exactly the bytes the guest wrote to
// /proc/mconsole (cut to MaxData).
func (s *Server) NotifyUser(data []byte) error {
	if len(data) > MaxData {
		data = data[:MaxData]
	}
	return s.Notify(NotifyUserNotify, data)
}

// SendNotification sends n to the notify socket at path.
func SendNotification(path string, n Notification) error {
	b, err := n.Marshal()
	if err != nil {
		return err
	}
	a, err := fullAddr(path)
	if err != nil {
		return fmt.Errorf("mconsole notify: %v", err)
	}
	d, err := newDgram(nil)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.sendTo(b, &a); err != nil {
		return fmt.Errorf("mconsole notify %s: %s", path, Strerror(err))
	}
	return nil
}

// Close stops Serve and removes the socket file (as the kernel does on halt and reboot).
func (s *Server) Close() error {
	if s.sock == nil || !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.sock.Close()
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// Serve answers requests until Close. Malformed datagrams get the kernel's error replies or
// are dropped; they never stop the server.
func (s *Server) Serve() error {
	if s.sock == nil {
		return errors.New("mconsole: Serve before Listen")
	}
	buf := make([]byte, RequestSize)
	for {
		n, from, err := s.sock.recvFrom(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, os.ErrClosed) {
				return nil
			}
			// Transient receive errors must not kill the console; anything else would
			// repeat forever, so it ends Serve.
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return fmt.Errorf("mconsole: receiving on %s: %w", s.path, err)
		}
		s.handlePacket(buf[:n], from)
	}
}

// handlePacket applies the kernel's request checks to one datagram and runs its command.
func (s *Server) handlePacket(b []byte, from sockAddr) {
	pre, cmd, run := checkRequest(b)
	for _, p := range pre {
		if s.sendRaw(&from, p) != nil {
			break
		}
	}
	if run {
		s.dispatch(cmd, from)
	}
}

// checkRequest is the kernel's mconsole_get_request as a pure function: the datagrams to send
// back before any command runs, and the command to run, if any.
//
// Datagrams too short for a header are dropped: the kernel would reuse stale bytes of the
// previous request in its buffer (observed: an empty datagram re-runs the last command),
// which has no sensible equivalent here.
func checkRequest(b []byte) (pre [][]byte, cmd string, run bool) {
	if len(b) < 4 {
		return nil, "", false
	}
	if le.Uint32(b) != Magic {
		// Anything without the magic is answered as an old, text-only client: raw text, no
		// header, no NUL.
		return [][]byte{[]byte(textVersion0)}, "", false
	}
	h, cmd, err := ParseRequest(b)
	if err != nil {
		return nil, "", false
	}
	if h.Len >= MaxData {
		return marshalAll(SplitReply(textTooLarge, 1, false)), "", false
	}
	if h.Version != Version {
		// The kernel complains and then runs the command anyway.
		pre = marshalAll(SplitReply(textWrongVersion, 1, false))
	}
	return pre, cmd, true
}

func marshalAll(rs []Reply) [][]byte {
	var out [][]byte
	for _, r := range rs {
		if b, err := r.Marshal(); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func (s *Server) lookup(cmd string) (string, Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.names {
		if strings.HasPrefix(cmd, n) {
			return n, s.handlers[n]
		}
	}
	return "", nil
}

func (s *Server) dispatch(cmd string, from sockAddr) {
	name, h := s.lookup(cmd)
	c := &Call{Name: name, Command: cmd, srv: s, to: from}
	if h == nil {
		c.Error(textUnknown, 1)
		return
	}
	if name == "log" {
		if len(cmd) > 4 {
			c.Args = cmd[4:]
		}
	} else {
		c.Args = strings.TrimLeft(cmd[len(name):], " \t\n\v\f\r")
	}
	func() {
		defer func() {
			// A buggy handler must not take the console down; the client gets an answer.
			if r := recover(); r != nil && !c.done.Load() {
				c.Error(fmt.Sprintf("internal error: %v", r), 1)
			}
		}()
		h(c)
	}()
	if !c.done.Load() {
		c.OK("")
	}
}

func (s *Server) sendReplies(to *sockAddr, rs []Reply) error {
	for _, r := range rs {
		b, err := r.Marshal()
		if err != nil {
			return err
		}
		if err := s.sendRaw(to, b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) sendRaw(to *sockAddr, b []byte) error {
	if s.sock == nil {
		return errors.New("mconsole: server not listening")
	}
	if to.len <= 2 {
		return errors.New("mconsole: client socket is unbound; cannot reply")
	}
	return s.sock.sendTo(b, to)
}
