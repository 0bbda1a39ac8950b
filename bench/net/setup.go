package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// guest is one machine of a setup: the kernel to run (our linux's path, or linux.uml),
// its eth0= option and the variables its init script reads.
type guest struct {
	kernel string
	eth0   string
	env    []string
}

// setup is the machines of one measurement. The last guest is the client, whose result
// holds the figures. "CTL" in sw and eth0 stands for the switch's control socket.
type setup struct {
	sw     []string // the switch to start first, if any
	host   string   // the host address an iperf3 server listens on for the client ("": none)
	guests []guest
}

type result struct {
	mbits, rtt, minRTT float64 // TCP throughput; ping's average and least round trip
	err                error
}

// keep folds x into the best result so far.
func (b *result) keep(x result) {
	if x.err != nil {
		if b.mbits == 0 {
			b.err = x.err
		}
		return
	}
	b.mbits = max(b.mbits, x.mbits)
	if x.rtt > 0 && (b.rtt == 0 || x.rtt < b.rtt) {
		b.rtt = x.rtt
	}
	if x.minRTT > 0 && (b.minRTT == 0 || x.minRTT < b.minRTT) {
		b.minRTT = x.minRTT
	}
}

var (
	mbitsRE = regexp.MustCompile(`([0-9.]+) Mbits/sec.*receiver`)
	rttRE   = regexp.MustCompile(`= ([0-9.]+)/([0-9.]+)/`)
)

// freePort is a TCP port on loopback that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run boots the setup's machines, waits for the client's result and reads it.
func (s setup) run(work, bin string, secs int) result {
	dir, err := os.MkdirTemp(work, "run")
	if err != nil {
		return result{err: err}
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return result{err: err}
	}
	ctl := filepath.Join(dir, "ctl")
	subst := func(a string) string { return strings.ReplaceAll(a, "CTL", ctl) }
	if s.sw != nil {
		sw := exec.Command(s.sw[0], mapStrings(s.sw[1:], subst)...)
		if verbose {
			sw.Stderr = os.Stderr
		}
		if err := sw.Start(); err != nil {
			return result{err: err}
		}
		defer func() {
			if verbose {
				// our switch prints its ports' counters (Debian's ignores the signal... or dies)
				if strings.HasSuffix(s.sw[0], "/uml_switch") {
					sw.Process.Signal(syscall.SIGUSR1)
					time.Sleep(200 * time.Millisecond)
				}
			}
			sw.Process.Kill()
			sw.Wait()
		}()
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(ctl); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	port, err := freePort()
	if err != nil {
		return result{err: err}
	}
	if s.host != "" {
		bind := s.host
		if bind == natHost {
			bind = "127.0.0.1" // the NAT's gateway address is the host's loopback
		}
		srv := exec.Command("iperf3", "-s", "-1", "-B", bind, "-p", strconv.Itoa(port))
		if err := srv.Start(); err != nil {
			return result{err: err}
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
	}
	roots := make([]string, len(s.guests))
	cmds := make([]*exec.Cmd, len(s.guests))
	for i, g := range s.guests {
		roots[i] = filepath.Join(dir, fmt.Sprintf("g%d", i))
		if err := makeRoot(roots[i]); err != nil {
			return result{err: err}
		}
		env := append([]string{"PORT=" + strconv.Itoa(port), "SECS=" + strconv.Itoa(secs)}, g.env...)
		cmds[i] = bootCmd(g, roots[i], subst(g.eth0), env)
		if verbose {
			cmds[i].Stderr = os.Stderr
		}
		if err := cmds[i].Start(); err != nil {
			return result{err: err}
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(cmds[i])
	}
	if verbose {
		defer func() {
			b, _ := os.ReadFile(filepath.Join(roots[0], "result"))
			fmt.Fprintf(os.Stderr, "first guest:\n%s\n", b)
		}()
	}
	var out string
	deadline := time.Now().Add(time.Duration(120+2*secs) * time.Second)
	client := roots[len(roots)-1]
	for {
		b, err := os.ReadFile(filepath.Join(client, "result"))
		if err == nil {
			out = string(b)
			break
		}
		if time.Now().After(deadline) {
			return result{err: fmt.Errorf("no result from the client guest")}
		}
		time.Sleep(200 * time.Millisecond)
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
	if verbose {
		fmt.Fprintf(os.Stderr, "%s\n", out)
	}
	m := mbitsRE.FindStringSubmatch(out)
	if m == nil {
		return result{err: fmt.Errorf("unexpected result: %q", out)}
	}
	res := result{}
	res.mbits, _ = strconv.ParseFloat(m[1], 64)
	if r := rttRE.FindStringSubmatch(out); r != nil {
		res.minRTT, _ = strconv.ParseFloat(r[1], 64)
		res.rtt, _ = strconv.ParseFloat(r[2], 64)
	}
	return res
}

// bootCmd is the command line that boots g on root.
func bootCmd(g guest, root, eth0 string, env []string) *exec.Cmd {
	if g.kernel == "linux.uml" {
		args := append([]string{"mem=256M", "root=/dev/root", "rootfstype=hostfs", "hostfs=" + root, "rw",
			"init=/t.sh", eth0, "uml_dir=" + root + "/"}, env...)
		c := exec.Command(g.kernel, args...)
		c.Dir = root
		return c
	}
	args := append([]string{"ubd0=" + root, "rw", "init=/t.sh", eth0, "uml_dir=" + root + "/"}, env...)
	return exec.Command(g.kernel, args...)
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
