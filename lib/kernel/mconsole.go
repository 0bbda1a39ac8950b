package kernel

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/mconsole"
	"golang.org/x/sys/unix"
)

// The management console: lib/mconsole's Server answers on <umid dir>/mconsole for as long as
// linux runs, while a reboot makes a new Kernel. mcHost is the link between the two: the
// handlers act on whichever machine is booted at the moment.

type mcHost struct {
	srv      *mconsole.Server
	stderr   io.Writer
	noReboot bool
	quiet    bool
	rootUnit int       // the ubd unit that is the root directory, -1 for hostfs
	rootFile string    // its file name as given (config ubdN answers it)
	conSpec  string    // con0's channels (config con0 answers them)
	lines    *ttyLines // the other consoles and the serial lines

	mu      sync.Mutex
	k       *Kernel      // the booted machine, nil between boots
	pending *shutdownReq // a halt/reboot asked for between two boots
	frozen  map[int]bool // host pids sent SIGSTOP by `stop`
	logMu   sync.Mutex   // one kernel message at a time
	notify  string       // mconsole=notify: path
	path    string       // the socket
}

// startMconsole listens on the umid directory's socket. A failure is reported and the
// machine runs without a console, as the real kernel does.
func startMconsole(h *mcHost, dir string) {
	srv := mconsole.NewServer()
	h.srv = srv
	h.path = dir + "/mconsole"
	if err := srv.Listen(h.path, h.notify); err != nil {
		fmt.Fprintf(h.stderr, "linux: %v\n", err)
		h.srv = nil
		return
	}
	if !h.quiet {
		fmt.Fprintf(h.stderr, "mconsole (version %d) initialized on %s\n", mconsole.Version, h.path)
	}
	srv.OnStop = h.freeze
	srv.OnGo = h.thaw
	srv.Handle("version", h.version)
	srv.Handle("halt", func(c *mconsole.Call) { c.OK(""); h.shutdown(shutdownReq{status: 0}) })
	srv.Handle("reboot", func(c *mconsole.Call) { c.OK(""); h.shutdown(shutdownReq{status: 0, reboot: !h.noReboot}) })
	srv.Handle("cad", h.cad)
	srv.Handle("sysrq", h.sysrq)
	srv.Handle("proc", h.proc)
	srv.Handle("log", h.log)
	srv.Handle("config", h.config)
	srv.Handle("remove", h.remove)
	srv.Handle("stack", h.stack)
	go srv.Serve()
}

func (h *mcHost) close() {
	if h.srv != nil {
		h.srv.Close()
	}
}

// attach is called by Boot with the new machine; detach when it is down.
func (h *mcHost) attach(k *Kernel) {
	h.mu.Lock()
	h.k = k
	p := h.pending
	h.pending = nil
	h.frozen = nil
	h.mu.Unlock()
	if h.srv != nil {
		h.srv.Reset() // the new machine runs
	}
	if p != nil {
		k.halt(p.status, p.reboot)
	}
}

func (h *mcHost) detach() {
	h.mu.Lock()
	h.k = nil
	h.mu.Unlock()
}

// rebooted tells the notify socket about the console again, as the real kernel's re-exec does.
func (h *mcHost) rebooted() {
	if h.srv != nil {
		h.srv.Notify(mconsole.NotifySocket, append([]byte(h.path), 0))
	}
}

func (h *mcHost) machine() *Kernel {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.k
}

func (h *mcHost) shutdown(r shutdownReq) {
	h.mu.Lock()
	k := h.k
	if k == nil {
		h.pending = &r
	}
	h.mu.Unlock()
	if k != nil {
		k.halt(r.status, r.reboot)
	}
}

// printk writes a kernel message where the emulator's kernel messages go.
func (h *mcHost) printk(s string) {
	if !strings.HasSuffix(s, "\n") {
		s += "\n" // the next message starts a line of its own, as printk's continuation rules do
	}
	h.logMu.Lock()
	io.WriteString(h.stderr, s)
	h.logMu.Unlock()
	if k := h.machine(); k != nil {
		k.log.add(6, s)
	}
}

func (h *mcHost) version(c *mconsole.Call) {
	nodename := "(none)"
	if k := h.machine(); k != nil {
		nodename, _ = k.uts.get()
	}
	c.OK(strings.Join([]string{"Linux", nodename, Release, Version, "x86_64"}, " "))
}

// cad is Ctrl-Alt-Del: a restart, or SIGINT to init when the guest turned C-A-D off.
func (h *mcHost) cad(c *mconsole.Call) {
	c.OK("")
	k := h.machine()
	if k == nil {
		return
	}
	k.syncSysctls()
	if k.cadOff.Load() {
		k.mu.Lock()
		pid := k.initTgid
		k.mu.Unlock()
		if pid > 0 {
			unix.Kill(pid, unix.SIGINT)
		}
		return
	}
	k.halt(0, !h.noReboot)
}

// sysrqHelp is the real kernel's line for `h` and for keys it does not know.
const sysrqHelp = "sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) memory-full-oom-kill(f) " +
	"kill-all-tasks(i) thaw-filesystems(j) show-memory-usage(m) nice-all-RT-tasks(n) poweroff(o) show-registers(p) " +
	"show-all-timers(q) sync(s) show-task-states(t) unmount(u) show-blocked-tasks(w) \n"

// sysrq performs the keys that mean something for the emulator; the console output it
// produces is streamed back, as the real mconsole_sysrq captures it.
func (h *mcHost) sysrq(c *mconsole.Call) {
	key := byte(0)
	if c.Args != "" {
		key = c.Args[0]
	}
	k := h.machine()
	var out string
	switch {
	case key == 'b':
		// the real one answers first: the machine is gone right after
		c.OK("")
		h.printk("sysrq: Resetting")
		h.shutdown(shutdownReq{status: 0, reboot: !h.noReboot})
		return
	case key == 'o':
		out = "sysrq: Power Off\n"
		defer h.shutdown(shutdownReq{status: 0})
	case key == 'e' || key == 'i':
		sig, what := unix.SIGTERM, "sysrq: Terminate All Tasks\n"
		if key == 'i' {
			sig, what = unix.SIGKILL, "sysrq: Kill All Tasks\n"
		}
		out = what
		if k != nil {
			for _, p := range k.guestProcs() {
				if p != k.initTgid {
					unix.Kill(p, sig)
				}
			}
		}
	case key == 's':
		out = "sysrq: Emergency Sync\nEmergency Sync complete\n"
		unix.Sync()
	case key >= '0' && key <= '9':
		out = "sysrq: Changing Loglevel\nsysrq: Loglevel set to " + string(key) + "\n"
	default:
		out = sysrqHelp
	}
	h.printk(out)
	c.Reply(out, 0, true)
	c.OK("")
}

// guestProcs lists the host pids of every guest process.
func (k *Kernel) guestProcs() []int {
	k.knowAll()
	k.mu.Lock()
	defer k.mu.Unlock()
	pids := make([]int, 0, len(k.procs))
	for p := range k.procs {
		pids = append(pids, p)
	}
	return pids
}

// proc answers with the guest's /proc/<file>, made by the same generator the guest reads.
func (h *mcHost) proc(c *mconsole.Call) {
	k := h.machine()
	if k == nil {
		c.Error("Proc not available", 1)
		return
	}
	name := strings.Trim(strings.TrimRight(c.Args, " \t\n"), "/")
	first, _, _ := strings.Cut(name, "/")
	var data []byte
	var err error
	if first == "self" || first == "thread-self" || name == "" || strings.Contains("/"+name+"/", "/../") {
		data = nil // the console is no process: nothing behind self
	} else if t, _ := procTopLink(name); t == "self/mounts" {
		// the real kernel opens it from a kernel thread, whose self/mounts is the machine's
		data = k.mounts()
	} else {
		data, err = k.procFile(nil, name, unix.O_RDONLY)
	}
	if err != nil || data == nil {
		c.Error("Failed to open file", 1)
		return
	}
	c.Reply("\n", 0, true)
	if len(data) > 0 {
		c.Reply(string(data), 0, true)
	}
	c.OK("")
}

func (h *mcHost) log(c *mconsole.Call) { h.printk(c.Args); c.OK("") }

// devices known to config/remove, as the real kernel registers them.
var mcDevices = []string{"ubd", "eth", "vec", "con", "ssl", "mem"}

func findDev(s string) string {
	for _, d := range mcDevices {
		if strings.HasPrefix(s, d) {
			return d
		}
	}
	return ""
}

func (h *mcHost) config(c *mconsole.Call) {
	dev := findDev(c.Args)
	if dev == "" {
		c.Error("Bad configuration option", 1)
		return
	}
	rest := c.Args[len(dev):]
	if num, spec, ok := strings.Cut(rest, "="); ok && dev == "eth" {
		h.configEth(c, num, spec)
		return
	}
	if dev == "con" || dev == "ssl" {
		h.configLine(c, dev, rest)
		return
	}
	if dev == "vec" && strings.Contains(rest, "=") {
		// the host side (a host tap, packet or BESS socket) is opened by the outer process,
		// which only does so at start
		c.Error("vec devices can only be given on the command line (gouml opens their host side at start)", 1)
		return
	}
	if strings.Contains(rest, "=") {
		c.Error(dev+" hot-plug is not supported by gouml yet", 1)
		return
	}
	switch dev {
	case "ubd":
		n, err := strconv.Atoi(rest)
		if err != nil {
			c.Error("ubd_get_config : device number out of range", 1)
			return
		}
		if n < 0 || n > 15 {
			c.Error("ubd_get_config : device number out of range", 1)
			return
		}
		if n == h.rootUnit {
			c.OK(h.rootFile)
			return
		}
		c.OK("")
	case "eth", "vec":
		c.Error("No get_config routine defined", 1)
	case "mem":
		// what the real one answers: its physical memory's base address
		c.OK(strconv.Itoa(0x60000000))
	}
}

// configLine answers config conN / sslN (line_get_config) and configures a line with
// config conN=CHANNEL (line_config), with the real kernel's messages and codes; con0, the
// console init holds, cannot be reconfigured, as on the real kernel.
func (h *mcHost) configLine(c *mconsole.Call, dev, rest string) {
	max := uint64(cmdline.MaxCon)
	if dev == "ssl" {
		max = cmdline.MaxSSL
	}
	num, spec, set := strings.Cut(rest, "=")
	if set {
		if num == "" {
			c.Error("Can't configure all devices from mconsole", -int32(unix.EINVAL))
			return
		}
		n, end := cmdline.Strtoul(num)
		if end != "" || end == num {
			c.Error("Couldn't parse device number", -int32(unix.EINVAL))
			return
		}
		if n >= max {
			c.Error("Device number out of range", -int32(unix.EINVAL))
			return
		}
		if dev == "con" && n == 0 {
			c.Error("Device is already open", -int32(unix.EINVAL))
			return
		}
		l := h.lines.line(dev, int(n))
		if l == nil {
			c.Error("Device doesn't exist", -int32(unix.ENODEV)) // no lines yet (the machine is starting)
			return
		}
		msg, code := l.configure(spec)
		c.Reply(msg, code, false)
		return
	}
	n, end := cmdline.Strtoul(rest)
	if end != "" || end == rest {
		c.Error("line_get_config failed to parse device number", 1)
		return
	}
	if n >= max {
		c.Error("device number out of range", 1)
		return
	}
	l := h.lines.line(dev, int(n))
	if dev == "con" && n == 0 && (l == nil || !l.isValid()) {
		c.OK(h.conSpec) // the Console, on fds
		return
	}
	if l == nil {
		c.Error("Device doesn't exist", -int32(unix.ENODEV)) // no lines yet (the machine is starting)
		return
	}
	c.OK(l.configString())
}

// configEth plugs a network device into the running machine (netplug.go).
func (h *mcHost) configEth(c *mconsole.Call, num, spec string) {
	n, err := strconv.ParseUint(num, 0, 31)
	k := h.machine()
	if err != nil || k == nil {
		c.Error("", 1)
		return
	}
	if msg, code := k.plugNet(int(n), spec); code != 0 {
		c.Error(msg, code)
		return
	}
	c.OK("")
}

func (h *mcHost) remove(c *mconsole.Call) {
	dev := findDev(c.Args)
	if dev == "" {
		c.Error("Bad remove option", 1)
		return
	}
	rest := c.Args[len(dev):]
	switch dev {
	case "ubd":
		n, err := strconv.Atoi(rest)
		if err != nil {
			c.Error("Couldn't parse device number", 1)
			return
		}
		if n < 0 || n > 15 {
			c.Error("Invalid device number - must be between 0 and 15", 1)
			return
		}
		if n == h.rootUnit {
			c.Error("Device is currently open", -int32(unix.EBUSY))
			return
		}
		c.Error("Device doesn't exist", -int32(unix.ENODEV))
	case "con", "ssl":
		// line_id, then line_remove: setup_one_line(n, "none")
		n, end := cmdline.Strtoul(rest)
		max := uint64(cmdline.MaxCon)
		if dev == "ssl" {
			max = cmdline.MaxSSL
		}
		switch {
		case end != "" || end == rest:
			c.Error("Couldn't parse device number", 1)
		case n >= max:
			c.Error("Device number out of range", -int32(unix.EINVAL))
		case dev == "con" && n == 0:
			c.Error("Device is already open", -int32(unix.EINVAL))
		default:
			if msg, code := h.lines.line(dev, int(n)).configure("none"); code != 0 {
				c.Error(msg, code)
				return
			}
			c.OK("")
		}
	case "mem":
		c.Error("Memory doesn't support the remove operation", -int32(unix.EBUSY))
	case "eth", "vec":
		n, err := strconv.ParseUint(rest, 0, 31)
		k := h.machine()
		if err != nil || k == nil {
			c.Error(mcDevNotExist, -int32(unix.ENODEV))
			return
		}
		if msg, code := k.unplugNet(dev + strconv.FormatUint(n, 10)); code != 0 {
			c.Error(msg, code)
			return
		}
		c.OK("")
	default:
		c.Error("Device doesn't exist", -int32(unix.ENODEV))
	}
}

func (h *mcHost) stack(c *mconsole.Call) {
	f := strings.Fields(c.Args)
	if len(f) == 0 {
		c.Error("Please specify a pid", 1)
		return
	}
	n, err := strconv.Atoi(f[0])
	k := h.machine()
	if err != nil || n <= 0 || k == nil {
		c.Error("Couldn't find that pid", 1)
		return
	}
	if _, ok := k.hostPid(n); !ok {
		c.Error("Couldn't find that pid", 1)
		return
	}
	// guest processes are host processes: their kernel stacks are the host's
	c.Error("stack dumps are not supported by gouml", 1)
}

// freeze stops every guest process with SIGSTOP, a plain group stop (guest tasks are not
// traced), which a guest parent can notice; thaw continues them. A process forked while the
// signals go out is caught by the next pass.
func (h *mcHost) freeze() {
	k := h.machine()
	if k == nil {
		return
	}
	h.mu.Lock()
	if h.frozen == nil {
		h.frozen = map[int]bool{}
	}
	h.mu.Unlock()
	for pass := 0; pass < 5; pass++ {
		sent := false
		for _, p := range k.guestProcs() {
			h.mu.Lock()
			done := h.frozen[p]
			h.frozen[p] = true
			h.mu.Unlock()
			if !done {
				unix.Kill(p, unix.SIGSTOP)
				sent = true
			}
		}
		if !sent {
			return
		}
	}
}

func (h *mcHost) thaw() {
	h.mu.Lock()
	pids := h.frozen
	h.frozen = nil
	k := h.k
	h.mu.Unlock()
	if k == nil {
		return
	}
	for p := range pids {
		k.mu.Lock()
		_, alive := k.procs[p]
		k.mu.Unlock()
		if alive {
			unix.Kill(p, unix.SIGCONT)
		}
	}
}
