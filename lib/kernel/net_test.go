package kernel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// netScript is init for the network tests. It configures eth0 from the environment the
// command line gives it, waits (bounded) until the peer answers, pings it, serves a page
// with httpd and fetches the peer's, and a 289 KB file (some 200 full-size TCP segments
// each way: the relays' segmentation and merging, against the real kernel too) which it
// compares with its own, writes what happened to /result in its own root (a host
// directory the test reads), and powers off once the test creates /done.
const netScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
ifconfig eth0 $myip netmask 255.255.255.0 up
mkdir -p /www; echo "page of $myip" > /www/index.html; seq 1 50000 > /www/big
httpd -p 8080 -h /www
i=0; until ping -c 1 -W 1 $peer >/dev/null 2>&1 || [ $i -ge 120 ]; do i=$((i+1)); done
ping -c 3 -W 2 $peer >/dev/null; rc=$?
i=0; until wget -q -O /tmp/page http://$peer:8080/ 2>/dev/null || [ $i -ge 60 ]; do i=$((i+1)); sleep 0.2; done
i=0; until wget -q -O /tmp/big http://$peer:8080/big 2>/dev/null || [ $i -ge 20 ]; do i=$((i+1)); sleep 0.2; done
if cmp -s /tmp/big /www/big; then big=same; else big=differs; fi
echo "PINGRC=$rc PAGE=$(cat /tmp/page) BIG=$big" > /result.tmp; mv /result.tmp /result
while [ ! -e /done ]; do sleep 0.1; done
/bin/busybox poweroff -f
`

// netGuest is one machine of a network test: ours or the real linux.uml, on its own busybox
// root.
type netGuest struct {
	root string
	cmd  *exec.Cmd
	out  *testenv.SafeBuffer
	ip   string
}

// netAsUser says whether our linux runs as the unprivileged test user: only where that user
// may open /dev/net/tun (Debian makes it 0666; some hosts keep it root's). A root-started
// linux is unprivileged too (docs/security.md), so the tests run either way.
func netAsUser(t *testing.T) bool {
	var st unix.Stat_t
	if unix.Stat("/dev/net/tun", &st) != nil {
		t.Skip("no /dev/net/tun on this host")
	}
	return os.Geteuid() == 0 && st.Mode&0o006 == 0o006
}

// startOurs boots our linux in the background with eth0=eth0.
func startOurs(t *testing.T, eth0, ip, peer string) *netGuest {
	t.Helper()
	g, _ := startOursWith(t, netScript, ip, "eth0="+eth0, "myip="+ip, "peer="+peer)
	return g
}

// startOursWith boots our linux in the background on a busybox root whose init is script,
// with more command-line words; it returns the guest and its uml_dir.
func startOursWith(t *testing.T, script, ip string, words ...string) (*netGuest, string) {
	t.Helper()
	g := &netGuest{root: testenv.BusyboxRoot(t, map[string]string{"/n.sh": script}), ip: ip}
	args := append([]string{"ubd0=" + g.root, "rw", "init=/n.sh"}, words...)
	argv := []string{testenv.Program(t, "linux")}
	var umlDir string
	if netAsUser(t) {
		umlDir = unprivileged(t, g.root)
		argv = append([]string{"runuser", "-u", testUser, "--"}, argv...)
	} else {
		umlDir = t.TempDir()
	}
	args = append(args, "uml_dir="+umlDir+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	g.cmd = exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	g.out = &testenv.SafeBuffer{}
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	g.cmd.WaitDelay = 5 * time.Second
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			g.cmd.Process.Kill()
			g.cmd.Wait()
		}
	})
	return g, umlDir
}

// startReal boots the real linux.uml in the background with eth0=eth0.
func startReal(t *testing.T, eth0, ip, peer string) *netGuest {
	t.Helper()
	g := &netGuest{root: testenv.BusyboxRoot(t, map[string]string{"/n.sh": netScript}), ip: ip}
	u := &testenv.UML{Root: g.root, Init: "/n.sh", Args: []string{"eth0=" + eth0, "myip=" + ip, "peer=" + peer}}
	g.cmd, g.out = u.Start(t)
	return g
}

// result waits for the guest's /result and then lets it power off.
func (g *netGuest) result(t *testing.T) string {
	t.Helper()
	var res []byte
	if !testenv.WaitFor(100*time.Second, func() bool {
		var err error
		res, err = os.ReadFile(filepath.Join(g.root, "result"))
		return err == nil
	}) {
		t.Fatalf("guest %s wrote no result\n--- console ---\n%s", g.ip, g.out.String())
	}
	return strings.TrimSpace(string(res))
}

// resultWith is result, with the console of the other guest too when there is none (what
// went wrong may show on either side).
func (g *netGuest) resultWith(t *testing.T, other *netGuest) string {
	t.Helper()
	if !testenv.WaitFor(100*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(g.root, "result"))
		return err == nil
	}) {
		t.Fatalf("guest %s wrote no result\n--- its console ---\n%s\n--- %s's console ---\n%s", g.ip, g.out.String(), other.ip, other.out.String())
	}
	return g.result(t)
}

// finish lets the guests power off and checks that each halted by itself.
func finish(t *testing.T, gs ...*netGuest) {
	t.Helper()
	for _, g := range gs {
		os.WriteFile(filepath.Join(g.root, "done"), nil, 0o644)
	}
	for _, g := range gs {
		err := g.cmd.Wait()
		if err != nil && !testenv.HaltedCleanly(t, err, g.out.String()) {
			t.Errorf("guest %s: %v\n--- console ---\n%s", g.ip, err, g.out.String())
		}
	}
}

// pair checks that two guests pinged each other and fetched each other's page.
func pair(t *testing.T, a, b *netGuest) {
	t.Helper()
	ra, rb := a.result(t), b.result(t)
	finish(t, a, b)
	if want := netWant(b.ip); ra != want {
		t.Errorf("guest %s: %q, want %q\n--- console ---\n%s", a.ip, ra, want, a.out.String())
	}
	if want := netWant(a.ip); rb != want {
		t.Errorf("guest %s: %q, want %q\n--- console ---\n%s", b.ip, rb, want, b.out.String())
	}
}

// netWant is netScript's result when everything worked with the peer at ip.
func netWant(ip string) string { return "PINGRC=0 PAGE=page of " + ip + " BIG=same" }

// startSwitch starts a uml_switch program (ours or Debian's) on a fresh control socket, with
// more options (-hub) if given.
func startSwitch(t *testing.T, prog string, extra ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sw")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctl := filepath.Join(dir, "ctl")
	cmd := exec.Command(prog, append([]string{"-unix", ctl}, extra...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(ctl) }) {
		t.Fatal("the switch did not listen")
	}
	os.Chmod(ctl, 0o777) // the unprivileged test user connects too
	return ctl
}

// Our guest and a real linux.uml guest on one switch, ours and Debian's: ping and HTTP both
// ways.
func TestNetSwitchWithRealUML(t *testing.T) {
	for _, sw := range []struct{ name, prog string }{
		{"ours", testenv.Program(t, "uml_switch")},
		{"debian", testenv.Tool(t, "uml_switch")},
	} {
		t.Run(sw.name, func(t *testing.T) {
			ctl := startSwitch(t, sw.prog)
			a := startOurs(t, "daemon,fe:fd:0a:00:00:01,unix,"+ctl, "10.0.0.1", "10.0.0.2")
			b := startReal(t, "daemon,fe:fd:0a:00:00:02,unix,"+ctl, "10.0.0.2", "10.0.0.1")
			pair(t, a, b)
			if !strings.Contains(a.out.String(), "Netdevice 0 (fe:fd:0a:00:00:01) : \n"+
				"daemon backend (uml_switch version 3) - unix:"+ctl+"\n") {
				t.Errorf("boot messages:\n%s", a.out.String())
			}
		})
	}
}

// Two of our guests over ucast.
func TestNetUcast(t *testing.T) {
	p1, p2 := freeUDPPort(t), freeUDPPort(t)
	a := startOurs(t, fmt.Sprintf("ucast,,127.0.0.1,%d,%d", p1, p2), "10.0.1.1", "10.0.1.2")
	b := startOurs(t, fmt.Sprintf("ucast,,127.0.0.1,%d,%d", p2, p1), "10.0.1.2", "10.0.1.1")
	pair(t, a, b)
}

// Two of our guests over mcast, and ours with a real linux.uml.
func TestNetMcast(t *testing.T) {
	needMulticast(t)
	t.Run("ours", func(t *testing.T) {
		spec := fmt.Sprintf("mcast,,239.192.168.1,%d", freeUDPPort(t))
		pair(t, startOurs(t, spec, "10.0.2.1", "10.0.2.2"), startOurs(t, spec, "10.0.2.2", "10.0.2.1"))
	})
	t.Run("real", func(t *testing.T) {
		spec := fmt.Sprintf("mcast,,239.192.168.1,%d", freeUDPPort(t))
		pair(t, startOurs(t, spec, "10.0.3.1", "10.0.3.2"), startReal(t, spec, "10.0.3.2", "10.0.3.1"))
	})
}

// needMulticast skips where the host cannot join a multicast group (no multicast-capable
// interface with a route for the group).
func needMulticast(t *testing.T) {
	t.Helper()
	c, err := net.ListenMulticastUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(239, 192, 168, 1), Port: freeUDPPort(t)})
	if err != nil {
		if testenv.Required() {
			t.Fatalf("multicast: %v", err)
		}
		t.Skipf("no multicast on this host: %v", err)
	}
	c.Close()
}

// freeUDPPort returns a UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// eth0=usernet: udhcpc leases 10.0.2.15 from the built-in NAT, and wget reaches an HTTP
// server of the test on the host's 127.0.0.1 as 10.0.2.2. The gateway maps only that
// address to the host (its default policy reaches nothing outside), so the host connects
// nowhere but its loopback.
func TestNetUsernet(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the host, %s", r.URL.Path)
	})}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port
	script := `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
ifconfig eth0 up # ethN starts down, as on the real kernel; udhcpc does not bring it up
udhcpc -i eth0 -n -q -t 20 -s /dhcp.sh >/dev/null 2>&1; echo "DHCP=$?"
ip -4 addr show eth0 | grep -o 'inet [0-9.]*'
wget -q -O - http://10.0.2.2:` + fmt.Sprint(port) + `/page; echo; echo "WGET=$?"
/bin/busybox poweroff -f
`
	dhcp := `#!/bin/sh
[ "$1" = bound ] || exit 0
ifconfig $interface $ip netmask $subnet up
route add default gw $router dev $interface
`
	root := testenv.BusyboxRoot(t, map[string]string{"/u.sh": script, "/dhcp.sh": dhcp})
	r := run{args: []string{"ubd0=" + root, "rw", "init=/u.sh", "eth0=usernet"}, timeout: 90 * time.Second}
	if netAsUser(t) {
		r.asUser = true
		r.args = append(r.args, "uml_dir="+unprivileged(t, root)+"/")
	}
	out, errs, status := r.do(t)
	for _, want := range []string{"DHCP=0", "inet 10.0.2.15", "hello from the host, /page", "WGET=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q (status %d)\nstdout:\n%s\nstderr:\n%s", want, status, out, errs)
		}
	}
}

// Malformed and unknown specs are reported as the real kernel reports them and left out;
// the machine boots on. A reboot makes the devices again (the relays of the first boot were
// stopped at its halt).
func TestNetSpecsAndReboot(t *testing.T) {
	script := `#!/bin/sh
mount -t proc proc /proc
echo "LINKS=$(ip -o link | cut -d: -f2 | sort | tr -d '\n')"
if [ ! -e /rebooted ]; then touch /rebooted; /bin/busybox reboot -f; fi
ifconfig eth3 10.9.0.1 netmask 255.255.255.0 up && echo UP
/bin/busybox poweroff -f
`
	root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": script})
	p := freeUDPPort(t)
	r := run{args: []string{"ubd0=" + root, "rw", "init=/r.sh", "eth0=mcast,,,abc", "eth1=bogus",
		"eth2=ucast,,127.0.0.1,1,2,3", fmt.Sprintf("eth3=ucast,fe:fd:0:0:0:3,127.0.0.1,%d,%d", p, p), "ethX=daemon"},
		timeout: 60 * time.Second}
	out, errs, status := r.do(t)
	if status != 0 || strings.Count(out, "LINKS= eth3 lo\n") != 2 || !strings.Contains(out, "UP\n") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	for _, want := range []string{"mcast_setup - Bad port : 'abc'\n", "ucast_setup - Extra garbage on specification : '3'\n",
		"eth_setup - Couldn't parse 'X=daemon' : Bad device number\n",
		fmt.Sprintf("Configured ucast device: :%d -> 127.0.0.1:%d\nNetdevice 3 (fe:fd:00:00:00:03) : \n"+
			"ucast backend address: 127.0.0.1:%d listen port: %d\n", p, p, p, p)} {
		if !strings.Contains(errs, want) {
			t.Errorf("no %q in\n%s", want, errs)
		}
	}
}

// A user who may not open /dev/net/tun gets a machine without the device, told why.
func TestNetWithoutTunAccess(t *testing.T) {
	var st unix.Stat_t
	if unix.Stat("/dev/net/tun", &st) != nil || os.Geteuid() != 0 || st.Mode&0o006 == 0o006 {
		t.Skip("needs root, and a /dev/net/tun that other users may not open")
	}
	root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": "#!/bin/sh\necho BOOTED\n/bin/busybox poweroff -f\n"})
	umlDir := unprivileged(t, root)
	out, errs, status := run{asUser: true, args: []string{"ubd0=" + root, "rw", "init=/r.sh", "uml_dir=" + umlDir + "/",
		"eth0=usernet"}}.do(t)
	if status != 0 || !strings.Contains(out, "BOOTED") || !strings.Contains(errs, "linux: eth0: /dev/net/tun: permission denied") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
}

// ethN=tuntap,IFNAME: a host tap, opened by the outer process, here in a network namespace
// of the test's own so the host's interfaces are left alone. The guest pings the tap's host
// side and fetches a page from an httpd listening there.
func TestNetTuntap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a tap needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	script := `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 10.7.0.2 netmask 255.255.255.0 up
i=0; until ping -c 1 -W 1 10.7.0.1 >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); done
ping -c 3 -W 2 10.7.0.1 >/dev/null; echo "PINGRC=$?"
wget -q -O - http://10.7.0.1:8080/; echo "WGET=$?"
/bin/busybox poweroff -f
`
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": script})
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("page of the host side\n"), 0o644)
	bb := testenv.Tool(t, "busybox")
	user := ""
	linuxArgs := "ubd0=" + root + " rw init=/t.sh eth0=tuntap,gtap0 uml_dir=" + t.TempDir() + "/"
	if netAsUser(t) {
		user = " user " + testUser
		linuxArgs = "ubd0=" + root + " rw init=/t.sh eth0=tuntap,gtap0 uml_dir=" + unprivileged(t, root) + "/"
	}
	run := testenv.Program(t, "linux") + " " + linuxArgs
	if user != "" {
		run = "runuser -u " + testUser + " -- " + run
	}
	sh := "set -e; ip tuntap add dev gtap0 mode tap" + user + "; ip addr add 10.7.0.1/24 dev gtap0; ip link set gtap0 up; " +
		// httpd in the foreground, killed at the end: nothing outlives the test's namespace
		bb + " httpd -f -p 10.7.0.1:8080 -h " + www + " & h=$!; set +e; " + run + "; rc=$?; kill $h; exit $rc"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", sh).CombinedOutput()
	for _, want := range []string{"TUN/TAP backend - \n", "PINGRC=0", "page of the host side", "WGET=0"} {
		if !strings.Contains(strings.ReplaceAll(string(out), "\r\n", "\n"), want) {
			t.Errorf("no %q (%v)\n%s", want, err, out)
		}
	}
}

// hotplugScript waits (bounded) for eth1, which the test plugs in through the management
// console, and then does what netScript does on it; it takes eth1 down when the test
// creates /down, and says so with /isdown.
var hotplugScript = strings.Replace(strings.Replace(netScript, "ifconfig eth0 $myip",
	"i=0; until ifconfig eth1 >/dev/null 2>&1 || [ $i -ge 300 ]; do i=$((i+1)); sleep 0.1; done\nifconfig eth1 $myip", 1),
	"while [ ! -e /done ]", "while [ ! -e /down ]; do sleep 0.1; done\nifconfig eth1 down; touch /isdown\nwhile [ ! -e /done ]", 1)

// TestNetHotplug: uml_mconsole config eth1=daemon,... plugs a device into a running guest of
// ours, which configures it and reaches a guest on the same switch; a second config of eth1,
// a remove while eth1 is up and a remove of a device that is not there get the real
// kernel's answers.
func TestNetHotplug(t *testing.T) {
	ctl := startSwitch(t, testenv.Program(t, "uml_switch"))
	b := startOurs(t, "daemon,,unix,"+ctl, "10.0.5.2", "10.0.5.1")
	a, umlDir := startOursWith(t, hotplugScript, "10.0.5.1", "umid=hotplug", "myip=10.0.5.1", "peer=10.0.5.2")
	sock := filepath.Join(umlDir, "hotplug", "mconsole")
	if !testenv.WaitFor(30*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }) {
		t.Fatalf("no mconsole socket\n%s", a.out.String())
	}
	mc := func(cmd string) string {
		out, _ := exec.Command(testenv.Program(t, "uml_mconsole"), sock, cmd).Output()
		return strings.TrimSpace(string(out))
	}
	if got := mc("config eth1=daemon,,unix," + ctl); got != "OK" {
		t.Fatalf("config eth1: %q\n%s", got, a.out.String())
	}
	ra := a.result(t)
	rb := b.resultWith(t, a)
	if got := mc("config eth1=daemon,,unix," + ctl); !strings.Contains(got, "Device already configured") {
		t.Errorf("config of a configured eth1: %q", got)
	}
	if got := mc("config eth2=bogus"); !strings.HasPrefix(got, "ERR") {
		t.Errorf("config eth2=bogus: %q", got)
	}
	if got := mc("remove eth1"); !strings.Contains(got, "Device is currently open") {
		t.Errorf("remove of eth1 while it is up: %q", got)
	}
	os.WriteFile(filepath.Join(a.root, "down"), nil, 0o644)
	if !testenv.WaitFor(30*time.Second, func() bool { _, err := os.Stat(filepath.Join(a.root, "isdown")); return err == nil }) {
		t.Fatalf("the guest did not take eth1 down\n%s", a.out.String())
	}
	if got := mc("remove eth1"); got != "OK" {
		t.Errorf("remove eth1: %q", got)
	}
	if got := mc("remove eth1"); !strings.Contains(got, "Device doesn't exist") {
		t.Errorf("remove of a removed eth1: %q", got)
	}
	finish(t, a, b)
	if want := netWant("10.0.5.2"); ra != want {
		t.Errorf("hot-plugged guest: %q, want %q\n--- console ---\n%s", ra, want, a.out.String())
	}
	if want := netWant("10.0.5.1"); rb != want {
		t.Errorf("its peer: %q, want %q\n--- console ---\n%s", rb, want, b.out.String())
	}
}
