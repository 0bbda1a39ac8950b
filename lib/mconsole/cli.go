package mconsole

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// localHelp is printed after the UML's own help text, as uml_mconsole does.
const localHelp = "Additional local mconsole commands:\n" +
	"    quit - Quit mconsole\n" +
	"    switch <socket-name> - Switch control to the given machine\n" +
	"    log -f <filename> - use contents of <filename> as UML log messages\n" +
	"    mconsole-version - version of this mconsole program\n" +
	"    int  - Interrupt UML session\n"

// logChunk is the most log text per request: 512 - sizeof("log ") - 1.
const logChunk = MaxData - 5 - 1

// maxPath is the size of uml_mconsole's path buffers (MAXPATHLEN + 1).
const maxPath = 4097

// Environment variables that extend uml_mconsole (documented in uml_mconsole(1)).
const (
	EnvUMLDir  = "UML_DIR"              // tried before $HOME/.uml when resolving a umid
	EnvTimeout = "UML_MCONSOLE_TIMEOUT" // per-packet reply timeout
)

// cli is the state of one uml_mconsole run.
type cli struct {
	stdout, stderr io.Writer
	client         *Client
	name           string // the prompt name: the argument, cut to 11 bytes
	pid            int    // the UML's pid from its pid file, -1 if unknown
}

// Main is uml_mconsole: `uml_mconsole <name> [command words...]`. It returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintf(stderr, "Usage : uml_mconsole socket-name [command]\n")
		return 1
	}
	m := &cli{stdout: stdout, stderr: stderr, name: "[None]", pid: -1}
	c, err := NewClient()
	if err != nil {
		fmt.Fprintf(stderr, "uml_mconsole: %v\n", err)
		return 1
	}
	defer c.Close()
	m.client = c
	if v := os.Getenv(EnvTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			if n, err2 := strconv.ParseFloat(v, 64); err2 == nil {
				d, err = time.Duration(n*float64(time.Second)), nil
			}
		}
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "uml_mconsole: ignoring bad %s=%q (want e.g. 30s)\n", EnvTimeout, v)
		} else {
			c.Timeout = d
		}
	}
	m.switchTo(args[0])
	if len(args) > 1 {
		code, _ := m.issue(strings.Join(args[1:], " "))
		return code & 0xff
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if code, ok := m.interactiveTTY(f); ok {
			return code
		}
		return m.interactivePlain(stdin, m.stdout)
	}
	return m.interactivePlain(stdin, m.stderr)
}

func (m *cli) prompt() string { return "(" + m.name + ") " }

// interactiveTTY reads lines with editing and history; ok = false if the terminal could not
// be put in raw mode (then the plain loop takes over).
func (m *cli) interactiveTTY(f *os.File) (int, bool) {
	fd := int(f.Fd())
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{f, m.stdout}, "")
	for {
		t.SetPrompt(m.prompt())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return 0, false
		}
		line, err := t.ReadLine()
		_ = term.Restore(fd, old)
		if err != nil {
			fmt.Fprintln(m.stdout)
			return 0, true
		}
		if code, quit := m.issue(line); quit {
			return code, true
		}
	}
}

// interactivePlain reads commands one per line from a non-terminal (a pipe, a file, a
// here-document). readline, which the real tool uses, writes the prompt and echoes each
// line on standard output there; that transcript goes to transcript instead (standard
// error), so standard output holds the replies alone, for scripts to read. At end of input
// the prompt and a newline end the transcript.
func (m *cli) interactivePlain(in io.Reader, transcript io.Writer) int {
	r := bufio.NewReader(in)
	for {
		fmt.Fprint(transcript, m.prompt())
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			fmt.Fprintln(transcript)
			return 0
		}
		line = strings.TrimSuffix(line, "\n")
		fmt.Fprintln(transcript, line)
		if code, quit := m.issue(line); quit {
			return code
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func skipSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// issue runs one command line: trailing white space is cut, then the local commands are
// matched by prefix, everything else goes to the UML. quit = the program must end.
func (m *cli) issue(line string) (code int, quit bool) {
	for len(line) > 0 && isSpace(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	switch {
	case strings.HasPrefix(line, "quit"):
		return 0, true
	case strings.HasPrefix(line, "help"):
		m.send(line)
		fmt.Fprint(m.stdout, localHelp)
		return 0, false
	case strings.HasPrefix(line, "switch"):
		name := skipSpace(line[len("switch"):])
		if !m.switchTo(name) {
			return 1, false
		}
		fmt.Fprintf(m.stdout, "Switched to '%s'\n", name)
		return 0, false
	case strings.HasPrefix(line, "log"):
		return m.log(skipSpace(line[len("log"):]))
	case strings.HasPrefix(line, "umlfs"):
		return m.umlfs(line), false
	case strings.HasPrefix(line, "mconsole-version"):
		fmt.Fprintf(m.stdout, "uml_mconsole client version %d\n", Version)
		return 0, false
	case strings.HasPrefix(line, "int"):
		if m.pid == -1 {
			fmt.Fprintf(m.stdout, "Cannot determine the PID of your UML session, not sending signal.\n")
			return 0, false
		}
		_ = unix.Kill(m.pid, unix.SIGINT)
		return 0, false
	}
	return m.send(line), false
}

// send sends a command to the UML and prints "OK <text>" or "ERR <text>"; it returns the err
// word of the last reply packet (1 when nothing could be sent or received).
func (m *cli) send(cmd string) int {
	resp, err := m.client.Command(m.fixFilenames(cmd))
	return m.print(resp, err)
}

func (m *cli) print(resp Response, err error) int {
	if err != nil {
		var se *SendError
		if errors.As(err, &se) {
			fmt.Fprintf(m.stderr, "%v\n", se)
			return 1
		}
		fmt.Fprintf(m.stderr, "uml_mconsole: %v\n", err)
		if len(resp.Packets) > 0 {
			fmt.Fprintf(m.stdout, "ERR %s\n", resp.Text)
		}
		return 1
	}
	word := "OK"
	if resp.Err != 0 {
		word = "ERR"
	}
	fmt.Fprintf(m.stdout, "%s %s\n", word, resp.Text)
	return int(resp.Err)
}

// log sends text as kernel log messages in chunks that fit a request, then a lone newline
// unless the text ended with one; "-f file" sends the file's content.
func (m *cli) log(text string) (int, bool) {
	newline := false
	if strings.HasPrefix(text, "-f") {
		name := skipSpace(text[2:])
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(m.stderr, "opening file: %s\n", Strerror(err))
			return 1, true
		}
		defer f.Close()
		buf := make([]byte, logChunk)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				m.send("log " + string(buf[:n]))
				newline = buf[n-1] == '\n'
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintf(m.stderr, "reading file: %s\n", Strerror(err))
				return 1, true
			}
		}
	} else {
		for len(text) > 0 {
			n := min(len(text), logChunk)
			m.send("log " + text[:n])
			newline = text[n-1] == '\n'
			text = text[n:]
		}
	}
	if !newline {
		m.send("log \n")
	}
	return 0, false
}

// umlfs sends the command with a file descriptor attached (uml_mconsole's obsolete FUSE hook).
func (m *cli) umlfs(cmd string) int {
	arg := skipSpace(cmd[len("umlfs"):])
	fd, rest := strtoul(arg)
	var (
		resp Response
		err  error
	)
	if rest != "" {
		resp, err = Response{Err: -int32(unix.EINVAL), Text: "Failed to parse file descriptor"}, nil
	} else {
		resp, err = m.client.CommandFD(cmd, int(int32(fd)))
		var se *SendError
		var errno syscall.Errno
		if errors.As(err, &se) && errors.As(se.Err, &errno) {
			resp, err = Response{Err: -int32(errno), Text: "Failed to send FUSE file descriptor"}, nil
		}
	}
	return m.print(resp, err)
}

// strtoul parses like C's strtoul(s, &end, 0) and returns the value and the unparsed rest.
func strtoul(s string) (uint64, string) {
	p := skipSpace(s)
	neg := false
	if p != "" && (p[0] == '+' || p[0] == '-') {
		neg = p[0] == '-'
		p = p[1:]
	}
	base := uint64(10)
	switch {
	case len(p) > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hexDigit(p[2]) >= 0:
		base, p = 16, p[2:]
	case len(p) > 0 && p[0] == '0':
		base = 8
	}
	var v uint64
	i := 0
	for ; i < len(p); i++ {
		d := hexDigit(p[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		v = v*base + uint64(d)
	}
	if i == 0 {
		return 0, s // no digits: end = start
	}
	if neg {
		v = -v
	}
	return v, p[i:]
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// switchTo resolves name to a socket like uml_mconsole's switch_common: the first path that
// stat()s wins, with a warning for each one that does not.
func (m *cli) switchTo(name string) bool {
	if dir := strings.TrimRight(os.Getenv(EnvUMLDir), "/"); dir != "" && !strings.HasPrefix(name, dir) {
		if m.try(dir, dir+"/"+name+"/mconsole", name) {
			return true
		}
	}
	tryFile := true
	file := ""
	if home, ok := os.LookupEnv("HOME"); ok {
		dir := home + "/.uml"
		file = dir + "/" + name + "/mconsole"
		if !strings.HasPrefix(name, dir) {
			if m.try(dir, file, name) {
				return true
			}
			tryFile = false
		}
	}
	if !strings.HasPrefix(name, "/tmp/uml/") {
		// The pid file is looked up under this dir + "/" + name, as the original does.
		if m.try("/tmp/uml/"+name, "/tmp/uml/"+name+"/mconsole", name) {
			return true
		}
	}
	if m.try("./", name, name) {
		return true
	}
	if !tryFile {
		return false
	}
	return m.try("./", file, name)
}

func (m *cli) try(dir, file, name string) bool {
	if _, err := os.Stat(file); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		fmt.Fprintf(m.stderr, "Warning: couldn't stat file: %s - %s\n", file, Strerror(err))
		return false
	}
	m.client.SetTarget(file)
	m.name = name
	if len(m.name) > 11 {
		m.name = m.name[:11]
	}
	m.pid = -1
	if b, err := os.ReadFile(dir + "/" + name + "/pid"); err == nil {
		if v, rest := strtoul(string(b)); rest != string(b) {
			m.pid = int(int32(v))
		}
	}
	return true
}

// fixFilenames rewrites "config ubdN...=A[,B]" so that A and B are absolute, as the real
// client does before sending (the UML may run in another directory).
func (m *cli) fixFilenames(cmd string) string {
	if !strings.HasPrefix(cmd, "config") {
		return cmd
	}
	p := skipSpace(cmd[len("config"):])
	if !strings.HasPrefix(p, "ubd") {
		return cmd
	}
	eq := strings.IndexByte(cmd, '=')
	if eq < 0 {
		return cmd
	}
	rest := cmd[eq+1:]
	cow, backing, hasCow := "", rest, false
	if i := strings.IndexByte(rest, ','); i >= 0 {
		cow, backing, hasCow = rest[:i], rest[i+1:], true
	}
	if a, ok := m.absolutize(backing); ok {
		backing = a
	}
	out := cmd[:eq] + "="
	if hasCow {
		if a, ok := m.absolutize(cow); ok {
			cow = a
		}
		out += cow + ","
	}
	return out + backing
}

// absolutize makes from absolute with its directory part resolved physically (the real tool
// chdir()s there and calls getcwd()); the last component is kept as given.
func (m *cli) absolutize(from string) (string, bool) {
	cwd, err := unix.Getwd()
	if err != nil {
		fmt.Fprintf(m.stderr, "absolutize : unable to get cwd: %s\n", Strerror(err))
		return "", false
	}
	slash := strings.LastIndexByte(from, '/')
	if slash < 0 {
		if len(cwd)+1+len(from)+1 > maxPath {
			fmt.Fprintf(m.stderr, "absolutize : unable to fit '%s' into %d chars\n", from, maxPath)
			return "", false
		}
		return cwd + "/" + from, true
	}
	dir := from[:slash]
	real, err := physicalDir(dir)
	if err != nil {
		fmt.Fprintf(m.stderr, "absolutize : Can't cd to '%s', %s\n", dir, Strerror(err))
		return "", false
	}
	if len(from[slash:])+1 > maxPath-len(real) {
		fmt.Fprintf(m.stderr, "absolutize : unable to fit '%s' into %d chars\n", from, maxPath)
		return "", false
	}
	return real + from[slash:], true
}

// physicalDir returns what getcwd() would say after chdir(dir), without changing this
// process's working directory.
func physicalDir(dir string) (string, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	return p, nil
}
