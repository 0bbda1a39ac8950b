package tap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func readSysctl(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestUmlNetUpAddDel drives our uml_net the way the UML kernel does (datagram reply with the
// fd for "up", stream replies for add/del) and checks every host change it makes.
func TestUmlNetUpAddDel(t *testing.T) {
	requireNetAdmin(t)
	prog := testenv.Program(t, "uml_net")
	enterNetns(t)
	lan := newLink(t, "veth", "lan0", "lan1")
	if err := addAddr(lan.Index, mustAddr("10.251.0.100"), 24); err != nil {
		t.Fatal(err)
	}
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "0\n"); err != nil {
		t.Fatal(err)
	}

	up := runHelper(t, prog, unix.SOCK_DGRAM, nil, "4", "tuntap", "up", "10.251.0.1")
	if up.Code != 0 || up.Tap == nil || up.Name != "tap0" {
		t.Fatalf("up: code %d, name %q, fd %v, text %q, stderr %q", up.Code, up.Name, up.Tap, up.Text, up.Stderr)
	}
	if want := "* ifconfig tap0 10.251.0.1 netmask 255.255.255.255 up\n"; up.Text != want {
		t.Errorf("up log %q, want %q", up.Text, want)
	}
	l, err := LinkByName("tap0")
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "tun" || l.TunType != unix.IFF_TAP || l.TunPersist || l.TunOwner != 0 || l.Flags&unix.IFF_UP == 0 {
		t.Errorf("tap0 = %+v, want an up, non-persistent tap owned by uid 0", l)
	}
	addrs, _ := hostAddrs()
	if !slices.Contains(addrs, mustAddr("10.251.0.1")) {
		t.Errorf("host addresses %v lack the gateway 10.251.0.1", addrs)
	}
	if got := readSysctl(t, "/proc/sys/net/ipv4/ip_forward"); got != "0" {
		t.Errorf("ip_forward = %s after up without %s, want 0", got, IPForwardEnv)
	}

	add := runHelper(t, prog, unix.SOCK_STREAM, nil, "4", "add", "tap0", "10.251.0.2", "255.255.255.0")
	wantAdd := []string{
		"* route add -host 10.251.0.2 dev tap0",
		"* bash -c echo 1 > /proc/sys/net/ipv4/conf/tap0/proxy_arp",
		"* arp -Ds 10.251.0.2 lan0 pub",
	}
	if add.Code != 0 || !slices.Equal(lines(add.Text), wantAdd) {
		t.Fatalf("add: code %d, log %q, want %q (stderr %q)", add.Code, add.Text, wantAdd, add.Stderr)
	}
	if n := binary.NativeEndian.Uint32(add.Raw); int(n) != len(add.Raw)-4 || add.Raw[len(add.Raw)-1] != 0 {
		t.Errorf("add reply framing: length %d for %d bytes; last byte %#x", n, len(add.Raw)-4, add.Raw[len(add.Raw)-1])
	}
	if !hasRoute(t, mustAddr("10.251.0.2"), l.Index) {
		t.Error("no host route 10.251.0.2 dev tap0 after add")
	}
	if got := readSysctl(t, "/proc/sys/net/ipv4/conf/tap0/proxy_arp"); got != "1" {
		t.Errorf("tap0 proxy_arp = %s after add, want 1", got)
	}
	pub := fmt.Sprintf("10.251.0.2@%d", lan.Index)
	if !slices.Contains(proxyEntries(t), pub) {
		t.Errorf("published ARP entries %v lack %s", proxyEntries(t), pub)
	}

	del := runHelper(t, prog, unix.SOCK_STREAM, nil, "4", "del", "tap0", "10.251.0.2", "255.255.255.0")
	wantDel := []string{
		"* route del -host 10.251.0.2 dev tap0",
		"* bash -c echo 0 > /proc/sys/net/ipv4/conf/tap0/proxy_arp",
		"* arp -i lan0 -d 10.251.0.2 pub",
	}
	if del.Code != 0 || !slices.Equal(lines(del.Text), wantDel) {
		t.Fatalf("del: code %d, log %q, want %q", del.Code, del.Text, wantDel)
	}
	if hasRoute(t, mustAddr("10.251.0.2"), l.Index) {
		t.Error("host route still there after del")
	}
	if slices.Contains(proxyEntries(t), pub) {
		t.Error("published ARP entry still there after del")
	}
	if got := readSysctl(t, "/proc/sys/net/ipv4/conf/tap0/proxy_arp"); got != "0" {
		t.Errorf("tap0 proxy_arp = %s after del, want 0", got)
	}

	// A second del finds no route of ours and so leaves other interfaces alone.
	if err := proxyNeigh(true, lan.Index, mustAddr("10.251.0.2")); err != nil {
		t.Fatal(err)
	}
	again := runHelper(t, prog, unix.SOCK_STREAM, nil, "4", "del", "tap0", "10.251.0.2", "255.255.255.0")
	if again.Code == 0 || !slices.Contains(proxyEntries(t), pub) {
		t.Errorf("del without our route: code %d, log %q; entries %v", again.Code, again.Text, proxyEntries(t))
	}

	up.Tap.Close()
	if !testenv.WaitFor(5*time.Second, func() bool { _, err := LinkByName("tap0"); return err != nil }) {
		t.Error("tap0 still exists after its fd was closed")
	}
}

// TestUmlNetIPForwardOnlyWhenAsked: the real helper always turns forwarding on; ours only
// when root sets UML_NET_IP_FORWARD=1.
func TestUmlNetIPForwardOnlyWhenAsked(t *testing.T) {
	requireNetAdmin(t)
	prog := testenv.Program(t, "uml_net")
	enterNetns(t)
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "0\n"); err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	remote := os.NewFile(uintptr(fds[1]), "remote")
	cmd := exec.Command(prog, "4", "tuntap", "up", "10.252.0.1")
	cmd.Stdout = remote
	cmd.Env = []string{IPForwardEnv + "=1"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	remote.Close()
	if err != nil {
		t.Fatalf("uml_net: %v %s", err, stderr.String())
	}
	buf := make([]byte, 4096)
	oob := make([]byte, 64)
	n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if msgs, _ := unix.ParseSocketControlMessage(oob[:oobn]); len(msgs) == 1 {
		if r, _ := unix.ParseUnixRights(&msgs[0]); len(r) == 1 {
			unix.Close(r[0])
		}
	}
	text := string(buf[16:n])
	if !strings.Contains(text, "* bash -c echo 1 > /proc/sys/net/ipv4/ip_forward\n") {
		t.Errorf("log %q does not report enabling ip_forward", text)
	}
	if got := readSysctl(t, "/proc/sys/net/ipv4/ip_forward"); got != "1" {
		t.Errorf("ip_forward = %s with %s=1, want 1", got, IPForwardEnv)
	}
}

// TestUmlNetRefusesInterfacesItDidNotCreate: add/del only touch a non-persistent tap owned by
// the caller; dummies, veths, persistent taps and other users' taps are refused untouched.
func TestUmlNetRefusesInterfacesItDidNotCreate(t *testing.T) {
	requireNetAdmin(t)
	prog := testenv.Program(t, "uml_net")
	enterNetns(t)
	br := newLink(t, "bridge", "br0", "")
	veth := newLink(t, "veth", "veth0", "veth1")

	ptap, name, err := OpenTap(TunDevice, "ptap0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tunIoctl(ptap, unix.TUNSETPERSIST, 1); err != nil {
		t.Fatal(err)
	}
	_ = tunIoctl(ptap, unix.TUNSETOWNER, 0)
	ptap.Close()
	pl, _ := LinkByName(name)

	otap, _, err := OpenTap(TunDevice, "otap0")
	if err != nil {
		t.Fatal(err)
	}
	defer otap.Close()
	if err := tunIoctl(otap, unix.TUNSETOWNER, 4242); err != nil {
		t.Fatal(err)
	}
	ol, _ := LinkByName("otap0")

	for _, c := range []struct {
		ifname string
		index  int32
		want   string
	}{
		{"br0", br.Index, "bridge device"},
		{"veth0", veth.Index, "veth device"},
		{"ptap0", pl.Index, "persistent tap"},
		{"otap0", ol.Index, "not owned by uid 0"},
		{"lo", 1, "non-tun device"},
		{"nosuch0", 0, "No such device"},
	} {
		for _, op := range []string{"add", "del"} {
			r := runHelper(t, prog, unix.SOCK_STREAM, nil, "4", op, c.ifname, "10.253.0.2", "255.255.255.0")
			if r.Code != 1 || !strings.Contains(r.Text, c.want) {
				t.Errorf("%s %s: code %d, log %q; want refusal mentioning %q", op, c.ifname, r.Code, r.Text, c.want)
			}
			if c.index != 0 && hasRoute(t, mustAddr("10.253.0.2"), c.index) {
				t.Errorf("%s %s added a route", op, c.ifname)
			}
		}
	}
	if len(proxyEntries(t)) != 0 {
		t.Errorf("published ARP entries appeared: %v", proxyEntries(t))
	}
	// The persistent tap must survive; remove it ourselves (the namespace would too).
	if f, _, err := OpenTap(TunDevice, "ptap0"); err == nil {
		_ = tunIoctl(f, unix.TUNSETPERSIST, 0)
		f.Close()
	}
}

// TestUmlNetRefusesHostAddresses: a guest may not claim the host's own addresses or the
// gateways of its routes.
func TestUmlNetRefusesHostAddresses(t *testing.T) {
	requireNetAdmin(t)
	prog := testenv.Program(t, "uml_net")
	enterNetns(t)
	lan := newLink(t, "veth", "lan0", "lan1")
	if err := addAddr(lan.Index, mustAddr("10.254.0.100"), 24); err != nil {
		t.Fatal(err)
	}
	c, err := dialRoute()
	if err != nil {
		t.Fatal(err)
	}
	body := attrs(rtmsg(0, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST, unix.RTPROT_BOOT)).
		ip4(unix.RTA_GATEWAY, mustAddr("10.254.0.254")).u32(unix.RTA_OIF, uint32(lan.Index))
	if _, err := c.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body); err != nil {
		t.Fatalf("adding default route: %v", err)
	}
	c.Close()
	up := runHelper(t, prog, unix.SOCK_DGRAM, nil, "4", "tuntap", "up", "10.254.1.1")
	if up.Tap == nil {
		t.Fatalf("up failed: %q", up.Text)
	}
	l, _ := LinkByName(up.Name)
	for addr, want := range map[string]string{
		"10.254.0.100": "address of this host",
		"10.254.1.1":   "address of this host",
		"10.254.0.254": "gateway",
	} {
		r := runHelper(t, prog, unix.SOCK_STREAM, nil, "4", "add", up.Name, addr, "255.255.255.0")
		if r.Code != 1 || !strings.Contains(r.Text, want) {
			t.Errorf("add %s: code %d, log %q; want refusal mentioning %q", addr, r.Code, r.Text, want)
		}
		if hasRoute(t, mustAddr(addr), l.Index) {
			t.Errorf("add %s routed it to the tap", addr)
		}
	}
}

// TestUmlNetSetuidForAnotherUser installs uml_net setuid root, as packagers do, and runs it
// as an ordinary uid: the tap belongs to that uid, it can add/del on it, another uid cannot.
func TestUmlNetSetuidForAnotherUser(t *testing.T) {
	requireNetAdmin(t)
	prog := testenv.Program(t, "uml_net")
	dir, err := os.MkdirTemp("", "umlnet-suid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Flags&unix.ST_NOSUID != 0 {
		t.Skipf("%s is mounted nosuid", dir)
	}
	suid := filepath.Join(dir, "uml_net")
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(suid, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	enterNetns(t)
	as := func(uid uint32) *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}
	up := runHelper(t, suid, unix.SOCK_DGRAM, as(4242), "4", "tuntap", "up", "10.250.7.1")
	if up.Tap == nil {
		t.Fatalf("setuid up as uid 4242: code %d, log %q, stderr %q", up.Code, up.Text, up.Stderr)
	}
	l, err := LinkByName(up.Name)
	if err != nil {
		t.Fatal(err)
	}
	if l.TunOwner != 4242 {
		t.Errorf("tap owner %d, want the real uid 4242", l.TunOwner)
	}
	other := runHelper(t, suid, unix.SOCK_STREAM, as(4343), "4", "add", up.Name, "10.250.7.2", "255.255.255.0")
	if other.Code != 1 || !strings.Contains(other.Text, "not owned by uid 4343") || hasRoute(t, mustAddr("10.250.7.2"), l.Index) {
		t.Errorf("uid 4343 add on uid 4242's tap: code %d, log %q", other.Code, other.Text)
	}
	add := runHelper(t, suid, unix.SOCK_STREAM, as(4242), "4", "add", up.Name, "10.250.7.2", "255.255.255.0")
	if add.Code != 0 || !hasRoute(t, mustAddr("10.250.7.2"), l.Index) {
		t.Errorf("uid 4242 add on its tap: code %d, log %q", add.Code, add.Text)
	}
	// The environment of a setuid run is not trusted: no forwarding.
	_ = writeSysctl("/proc/sys/net/ipv4/ip_forward", "0\n")
	attr := as(4242)
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	remote := os.NewFile(uintptr(fds[1]), "remote")
	cmd := exec.Command(suid, "4", "tuntap", "up", "10.250.8.1")
	cmd.Stdout, cmd.SysProcAttr, cmd.Env = remote, attr, []string{IPForwardEnv + "=1"}
	_ = cmd.Run()
	remote.Close()
	unix.Close(fds[0])
	if got := readSysctl(t, "/proc/sys/net/ipv4/ip_forward"); got != "0" {
		t.Errorf("setuid run honoured %s: ip_forward = %s", IPForwardEnv, got)
	}
}

// TestDropPrivilegesAllThreads runs DropPrivileges in a child process and reads every
// thread's capability sets from /proc.
func TestDropPrivilegesAllThreads(t *testing.T) {
	if os.Getenv("TAP_TEST_DROP_CHILD") == "1" {
		// Make sure there are several threads, some parked in the kernel.
		for i := 0; i < 4; i++ {
			go func() { runtime.LockOSThread(); time.Sleep(time.Hour) }()
		}
		time.Sleep(50 * time.Millisecond)
		if err := DropPrivileges(); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		tasks, _ := filepath.Glob("/proc/self/task/*/status")
		for _, p := range tasks {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			s := bufio.NewScanner(f)
			var fields []string
			for s.Scan() {
				if k, v, ok := strings.Cut(s.Text(), ":"); ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs") {
					fields = append(fields, k+"="+strings.TrimSpace(v))
				}
			}
			f.Close()
			fmt.Println("TASK", strings.Join(fields, " "))
		}
		os.Exit(0)
	}
	// Root keeps exactly CAP_NET_ADMIN; anyone else had nothing and keeps nothing.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	want := "0000000000000000"
	if data[0].Permitted&(1<<unix.CAP_NET_ADMIN) != 0 {
		want = "0000000000001000"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropPrivilegesAllThreads$")
	cmd.Env = append(os.Environ(), "TAP_TEST_DROP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	n := 0
	for _, ln := range lines(string(out)) {
		if !strings.HasPrefix(ln, "TASK ") {
			continue
		}
		n++
		for _, w := range []string{"CapInh=0000000000000000", "CapPrm=" + want,
			"CapEff=" + want, "CapAmb=0000000000000000", "NoNewPrivs=1"} {
			if !strings.Contains(ln, w) {
				t.Errorf("thread %q lacks %s", ln, w)
			}
		}
	}
	if n < 2 {
		t.Fatalf("saw %d threads, want several:\n%s", n, out)
	}
}

// TestUmlNetMessagesAgainstRealUmlNet compares the refusals of both helpers, byte for byte,
// for command lines where the real one does not crash.
func TestUmlNetMessagesAgainstRealUmlNet(t *testing.T) {
	requireNetAdmin(t) // the real uml_net is mode 4754 root:uml-net
	real := testenv.Tool(t, "uml_net")
	ours := testenv.Program(t, "uml_net")
	enterNetns(t)
	for _, args := range [][]string{
		{}, {"4"}, {"x"}, {"5", "tuntap"}, {"-1", "tuntap"}, {"4", "foo"}, {"abc", "tuntap"},
		{"4", "tuntap"}, {"4", "tuntap", "bogus"}, {"0", "tuntap"}, {"1", "tuntap", "up"},
		{"3", "add", "tap0", "1.2.3.4"}, {"0x5", "tuntap"}, {"tuntap", "up"}, {"4", ""},
	} {
		r := runHelper(t, real, unix.SOCK_STREAM, nil, args...)
		o := runHelper(t, ours, unix.SOCK_STREAM, nil, args...)
		if string(r.Raw) != string(o.Raw) || r.Stderr != o.Stderr || r.Code != o.Code {
			t.Errorf("uml_net %q:\nreal: code %d stdout %q stderr %q\nours: code %d stdout %q stderr %q",
				args, r.Code, r.Raw, r.Stderr, o.Code, o.Raw, o.Stderr)
		}
	}
}

// The R6 recipe of docs/interfaces.md: a real guest configures eth0 on a tuntap link made by
// the helper and pings the host side.
const tapScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
ifconfig eth0 192.168.250.2 netmask 255.255.255.0 up
ping -c 2 -W 3 192.168.250.1
echo PINGRC=$?
ifconfig eth0 down
/bin/busybox poweroff -f
`

// bootWithHelper boots the real kernel in a private network namespace with helperDir first in
// PATH and returns the console log and the namespace's ip_forward afterwards.
func bootWithHelper(t *testing.T, helperDir string, env ...string) (string, string) {
	root := testenv.BusyboxRoot(t, map[string]string{"/tap.sh": tapScript})
	enterNetns(t)
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "0\n"); err != nil {
		t.Fatal(err)
	}
	u := &testenv.UML{
		Root: root, Init: "/tap.sh",
		Args: []string{"eth0=tuntap,,fe:fd:c0:a8:fa:02,192.168.250.1"},
		// The sbin directories too: the real helper finds ifconfig, route and arp in PATH,
		// and testenv.Tool looks there even when PATH lacks them.
		Env: append([]string{"PATH=" + helperDir + ":" + os.Getenv("PATH") + ":/usr/sbin:/sbin"}, env...),
	}
	log := strings.ReplaceAll(u.Run(t), "\r", "")
	if !strings.Contains(log, "PINGRC=0") || !strings.Contains(log, "2 packets transmitted, 2 packets received") {
		t.Fatalf("guest could not ping the gate through the tap:\n%s", log)
	}
	return log, readSysctl(t, "/proc/sys/net/ipv4/ip_forward")
}

// helperLines extracts the helper's log lines from a console log: the "* command" lines,
// without the module loading the real helper tries (it runs modprobe, which may be absent).
func helperLines(log string, keepForward bool) []string {
	var out []string
	for _, ln := range strings.Split(log, "\n") {
		switch {
		case strings.HasPrefix(ln, "* modprobe"):
		case strings.HasPrefix(ln, "* bash -c echo 1 > /proc/sys/net/ipv4/ip_forward") && !keepForward:
		case strings.HasPrefix(ln, "* "):
			out = append(out, ln)
		}
	}
	return out
}

// TestOurUmlNetAgainstRealUML boots the real kernel with our uml_net and with the real one
// (same guest, same checks) and compares what the guest prints from each helper.
func TestOurUmlNetAgainstRealUML(t *testing.T) {
	requireNetAdmin(t)
	ourDir := testenv.BinDir(t, "uml_net")
	realHelper := testenv.Tool(t, "uml_net")
	testenv.Tool(t, "linux.uml")
	realDir := t.TempDir()
	if err := os.Symlink(realHelper, filepath.Join(realDir, "uml_net")); err != nil {
		t.Fatal(err)
	}
	var realLog, ourLog, ourFwdLog string
	realSkipped := false
	t.Run("real", func(t *testing.T) {
		t.Cleanup(func() { realSkipped = t.Skipped() })
		// The real helper runs net-tools' ifconfig and route (and fails without them) and
		// arp; ours runs nothing. Its modprobe may fail: the test has /dev/net/tun already.
		for _, tool := range []string{"ifconfig", "route", "arp"} {
			testenv.Tool(t, tool)
		}
		var fwd string
		realLog, fwd = bootWithHelper(t, realDir)
		if fwd != "1" {
			t.Logf("note: the real uml_net left ip_forward = %s", fwd)
		}
	})
	t.Run("ours", func(t *testing.T) {
		var fwd string
		ourLog, fwd = bootWithHelper(t, ourDir)
		if fwd != "0" {
			t.Errorf("our uml_net changed ip_forward to %s without being asked", fwd)
		}
	})
	t.Run("ours-forwarding", func(t *testing.T) {
		var fwd string
		ourFwdLog, fwd = bootWithHelper(t, ourDir, IPForwardEnv+"=1")
		if fwd != "1" {
			t.Errorf("ip_forward = %s with %s=1, want 1", fwd, IPForwardEnv)
		}
	})
	// A real helper that could not run (its tools missing, outside GOUML_INTEROP=require)
	// leaves ours to be checked against the expected lines alone.
	if (realLog == "" && !realSkipped) || ourLog == "" || ourFwdLog == "" {
		t.Fatal("a boot failed; nothing to compare")
	}
	want := []string{
		"* ifconfig tap0 192.168.250.1 netmask 255.255.255.255 up",
		"* route add -host 192.168.250.2 dev tap0",
		"* bash -c echo 1 > /proc/sys/net/ipv4/conf/tap0/proxy_arp",
		"* route del -host 192.168.250.2 dev tap0",
		"* bash -c echo 0 > /proc/sys/net/ipv4/conf/tap0/proxy_arp",
	}
	if got := helperLines(ourLog, false); !slices.Equal(got, want) {
		t.Errorf("our helper's lines %q, want %q", got, want)
	}
	if realSkipped {
		return
	}
	if got := helperLines(realLog, false); !slices.Equal(got, want) {
		t.Errorf("real helper's lines %q, want %q", got, want)
	}
	if r, o := helperLines(realLog, true), helperLines(ourFwdLog, true); !slices.Equal(r, o) {
		t.Errorf("with forwarding asked for, lines differ:\nreal %q\nours %q", r, o)
	}
}
