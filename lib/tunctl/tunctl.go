// Package tunctl is the tunctl program: persistent tap devices owned by a user or group,
// with the real uml-utilities tool's options, messages and exit codes.
package tunctl

import (
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/cnum"
	"github.com/gouml/gouml/lib/tap"
	"golang.org/x/sys/unix"
)

func tunctlUsage(w io.Writer, name string) {
	fmt.Fprintf(w, "Create: %s [-b] [-u owner] [-g group] [-t device-name] [-f tun-clone-device]\n", name)
	fmt.Fprintf(w, "Delete: %s -d device-name [-f tun-clone-device]\n\n", name)
	fmt.Fprintf(w, "The default tun clone device is /dev/net/tun - some systems use\n/dev/misc/net/tun instead\n\n")
	fmt.Fprintf(w, "-b will result in brief output (just the device name)\n")
}

// getopt walks args like glibc getopt(3) with optstring "bd:f:t:u:g:": options may be
// clustered, an option's argument may be glued on or the next word, non-options are set
// aside (GNU permutation) and "--" ends the options. fn sees each option; returning false
// stops. It returns the non-option words, or an error text in getopt's own words.
func getopt(prog string, args []string, withArg string, fn func(opt byte, arg string) bool) ([]string, string) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i+1:]...), ""
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch {
			case strings.IndexByte(withArg, c) >= 0:
				var arg string
				if j+1 < len(a) {
					arg = a[j+1:]
				} else if i+1 < len(args) {
					i++
					arg = args[i]
				} else {
					return nil, fmt.Sprintf("%s: option requires an argument -- '%c'\n", prog, c)
				}
				if !fn(c, arg) {
					return nil, ""
				}
				j = len(a)
			case c == 'b':
				if !fn(c, "") {
					return nil, ""
				}
			default:
				return nil, fmt.Sprintf("%s: invalid option -- '%c'\n", prog, c)
			}
		}
	}
	return rest, ""
}

// cStrtol is C's strtol(s, &end, 0) plus the test *end == '\0' (see cnum.Strtol).
func cStrtol(s string) (v int64, whole bool) { return cnum.Strtol(s) }

// Main is the tunctl program; argv[0] is used in messages, as the real tool does.
func Main(argv []string, stdout, stderr io.Writer) int {
	prog := "tunctl"
	if len(argv) > 0 {
		prog = argv[0]
		argv = argv[1:]
	}
	var (
		owner, group int64 = -1, -1
		del, brief   bool
		tun, clone   = "", tap.TunDevice
		fail         bool
	)
	rest, msg := getopt(prog, argv, "dftug", func(opt byte, arg string) bool {
		switch opt {
		case 'b':
			brief = true
		case 'd':
			del, tun = true, arg
		case 'f':
			clone = arg
		case 't':
			tun = arg
		case 'u':
			if v, ok := lookupID(arg, true); ok {
				owner = v
			} else if v, ok := cStrtol(arg); ok {
				owner = v
			} else {
				fmt.Fprintf(stderr, "'%s' is neither a username nor a numeric uid.\n", arg)
				fail = true
				return false
			}
		case 'g':
			if v, ok := lookupID(arg, false); ok {
				group = v
			} else if v, ok := cStrtol(arg); ok {
				group = v
			} else {
				fmt.Fprintf(stderr, "'%s' is neither a groupname nor a numeric group.\n", arg)
				fail = true
				return false
			}
		}
		return true
	})
	if msg != "" || fail || len(rest) > 0 {
		io.WriteString(stderr, msg)
		tunctlUsage(stderr, prog)
		return 1
	}
	if owner == -1 && group == -1 {
		owner = int64(unix.Geteuid())
	}
	if len(tun) > tap.IfNameMax {
		tun = tun[:tap.IfNameMax] // strncpy into ifr_name
	}
	f, name, err := tap.OpenTap(clone, tun)
	if err != nil {
		if oe, ok := err.(*tap.OpError); ok {
			fmt.Fprintf(stderr, "%s\n", oe.Error())
		} else {
			fmt.Fprintf(stderr, "Failed to open '%s' : %s\n", clone, tap.Strerror(err))
		}
		return 1
	}
	defer f.Close()
	if del {
		if err := tap.SetPersist(f, false); err != nil {
			fmt.Fprintf(stderr, "TUNSETPERSIST: %s\n", tap.Strerror(err))
			return 1
		}
		fmt.Fprintf(stdout, "Set '%s' nonpersistent\n", name)
		return 0
	}
	if err := tap.SetPersist(f, true); err != nil {
		fmt.Fprintf(stderr, "TUNSETPERSIST: %s\n", tap.Strerror(err))
		return 1
	}
	// The real tool reports an owner or group failure under the TUNSETPERSIST name too.
	if owner != -1 {
		if err := tap.SetOwner(f, owner); err != nil {
			fmt.Fprintf(stderr, "TUNSETPERSIST: %s\n", tap.Strerror(err))
			return 1
		}
	}
	if group != -1 {
		if err := tap.SetGroup(f, group); err != nil {
			fmt.Fprintf(stderr, "TUNSETPERSIST: %s\n", tap.Strerror(err))
			return 1
		}
	}
	if brief {
		fmt.Fprintf(stdout, "%s\n", name)
		return 0
	}
	s := fmt.Sprintf("Set '%s' persistent and owned by", name)
	if owner != -1 {
		s += fmt.Sprintf(" uid %d", int32(owner))
	}
	if group != -1 {
		s += fmt.Sprintf(" gid %d", int32(group))
	}
	fmt.Fprintln(stdout, s)
	return 0
}

// lookupID resolves a user or group name (getpwnam/getgrnam).
func lookupID(name string, isUser bool) (int64, bool) {
	if name == "" {
		return 0, false
	}
	var id string
	if isUser {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, false
		}
		id = u.Uid
	} else {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, false
		}
		id = g.Gid
	}
	v, err := strconv.ParseInt(id, 10, 64)
	return v, err == nil
}
