// Command net-bench measures the network between two guests on a uml_switch, side by side
// in one run: two of our guests on our uml_switch, and two real linux.uml guests on
// Debian's. Each pair reports TCP throughput (one stream, from the receiver's first byte to
// EOF, bench/net/tput) and the ping round trip (busybox ping, 20 echoes). Run it with
// bench/net/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

func main() {
	mb := flag.Int("mb", 256, "MiB per TCP run")
	reps := flag.Int("reps", 2, "runs per pair (the best is reported)")
	bin := flag.String("bin", "", "directory with our linux, uml_switch and tput")
	flag.Parse()
	if *mb < 1 || *mb > 4096 || *reps < 1 || *reps > 10 || *bin == "" {
		fmt.Fprintln(os.Stderr, "net-bench: -bin DIR, -mb 1..4096 and -reps 1..10")
		os.Exit(2)
	}
	if err := run(*bin, *mb, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "net-bench:", err)
		os.Exit(1)
	}
}

// guestScript: the server receives one stream and says how fast; the client pings the
// server, then sends. Both write /result and wait for /done.
const guestScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
ifconfig eth0 $IP netmask 255.255.255.0 up
if [ "$ROLE" = server ]; then
  /bin/tput -s :5001 > /r 2>&1
else
  i=0; until ping -c 1 -W 1 $PEER >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); done
  ping -c 20 -i 0.2 $PEER | tail -1 > /r
  /bin/tput -c $PEER:5001 -mb $MB >> /r 2>&1
fi
mv /r /result
while [ ! -e /done ]; do sleep 0.2; done
poweroff -f
`

func makeRoot(dir, tput string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found: apt-get install busybox-static")
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for src, dst := range map[string]string{bb: "bin/busybox", tput: "bin/tput"} {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o755); err != nil {
			return err
		}
	}
	for _, a := range []string{"sh", "mount", "ifconfig", "ping", "tail", "mv", "sleep", "poweroff"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	return os.WriteFile(filepath.Join(dir, "t.sh"), []byte(guestScript), 0o755)
}

type pairResult struct {
	mbits, rtt float64
	err        error
}

var (
	mbitsRE = regexp.MustCompile(`MBITS ([0-9.]+)`)
	rttRE   = regexp.MustCompile(`= [0-9.]+/([0-9.]+)/`)
)

// runPair boots the two guests of one kind on a fresh switch and reads their results.
func runPair(work, switchProg string, guest func(root, ctl, mac string, env ...string) *exec.Cmd, tput string, mb int) pairResult {
	dir, err := os.MkdirTemp(work, "pair")
	if err != nil {
		return pairResult{err: err}
	}
	defer os.RemoveAll(dir)
	ctl := filepath.Join(dir, "ctl")
	sw := exec.Command(switchProg, "-unix", ctl)
	if err := sw.Start(); err != nil {
		return pairResult{err: err}
	}
	defer func() { sw.Process.Kill(); sw.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(ctl); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var roots [2]string
	var cmds [2]*exec.Cmd
	for i, role := range []string{"server", "client"} {
		roots[i] = filepath.Join(dir, role)
		if err := makeRoot(roots[i], tput); err != nil {
			return pairResult{err: err}
		}
		ip, peer := "10.0.9.1", "10.0.9.2"
		if i == 1 {
			ip, peer = peer, ip
		}
		cmds[i] = guest(roots[i], ctl, fmt.Sprintf("fe:fd:0a:00:09:0%d", i+1),
			"ROLE="+role, "IP="+ip, "PEER="+peer, "MB="+strconv.Itoa(mb))
		if err := cmds[i].Start(); err != nil {
			return pairResult{err: err}
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(cmds[i])
	}
	var out [2]string
	deadline := time.Now().Add(240 * time.Second)
	for i := range roots {
		for {
			b, err := os.ReadFile(filepath.Join(roots[i], "result"))
			if err == nil {
				out[i] = string(b)
				break
			}
			if time.Now().After(deadline) {
				return pairResult{err: fmt.Errorf("no result from the %d guest", i)}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, r := range roots {
		os.WriteFile(filepath.Join(r, "done"), nil, 0o644)
	}
	for _, c := range cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}
	m, r := mbitsRE.FindStringSubmatch(out[0]), rttRE.FindStringSubmatch(out[1])
	if m == nil || r == nil {
		return pairResult{err: fmt.Errorf("unexpected results: server %q client %q", out[0], out[1])}
	}
	res := pairResult{}
	res.mbits, _ = strconv.ParseFloat(m[1], 64)
	res.rtt, _ = strconv.ParseFloat(r[1], 64)
	return res
}

func run(bin string, mb, reps int) error {
	realUML, err := exec.LookPath("linux.uml")
	if err != nil {
		return fmt.Errorf("linux.uml not found: apt-get install user-mode-linux")
	}
	realSwitch, err := exec.LookPath("uml_switch")
	if err != nil {
		return fmt.Errorf("uml_switch not found: apt-get install uml-utilities")
	}
	work, err := os.MkdirTemp("", "net-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx := context.Background()
	ours := func(root, ctl, mac string, env ...string) *exec.Cmd {
		args := append([]string{"ubd0=" + root, "rw", "init=/t.sh", "eth0=daemon," + mac + ",unix," + ctl,
			"uml_dir=" + root + "/"}, env...)
		return exec.CommandContext(ctx, filepath.Join(bin, "linux"), args...)
	}
	real := func(root, ctl, mac string, env ...string) *exec.Cmd {
		args := append([]string{"mem=256M", "root=/dev/root", "rootfstype=hostfs", "hostfs=" + root, "rw",
			"init=/t.sh", "eth0=daemon," + mac + ",unix," + ctl, "uml_dir=" + root + "/"}, env...)
		c := exec.CommandContext(ctx, realUML, args...)
		c.Dir = root
		return c
	}
	tput := filepath.Join(bin, "tput")
	// The kinds alternate, so that a change in the machine's load hits both; the best of
	// reps runs is kept (the machine is shared: best-of is the least noisy).
	var o, r pairResult
	keep := func(b *pairResult, x pairResult) {
		b.mbits = max(b.mbits, x.mbits)
		if b.rtt == 0 || x.rtt < b.rtt {
			b.rtt = x.rtt
		}
	}
	for i := 0; i < reps; i++ {
		x := runPair(work, filepath.Join(bin, "uml_switch"), ours, tput, mb)
		if x.err != nil {
			return fmt.Errorf("ours: %v", x.err)
		}
		keep(&o, x)
		x = runPair(work, realSwitch, real, tput, mb)
		if x.err != nil {
			return fmt.Errorf("real: %v", x.err)
		}
		keep(&r, x)
	}
	fmt.Printf("%-40s | %12s | %12s\n", "two guests over uml_switch", "TCP Mbit/s", "ping RTT ms")
	fmt.Printf("%-40s | %12.0f | %12.3f\n", "ours (our linux, our uml_switch)", o.mbits, o.rtt)
	fmt.Printf("%-40s | %12.0f | %12.3f\n", "real (linux.uml, Debian's uml_switch)", r.mbits, r.rtt)
	fmt.Printf("%-40s | %11.2fx | %11.2fx\n", "ours / real", o.mbits/r.mbits, o.rtt/r.rtt)
	return nil
}
