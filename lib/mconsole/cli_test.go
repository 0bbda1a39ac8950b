package mconsole

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runMain(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var o, e bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &o, &e)
	return result{Stdout: o.String(), Stderr: e.String(), Code: code}
}

func TestCLIReplyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "silent")
	a, _ := fullAddr(path)
	d, err := newDgram(&a)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	t.Setenv(EnvTimeout, "300ms")
	t.Setenv("HOME", t.TempDir())
	start := time.Now()
	r := runMain(t, "", path, "version")
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "uml_mconsole: no reply from '"+path+"' within 300ms") {
		t.Errorf("got %v", r)
	}
	if time.Since(start) > 20*time.Second {
		t.Error("the timeout was not honoured")
	}
}

func TestCLIUmlDir(t *testing.T) {
	umlDir := t.TempDir()
	os.MkdirAll(filepath.Join(umlDir, "m1"), 0o755)
	s := NewServer()
	s.Handle("version", func(c *Call) { c.OK("V") })
	if err := s.Listen(filepath.Join(umlDir, "m1", "mconsole"), ""); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	t.Setenv("HOME", t.TempDir())

	t.Setenv(EnvUMLDir, umlDir+"/")
	if r := runMain(t, "", "m1", "version"); r != (result{Stdout: "OK V\n"}) {
		t.Errorf("UML_DIR: %v", r)
	}
	// Unset: the real tool's order, which does not find it.
	t.Setenv(EnvUMLDir, "")
	r := runMain(t, "", "m1", "version")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Sending command to '' : Invalid argument") ||
		strings.Count(r.Stderr, "Warning: couldn't stat file:") != 3 {
		t.Errorf("without UML_DIR: %v", r)
	}
	// A bad timeout value is reported and the default used.
	t.Setenv(EnvUMLDir, umlDir)
	t.Setenv(EnvTimeout, "soon")
	if r := runMain(t, "", "m1", "version"); r.Stdout != "OK V\n" || !strings.Contains(r.Stderr, "ignoring bad UML_MCONSOLE_TIMEOUT") {
		t.Errorf("bad timeout: %v", r)
	}
}

func TestCLIUsage(t *testing.T) {
	if r := runMain(t, ""); r != (result{Stderr: "Usage : uml_mconsole socket-name [command]\n", Code: 1}) {
		t.Errorf("got %v", r)
	}
}

func TestFixFilenames(t *testing.T) {
	base := t.TempDir()
	realDir := filepath.Join(base, "real")
	os.MkdirAll(realDir, 0o755)
	os.Symlink(realDir, filepath.Join(base, "link"))
	t.Chdir(base)
	var e bytes.Buffer
	m := &cli{stderr: &e}
	for in, want := range map[string]string{
		"version":                        "version",
		"config eth0=daemon":             "config eth0=daemon",
		"config ubd1":                    "config ubd1",
		"config ubd1=x.img":              "config ubd1=" + base + "/x.img",
		"config  ubd1r=link/c.cow,x.img": "config  ubd1r=" + realDir + "/c.cow," + base + "/x.img",
		"configubd2=/tmp/../x":           "configubd2=//x", // getcwd() is "/", then "/x" is appended
	} {
		if got := m.fixFilenames(in); got != want {
			t.Errorf("fixFilenames(%q) = %q, want %q", in, got, want)
		}
	}
	if e.Len() != 0 {
		t.Errorf("unexpected messages: %s", e.String())
	}
	// Errors keep the name as given, with the real tool's message.
	if got := m.fixFilenames("config ubd1=/file"); got != "config ubd1=/file" ||
		e.String() != "absolutize : Can't cd to '', No such file or directory\n" {
		t.Errorf("leading-slash-only path: %q, %q", got, e.String())
	}
}

func TestStrtoul(t *testing.T) {
	for _, c := range []struct {
		in   string
		v    uint64
		rest string
	}{{"12", 12, ""}, {"  7x", 7, "x"}, {"0x1f", 31, ""}, {"010", 8, ""}, {"", 0, ""}, {"x", 0, "x"}, {"123\n", 123, "\n"}} {
		v, rest := strtoul(c.in)
		if v != c.v || rest != c.rest {
			t.Errorf("strtoul(%q) = %d, %q", c.in, v, rest)
		}
	}
}
