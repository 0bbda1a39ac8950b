package mconsole

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// kernelLike is a server answering like the real 6.1 kernel does (texts and err values from
// docs/interfaces.md §2.4), recording what the handlers were asked.
type kernelLike struct {
	mu      sync.Mutex
	ubd     map[string]string
	log     []string
	actions []string
}

const procText = "MemTotal: 1\n" // repeated to make a multi-packet proc answer

func (k *kernelLike) record(list *[]string, s string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	*list = append(*list, s)
}

func (k *kernelLike) server() *Server {
	s := NewServer()
	k.ubd = map[string]string{}
	s.Handle("version", func(c *Call) { c.OK("Linux (none) 6.1.176 #1 Sat Jul  4 15:38:16 UTC 2026 x86_64") })
	for _, n := range []string{"halt", "reboot", "cad"} {
		s.Handle(n, func(c *Call) { k.record(&k.actions, c.Name); c.OK("") })
	}
	s.Handle("config", func(c *Call) {
		dev, spec, add := strings.Cut(c.Args, "=")
		switch {
		case strings.HasPrefix(dev, "eth") && add:
			c.Error("Device already configured", -22)
		case strings.HasPrefix(dev, "ubd") && add:
			k.mu.Lock()
			k.ubd[dev] = spec
			k.mu.Unlock()
			c.OK("")
		case strings.HasPrefix(dev, "ubd"):
			k.mu.Lock()
			defer k.mu.Unlock()
			c.OK(k.ubd[dev])
		default:
			c.Error("Bad configuration option", 1)
		}
	})
	s.Handle("remove", func(c *Call) {
		switch c.Args {
		case "ubd0":
			c.Error("Device is currently open", -16)
		case "ubd5":
			c.Error("Device doesn't exist", -19)
		default:
			c.Error("Bad remove option", 1)
		}
	})
	s.Handle("sysrq", func(c *Call) {
		// Console output streamed back, then an empty last packet, as the kernel does.
		c.Reply("sysrq: "+strings.Repeat("show-task-states(t) ", 60), 0, true)
		c.Reply("", 0, false)
	})
	s.Handle("log", func(c *Call) { k.record(&k.log, c.Args); c.OK("") })
	s.Handle("proc", func(c *Call) {
		if c.Args != "meminfo" {
			c.Error("Failed to open file", 1)
			return
		}
		c.Reply("\n", 0, true)
		c.Reply(strings.Repeat(procText, 300), 0, true)
		c.Reply("", 0, false)
	})
	s.Handle("stack", func(c *Call) {
		if c.Args == "" {
			c.Error("Please specify a pid", 1)
			return
		}
		c.Error("Couldn't find that pid", 1)
	})
	return s
}

// TestRealUmlMconsoleAgainstOurServer runs the real uml_mconsole against our Server, bound
// where the real client resolves a umid ($HOME/.uml/<umid>/mconsole): every command must be
// answered, multi-packet replies reassembled, error codes mapped to the same exit statuses.
// Our uml_mconsole must show exactly the same for each command.
func TestRealUmlMconsoleAgainstOurServer(t *testing.T) {
	real := testenv.Tool(t, "uml_mconsole")
	ours := testenv.Program(t, "uml_mconsole")
	home := t.TempDir()
	const umid = "srv"
	dir := filepath.Join(home, ".uml", umid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := &kernelLike{}
	s := k.server()
	if err := s.Listen(filepath.Join(dir, "mconsole"), ""); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	work := t.TempDir()

	long := "sysrq: " + strings.Repeat("show-task-states(t) ", 60)
	cases := []struct {
		line   string
		stdout string
		code   int
	}{
		{"version", "OK Linux (none) 6.1.176 #1 Sat Jul  4 15:38:16 UTC 2026 x86_64\n", 0},
		{"help", "OK " + HelpText + "\n" + localHelp, 0},
		{"proc meminfo", "OK \n" + strings.Repeat(procText, 300) + "\n", 0},
		{"proc nofile", "ERR Failed to open file\n", 1},
		{"sysrq t", "OK " + long + "\n", 0},
		{"stack", "ERR Please specify a pid\n", 1},
		{"stack 999", "ERR Couldn't find that pid\n", 1},
		{"remove ubd5", "ERR Device doesn't exist\n", 237},
		{"remove ubd0", "ERR Device is currently open\n", 240},
		{"remove foo", "ERR Bad remove option\n", 1},
		{"config eth0=daemon", "ERR Device already configured\n", 234},
		{"config ubd1=disk.img", "OK \n", 0},
		{"config ubd1", "OK " + filepath.Join(work, "disk.img") + "\n", 0},
		{"config ubd2=a.cow,disk.img", "OK \n", 0},
		{"config ubd2", "OK " + filepath.Join(work, "a.cow") + "," + filepath.Join(work, "disk.img") + "\n", 0},
		{"log hello world", "OK \nOK \n", 0},
		{"log " + strings.Repeat("a", 600), "OK \nOK \nOK \n", 0},
		{"stop", "OK stopped\n", 0},
		{"stop", "ERR Already stopped\n", 1},
		{"version", "OK Linux (none) 6.1.176 #1 Sat Jul  4 15:38:16 UTC 2026 x86_64\n", 0},
		{"go", "OK \n", 0},
		{"go", "ERR Not stopped\n", 1},
		{"bogus", "ERR Unknown command\n", 1},
		{"cad", "OK \n", 0},
		{"reboot", "OK \n", 0},
		{"halt", "OK \n", 0},
	}
	for _, tool := range []string{real, ours} {
		for _, c := range cases {
			r := runTool(t, tool, work, home, "", append([]string{umid}, strings.Fields(c.line)...)...)
			if r.Stdout != c.stdout || r.Code != c.code || r.Stderr != "" {
				t.Errorf("%s %q:\n got %v\nwant exit %d stdout %q", filepath.Base(filepath.Dir(tool))+"/"+filepath.Base(tool), c.line, r, c.code, c.stdout)
			}
		}
	}
	k.mu.Lock()
	logs := "hello world|\n|" + strings.Repeat("a", 506) + "|" + strings.Repeat("a", 94) + "|\n|"
	if got := strings.Join(k.log, "|"); got != logs+logs[:len(logs)-1] {
		t.Errorf("log texts seen by the server: %q", got)
	}
	if got := strings.Join(k.actions, ","); got != "cad,reboot,halt,cad,reboot,halt" {
		t.Errorf("actions: %q", got)
	}
	k.mu.Unlock()

	// Commands through a pipe: prompt, echo, answers on the real tool's standard output;
	// ours keeps the answers alone there and writes the prompts and echoes on standard error.
	script := "version\nstop\ngo\nquit\nversion\n"
	want := "(srv) version\nOK Linux (none) 6.1.176 #1 Sat Jul  4 15:38:16 UTC 2026 x86_64\n" +
		"(srv) stop\nOK stopped\n(srv) go\nOK \n(srv) quit\n"
	if r := runTool(t, real, work, home, script, umid); r.Stdout != want || r.Code != 0 {
		t.Errorf("%s interactive: %v", real, r)
	}
	transcript, replies := splitTranscript(want)
	if r := runTool(t, ours, work, home, script, umid); r.Stdout != replies || r.Stderr != transcript || r.Code != 0 {
		t.Errorf("%s interactive: %v\nwant stdout %q, stderr %q", ours, r, replies, transcript)
	}

	// int signals the pid in <dir>/<umid>/pid.
	for _, tool := range []string{real, ours} {
		victim := exec.Command("sleep", "60")
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(victim.Process.Pid)+"\n"), 0o644)
		r := runTool(t, tool, work, home, "", umid, "int")
		done := make(chan error, 1)
		go func() { done <- victim.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
				t.Errorf("%s int: victim ended with %v", tool, err)
			}
		case <-time.After(10 * time.Second):
			victim.Process.Kill()
			<-done
			t.Errorf("%s int did not interrupt the pid from the pid file (%v)", tool, r)
		}
	}
}
