package vswitch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/gouml/gouml/lib/usernet"
)

// Default socket paths of the real uml_switch.
const (
	DefaultCtl  = "/tmp/uml.ctl"
	DefaultData = "/tmp/uml.data"
)

// daemonEnv carries the inherited descriptors to the -daemon child.
const daemonEnv = "GOUML_UML_SWITCH_DAEMON_FDS"

func usage(prog string, w io.Writer) int {
	fmt.Fprintf(w, "Usage : %s [ -unix control-socket ] [ -hub ] [ -tap tap-device ]\n", prog)
	fmt.Fprintf(w, "or : %s -compat-v0 [ -unix control-socket data-socket ] [ -hub ] [ -tap tap-device ]\n", prog)
	fmt.Fprintf(w, "gouml additions : [ -daemon ] [ -bess bess-socket ] [ -pcap capture-file ] [ -nat [subnet] [ -forward tcp|udp:hostport:guestip:guestport ] ... [ -debug ] ]\n")
	return 1
}

// ParseArgs parses the real switch's command line (options in any order; -unix takes a data
// socket too when -compat-v0 came before it) plus our -bess and -pcap. ok is false on a bad
// command line. The hub and compat-v0 messages are printed as options are met, like the real one.
func ParseArgs(prog string, args []string, out io.Writer) (cfg Config, daemon, ok bool) {
	cfg.Ctl, cfg.Data = DefaultCtl, DefaultData
	for i := 0; i < len(args); i++ {
		need := func(n int) bool { return i+n < len(args) }
		switch args[i] {
		case "-unix":
			if cfg.CompatV0 {
				if !need(2) {
					return cfg, false, false
				}
				cfg.Ctl, cfg.Data = args[i+1], args[i+2]
				i += 2
			} else {
				if !need(1) {
					return cfg, false, false
				}
				cfg.Ctl = args[i+1]
				i++
			}
		case "-tap":
			if !need(1) {
				return cfg, false, false
			}
			cfg.Tap = args[i+1]
			i++
		case "-hub":
			fmt.Fprintf(out, "%s will be a hub instead of a switch\n", prog)
			cfg.Hub = true
		case "-compat-v0":
			fmt.Fprintf(out, "Control protocol 0 compatibility\n")
			cfg.CompatV0 = true
		case "-daemon":
			daemon = true
		case "-bess":
			if !need(1) {
				return cfg, false, false
			}
			cfg.BESS = args[i+1]
			i++
		case "-debug":
			cfg.Debug = true
		case "-pcap":
			if !need(1) {
				return cfg, false, false
			}
			cfg.Pcap = args[i+1]
			i++
		default:
			return cfg, false, false
		}
	}
	return cfg, daemon, true
}

// Main is uml_switch. argv includes the program name (printed in messages as given, as the
// real switch does). It returns the exit status; on SIGINT or SIGTERM it cleans up and
// re-raises the signal, so the process dies of it.
func Main(argv []string, stdin *os.File, stdout, stderr io.Writer) int {
	prog := "uml_switch"
	if len(argv) > 0 {
		prog, argv = argv[0], argv[1:]
	}
	natCfg, nat, rest, err := usernet.ParseOptions(argv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return usage(prog, stderr)
	}
	// With -pcap - standard output is the capture: the switch's messages, which the real
	// switch prints there, go to standard error instead. The command line is read once
	// quietly to know that before the first message.
	out := stdout
	if probe, _, _ := ParseArgs(prog, rest, io.Discard); probe.Pcap == "-" {
		out = stderr
		// A reader that goes away (tcpdump quits) must end the capture, not the switch.
		signal.Ignore(syscall.SIGPIPE)
	}
	log := NewLog(prog, out, stderr)
	defer log.Close()
	cfg, daemon, ok := ParseArgs(prog, rest, &logWriter{log})
	if !ok {
		log.Flush()
		return usage(prog, stderr)
	}
	if cfg.Pcap == "-" {
		cfg.PcapOut = stdout
	}
	if nat {
		if cfg.Debug {
			natCfg.Logf = func(format string, args ...any) { log.Errorf(format+"\n", args...) }
		}
		cfg.NAT = &natCfg
	}
	// Signals are caught from the start so a socket bound a moment later is still removed.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	inh, child, err := inheritedFiles()
	if err != nil {
		log.Errorf("%v\n", err)
		return 1
	}
	srv, err := Listen(cfg, log, inh)
	if err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) {
			log.Rawf("%v\nYou can either\n\tremove '%s'\n\tor rerun with a different, unused filename for a socket\n", err, inUse.Path)
		} else {
			log.Errorf("%v\n", err)
		}
		return 1
	}
	if !child {
		if cfg.CompatV0 {
			log.Printf("%s attached to unix sockets '%s' and '%s'", prog, cfg.Ctl, cfg.Data)
		} else {
			log.Printf("%s attached to unix socket '%s'", prog, cfg.Ctl)
		}
		if cfg.Tap != "" {
			log.Printf(" tap device '%s'", cfg.Tap)
		}
		if cfg.BESS != "" {
			log.Printf(" bess socket '%s'", cfg.BESS)
		}
		if cfg.NAT != nil {
			log.Printf(" nat gateway on '%s'", srv.nat.Config().Subnet)
			if p := srv.nat.Config().IPv6Prefix; p.IsValid() {
				log.Printf(" and '%s'", p)
			}
		}
		log.Printf("\n")
		log.Flush()
	}
	if daemon && !child {
		srv.CloseNAT()
		if err := spawnDaemon(srv, argv, stdin, stdout, stderr); err != nil {
			log.Errorf("daemon: %v\n", err)
			srv.Close()
			return 1
		}
		// The child serves the sockets now: leave them in place.
		return 0
	}
	srv.Serve()

	eof := make(chan struct{})
	if isTerminal(stdin) {
		go func() {
			buf := make([]byte, 256)
			for {
				n, err := stdin.Read(buf)
				if n == 0 || err != nil {
					if err != nil && err != io.EOF {
						log.Rawf("Reading from stdin: %v\n", err)
					}
					close(eof)
					return
				}
			}
		}()
	}
	for {
		select {
		case <-eof:
			log.Printf("EOF on stdin, cleaning up and exiting\n")
			srv.Close()
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				log.Flush()
				srv.Sw.WriteStatus(&errWriter{log})
				continue
			}
			s := sig.(syscall.Signal)
			log.Printf("Caught signal %d, cleaning up and exiting\n", int(s))
			srv.Unlink()
			log.Close()
			dieOf(s)
		}
	}
}

type logWriter struct{ l *Log }

func (w *logWriter) Write(p []byte) (int, error) { w.l.Printf("%s", p); return len(p), nil }

type errWriter struct{ l *Log }

func (w *errWriter) Write(p []byte) (int, error) { w.l.Rawf("%s", p); return len(p), nil }

// inheritedFiles picks up the sockets a -daemon parent bound (fd numbers in daemonEnv as
// ctl,data,tap,bess; 0 = absent).
func inheritedFiles() (*Inherited, bool, error) {
	v := os.Getenv(daemonEnv)
	if v == "" {
		return nil, false, nil
	}
	os.Unsetenv(daemonEnv)
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return nil, true, fmt.Errorf("bad %s=%q", daemonEnv, v)
	}
	var f [4]*os.File
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, true, fmt.Errorf("bad %s=%q", daemonEnv, v)
		}
		if n > 0 {
			f[i] = os.NewFile(uintptr(n), "inherited")
		}
	}
	if f[0] == nil || f[1] == nil {
		return nil, true, fmt.Errorf("bad %s=%q", daemonEnv, v)
	}
	return &Inherited{Ctl: f[0], Data: f[1], Tap: f[2], BESS: f[3]}, true, nil
}

// spawnDaemon is daemon(0, 1) for a Go program (which cannot fork): the bound sockets are
// handed to a re-executed copy of ourselves in a new session with cwd /, stdio kept.
func spawnDaemon(srv *Server, argv []string, stdin *os.File, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	inh, err := srv.Files()
	if err != nil {
		return err
	}
	files := []*os.File{inh.Ctl, inh.Data}
	spec := []string{"3", "4", "0", "0"}
	if inh.Tap != nil {
		files = append(files, inh.Tap)
		spec[2] = strconv.Itoa(2 + len(files))
	}
	if inh.BESS != nil {
		files = append(files, inh.BESS)
		spec[3] = strconv.Itoa(2 + len(files))
	}
	cmd := exec.Command(exe, argv...)
	cmd.Args[0] = os.Args[0]
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), daemonEnv+"="+strings.Join(spec, ","))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
