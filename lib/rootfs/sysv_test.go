package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A sysvinit inittab in the layout of Debian's (our own text, the same kinds of entries).
const debianStyleInittab = `# /etc/inittab: init(8) configuration.
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~:S:wait:/sbin/sulogin --force
l0:0:wait:/etc/init.d/rc 0
l2:2:wait:/etc/init.d/rc 2
l6:6:wait:/etc/init.d/rc 6
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now
1:2345:respawn:/sbin/getty --noclear 38400 tty1
2:23:respawn:/sbin/getty 38400 tty2
12:23:respawn:/sbin/getty 38400 tty12
#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100
T1:23:respawn:/sbin/getty -L ttyS1 9600 vt100
`

func TestSysvConsoleInittab(t *testing.T) {
	got, changed := sysvConsoleInittab(debianStyleInittab)
	if !changed {
		t.Fatal("a Debian inittab was left alone")
	}
	active := activeEntries(got)
	for _, want := range []string{"id:2:initdefault:", "si::sysinit:/etc/init.d/rcS", "l2:2:wait:/etc/init.d/rc 2",
		"ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now", "T1:23:respawn:/sbin/getty -L ttyS1 9600 vt100",
		ConsoleGettyLine} {
		if !active[want] {
			t.Errorf("entry %q missing:\n%s", want, got)
		}
	}
	for _, gone := range []string{"1:2345:respawn:/sbin/getty --noclear 38400 tty1", "2:23:respawn:/sbin/getty 38400 tty2",
		"12:23:respawn:/sbin/getty 38400 tty12"} {
		if active[gone] {
			t.Errorf("getty on a virtual terminal still active: %q", gone)
		}
		if !strings.Contains(got, "#"+gone) {
			t.Errorf("%q not kept as a comment:\n%s", gone, got)
		}
	}
	if again, changed := sysvConsoleInittab(got); changed || again != got {
		t.Errorf("a second run changed the inittab again:\n%s", again)
	}
	// An existing getty on the console (or tty0, con0 of the real kernel) is enough; the id
	// "co" taken picks another.
	for _, tc := range []struct{ in, want string }{
		{"id:3:initdefault:\nc:2345:respawn:/sbin/agetty -L console 115200\n", ""},
		{"id:3:initdefault:\n0:2345:respawn:/sbin/getty 38400 tty0\n", ""},
		{"id:3:initdefault:\nco:S:wait:/bin/true\n", "cn:2345:respawn:"},
	} {
		out, changed := sysvConsoleInittab(tc.in)
		if (tc.want == "") == changed || !strings.Contains(out, tc.want) {
			t.Errorf("%q -> changed=%v\n%s", tc.in, changed, out)
		}
	}
	// busybox's format has no runlevels and no initdefault: not ours to change
	bb := "::sysinit:/etc/init.d/rcS\ntty1::respawn:/sbin/getty 38400 tty1\n"
	if out, changed := sysvConsoleInittab(bb); changed || out != bb {
		t.Errorf("a busybox inittab was changed:\n%s", out)
	}
}

// activeEntries returns the inittab's entries that are not comments.
func activeEntries(tab string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(tab, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

func TestHostsWithName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "127.0.0.1\tlocalhost\n127.0.1.1\tdeb\n\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n"},
		{"127.0.0.1\tlocalhost\n127.0.1.1\tbuildhost.example buildhost\n::1 localhost\n", "127.0.0.1\tlocalhost\n127.0.1.1\tdeb\n::1 localhost\n"},
		{"127.0.0.1 localhost\n::1 localhost\n", "127.0.0.1 localhost\n127.0.1.1\tdeb\n::1 localhost\n"},
		{"10.0.0.1 gw\n", "127.0.1.1\tdeb\n10.0.0.1 gw\n"},
	} {
		if got := hostsWithName(tc.in, "deb"); got != tc.want {
			t.Errorf("%q:\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
		if got := hostsWithName(hostsWithName(tc.in, "deb"), "deb"); got != tc.want {
			t.Errorf("%q: a second run changed it: %q", tc.in, got)
		}
	}
}

func TestCheckCryptHash(t *testing.T) {
	for _, ok := range []string{"$6$saltsalt$" + strings.Repeat("a", 86), "$y$j9T$abc$def", "!", "*", "!$6$s$h",
		"$6$rounds=10000$salt$hash"} {
		if err := checkCryptHash(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"$6$a:b$c", "$6$salt$has h", "$6$salt$hash\nx", "$6$nohash", "é"} {
		if err := checkCryptHash(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzSysvConsoleInittab: any inittab text (the source's, so hostile) gives a result that a
// second run leaves alone; a changed one has an active getty on the console.
func FuzzSysvConsoleInittab(f *testing.F) {
	f.Add(debianStyleInittab)
	f.Add("id:3:initdefault:\nco:S:wait:/bin/true\n")
	f.Add("::sysinit:/etc/init.d/rcS\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		out, changed := sysvConsoleInittab(in)
		if !changed && out != in {
			t.Fatalf("unchanged but different: %q -> %q", in, out)
		}
		again, changed2 := sysvConsoleInittab(out)
		if changed2 || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if changed {
			n := 0
			for _, l := range strings.Split(out, "\n") {
				if f := strings.SplitN(l, ":", 4); !strings.HasPrefix(l, "#") && len(f) == 4 &&
					runsProcess[f[2]] && consoleGetty.MatchString(f[3]) {
					n++
				}
			}
			if n < 1 {
				t.Fatalf("no console getty in %q", out)
			}
		}
	})
}

// FuzzHostsWithName: any /etc/hosts gets exactly one 127.0.1.1 line, naming the machine, and
// keeps every other line.
func FuzzHostsWithName(f *testing.F) {
	f.Add("127.0.0.1\tlocalhost\n127.0.1.1\told\n::1 localhost\n")
	f.Add("")
	f.Add("127.0.1.1 a\n127.0.1.1 b\n")
	f.Fuzz(func(t *testing.T, in string) {
		out := hostsWithName(in, "deb")
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "127.0.1.1" {
				n++
				if l != "127.0.1.1\tdeb" {
					t.Fatalf("127.0.1.1 line %q", l)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d 127.0.1.1 lines in %q", n, out)
		}
		if strings.TrimSpace(in) != "" {
			for _, l := range strings.Split(strings.TrimSuffix(in, "\n"), "\n") {
				if f := strings.Fields(l); (len(f) == 0 || f[0] != "127.0.1.1") && !strings.Contains(out, l) {
					t.Fatalf("line %q lost: %q", l, out)
				}
			}
		}
		if again := hostsWithName(out, "deb"); again != out {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
	})
}

// TestRootPasswordHashOption: --root-password-hash lands in root's shadow entry as given;
// a field that would break /etc/shadow apart, or both password options, are usage errors
// (status 2) named in one line.
func TestRootPasswordHashOption(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	const hash = "$6$0123456789abcdef$" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./abcdefghijklmnopqrstuvwxyzABCDEFGH"
	mustMkrootfs(t, "-q", "-o", img, "--root-password-hash", hash, fixture(t))
	if got := imageCat(t, img, "/etc/shadow"); !regexp.MustCompile(`^root:` + regexp.QuoteMeta(hash) + `:\d+:0:99999:7:::\n$`).MatchString(got) {
		t.Errorf("/etc/shadow = %q", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--root-password-hash", "$6$salt:x$hash"}, "--root-password-hash: a shadow password field has no ':'"},
		{[]string{"--root-password-hash", "plain text"}, "--root-password-hash: a shadow password field has no ':', spaces"},
		{[]string{"--root-password-hash", "$6$onlysalt"}, "--root-password-hash: not a crypt(3) hash"},
		{[]string{"--root-password-hash", hash, "--root-password", "pw"}, "--root-password and --root-password-hash both given"},
	} {
		out, err := mkrootfs(t, "", append([]string{"-o", img}, c.args...)...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.HasPrefix(out, "mkrootfs: "+c.want) {
			t.Errorf("mkrootfs %v: %v\n%s", c.args, err, out)
		}
	}
}

// TestContainerAndTemplateRoots: a root shaped like a "docker export" of a Debian container
// with sysvinit-core unpacked without its maintainer scripts: empty /etc/hostname and
// /etc/hosts (the container engine's placeholders), no /etc/inittab but sysvinit's
// template. The machine gets a hostname and a hosts file naming it, and the template,
// adapted, becomes /etc/inittab.
func TestContainerAndTemplateRoots(t *testing.T) {
	root := t.TempDir()
	for p, content := range map[string]string{
		".dockerenv": "", "etc/hostname": "", "etc/hosts": "", "etc/resolv.conf": "",
		"sbin/init": "#!/bin/sh\n", "usr/share/sysvinit/inittab": debianStyleInittab,
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tarball := filepath.Join(t.TempDir(), "export.tar")
	tarOf(t, root, tarball)
	img := filepath.Join(t.TempDir(), "img")
	if out := mustMkrootfs(t, "-q", "-o", img, tarball); out != "" {
		t.Errorf("mkrootfs printed %q", out)
	}
	if got := imageCat(t, img, "/etc/hostname"); got != "gouml\n" {
		t.Errorf("hostname %q", got)
	}
	if got := imageCat(t, img, "/etc/hosts"); !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n127.0.1.1\tgouml\n") {
		t.Errorf("hosts %q", got)
	}
	tab := imageCat(t, img, "/etc/inittab")
	if want, _ := sysvConsoleInittab(debianStyleInittab); tab != want {
		t.Errorf("inittab:\n%s\nwant:\n%s", tab, want)
	}
	if got := imageCat(t, img, "/usr/share/sysvinit/inittab"); got != debianStyleInittab {
		t.Errorf("the template changed:\n%s", got)
	}
}
