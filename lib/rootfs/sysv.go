package rootfs

import (
	"regexp"
	"strings"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// A UML machine has no virtual terminals: its consoles are the kernel's console channels
// (con0, which /dev/console and /dev/tty0 name; the real kernel's other conN are pts or null
// channels at best). Debian's inittab runs getty on tty1-tty6, which under linux either do
// not exist (init then disables them after "respawning too fast") or are no terminal anyone
// looks at, and none on the console, so a Debian root boots to no login prompt.

// sysvInitdefault matches sysvinit's initdefault entry, which busybox's inittab format
// (id::action:process, no runlevels) never has.
var sysvInitdefault = regexp.MustCompile(`(?m)^[^#:\n]*:[0-6sS]*:initdefault:`)

// vtGetty matches the process field of a getty on a virtual terminal (tty1, tty12), not on
// the console, tty0 (the real kernel's con0) or a serial line (ttyS0).
var vtGetty = regexp.MustCompile(`getty\b.*\btty[1-9][0-9]*(\s|$)`)

// consoleGetty matches a getty on the console.
var consoleGetty = regexp.MustCompile(`getty\b.*\s(/dev/)?(console|tty0)(\s|$)`)

// runsProcess holds the inittab actions that run their process while the system is up.
var runsProcess = map[string]bool{"respawn": true, "once": true, "wait": true, "ondemand": true}

// ConsoleGettyLine is the inittab entry mkrootfs adds: agetty on /dev/console as a local
// line (-L: no modem control), without clearing the screen first (--noclear: the console is
// often a log file or a terminal emulator's scrollback), in the runlevels Debian gives tty1.
const ConsoleGettyLine = "co:2345:respawn:/sbin/getty -L --noclear 38400 console"

// sysvConsoleInittab rewrites a sysvinit inittab for User-Mode Linux: the gettys on virtual
// terminals are commented out and one on the console is added, unless one is there already.
// Everything else (runlevels, rc scripts, ctrlaltdel) is kept. It reports false when the text
// is no sysvinit inittab or needs no change, so running mkrootfs on its own output changes
// nothing.
func sysvConsoleInittab(in string) (string, bool) {
	if !sysvInitdefault.MatchString(in) {
		return in, false
	}
	lines := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
	ids := map[string]bool{}
	hasConsole, changed := false, false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		f := strings.SplitN(l, ":", 4)
		if len(f) < 4 {
			continue
		}
		ids[f[0]] = true
		if !runsProcess[f[2]] {
			continue
		}
		switch {
		case consoleGetty.MatchString(f[3]):
			hasConsole = true
		case vtGetty.MatchString(f[3]):
			lines[i] = "#" + l + "\t# mkrootfs: no virtual terminals under User-Mode Linux"
			changed = true
		}
	}
	if !hasConsole {
		id := "co"
		for _, alt := range []string{"co", "cn", "c0", "mk"} {
			if !ids[alt] {
				id = alt
				break
			}
		}
		lines = append(lines, "", "# mkrootfs: a login prompt on the console (con0 of linux and linux.uml)",
			id+strings.TrimPrefix(ConsoleGettyLine, "co"))
		changed = true
	}
	if !changed {
		return in, false
	}
	return strings.Join(lines, "\n") + "\n", true
}

// sysvSetup gives a sysvinit root a getty on the console. A root whose /etc/inittab is
// missing while sysvinit's template is there (sysvinit-core's postinst copies it in on
// installation, so a tree unpacked without maintainer scripts has none) gets the template.
func (c *Config) sysvSetup(t *fstree.Tree, read func(string) string, exists func(string) bool,
	put func(string, uint32, string) error) error {
	src, mode := read("/etc/inittab"), uint32(0o644)
	if n, err := t.Lookup("/etc/inittab"); err == nil {
		if n.Inode.Type() != fstree.TypeReg {
			return nil
		}
		mode = n.Inode.Mode & 0o7777
	} else {
		src = read("/usr/share/sysvinit/inittab")
	}
	tab, changed := sysvConsoleInittab(src)
	if !changed {
		return nil
	}
	return put("/etc/inittab", mode, tab)
}

// hostsWithName returns /etc/hosts naming the machine as Debian's installer does (127.0.1.1,
// so that hostname -f, sudo and mail work without a name server), keeping the other entries.
func hostsWithName(in, name string) string {
	if strings.TrimSpace(in) == "" {
		return "127.0.0.1\tlocalhost\n127.0.1.1\t" + name + "\n\n" +
			"::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n"
	}
	var out []string
	added := false
	for _, l := range strings.Split(strings.TrimSuffix(in, "\n"), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "127.0.1.1" {
			if !added {
				out = append(out, "127.0.1.1\t"+name)
				added = true
			}
			continue
		}
		out = append(out, l)
	}
	if !added {
		// after the localhost line, where Debian has it
		at := 0
		for i, l := range out {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "127.0.0.1" {
				at = i + 1
				break
			}
		}
		out = append(out[:at], append([]string{"127.0.1.1\t" + name}, out[at:]...)...)
	}
	return strings.Join(out, "\n") + "\n"
}

// hasInit reports whether the kernel finds an init in the root without init=: the paths it
// tries, in its order (/bin/sh is its last resort, not an init).
func hasInit(t *fstree.Tree) bool {
	for _, p := range []string{"/sbin/init", "/etc/init", "/bin/init", "/init"} {
		if _, err := t.Lookup(p); err == nil {
			return true
		}
	}
	return false
}
