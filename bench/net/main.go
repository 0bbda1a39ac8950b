// Command net-bench measures guest networking side by side in one run, with iperf3 (the
// host's, copied with its libraries into busybox roots, so that both kernels run the same
// program) and busybox ping:
//
//   - two guests on a uml_switch: two of ours on our uml_switch, and two real linux.uml
//     guests on Debian's (TCP throughput of one iperf3 stream, ping round trip);
//   - a guest to a host loopback service: ours through eth0=usernet, the real linux.uml
//     through our uml_switch -nat (Debian's switch has no NAT), and both through a host tap
//     and the host kernel's stack, the upper bound (root only).
//
// Run it with bench/net/run.sh.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	secs := flag.Int("secs", 5, "seconds per iperf3 run")
	reps := flag.Int("reps", 2, "runs of each setup (the best is reported)")
	bin := flag.String("bin", "", "directory with our linux and uml_switch")
	only := flag.String("only", "", "run only the setups whose name contains this")
	flag.BoolVar(&verbose, "v", false, "print each client's output (iperf3's retransmits, ping's summary)")
	flag.Parse()
	if *secs < 1 || *secs > 120 || *reps < 1 || *reps > 10 || *bin == "" {
		fmt.Fprintln(os.Stderr, "net-bench: -bin DIR, -secs 1..120 and -reps 1..10")
		os.Exit(2)
	}
	if err := run(*bin, *secs, *reps, *only); err != nil {
		fmt.Fprintln(os.Stderr, "net-bench:", err)
		os.Exit(1)
	}
}

// The addresses: the switch's subnet, the NAT's (usernet(7)), and the tap's (TEST-NET-2,
// routed nowhere, so nothing leaves this machine).
const (
	swServer, swClient = "10.0.9.1", "10.0.9.2"
	natGuest, natHost  = "10.0.2.15", "10.0.2.2"
	tapHost, tapGuest  = "198.51.100.1", "198.51.100.2"
)

func run(bin string, secs, reps int, only string) error {
	for _, tool := range []string{"linux.uml", "uml_switch", "busybox", "iperf3"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (apt-get install user-mode-linux uml-utilities busybox-static iperf3)", tool)
		}
	}
	work, err := os.MkdirTemp("", "net-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	ours, realSwitch := filepath.Join(bin, "linux"), "uml_switch"
	ourSwitch := filepath.Join(bin, "uml_switch")
	tap := ""
	tapErr := fmt.Errorf("needs root (a tap device)")
	if os.Geteuid() == 0 {
		var cleanup func()
		if tap, cleanup, tapErr = tapSetup(); tapErr == nil {
			defer cleanup()
		}
	}
	pair := func(kernel, sw string) setup {
		return setup{sw: []string{sw, "-unix", "CTL"}, guests: []guest{
			{kernel, "eth0=daemon,fe:fd:0a:00:09:01,unix,CTL", []string{"ROLE=server", "IP=" + swServer}},
			{kernel, "eth0=daemon,fe:fd:0a:00:09:02,unix,CTL", []string{"ROLE=client", "IP=" + swClient, "PEER=" + swServer, "PING=1"}},
		}}
	}
	toHost := func(kernel, eth0, ip, host string, sw []string) setup {
		return setup{sw: sw, host: host, guests: []guest{
			{kernel, eth0, []string{"ROLE=client", "IP=" + ip, "PEER=" + host}}}}
	}
	setups := []named{
		{"pair: ours (our linux, our uml_switch)", pair(ours, ourSwitch), nil},
		{"pair: real (linux.uml, Debian's uml_switch)", pair("linux.uml", realSwitch), nil},
		{"host: ours (eth0=usernet)", toHost(ours, "eth0=usernet", natGuest, natHost, nil), nil},
		{"host: real (linux.uml, our uml_switch -nat)", toHost("linux.uml", "eth0=daemon,,unix,CTL", natGuest, natHost,
			[]string{ourSwitch, "-nat", "-unix", "CTL"}), nil},
		{"host: ours (eth0=tuntap, host kernel)", toHost(ours, "eth0=tuntap,"+tap, tapGuest, tapHost, nil), tapErr},
		{"host: real (eth0=tuntap, host kernel)", toHost("linux.uml", "eth0=tuntap,"+tap, tapGuest, tapHost, nil), tapErr},
	}
	res := map[string]result{}
	// The setups take turns, so that a change in the machine's load hits all of them; the
	// best of reps runs is kept (the machine is shared: best-of is the least noisy).
	for i := 0; i < reps; i++ {
		for _, s := range setups {
			if !strings.Contains(s.name, only) {
				continue
			}
			if s.skip != nil {
				res[s.name] = result{err: s.skip}
				continue
			}
			x := s.setup.run(work, bin, secs)
			if x.err != nil {
				fmt.Fprintf(os.Stderr, "net-bench: %s: %v\n", s.name, x.err)
			}
			b := res[s.name]
			b.keep(x)
			res[s.name] = b
		}
	}
	fmt.Printf("load average at the end: %s\n\n", loadavg())
	fmt.Printf("%-46s | %10s | %11s | %11s\n", "setup", "TCP Mbit/s", "RTT avg ms", "RTT min ms")
	for _, s := range setups {
		r, ok := res[s.name]
		if !ok {
			continue
		}
		if r.mbits == 0 {
			fmt.Printf("%-46s | %10s | %11s | %11s   (%v)\n", s.name, "-", "-", "-", r.err)
			continue
		}
		rtt, minRTT := "-", "-"
		if r.rtt > 0 {
			rtt, minRTT = fmt.Sprintf("%.3f", r.rtt), fmt.Sprintf("%.3f", r.minRTT)
		}
		fmt.Printf("%-46s | %10.0f | %11s | %11s\n", s.name, r.mbits, rtt, minRTT)
	}
	ratio := func(what, a, b string) {
		x, y := res[a], res[b]
		if x.mbits > 0 && y.mbits > 0 {
			fmt.Printf("%-46s | %9.2fx |", what, x.mbits/y.mbits)
			if x.rtt > 0 && y.rtt > 0 {
				fmt.Printf(" %10.2fx | %10.2fx", x.rtt/y.rtt, x.minRTT/y.minRTT)
			}
			fmt.Println()
		}
	}
	ratio("pair: ours / real", setups[0].name, setups[1].name)
	ratio("host: ours usernet / real -nat", setups[2].name, setups[3].name)
	ratio("host: ours usernet / ours tap", setups[2].name, setups[4].name)
	ratio("host: ours usernet / real tap", setups[2].name, setups[5].name)
	return nil
}

// verbose: print each client's output.
var verbose bool

type named struct {
	name  string
	setup setup
	skip  error // why the setup cannot run here
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
