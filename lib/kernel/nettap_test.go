package kernel_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// ethN=tuntap,,MAC,GATE: the outer process runs uml_net (first in PATH; ours, and Debian's),
// which makes the host's tap and gives it GATE; the guest configures eth0 and pings GATE;
// the address hook routes the guest's address to the tap, so the host side pings the guest;
// the guest takes eth0 down and the hook undoes the route. All of it in a network namespace
// of the test's own. linux is started by root (a root-started linux runs its kernel
// unprivileged): an ordinary user would need the setuid uml_net of the package.
func TestNetTuntapHelper(t *testing.T) {
	t.Run("ours", func(t *testing.T) { tuntapHelper(t, testenv.BinDir(t, "uml_net")) })
	t.Run("debian", func(t *testing.T) {
		// the real helper runs net-tools' ifconfig and route
		for _, tool := range []string{"uml_net", "ifconfig", "route"} {
			testenv.Tool(t, tool)
		}
		dir := t.TempDir()
		if err := os.Symlink(testenv.Tool(t, "uml_net"), filepath.Join(dir, "uml_net")); err != nil {
			t.Fatal(err)
		}
		tuntapHelper(t, dir+":/usr/sbin:/sbin")
	})
}

// tuntapHelper is TestNetTuntapHelper with the uml_net found first in helperPath.
func tuntapHelper(t *testing.T, helperPath string) {
	if os.Geteuid() != 0 {
		t.Skip("making a tap needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
	script := `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 10.8.0.2 netmask 255.255.255.0 up
i=0; until ping -c 1 -W 1 10.8.0.1 >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); done
ping -c 2 -W 2 10.8.0.1 >/dev/null; echo "GUESTPING=$?" > /result.new; mv /result.new /result
while [ ! -e /done ]; do sleep 0.1; done
ifconfig eth0 down
/bin/busybox poweroff -f
`
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": script})
	bin := testenv.BinDir(t, "linux")
	bb := testenv.Tool(t, "busybox")
	linux := filepath.Join(bin, "linux") + " ubd0=" + root + " rw init=/t.sh eth0=tuntap,,fe:fd:0a:08:00:02,10.8.0.1 uml_dir=" +
		t.TempDir() + "/"
	sh := `ip link set lo up
PATH=` + helperPath + `:$PATH ` + linux + ` </dev/null 2>&1 &
l=$!
i=0; until [ -e ` + root + `/result ] || [ $i -ge 900 ]; do sleep 0.1; i=$((i+1)); done
cat ` + root + `/result
echo "ROUTES: $(ip -4 route show dev tap0 | awk '{print $1}')"
echo "ADDRS: $(ip -4 -o addr show dev tap0 | awk '{print $4}')"
` + bb + ` ping -c 2 -W 2 10.8.0.2 >/dev/null; echo "HOSTPING=$?"
touch ` + root + `/done
wait $l; echo "LINUXRC=$?"
`
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", sh).CombinedOutput()
	out := strings.ReplaceAll(string(b), "\r\n", "\n")
	for _, want := range []string{
		"TUN/TAP backend - IP = 10.8.0.1\n",
		"* ifconfig tap0 10.8.0.1 netmask 255.255.255.255 up\n",
		"* route add -host 10.8.0.2 dev tap0\n",
		"GUESTPING=0\n",
		"ROUTES: 10.8.0.2\n",
		"ADDRS: 10.8.0.1/32\n",
		"HOSTPING=0\n",
		"* route del -host 10.8.0.2 dev tap0\n",
		"LINUXRC=0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q (%v)\n%s", want, err, out)
		}
	}
}
