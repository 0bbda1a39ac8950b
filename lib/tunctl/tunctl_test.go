package tunctl

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/tap"
	"github.com/gouml/gouml/lib/testenv"
)

// usage is the real tunctl's usage text (captured from uml-utilities 20070815.4-1), with
// PROG for argv[0].
const usage = `Create: PROG [-b] [-u owner] [-g group] [-t device-name] [-f tun-clone-device]
Delete: PROG -d device-name [-f tun-clone-device]

The default tun clone device is /dev/net/tun - some systems use
/dev/misc/net/tun instead

-b will result in brief output (just the device name)
`

// TestUsageErrors covers the refusals that happen before any device is opened (no root).
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-h"}, "PROG: invalid option -- 'h'\n" + usage},
		{[]string{"--help"}, "PROG: invalid option -- '-'\n" + usage},
		{[]string{"-bx"}, "PROG: invalid option -- 'x'\n" + usage},
		{[]string{"-u"}, "PROG: option requires an argument -- 'u'\n" + usage},
		{[]string{"-t", "x", "extra"}, usage},
		{[]string{"--", "-t", "x"}, usage},
		{[]string{"-u", "no-such-user-xyz", "-t", "x"}, "'no-such-user-xyz' is neither a username nor a numeric uid.\n" + usage},
		{[]string{"-g", "12x", "-t", "x"}, "'12x' is neither a groupname nor a numeric group.\n" + usage},
	} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"PROG"}, c.args...), &out, &errb)
		if code != 1 || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("tunctl %q: code %d, stdout %q, stderr\n%s\nwant code 1 and\n%s", c.args, code, out.String(), errb.String(), c.stderr)
		}
	}
}

func TestCStrtol(t *testing.T) {
	for s, want := range map[string]struct {
		v     int64
		whole bool
	}{
		"": {0, true}, "0": {0, true}, "1000": {1000, true}, "-5": {-5, true}, "0x10": {16, true},
		"010": {8, true}, " 7": {7, true}, "12x": {12, false}, "x": {0, false}, "0x": {0, false},
		"99999999999999999999": {1<<63 - 1, true}, "-99999999999999999999": {-1 << 63, true},
	} {
		v, whole := cStrtol(s)
		if v != want.v || whole != want.whole {
			t.Errorf("cStrtol(%q) = %d, %v; want %d, %v", s, v, whole, want.v, want.whole)
		}
	}
}

// FuzzCStrtol checks the strtol emulation used for -u/-g against Go's base-0 parser on
// the inputs both understand the same way.
func FuzzCStrtol(f *testing.F) {
	for _, s := range []string{"1000", "-5", "0x10", "010", "nobody", "", "12x", "0x", "-0x7fffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, whole := cStrtol(s)
		if strings.ContainsAny(s, "_oObB \t\n\v\f\r") {
			return
		}
		if g, err := strconv.ParseInt(s, 0, 64); err == nil && (!whole || g != v) {
			t.Fatalf("cStrtol(%q) = %d, %v; strconv says %d", s, v, whole, g)
		}
	})
}

// FuzzArgs runs the whole command-line parser on arbitrary words (NUL separated) with a
// clone device that cannot exist, so nothing is created: it must not panic, and every
// failure is reported on stderr with exit status 1.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{"-b\x00-t\x00tap9", "-u\x00nobody\x00-g\x00nogroup", "-d\x00tap0", "-h", "-bt", "x\x00--\x00-t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := []string{"tunctl"}
		if s != "" {
			args = append(args, strings.Split(s, "\x00")...)
		}
		args = append(args, "-f", "/nonexistent/gouml-fuzz/tun")
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 1 || errb.Len() == 0 {
			t.Fatalf("%q: code %d stdout %q stderr %q", args, code, out.String(), errb.String())
		}
	})
}

func requireNetAdmin(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create tap devices")
	}
	if _, err := os.Stat(tap.TunDevice); err != nil {
		t.Skipf("needs %s: %v", tap.TunDevice, err)
	}
}

type run struct {
	stdout, stderr string
	code           int
	sys            string // owner/group/tun_flags of the device afterwards, or "absent"
}

func sysfs(name string) string {
	var parts []string
	for _, f := range []string{"owner", "group", "tun_flags"} {
		b, err := os.ReadFile("/sys/class/net/" + name + "/" + f)
		if err != nil {
			return "absent"
		}
		parts = append(parts, f+"="+strings.TrimSpace(string(b)))
	}
	return strings.Join(parts, " ")
}

// remove deletes a tap left behind (the test's own cleanup path, not the tool under test).
// Attaching to a name that does not exist creates a non-persistent tap that vanishes on
// close, so this is harmless either way.
func remove(name string) {
	if f, _, err := tap.OpenTap(tap.TunDevice, name); err == nil {
		_ = tap.SetPersist(f, false)
		f.Close()
	}
}

func runTool(t *testing.T, prog, dev string, args ...string) run {
	t.Helper()
	cmd := exec.Command(prog, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", prog, err)
		}
		code = ee.ExitCode()
	}
	r := run{strings.ReplaceAll(out.String(), prog, "PROG"), strings.ReplaceAll(errb.String(), prog, "PROG"), code, "absent"}
	if dev != "" {
		r.sys = sysfs(dev)
	}
	return r
}

// TestTunctlAgainstRealTunctl runs the real tunctl and ours with the same arguments and
// compares output, exit status and the device they leave (owner, group and flags from
// /sys/class/net). Devices get names unique to this process and are removed afterwards.
func TestTunctlAgainstRealTunctl(t *testing.T) {
	requireNetAdmin(t)
	real := testenv.Tool(t, "tunctl")
	ours := testenv.Program(t, "tunctl")
	dev := fmt.Sprintf("gtc%d", os.Getpid()%1000000)
	t.Cleanup(func() { remove(dev) })
	cases := [][]string{
		{"-t", dev},
		{"-b", "-t", dev},
		{"-bt", dev},
		{"-u", "1000", "-t", dev},
		{"-g", "100", "-t", dev},
		{"-u", "4242", "-g", "4343", "-t", dev},
		{"-u", "0x10", "-t", dev},
		{"-u", "-1", "-t", dev},
		{"-u", "root", "-g", "root", "-t", dev},
		{"-t", dev + "toolongforifnamsiz"},
		{"-h"},
		{"-x", "-t", dev},
		{"-u"},
		{"extra", "-t", dev},
		{"-u", "no-such-user-xyz", "-t", dev},
		{"-g", "no-such-group-xyz", "-t", dev},
		{"-f", "/nonexistent/tun", "-t", dev},
		{"-f", "/dev/null", "-t", dev},
		{"-t", "bad/name"},
	}
	if _, err := user.Lookup("nobody"); err == nil {
		if _, err := user.LookupGroup("nogroup"); err == nil {
			cases = append(cases, []string{"-u", "nobody", "-g", "nogroup", "-t", dev})
		}
	}
	for _, args := range cases {
		name := dev
		if strings.HasSuffix(args[len(args)-1], "toolongforifnamsiz") {
			name = args[len(args)-1][:tap.IfNameMax]
		}
		r := runTool(t, real, name, args...)
		remove(name)
		o := runTool(t, ours, name, args...)
		remove(name)
		if r != o {
			t.Errorf("tunctl %q:\nreal: %+v\nours: %+v", args, r, o)
		}
	}

	// Delete in both directions: each tool removes what the other made.
	for _, pair := range [][2]string{{real, ours}, {ours, real}} {
		mk := runTool(t, pair[0], dev, "-u", "4242", "-t", dev)
		if mk.code != 0 || mk.sys != "owner=4242 group=-1 tun_flags=0x1802" {
			t.Fatalf("%s -u 4242 -t %s: %+v", pair[0], dev, mk)
		}
		del := runTool(t, pair[1], dev, "-d", dev)
		if del.code != 0 || del.stdout != "Set '"+dev+"' nonpersistent\n" || del.sys != "absent" {
			t.Errorf("%s -d %s after %s: %+v", pair[1], dev, pair[0], del)
		}
		remove(dev)
	}
}
