// Command usernet-bench measures TCP throughput from a real linux.uml guest to a service on
// the host, side by side in one run:
//
//   - gouml's NAT through our uml_switch -nat (eth0=daemon), the way users run it;
//   - gouml's NAT gateway in this process over a ucast link (no switch in between);
//   - Debian's slirp (eth0=slirp), the real UML's rootless transport;
//   - a tap device and the host kernel's own stack (eth0=tuntap), the upper bound (root only);
//   - a direct loopback connection without any guest, for scale.
//
// Every guest sends the same bytes with dd through busybox nc; the host side times from the
// first byte to EOF. Run it with bench/usernet/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/usernet"
)

func main() {
	mb := flag.Int("mb", 64, "MiB sent per run")
	slirpMB := flag.Int("slirp-mb", 1, "MiB sent per slirp run (slirp moves about 40 KiB/s)")
	reps := flag.Int("reps", 2, "runs per transport (the best is reported)")
	flag.Parse()
	if *mb < 1 || *mb > 1024 || *slirpMB < 1 || *slirpMB > 4 || *reps < 1 || *reps > 10 {
		fmt.Fprintln(os.Stderr, "usernet-bench: -mb must be 1..1024, -slirp-mb 1..4 and -reps 1..10")
		os.Exit(2)
	}
	if err := run(*mb, *slirpMB, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "usernet-bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name    string
	bytes   int64
	elapsed time.Duration
	err     error
}

func (r result) mbps() float64 { return float64(r.bytes) / r.elapsed.Seconds() / (1 << 20) }

// sink accepts one connection at a time and reports bytes and time from first byte to EOF.
type sink struct {
	l       net.Listener
	results chan result
}

func newSink(addr string) (*sink, error) {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, err
	}
	s := &sink{l: l, results: make(chan result, 1)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(170 * time.Second))
			buf := make([]byte, 256<<10)
			n, err := c.Read(buf)
			start := time.Now()
			total := int64(n)
			if err == nil {
				m, e := io.CopyBuffer(io.Discard, c, buf)
				total += m
				err = e
			}
			if err == io.EOF {
				err = nil
			}
			c.Close()
			s.results <- result{bytes: total, elapsed: time.Since(start), err: err}
		}
	}()
	return s, nil
}

func (s *sink) port() int { return s.l.Addr().(*net.TCPAddr).Port }

const guestScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 $IP netmask $MASK up
if [ -n "$GW" ]; then route add default gw $GW; else route add default dev eth0; fi
# dd writes 64 KiB straight into the socket: nc's own 1 KiB copy loop plus Nagle would
# measure nc, one 1 KiB segment per round trip, not the network.
nc -w 10 $DST $PORT -e /send.sh
echo "BENCH-DONE rc=$?"
# dd's exit does not wait for the peer's acknowledgements: give the tail of the stream (and
# the FIN that ends the host's measurement) time to leave before the machine stops.
sleep 3
poweroff -f
`

func busyboxRoot(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found: apt-get install busybox-static")
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	for _, a := range []string{"sh", "mount", "ifconfig", "route", "dd", "nc", "poweroff", "echo", "sleep"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	if err := os.WriteFile(filepath.Join(dir, "send.sh"), []byte("#!/bin/sh\nexec dd if=/dev/zero bs=65536 count=$COUNT 2>/dev/null\n"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "t.sh"), []byte(guestScript), 0o755)
}

// guestNet is how one transport's guest configures eth0 and whom it sends to.
type guestNet struct {
	eth0, ip, mask, gw, dst string
}

func bootGuest(root string, n guestNet, count, port int) (string, error) {
	ud, err := os.MkdirTemp("", "umlb")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(ud)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "linux.uml", "mem=128M", "root=/dev/root", "rootfstype=hostfs", "hostfs="+root, "rw",
		"con0=fd:0,fd:1", "con=null", "ssl=null", "uml_dir="+ud+"/", fmt.Sprintf("umid=bench%d", os.Getpid()),
		"init=/t.sh", n.eth0, "IP="+n.ip, "MASK="+n.mask, "GW="+n.gw, "DST="+n.dst,
		fmt.Sprintf("COUNT=%d", count), fmt.Sprintf("PORT=%d", port))
	cmd.Dir = ud
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func guestRun(name, root string, n guestNet, count int, s *sink) result {
	out, err := bootGuest(root, n, count, s.port())
	if err != nil || !strings.Contains(out, "BENCH-DONE rc=0") {
		tail := out
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		// A guest that failed may still have connected; do not let its result leak into
		// the next run.
		select {
		case <-s.results:
		case <-time.After(time.Second):
		}
		return result{name: name, err: fmt.Errorf("guest run failed (%v): %s", err, tail)}
	}
	select {
	case r := <-s.results:
		r.name = name
		if r.err == nil && r.bytes != int64(count)*65536 {
			r.err = fmt.Errorf("received %d bytes, want %d", r.bytes, int64(count)*65536)
		}
		return r
	case <-time.After(5 * time.Second):
		return result{name: name, err: fmt.Errorf("sink saw no connection")}
	}
}

var natNet = guestNet{ip: "10.0.2.15", mask: "255.255.255.0", gw: "10.0.2.2", dst: "10.0.2.2"}

func freePort(network string) (int, error) {
	if network == "udp4" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ucastRun attaches a fresh ucast link to the in-process gateway for one guest run.
func ucastRun(g *usernet.Gateway, root string, count int, s *sink) result {
	const name = "gouml usernet (ucast)"
	gport, err := freePort("udp4")
	if err != nil {
		return result{name: name, err: err}
	}
	lo := netip.MustParseAddr("127.0.0.1")
	l, err := usernet.ListenUcast(netip.AddrPortFrom(lo, 0), netip.AddrPortFrom(lo, uint16(gport)))
	if err != nil {
		return result{name: name, err: err}
	}
	defer l.Close()
	g.Attach(l)
	n := natNet
	n.eth0 = fmt.Sprintf("eth0=ucast,52:54:00:12:34:56,127.0.0.1,%d,%d", gport, l.LocalAddr().Port())
	return guestRun(name, root, n, count, s)
}

// switchRun starts our uml_switch -nat for one guest run (eth0=daemon).
func switchRun(swBin, root string, count int, s *sink) result {
	const name = "gouml uml_switch -nat"
	dir, err := os.MkdirTemp("", "usernet-bench-sw")
	if err != nil {
		return result{name: name, err: err}
	}
	defer os.RemoveAll(dir)
	ctl := filepath.Join(dir, "ctl")
	cmd := exec.Command(swBin, "-unix", ctl, "-nat")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return result{name: name, err: err}
	}
	defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", ctl); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			return result{name: name, err: fmt.Errorf("uml_switch did not create %s", ctl)}
		}
	}
	n := natNet
	n.eth0 = "eth0=daemon,fe:fd:0a:00:02:0f,unix," + ctl
	return guestRun(name, root, n, count, s)
}

// slirpRun runs Debian's slirp. Its 1.0.17-11 amd64 build exits with status 1 on its first
// idle select(): when nothing needs a timer, main_loop stores (u_int)-1 into the 64-bit
// tv_usec, so its "-1 means wait 5 s" test misses and glibc's select() rejects tv_usec
// 4294967295 with EINVAL before any system call (strace shows no select at all, then
// exit_group(1)). A "redir" keeps a listening TCP socket on slirp's connection list, so it
// always runs its 500 ms slow timer and never takes the broken branch. The redirect's host
// port is a free one found just before, pointing at a guest port nothing listens on.
// baudrate: slirp paces its output to the configured line speed (default 115200 baud).
func slirpRun(root string, count int, s *sink) result {
	const name = "Debian slirp (eth0=slirp)"
	p, err := freePort("tcp4")
	if err != nil {
		return result{name: name, err: err}
	}
	n := guestNet{
		eth0: fmt.Sprintf("eth0=slirp,,slirp,baudrate_1000000000,redir_%d_%d", p, p),
		ip:   "10.0.2.15", mask: "255.255.255.0", dst: "10.0.2.2",
	}
	return guestRun(name, root, n, count, s)
}

// The tap's subnet: TEST-NET-2, routed nowhere, so nothing leaves this machine.
const (
	tapHost  = "198.51.100.1"
	tapGuest = "198.51.100.2"
)

// tapSetup creates a tap device with a host address (root only); the returned function
// removes it.
func tapSetup() (string, func(), error) {
	name := fmt.Sprintf("gbtap%d", os.Getpid()%100000)
	run := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("tuntap", "add", "dev", name, "mode", "tap"); err != nil {
		return "", nil, err
	}
	cleanup := func() { run("link", "del", name) }
	for _, a := range [][]string{{"addr", "add", tapHost + "/24", "dev", name}, {"link", "set", name, "up"}} {
		if err := run(a...); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return name, cleanup, nil
}

func best(rs []result) result {
	var b result
	for _, r := range rs {
		if b.name == "" || (b.err != nil && r.err == nil) || (r.err == nil && r.mbps() > b.mbps()) {
			b = r
		}
	}
	return b
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(mb, slirpMB, reps int) error {
	for _, tool := range []string{"linux.uml", "slirp", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (apt-get install user-mode-linux slirp busybox-static)", tool)
		}
	}
	work, err := os.MkdirTemp("", "usernet-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	if err := busyboxRoot(root); err != nil {
		return err
	}
	swBin := filepath.Join(work, "uml_switch")
	if out, err := exec.Command("go", "build", "-o", swBin, "./cmd/uml_switch").CombinedOutput(); err != nil {
		return fmt.Errorf("building uml_switch: %v\n%s", err, out)
	}
	lo, err := newSink("127.0.0.1:0")
	if err != nil {
		return err
	}
	count := mb * 16 // 64 KiB blocks
	g, err := usernet.New(usernet.Config{Resolvers: []netip.AddrPort{}})
	if err != nil {
		return err
	}
	defer g.Close()

	var tap *sink
	var tapName string
	var tapErr error
	if os.Geteuid() != 0 {
		tapErr = fmt.Errorf("needs root (a tap device)")
	} else {
		var cleanup func()
		tapName, cleanup, tapErr = tapSetup()
		if tapErr == nil {
			defer cleanup()
			if tap, tapErr = newSink(tapHost + ":0"); tapErr == nil {
				defer tap.l.Close()
			}
		}
	}

	load0 := loadavg()
	names := []string{"gouml uml_switch -nat", "gouml usernet (ucast)", "Debian slirp (eth0=slirp)", "tap + host kernel (root)", "direct loopback (no guest)"}
	all := map[string][]result{}
	for i := 0; i < reps; i++ {
		all[names[0]] = append(all[names[0]], switchRun(swBin, root, count, lo))
		all[names[1]] = append(all[names[1]], ucastRun(g, root, count, lo))
		all[names[2]] = append(all[names[2]], slirpRun(root, slirpMB*16, lo))
		if tapErr == nil {
			n := guestNet{eth0: "eth0=tuntap," + tapName, ip: tapGuest, mask: "255.255.255.0", dst: tapHost}
			all[names[3]] = append(all[names[3]], guestRun(names[3], root, n, count, tap))
		} else {
			all[names[3]] = []result{{name: names[3], err: tapErr}}
		}
		all[names[4]] = append(all[names[4]], loopback(lo, count))
	}
	bs := map[string]result{}
	for _, n := range names {
		bs[n] = best(all[n])
	}
	tp, sl := bs[names[3]], bs[names[2]]
	fmt.Printf("TCP throughput, real linux.uml guest -> host service, %d MiB per run (slirp: %d MiB), best of %d\n", mb, slirpMB, reps)
	fmt.Printf("load average before: %s, after: %s (2-core machine, shared)\n\n", load0, loadavg())
	fmt.Printf("| %-27s | %8s | %7s | %8s |\n", "transport", "MiB/s", "vs tap", "vs slirp")
	fmt.Printf("|%s|%s|%s|%s|\n", strings.Repeat("-", 29), strings.Repeat("-", 10), strings.Repeat("-", 9), strings.Repeat("-", 10))
	for _, n := range names {
		r := bs[n]
		if r.err != nil {
			fmt.Printf("| %-27s | %8s | %7s | %8s |  %v\n", n, "-", "-", "-", r.err)
			continue
		}
		vt, vs := "-", "-"
		if tp.err == nil {
			vt = ratio(r.mbps() / tp.mbps())
		}
		if sl.err == nil {
			vs = ratio(r.mbps() / sl.mbps())
		}
		fmt.Printf("| %-27s | %8.2f | %7s | %8s |\n", n, r.mbps(), vt, vs)
	}
	return nil
}

// ratio prints x with about three significant digits.
func ratio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	case x >= 0.01:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.4f", x)
}

// loopback sends the same bytes from a host socket straight to the sink: no guest at all.
func loopback(s *sink, count int) result {
	const name = "direct loopback (no guest)"
	c, err := net.Dial("tcp4", s.l.Addr().String())
	if err != nil {
		return result{name: name, err: err}
	}
	buf := make([]byte, 65536)
	for i := 0; i < count; i++ {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return result{name: name, err: err}
		}
	}
	c.Close()
	select {
	case r := <-s.results:
		r.name = name
		return r
	case <-time.After(60 * time.Second):
		return result{name: name, err: fmt.Errorf("sink saw no end")}
	}
}
