package kernel

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUmid follows docs/interfaces.md §7.2: pid file content, a live owner keeps its umid (a
// random one is used instead), a stale directory is taken over, and removal.
func TestUmid(t *testing.T) {
	dir := t.TempDir() + "/"
	var msg bytes.Buffer
	u, err := makeUmid(dir, "m1", &msg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "m1", "pid"))
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pid file %q", b)
	}
	// in use by a live process (us): a random umid
	u2, err := makeUmid(dir, "m1", &msg)
	if err != nil || filepath.Base(u2.dir) == "m1" || len(filepath.Base(u2.dir)) != 6 {
		t.Fatalf("%v %v", u2, err)
	}
	if !strings.Contains(msg.String(), `umid "m1" is already in use by pid `+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(msg.String(), `Failed to initialize umid "m1", trying with a random umid`) {
		t.Fatalf("message %q", msg.String())
	}
	u2.remove()
	u.remove()
	if _, err := os.Stat(filepath.Join(dir, "m1")); !os.IsNotExist(err) {
		t.Fatal("not removed")
	}
	// stale: a dead pid and a leftover socket
	os.Mkdir(filepath.Join(dir, "m2"), 0o777)
	os.WriteFile(filepath.Join(dir, "m2", "pid"), []byte("999999999\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m2", "mconsole"), nil, 0o644)
	os.MkdirAll(filepath.Join(dir, "m2", "gouml-exec-1", "7"), 0o755) // left by a SIGKILLed linux
	os.Symlink("/proc/1/fd/7", filepath.Join(dir, "m2", "gouml-exec-1", "7", "sh"))
	u3, err := makeUmid(dir, "m2", &msg)
	if err != nil || filepath.Base(u3.dir) != "m2" {
		t.Fatalf("stale takeover: %v %v", u3, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "m2")); len(ents) != 1 || ents[0].Name() != "pid" {
		t.Fatalf("stale files kept: %v", ents)
	}
	u3.remove()
	// default uml_dir is $HOME/.uml/
	t.Setenv("HOME", t.TempDir())
	u4, err := makeUmid("", "", &msg)
	if err != nil || filepath.Dir(u4.dir) != filepath.Join(os.Getenv("HOME"), ".uml") {
		t.Fatalf("%v %v", u4, err)
	}
	u4.remove()
}
