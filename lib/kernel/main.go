package kernel

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gouml/gouml/lib/cmdline"
	"golang.org/x/sys/unix"
)

// Main is the `linux` program: argv (without the program name) is the UML kernel command line.
func Main(args []string, stdin, stdout *os.File, stderr io.Writer) int {
	c, err := cmdline.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	switch {
	case c.Help:
		fmt.Fprint(stdout, helpText)
		return 0
	case c.Version:
		fmt.Fprintln(stdout, Release)
		return 0
	case c.ShowConfig:
		ShowConfig(stdout)
		return 0
	}
	if !inUserns() {
		for _, w := range c.Warnings {
			fmt.Fprintf(stderr, "linux: %s\n", w)
		}
	}
	cfg, err := machine(c, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	switch {
	case !inUserns():
		return runOuter(c, cfg, args, stdin, stdout, stderr)
	case os.Getenv(stageEnv) == "1":
		return stage1(c, cfg, stderr)
	}
	// Stage 2: the kernel (jail.go). Guests must not be able to ptrace it, even as the same
	// host user.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	netFDsCloseOnExec()
	work := os.Getenv(workEnv)
	if work == "" {
		fmt.Fprintln(stderr, "linux: started without its outer process")
		return 1
	}
	os.Setenv("TMPDIR", filepath.Join(work, workTmp))
	cfg.work = work
	cfg.procDir, _ = strconv.Atoi(os.Getenv(procDirEnv))
	cfg.trees = treesFromEnv()
	cfg.hostUID, cfg.hostGID = hostIDs()
	if n, err := strconv.Atoi(os.Getenv(procfsHelperEnv)); err == nil {
		cfg.procHelper = &procfsClient{sock: n}
	}
	cfg.CmdLine = strings.Join(args, " ")
	u := &umid{dir: os.Getenv(umidEnv)}
	if cfg.rootImage != nil {
		cfg.rootImage.dir = filepath.Join(work, workRoot)
		// stage 1 opened it already and printed what the real kernel prints
		if err := cfg.rootImage.open(c.UBDSync, io.Discard, cfg.ReadOnly); err != nil {
			fmt.Fprintf(stderr, "linux: root device ubd%c: %v\n", 'a'+cfg.rootImage.unit, err)
			return 1
		}
		defer func() {
			if err := cfg.rootImage.close(); err != nil {
				fmt.Fprintf(stderr, "linux: root device ubd%c: %v\n", 'a'+cfg.rootImage.unit, err)
			}
		}()
		cfg.RootDir = cfg.rootImage.tree.Dir
		cfg.Shadow = cfg.rootImage.tree
	}
	mc := &mcHost{stderr: stderr, noReboot: c.NoReboot, quiet: c.Quiet, notify: c.MconsoleNotify,
		rootUnit: -1, conSpec: c.ConsoleLine(0).Spec}
	if src, err := c.RootSource(); err == nil && src.Kind == "ubd" {
		mc.rootUnit, mc.rootFile = src.Unit, "root_fs"
		if d := c.UBD[src.Unit]; d != nil {
			mc.rootFile = d.File
		}
	}
	// the lines before the management console that answers about them
	closeConsoles, err := startConsoles(c, &cfg, mc)
	if err != nil {
		fmt.Fprintf(stderr, "linux: console: %v\n", err)
		return 1
	}
	defer closeConsoles()
	startMconsole(mc, u.dir)
	defer mc.close()
	cfg.mc = mc
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	go func() {
		if _, ok := <-sigs; ok {
			close(stop)
		}
	}()
	cfg.Stop = stop
	rootUnit := -1
	if src, err := c.RootSource(); err == nil && src.Kind == "ubd" {
		rootUnit = src.Unit
	}
	cfg.UBDs, _ = openBlockDevs(c, rootUnit, ubdOK(), stderr)
	defer closeBlockDevs(cfg.UBDs)
	for boots := 0; ; boots++ {
		if boots > 0 {
			mc.rebooted()
		}
		status, reboot, err := Boot(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "linux: %v\n", err)
			return 1
		}
		if !reboot {
			return status
		}
	}
}

// startConsoles makes con0 (the Console, or a line) and the other lines; the function
// returned closes them.
func startConsoles(c *cmdline.Config, cfg *Config, mc *mcHost) (func(), error) {
	cfg.Lines = newTTYLines(c, mc.printk, cfg.con0Line)
	mc.lines = cfg.Lines
	if cfg.con0Line {
		cfg.Console = &lineConsole{cfg.Lines.con[0]}
		return cfg.Lines.close, nil
	}
	con, err := NewConsole(cfg.Stdin, cfg.Stdout)
	if err != nil {
		cfg.Lines.close()
		return nil, err
	}
	cfg.Console = con
	// the lines first: the console's output is drained last
	return func() { cfg.Lines.close(); con.Close() }, nil
}

// machine turns the parsed command line into a boot configuration, refusing what is parsed
// but not implemented yet (only when it is actually used).
func machine(c *cmdline.Config, stdin, stdout *os.File, stderr io.Writer) (Config, error) {
	cfg := Config{ReadOnly: !c.RW, Mem: c.Mem, Debug: c.Debug, NoReboot: c.NoReboot, Stderr: stderr, HostFSPrefix: c.HostFS}
	notYet := func(what string) error { return fmt.Errorf("%s: not supported yet", what) }
	src, err := c.RootSource()
	if err != nil {
		return cfg, err
	}
	switch src.Kind {
	case "hostfs":
		if c.HostFSAppend {
			return cfg, notYet("hostfs=...,append")
		}
		cfg.RootDir = src.HostDir
	case "ubd":
		d := c.UBD[src.Unit]
		file := "root_fs"
		if d != nil {
			file = d.File
		}
		if d != nil && d.Backing != "" {
			file = d.Backing // the COW file is made when missing, as UML does
		}
		st, err := os.Stat(file)
		if err != nil {
			return cfg, fmt.Errorf("root device ubd%c: %v", 'a'+src.Unit, err)
		}
		if !st.IsDir() || d != nil && d.Backing != "" {
			// an image (or a COW file over one): unpacked at boot (imageroot.go)
			cfg.rootImage = &rootImage{unit: src.Unit, spec: d}
			if d == nil {
				cfg.rootImage.spec = &cmdline.UBD{Unit: src.Unit, File: file, Spec: "ubd0=" + file}
			}
			break
		}
		cfg.RootDir = file
	}
	cfg.Eth, cfg.Vec = c.Eth, c.Vec
	switch {
	case c.Initrd != "":
		return cfg, notYet("initrd=" + c.Initrd)
	case len(c.Iomem) > 0:
		return cfg, notYet("iomem=" + c.Iomem[0])
	case len(c.VirtioUML) > 0:
		return cfg, notYet("virtio_uml.device=" + c.VirtioUML[0])
	}
	con := c.ConsoleLine(0)
	if !fdOrNull(con.In) || !fdOrNull(con.Out) {
		cfg.con0Line = true // pts, port, tty, xterm: opened as a line (ttyline.go)
		return finishMachine(c, cfg), nil
	}
	var err2 error
	if cfg.Stdin, err2 = chanFile(con.In, stdin, false); err2 != nil {
		return cfg, fmt.Errorf("con0=%s: %v", con.Spec, err2)
	}
	if cfg.Stdout, err2 = chanFile(con.Out, stdout, true); err2 != nil {
		return cfg, fmt.Errorf("con0=%s: %v", con.Spec, err2)
	}
	return finishMachine(c, cfg), nil
}

func finishMachine(c *cmdline.Config, cfg Config) Config {
	if c.Init != "" {
		cfg.Inits = []string{c.Init}
	} else {
		cfg.Inits = []string{"/sbin/init", "/etc/init", "/bin/init", "/bin/sh"}
	}
	cfg.InitArgs = c.InitArgs
	cfg.InitEnv = append([]string{"HOME=/", "TERM=linux"}, c.InitEnv...)
	return cfg
}

func fdOrNull(ch cmdline.Chan) bool { return ch.Type == "fd" || ch.Type == "null" || ch.Type == "none" }

func chanFile(ch cmdline.Chan, dflt *os.File, out bool) (*os.File, error) {
	switch ch.Type {
	case "fd":
		if ch.FD == 0 && !out || ch.FD == 1 && out {
			return dflt, nil
		}
		if _, err := unix.FcntlInt(uintptr(ch.FD), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("fd %d is not open", ch.FD)
		}
		return os.NewFile(uintptr(ch.FD), "fd"+strconv.Itoa(ch.FD)), nil
	case "null", "none":
		if out {
			return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		}
		return os.Open(os.DevNull)
	}
	return nil, fmt.Errorf("channel type %s not supported yet", ch.Type)
}

// umid is the ~/.uml/UMID directory of a running machine.
type umid struct{ dir string }

func makeUmid(umlDir, name string, stderr io.Writer) (*umid, error) {
	if umlDir == "" {
		home := os.Getenv("HOME")
		if home == "" {
			home = "/"
		}
		umlDir = filepath.Join(home, ".uml") + "/"
	}
	if err := os.Mkdir(umlDir, 0o777); err != nil && !os.IsExist(err) {
		return nil, fmt.Errorf("uml_dir %s: %v", umlDir, err)
	}
	try := func(n string) (*umid, error) {
		dir := umlDir + n
		if err := os.Mkdir(dir, 0o777); err != nil {
			if !os.IsExist(err) {
				return nil, err
			}
			if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					if e := unix.Kill(pid, 0); e == nil || e != unix.ESRCH {
						return nil, fmt.Errorf("umid %q is already in use by pid %d", n, pid)
					}
				}
			}
			// stale: take it over
			os.RemoveAll(dir)
			if err := os.Mkdir(dir, 0o777); err != nil {
				return nil, err
			}
		}
		f, err := os.OpenFile(filepath.Join(dir, "pid"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			os.Remove(dir)
			return nil, err
		}
		fmt.Fprintf(f, "%d\n", outerPid())
		f.Close()
		return &umid{dir: dir}, nil
	}
	if name != "" {
		u, err := try(name)
		if err == nil {
			return u, nil
		}
		fmt.Fprintf(stderr, "%v\nFailed to initialize umid %q, trying with a random umid\n", err, name)
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := 0; i < 100; i++ {
		b := make([]byte, 6)
		for j := range b {
			b[j] = letters[rand.IntN(len(letters))]
		}
		if u, err := try(string(b)); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("cannot create a umid directory in %s", umlDir)
}

func (u *umid) remove() { os.RemoveAll(u.dir) }

// ShowConfig prints the configuration report derived from the system call table.
func ShowConfig(w io.Writer) {
	fmt.Fprintf(w, "#\n# gouml linux %s configuration\n#\nCONFIG_UML=y\nCONFIG_64BIT=y\nCONFIG_X86_64=y\n"+
		"CONFIG_HOSTFS=y\nCONFIG_PROC_FS=y\nCONFIG_UML_NET=y\nCONFIG_UML_NET_DAEMON=y\nCONFIG_UML_NET_MCAST=y\nCONFIG_UML_NET_SLIRP=y\nCONFIG_BLK_DEV_UBD=y\n#\n# System calls (x86-64): number name handling [note]\n#\n", Release)
	for _, s := range Table() {
		note := ""
		if s.Note != "" {
			note = " (" + s.Note + ")"
		}
		fmt.Fprintf(w, "# %3d %-24s %s%s\n", s.Nr, s.Name(), s.Disp, note)
	}
	fmt.Fprintf(w, "# every other system call: ENOSYS\n")
}

const helpText = `User Mode Linux (gouml) command line options — linux [options]

Supported:
    ubd0=<dir>              the root file system, a host directory (root= default is ubd0)
    ubd0=<image>[,<cow>]    the root file system, an ext2/3/4 image (optionally under a
                            COW file), unpacked to $TMPDIR and written back at sync/halt
    ubdN[rsdct]=<file>[,<cow>]
                            block device /dev/ubdX on an image, optionally with a
                            COW file (created when missing), flags as UML's
    root=<dev>              /dev/ubdX, 98:N, or /dev/root with rootfstype=hostfs
    rootfstype=hostfs hostfs=<dir> [rootflags=<subdir>]
                            root file system from a host directory
    rw / ro                 mount the root read-write / read-only (default ro)
    init=<path>             program to run as init (default /sbin/init, /etc/init,
                            /bin/init, /bin/sh)
    mem=<n>[KMG]            memory size the guest sees (default 64M)
    umid=<name>             machine name (max 63 characters; the first one wins)
    uml_dir=<dir>           directory for the umid directory (default ~/.uml/)
    con0=<chan>             the console: fd:<n>[,fd:<m>] (default fd:0,fd:1), null,
                            or any channel of conN=
    con=<chan>, conN=<chan>, ssl=<chan>, sslN=<chan>
                            consoles /dev/ttyN (1-15) and serial lines /dev/ttySN
                            (0-63) on fd:<n>, null, pts, port:<tcp port> (built-in
                            telnet server), tty:<dev>, xterm; <in>,<out> pairs; none
    xterm=<prog>,<titleopt>,<execopt>
                            terminal program of xterm channels
    quiet, debug            debug logs unsupported system calls once each, and the
                            trapped calls served at halt
    noreboot                reboot ends linux instead of restarting init
    nolandlock              run on a host without Landlock (refused otherwise)
    ethN=daemon[,<mac>[,unix[,<ctl>]]]
    ethN=mcast[,<mac>[,<group>[,<port>[,<ttl>]]]]
    ethN=ucast[,<mac>[,<remote>[,<lport>[,<rport>]]]]
    ethN=vde[,<dir>[,<mac>[,<port>[,<group>[,<mode>[,<descr>]]]]]]
    ethN=tuntap,<host tap>  ethN=tuntap,,<mac>,<gate ip> (through uml_net)
    ethN=slirp[,<mac>], ethN=usernet[,<mac>]
                            network device ethN (a tap in the guest's namespace) on a
                            uml_switch, a multicast group, a UDP peer, a vde_switch, a
                            host tap, or the built-in NAT (10.0.2.0/24, gateway
                            10.0.2.2 = the host's 127.0.0.1)
    ethN=slirp,<mac>,<program>[,<arg>...]
                            an IP link over SLIP to a slirp program
    vecN:transport=tap|raw|bess,...
                            vector device vecN on a host tap, a host interface (raw:
                            root only) or a BESS socket (uml_switch -bess)
    mconsole=notify:<socket>
                            tell <socket> the management console's path (the
                            console is <uml_dir><umid>/mconsole) and about panics
    --help, --version, --showconfig
    <key>=<value>           (unknown) goes to init's environment
    <word>                  (unknown) goes to init's argv
Parsed, not supported yet (an error when given):
    tmpfs, sysfs, devpts and bind mounts
    initrd=, iomem=, virtio_uml.device=, hostfs=<dir>,append
Accepted without effect: stderr=, ssl-non-raw, nosysemu, console=
`
