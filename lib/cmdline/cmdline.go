// Package cmdline parses the User-Mode Linux kernel command line (the argv of `linux`) into a
// machine configuration, following the real Debian linux.uml 6.1 word by word
// (docs/interfaces.md §5, §6.1, §6.3, §7).
//
// How UML treats a word, and so how Parse does:
//   - UML's own options (ubdN=, mem=, umid=, con=, eth0= …) configure the machine. Like the real
//     kernel, they stay on the kernel command line afterwards (except umid= and xterm=, whose
//     handlers remove them), so the generic kernel, which does not know them, hands key=value
//     ones to init's environment and plain words (noreboot, nosysemu) to init's argv.
//   - Generic kernel options (root=, rootfstype=, rootflags=, init=, rw, ro, quiet, debug,
//     console=, loglevel= …) are consumed by the kernel.
//   - Any other key=value word goes to init's environment, any other word to init's argv;
//     words with a dot in the key (module parameters) are dropped; everything after "--" goes
//     to init's argv unchanged.
//
// Where the real kernel prints a complaint and boots on (ubd99=, a bad channel spec), Parse
// returns an error naming the word, because a half-configured machine hides mistakes; the
// error text keeps the real kernel's wording after the word. Harmless warnings the real kernel
// prints (udb typo, fake_ide, a second umid=) are kept in Config.Warnings.
package cmdline

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits of the real kernel.
const (
	MaxUBD     = 16 // ubda..ubdp
	MaxCon     = 16 // con0..con15
	MaxSSL     = 64 // ssl0..ssl63
	MaxUmidLen = 63 // longer umid= values are ignored (a random umid is used)
	DefaultMem = 64 << 20
)

// UBD is one ubdN= block device.
type UBD struct {
	Unit     int    // 0..15 (a..p)
	File     string // image file (or, for gouml, a directory used as a root file system)
	Backing  string // backing file when File is a COW file
	Serial   string
	ReadOnly bool // flag r
	Sync     bool // flag s (O_SYNC)
	NoCow    bool // flag d: never treat File as a COW file
	Shared   bool // flag c: no host locking
	NoTrim   bool // flag t: no discard
	Spec     string
}

// Chan is one side of a console/serial line channel (§5.2).
type Chan struct {
	Type string // fd, null, pty, pts, tty, port, xterm; "none" for a line left unconfigured
	Arg  string // fd number, host device, tcp port (as written)
	FD   int    // parsed fd number for Type "fd"
}

func (c Chan) String() string {
	if c.Arg == "" {
		return c.Type
	}
	return c.Type + ":" + c.Arg
}

// Line is a console or serial line channel pair; In == Out when one channel was given.
type Line struct {
	In, Out Chan
	Spec    string
}

// Config is the machine described by a command line.
type Config struct {
	UBD     map[int]*UBD
	UBDSync bool // ubd=sync

	Root         string // root= as given ("" = not given; the kernel then uses 98:0 = ubd0)
	RootFSType   string
	RootFlags    string
	HostFS       string // hostfs= root directory for every hostfs mount ("" = whole host)
	HostFSAppend bool
	RW           bool // the root is mounted read-write ("rw"); default read-only, as Linux
	Init         string

	Mem     uint64 // bytes
	Umid    string // "" = random
	UmlDir  string // with trailing '/'; "" = $HOME/.uml/
	Console string // console= (generic)

	Con        map[int]*Line // conN=
	ConDefault *Line         // con=
	SSL        map[int]*Line // sslN=
	SSLDefault *Line         // ssl=
	SSLNonRaw  bool
	Xterm      string
	Stderr     string

	Eth       map[int]string // ethN= (raw spec after '=')
	Vec       map[int]string // vecN: (raw spec after ':')
	Iomem     []string
	Initrd    string
	VirtioUML []string

	Quiet, Debug, NoReboot, NoSysemu bool
	// NoLandlock (gouml's own option) lets the emulator run where the host kernel has no
	// Landlock, accepting a kernel process that only our code confines.
	NoLandlock     bool
	MconsoleNotify string // mconsole=notify:PATH
	Loglevel       string

	Help, Version, ShowConfig bool

	InitArgs []string // extra words for init's argv (after the init path)
	InitEnv  []string // init's environment beyond HOME=/ and TERM=linux
	Warnings []string
}

// Error is an invalid command-line word.
type Error struct {
	Word string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%q: %s", e.Word, e.Msg) }

// Parse parses linux's arguments (without the program name).
func Parse(args []string) (*Config, error) {
	c := &Config{
		UBD: map[int]*UBD{}, Con: map[int]*Line{}, SSL: map[int]*Line{},
		Eth: map[int]string{}, Vec: map[int]string{}, Mem: DefaultMem,
	}
	umidSet := false
	for i, w := range args {
		if i == 0 && strings.HasPrefix(w, " ") {
			continue // the real kernel skips such a first argument
		}
		if w == "--" {
			c.InitArgs = append(c.InitArgs, args[i+1:]...)
			break
		}
		keep, err := c.word(w, &umidSet)
		if err != nil {
			return nil, err
		}
		if !keep {
			continue
		}
		c.passOn(w)
	}
	return c, nil
}

// passOn does what the generic kernel does with a word it does not know.
func (c *Config) passOn(w string) {
	key, _, hasVal := strings.Cut(w, "=")
	if hasVal {
		if strings.Contains(key, ".") {
			return // module parameter
		}
		c.InitEnv = append(c.InitEnv, w)
		return
	}
	if strings.Contains(w, ".") {
		return
	}
	c.InitArgs = append(c.InitArgs, w)
}

// word applies one word; keep reports whether the word stays on the kernel command line for
// the generic kernel (and so may reach init).
func (c *Config) word(w string, umidSet *bool) (keep bool, err error) {
	bad := func(msg string) error { return &Error{Word: w, Msg: msg} }
	key, val, hasVal := strings.Cut(w, "=")
	switch {
	case w == "--help":
		c.Help = true
		return false, nil
	case w == "--version":
		c.Version = true
		return false, nil
	case w == "--showconfig":
		c.ShowConfig = true
		return false, nil
	// Generic kernel options: consumed.
	case hasVal && key == "root":
		c.Root = val
		return false, nil
	case hasVal && key == "rootfstype":
		c.RootFSType = val
		return false, nil
	case hasVal && key == "rootflags":
		c.RootFlags = val
		return false, nil
	case hasVal && key == "init":
		if val == "" {
			return false, bad("init= needs a path")
		}
		c.Init = val
		return false, nil
	case w == "rw":
		c.RW = true
		return false, nil
	case w == "ro":
		c.RW = false
		return false, nil
	case w == "quiet":
		c.Quiet = true
		return false, nil
	case w == "debug":
		c.Debug = true
		return false, nil
	case hasVal && key == "loglevel":
		c.Loglevel = val
		return false, nil
	case hasVal && key == "console":
		c.Console = val
		return false, nil
	}

	// UML options, matched by prefix like the real setup table.
	switch {
	case strings.HasPrefix(w, "ubd"):
		return true, c.ubd(w)
	case strings.HasPrefix(w, "udb"):
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s specified on command line is almost certainly a ubd -> udb TYPO", w))
		return true, nil
	case w == "fake_ide":
		c.Warnings = append(c.Warnings, "The fake_ide option has been removed")
		return true, nil
	case strings.HasPrefix(w, "mem="):
		n, err := Memparse(w[4:])
		if err != nil {
			return false, bad(err.Error())
		}
		if n < 1<<20 {
			return false, bad("Too few physical memory (at least 1M)")
		}
		c.Mem = n
		return true, nil
	case strings.HasPrefix(w, "umid="):
		v := w[5:]
		if *umidSet {
			c.Warnings = append(c.Warnings, "umid already set")
			return true, nil // goes to init's environment, as observed
		}
		if len(v) > MaxUmidLen {
			return false, nil // silently ignored: a random umid is used
		}
		if strings.Contains(v, "/") || v == "." || v == ".." {
			return false, bad("umid must not contain '/' or be . or ..")
		}
		c.Umid, *umidSet = v, true
		return false, nil
	case strings.HasPrefix(w, "uml_dir="):
		v := w[8:]
		if v == "" {
			return false, bad("uml_dir can't be an empty string")
		}
		if !strings.HasSuffix(v, "/") {
			v += "/"
		}
		c.UmlDir = v
		return true, nil
	case strings.HasPrefix(w, "hostfs="):
		parts := strings.Split(w[7:], ",")
		c.HostFS = parts[0]
		for _, f := range parts[1:] {
			if f == "append" {
				c.HostFSAppend = true
			} else if f != "" {
				return false, bad("hostfs_args - unsupported option - " + f)
			}
		}
		return true, nil
	case strings.HasPrefix(w, "ssl-non-raw"):
		c.SSLNonRaw = true
		return true, nil
	case strings.HasPrefix(w, "ssl"):
		return true, c.line(w, w[3:], "ssl", MaxSSL, c.SSL, &c.SSLDefault)
	case strings.HasPrefix(w, "con"):
		return true, c.line(w, w[3:], "con", MaxCon, c.Con, &c.ConDefault)
	case strings.HasPrefix(w, "eth"):
		// Like the real kernel, a malformed ethN word is reported and the machine boots
		// without that device.
		n, spec, msg := ethSpec(w[3:])
		if msg != "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("eth_setup - Couldn't parse '%s' : %s", w[3:], msg))
			return true, nil
		}
		c.Eth[n] = spec
		return true, nil
	case strings.HasPrefix(w, "vec"):
		n, spec, err := devSpec(w[3:], ':')
		if err != nil {
			return false, bad(err.Error())
		}
		c.Vec[n] = spec
		return true, nil
	case strings.HasPrefix(w, "xterm="):
		c.Xterm = w[6:]
		return false, nil // removed from the command line by its handler
	case strings.HasPrefix(w, "stderr="):
		c.Stderr = w[7:]
		return true, nil
	case strings.HasPrefix(w, "iomem="):
		if !strings.Contains(w[6:], ",") {
			return false, bad("iomem= needs <name>,<file>")
		}
		c.Iomem = append(c.Iomem, w[6:])
		return true, nil
	case strings.HasPrefix(w, "initrd="):
		c.Initrd = w[7:]
		return true, nil
	case strings.HasPrefix(w, "virtio_uml.device="):
		c.VirtioUML = append(c.VirtioUML, w[len("virtio_uml.device="):])
		return true, nil
	case strings.HasPrefix(w, "mconsole="):
		v := w[9:]
		if !strings.HasPrefix(v, "notify:") || len(v) == 7 {
			return false, bad("expected mconsole=notify:<socket path>")
		}
		c.MconsoleNotify = v[7:]
		return true, nil
	case w == "noreboot":
		c.NoReboot = true
		return true, nil
	case w == "nosysemu":
		c.NoSysemu = true
		return true, nil
	case w == "nolandlock":
		c.NoLandlock = true
		return true, nil
	}
	return true, nil
}

// ubd parses ubd<unit>[flags]=<file>[(,|:)<backing>[(,|:)<serial>]] like ubd_setup_common.
func (c *Config) ubd(w string) error {
	s := w[3:]
	bad := func(msg string) error { return &Error{Word: w, Msg: msg} }
	if strings.HasPrefix(s, "=") {
		if s[1:] == "sync" {
			c.UBDSync = true
			return nil
		}
		return bad("fake major not supported any more")
	}
	n, rest := parseUnit(s)
	if n < 0 {
		return bad("Couldn't parse device number")
	}
	if n >= MaxUBD {
		return bad("Device number out of range")
	}
	if _, dup := c.UBD[n]; dup {
		return bad("Device is already configured")
	}
	d := &UBD{Unit: n, Spec: w}
	i := 0
	for ; i < len("rscdt="); i++ {
		if rest == "" {
			return bad("Missing '='")
		}
		ch := rest[0]
		rest = rest[1:]
		switch ch {
		case 'r':
			d.ReadOnly = true
			continue
		case 's':
			d.Sync = true
			continue
		case 'd':
			d.NoCow = true
			continue
		case 'c':
			d.Shared = true
			continue
		case 't':
			d.NoTrim = true
			continue
		case '=':
		default:
			return bad("Expected '=' or flag letter (r, s, c, t or d)")
		}
		break
	}
	if i == len("rscdt=") {
		if strings.HasPrefix(rest, "=") {
			return bad("Too many flags specified")
		}
		return bad("Missing '='")
	}
	fields := strsep(rest, 3)
	d.File = fields[0]
	if len(fields) > 1 {
		d.Backing = fields[1]
	}
	if len(fields) > 2 {
		d.Serial = fields[2]
	}
	if d.Backing != "" && d.NoCow {
		return bad("Can't specify both 'd' and a cow file")
	}
	c.UBD[n] = d
	return nil
}

// strsep splits s like repeated strsep(&s, ",:"), at most n fields (the last keeps nothing
// after a further separator, as the kernel ignores it).
func strsep(s string, n int) []string {
	var out []string
	for len(out) < n {
		i := strings.IndexAny(s, ",:")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return out
}

// parseUnit is the kernel's parse_unit: a number (base auto-detected) or a letter a..z.
func parseUnit(s string) (int, string) {
	if s == "" {
		return -1, s
	}
	if s[0] >= '0' && s[0] <= '9' {
		v, rest := strtoul(s)
		if v > 1<<30 {
			v = 1 << 30
		}
		return int(v), rest
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		return int(s[0] - 'a'), s[1:]
	}
	return -1, s
}

// strtoul is simple_strtoul(s, &end, 0): 0x hex, leading 0 octal, else decimal; it stops at
// the first character that is not a digit of the base.
func strtoul(s string) (uint64, string) {
	base := uint64(10)
	i := 0
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && len(s) > 2 && isHex(s[2]) {
		base, i = 16, 2
	} else if len(s) > 0 && s[0] == '0' {
		base = 8
	}
	var v uint64
	start := i
	for ; i < len(s); i++ {
		d, ok := digit(s[i])
		if !ok || d >= base {
			break
		}
		if v > (1<<64-1)/base {
			v = 1<<64 - 1
			continue
		}
		v = v*base + d
	}
	if i == start && base != 8 {
		return 0, s
	}
	return v, s[i:]
}

func isHex(b byte) bool { _, ok := digit(b); return ok }

func digit(b byte) (uint64, bool) {
	switch {
	case b >= '0' && b <= '9':
		return uint64(b - '0'), true
	case b >= 'a' && b <= 'f':
		return uint64(b-'a') + 10, true
	case b >= 'A' && b <= 'F':
		return uint64(b-'A') + 10, true
	}
	return 0, false
}

// Memparse parses a size like the kernel's memparse (number with base prefix, optional
// K/M/G/T/P/E suffix, powers of 1024). Unlike memparse, trailing garbage is an error.
func Memparse(s string) (uint64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	v, rest := strtoul(s)
	shift := 0
	if rest != "" {
		switch rest[0] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		case 'T', 't':
			shift = 40
		case 'P', 'p':
			shift = 50
		case 'E', 'e':
			shift = 60
		default:
			return 0, fmt.Errorf("invalid size %q", s)
		}
		rest = rest[1:]
	}
	if rest != "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if shift > 0 && v > (1<<64-1)>>shift {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return v << shift, nil
}

// line parses conN=/con=/sslN=/ssl= (s is the text after the prefix).
func (c *Config) line(w, s, kind string, max int, m map[int]*Line, def **Line) error {
	bad := func(msg string) error { return &Error{Word: w, Msg: msg} }
	if kind == "con" && strings.HasPrefix(s, "sole=") {
		return nil // console= is handled as a generic option before we get here
	}
	n := -1
	if !strings.HasPrefix(s, "=") {
		v, rest := strtoul(s)
		if rest == s {
			return bad("Couldn't parse device number")
		}
		if !strings.HasPrefix(rest, "=") {
			return bad("Expected '=' after the device number")
		}
		if v >= uint64(max) {
			return bad("Device number out of range")
		}
		n, s = int(v), rest
	}
	l, err := ParseLine(s[1:])
	if s[1:] == "none" {
		// no channel: the line is left unconfigured (con0=none: a console nobody sees)
		l, err = &Line{In: Chan{Type: "none"}, Out: Chan{Type: "none"}}, nil
	}
	if err != nil {
		return bad(err.Error())
	}
	l.Spec = s[1:]
	if n < 0 {
		*def = l
	} else {
		m[n] = l
	}
	return nil
}

// ParseLine parses a channel pair "<chan>" or "<in>,<out>" (§5.2).
func ParseLine(s string) (*Line, error) {
	in, out, pair := strings.Cut(s, ",")
	ci, err := ParseChan(in)
	if err != nil {
		return nil, err
	}
	co := ci
	if pair {
		if co, err = ParseChan(out); err != nil {
			return nil, err
		}
	}
	return &Line{In: ci, Out: co}, nil
}

// ParseChan parses one channel; the type is matched by prefix as the kernel does.
func ParseChan(s string) (Chan, error) {
	for _, t := range []string{"pty", "pts", "fd", "null", "port", "xterm", "tty"} {
		if !strings.HasPrefix(s, t) {
			continue
		}
		rest := s[len(t):]
		ch := Chan{Type: t}
		switch t {
		case "fd":
			if !strings.HasPrefix(rest, ":") {
				return ch, fmt.Errorf("channel type 'fd' must specify a file descriptor")
			}
			v, end := strtoul(rest[1:])
			if end == rest[1:] || end != "" || v > 1<<30 {
				return ch, fmt.Errorf("couldn't parse file descriptor %q", rest[1:])
			}
			ch.Arg, ch.FD = rest[1:], int(v)
		case "tty":
			if !strings.HasPrefix(rest, ":") {
				return ch, fmt.Errorf("channel type 'tty' must specify a device")
			}
			ch.Arg = rest[1:]
		case "port":
			if !strings.HasPrefix(rest, ":") {
				return ch, fmt.Errorf("channel type 'port' must specify a port number")
			}
			v, end := strtoul(rest[1:])
			if end == rest[1:] || end != "" || v > 65535 {
				return ch, fmt.Errorf("couldn't parse port %q", rest[1:])
			}
			ch.Arg = rest[1:]
		}
		return ch, nil
	}
	return Chan{}, fmt.Errorf("parse_chan couldn't parse %q", s)
}

// devSpec parses "<n><sep><spec>" of ethN= / vecN:.
func devSpec(s string, sep byte) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, "", fmt.Errorf("couldn't parse device number")
	}
	if i == len(s) || s[i] != sep {
		return 0, "", fmt.Errorf("expected %q after the device number", sep)
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n > 1<<16 {
		return 0, "", fmt.Errorf("device number out of range")
	}
	return n, s[i+1:], nil
}

// ethSpec parses "<n>=<spec>" of ethN= as eth_parse does: n in C's bases (0x… hex, 0…
// octal), then '='. msg is the real kernel's complaint.
func ethSpec(s string) (int, string, string) {
	base, i := 10, 0
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]):
		base, i = 16, 2
	case len(s) > 0 && s[0] == '0':
		base = 8
	}
	start := i
	var n uint64
	for ; i < len(s); i++ {
		d := strings.IndexByte("0123456789abcdef", s[i]|0x20)
		if d < 0 || d >= base || (s[i] < '0' || s[i] > '9') && base != 16 {
			break
		}
		n = n*uint64(base) + uint64(d)
		if n > 1<<16 {
			n = 1<<16 + 1 // far beyond any device; keeps the arithmetic from wrapping
		}
	}
	if i == start {
		return 0, "", "Bad device number"
	}
	if i == len(s) || s[i] != '=' {
		return 0, "", "Expected '=' after device number"
	}
	if n > 1<<16 {
		return 0, "", "Bad device number"
	}
	return int(n), s[i+1:], ""
}

// ConsoleLine returns the channel pair of console n: conN=, else con=, else the default
// (con0 = fd:0,fd:1; other consoles have none).
func (c *Config) ConsoleLine(n int) *Line {
	if l := c.Con[n]; l != nil {
		return l
	}
	if c.ConDefault != nil {
		return c.ConDefault
	}
	if n == 0 {
		return &Line{In: Chan{Type: "fd", Arg: "0", FD: 0}, Out: Chan{Type: "fd", Arg: "1", FD: 1}, Spec: "fd:0,fd:1"}
	}
	return nil
}

// RootDevice says where the root file system comes from: "hostfs" (RootDir = host directory)
// or "ubd" (unit of the ubd device).
type RootDevice struct {
	Kind    string // "hostfs" or "ubd"
	HostDir string // for hostfs
	Unit    int    // for ubd
}

// RootSource interprets root=, rootfstype=, rootflags= and hostfs= like the kernel.
func (c *Config) RootSource() (RootDevice, error) {
	if c.RootFSType == "hostfs" {
		sub := c.RootFlags
		dir := c.HostFS
		if sub != "" {
			dir = strings.TrimSuffix(dir, "/") + "/" + strings.TrimPrefix(sub, "/")
		}
		if dir == "" {
			dir = "/"
		}
		return RootDevice{Kind: "hostfs", HostDir: dir}, nil
	}
	r := c.Root
	if r == "" || r == "98:0" {
		return RootDevice{Kind: "ubd", Unit: 0}, nil
	}
	for _, p := range []string{"/dev/ubd", "ubd"} {
		if !strings.HasPrefix(r, p) {
			continue
		}
		n, rest := parseUnit(r[len(p):])
		if n >= 0 && n < MaxUBD && rest == "" {
			return RootDevice{Kind: "ubd", Unit: n}, nil
		}
	}
	if maj, min, ok := strings.Cut(r, ":"); ok && maj == "98" {
		if m, err := strconv.Atoi(min); err == nil && m >= 0 && m%16 == 0 && m/16 < MaxUBD {
			return RootDevice{Kind: "ubd", Unit: m / 16}, nil
		}
	}
	if r == "/dev/root" {
		return RootDevice{}, fmt.Errorf("root=/dev/root needs rootfstype=hostfs")
	}
	return RootDevice{}, fmt.Errorf("root=%s: unknown root device (use /dev/ubdX or rootfstype=hostfs)", r)
}

// Strtoul is the kernel's simple_strtoul(s, &end, 0): the number at the start of s (0x…
// hexadecimal, 0… octal) and the rest of s after it (all of s when there is no number).
func Strtoul(s string) (uint64, string) { return strtoul(s) }
