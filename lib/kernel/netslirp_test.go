package kernel_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// ethN=slirp,MAC,PROGRAM ARGS: the outer process runs the program (found through PATH, '_'
// in its arguments standing for spaces); the guest's eth0 is an IP link (no Ethernet, no
// ARP) carried over SLIP on the program's stdin and stdout. The program is a stand-in
// (testdata/slirpstub) that answers pings: Debian's slirp 1.0.17 exits at start on the
// socket the kernel hands it (exit status 1, with the real kernel too).
func TestNetSlirpProgram(t *testing.T) {
	stub := testenv.Helper(t, "lib/kernel/testdata/slirpstub", "slirpstub")
	script := `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
route add default dev eth0
echo "FLAGS=$(ip -o link show eth0 | grep -o 'NOARP')"
ping -c 3 -W 5 10.0.2.2 >/dev/null; echo "PINGRC=$?"
ping -c 2 -W 5 -s 1472 192.0.2.9 >/dev/null; echo "BIGPINGRC=$?"
/bin/busybox poweroff -f
`
	root := testenv.BusyboxRoot(t, map[string]string{"/s.sh": script})
	// through PATH, as the real kernel's execvp finds it
	r := run{args: []string{"ubd0=" + root, "rw", "init=/s.sh", "eth0=slirp,fe:fd:0a:00:02:0f,slirpstub,-P,a_b"},
		env: []string{"PATH=" + filepath.Dir(stub) + ":/usr/bin:/bin"}, timeout: 90 * time.Second}
	if netAsUser(t) {
		r.asUser = true
		r.args = append(r.args, "uml_dir="+unprivileged(t, root)+"/")
	}
	out, errs, status := r.do(t)
	for _, want := range []string{"FLAGS=NOARP\n", "PINGRC=0\n", "BIGPINGRC=0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q (status %d)\nstdout:\n%s\nstderr:\n%s", want, status, out, errs)
		}
	}
	for _, want := range []string{"Netdevice 0 (fe:fd:0a:00:02:0f) : \nSLIRP backend - command line:\n 'slirpstub'\n '-P'\n 'a b'\n",
		"slirpstub: arg 1 '-P'\nslirpstub: arg 2 'a b'\n"} {
		if !strings.Contains(errs, want) {
			t.Errorf("no %q in\n%s", want, errs)
		}
	}
}
