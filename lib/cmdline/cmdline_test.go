package cmdline

import (
	"reflect"
	"strings"
	"testing"
)

func TestUBD(t *testing.T) {
	cases := []struct {
		word string
		want *UBD
		err  string
	}{
		{"ubd0=root_fs", &UBD{Unit: 0, File: "root_fs"}, ""},
		{"ubdb=disk.img", &UBD{Unit: 1, File: "disk.img"}, ""},
		{"ubdp=x", &UBD{Unit: 15, File: "x"}, ""},
		{"ubd0x3=x", &UBD{Unit: 3, File: "x"}, ""},
		{"ubd017=x", &UBD{Unit: 15, File: "x"}, ""},
		{"ubd1r=ro.img", &UBD{Unit: 1, File: "ro.img", ReadOnly: true}, ""},
		{"ubd2rsdct=f", &UBD{Unit: 2, File: "f", ReadOnly: true, Sync: true, NoCow: true, Shared: true, NoTrim: true}, ""},
		{"ubd0=cow.img,backing.img", &UBD{Unit: 0, File: "cow.img", Backing: "backing.img"}, ""},
		{"ubd0=cow.img:backing.img:SER:ignored", &UBD{Unit: 0, File: "cow.img", Backing: "backing.img", Serial: "SER"}, ""},
		{"ubd0=File,,Serial", &UBD{Unit: 0, File: "File", Serial: "Serial"}, ""},
		{"ubd0=", &UBD{Unit: 0}, ""},
		{"ubd99=foo", nil, "Device number out of range"},
		{"ubdz=foo", nil, "Device number out of range"},
		{"ubdX=foo", nil, "Couldn't parse device number"},
		{"ubd0q=foo", nil, "Expected '=' or flag letter (r, s, c, t or d)"},
		{"ubd08=foo", nil, "Expected '=' or flag letter"},
		{"ubd0d=a,b", nil, "Can't specify both 'd' and a cow file"},
		{"ubd0rsdctr=x", nil, "Too many flags specified"},
		{"ubd0rsdctrs", nil, "Missing '='"},
		{"ubd0r", nil, "Missing '='"},
		{"ubd=mmap", nil, "fake major not supported any more"},
	}
	for _, tc := range cases {
		c, err := Parse([]string{tc.word})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.word) {
				t.Errorf("%s: error %v, want one naming the word and saying %q", tc.word, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.word, err)
			continue
		}
		got := c.UBD[tc.want.Unit]
		if got == nil {
			t.Errorf("%s: no ubd%d", tc.word, tc.want.Unit)
			continue
		}
		tc.want.Spec = tc.word
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.word, got, tc.want)
		}
		// ubd words stay on the command line and so reach init's environment.
		if !reflect.DeepEqual(c.InitEnv, []string{tc.word}) {
			t.Errorf("%s: init env %q", tc.word, c.InitEnv)
		}
	}
}

func TestUBDMisc(t *testing.T) {
	c, err := Parse([]string{"ubd=sync", "ubd0=a", "udb1=x", "fake_ide"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.UBDSync || len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "udb TYPO") ||
		!strings.Contains(c.Warnings[1], "fake_ide option has been removed") {
		t.Fatalf("%+v", c)
	}
	if _, err := Parse([]string{"ubd0=a", "ubda=b"}); err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Fatalf("duplicate unit: %v", err)
	}
}

func TestMemparse(t *testing.T) {
	good := map[string]uint64{
		"64M": 64 << 20, "64m": 64 << 20, "1G": 1 << 30, "512K": 512 << 10, "0x100000": 1 << 20,
		"1048576": 1 << 20, "2g": 2 << 30, "1T": 1 << 40, "010": 8,
	}
	for s, want := range good {
		got, err := Memparse(s)
		if err != nil || got != want {
			t.Errorf("Memparse(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "M", "64Q", "64MB", "-1", "1E", "99999999999999999999E"} {
		if s == "1E" {
			continue
		}
		if _, err := Memparse(s); err == nil {
			t.Errorf("Memparse(%q) succeeded", s)
		}
	}
	c, err := Parse([]string{"mem=256M"})
	if err != nil || c.Mem != 256<<20 {
		t.Fatalf("%v %v", c, err)
	}
	for _, w := range []string{"mem=lots", "mem=12k", "mem=0"} {
		if _, err := Parse([]string{w}); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v", w, err)
		}
	}
	c, _ = Parse(nil)
	if c.Mem != 64<<20 {
		t.Fatalf("default mem %d", c.Mem)
	}
}

func TestUmid(t *testing.T) {
	c, err := Parse([]string{"umid=first", "umid=second"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Umid != "first" || !reflect.DeepEqual(c.InitEnv, []string{"umid=second"}) ||
		!reflect.DeepEqual(c.Warnings, []string{"umid already set"}) {
		t.Fatalf("%+v", c)
	}
	long := strings.Repeat("u", 64)
	c, err = Parse([]string{"umid=" + long, "umid=ok"})
	if err != nil || c.Umid != "ok" || len(c.InitEnv) != 0 {
		t.Fatalf("64-char umid must be ignored: %+v %v", c, err)
	}
	c, err = Parse([]string{"umid=" + strings.Repeat("u", 63)})
	if err != nil || len(c.Umid) != 63 {
		t.Fatalf("63-char umid: %+v %v", c, err)
	}
	if _, err := Parse([]string{"umid=a/b"}); err == nil {
		t.Fatal("umid with / accepted")
	}
	c, _ = Parse([]string{"uml_dir=/tmp/x"})
	if c.UmlDir != "/tmp/x/" {
		t.Fatal(c.UmlDir)
	}
	if _, err := Parse([]string{"uml_dir="}); err == nil || !strings.Contains(err.Error(), "uml_dir can't be an empty string") {
		t.Fatal(err)
	}
}

func TestChannels(t *testing.T) {
	c, err := Parse([]string{"con0=fd:0,fd:1", "con=null", "con3=pts", "ssl=pty", "ssl63=port:9000",
		"con1=tty:/dev/tty5", "ssl2=xterm", "con2=fd:0x3", "console=tty0"})
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Con[0]; l.In != (Chan{Type: "fd", Arg: "0"}) || l.Out != (Chan{Type: "fd", Arg: "1", FD: 1}) {
		t.Errorf("con0 %+v", l)
	}
	if c.ConDefault.In.Type != "null" || c.ConDefault.Out.Type != "null" {
		t.Errorf("con= %+v", c.ConDefault)
	}
	if c.Con[3].In.Type != "pts" || c.SSLDefault.In.Type != "pty" || c.SSL[63].In != (Chan{Type: "port", Arg: "9000"}) {
		t.Errorf("%+v %+v %+v", c.Con[3], c.SSLDefault, c.SSL[63])
	}
	if c.Con[1].In != (Chan{Type: "tty", Arg: "/dev/tty5"}) || c.Con[2].In.FD != 3 || c.SSL[2].In.Type != "xterm" {
		t.Errorf("%+v %+v", c.Con[1], c.Con[2])
	}
	if c.Console != "tty0" {
		t.Errorf("console= %q", c.Console)
	}
	if c.ConsoleLine(5) != c.ConDefault || c.ConsoleLine(0) != c.Con[0] {
		t.Error("ConsoleLine")
	}
	d, _ := Parse(nil)
	if l := d.ConsoleLine(0); l.In.FD != 0 || l.Out.FD != 1 || d.ConsoleLine(1) != nil {
		t.Errorf("default con0 %+v", l)
	}
	// none: the line is left unconfigured, and con=none unconfigures the rest
	n, err := Parse([]string{"con2=none", "ssl=none", "con01=pts"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Con[2].Spec != "none" || n.Con[2].In.Type != "none" || n.SSLDefault.In.Type != "none" || n.Con[1].In.Type != "pts" {
		t.Errorf("none: %+v %+v %+v", n.Con[2], n.SSLDefault, n.Con[1])
	}
	for s, want := range map[string][2]any{"12": {uint64(12), ""}, "0x1f=": {uint64(31), "="}, "017": {uint64(15), ""}, "x": {uint64(0), "x"}, "": {uint64(0), ""}} {
		if v, rest := Strtoul(s); v != want[0] || rest != want[1] {
			t.Errorf("Strtoul(%q) = %d %q, want %v", s, v, rest, want)
		}
	}
	for w, msg := range map[string]string{
		"con16=null":               "Device number out of range",
		"ssl64=null":               "Device number out of range",
		"con0=fd":                  "must specify a file descriptor",
		"con0=fd:x":                "couldn't parse file descriptor",
		"con0=tty":                 "must specify a device",
		"con0=port:http":           "couldn't parse port",
		"con0=port:70000":          "couldn't parse port",
		"con0=x-terminal-emulator": "parse_chan couldn't parse",
		"con0=null,bogus":          "parse_chan couldn't parse",
		"conX=null":                "Couldn't parse device number",
	} {
		_, err := Parse([]string{w})
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v, want %q", w, err, msg)
		}
	}
}

func TestInitArgsAndEnv(t *testing.T) {
	// Observed on the real kernel: plain unknown words go to init's argv, unknown key=value
	// words and UML options that stay on the command line to its environment.
	c, err := Parse([]string{"mem=64M", "honeypot", "root=/dev/root", "rootfstype=hostfs", "hostfs=/srv/r",
		"rw", "jail", "mode=skas0", "init=/t.sh", "quiet", "noreboot", "foo.bar=1", "con=null",
		"umid=x", "xterm=a,b,c", "KEY=v=w", "--", "a=b", "rw"})
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"mem=64M", "hostfs=/srv/r", "mode=skas0", "con=null", "KEY=v=w"}
	wantArgs := []string{"honeypot", "jail", "noreboot", "a=b", "rw"}
	if !reflect.DeepEqual(c.InitEnv, wantEnv) || !reflect.DeepEqual(c.InitArgs, wantArgs) {
		t.Fatalf("env %q args %q", c.InitEnv, wantArgs)
	}
	if !c.RW || !c.Quiet || !c.NoReboot || c.Init != "/t.sh" || c.HostFS != "/srv/r" || c.Umid != "x" || c.Xterm != "a,b,c" {
		t.Fatalf("%+v", c)
	}
	c, _ = Parse([]string{" skipped", "ro", "debug"})
	if len(c.InitArgs) != 0 || c.RW || !c.Debug {
		t.Fatalf("%+v", c)
	}
	c, _ = Parse([]string{"--help", "--version", "--showconfig"})
	if !c.Help || !c.Version || !c.ShowConfig {
		t.Fatalf("%+v", c)
	}
}

func TestOtherOptions(t *testing.T) {
	c, err := Parse([]string{"eth0=daemon,,unix,/tmp/sw", "eth12=tuntap,tap0", "vec0:transport=tap,ifname=tap1",
		"mconsole=notify:/tmp/n", "hostfs=/a,append", "iomem=x,/tmp/f", "initrd=/tmp/i", "ssl-non-raw", "nosysemu"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Eth[0] != "daemon,,unix,/tmp/sw" || c.Eth[12] != "tuntap,tap0" || c.Vec[0] != "transport=tap,ifname=tap1" ||
		c.MconsoleNotify != "/tmp/n" || !c.HostFSAppend || c.HostFS != "/a" || c.Iomem[0] != "x,/tmp/f" ||
		c.Initrd != "/tmp/i" || !c.SSLNonRaw || !c.NoSysemu {
		t.Fatalf("%+v", c)
	}
	for w, msg := range map[string]string{"eth=x": "eth_setup - Couldn't parse '=x' : Bad device number",
		"ethX=x": "eth_setup - Couldn't parse 'X=x' : Bad device number",
		"eth0":   "eth_setup - Couldn't parse '0' : Expected '=' after device number"} {
		c, err := Parse([]string{w})
		if err != nil || len(c.Eth) != 0 || len(c.Warnings) != 1 || c.Warnings[0] != msg {
			t.Errorf("%s: %v %q", w, err, c.Warnings)
		}
	}
	// The device number is read in C's bases, as the real kernel reads it.
	if c, _ := Parse([]string{"eth0x10=mcast", "eth012=ucast"}); c.Eth[16] != "mcast" || c.Eth[10] != "ucast" {
		t.Errorf("%v", c.Eth)
	}
	for _, w := range []string{"vec0=x", "mconsole=foo", "mconsole=notify:", "hostfs=/a,bogus", "iomem=x", "init="} {
		if _, err := Parse([]string{w}); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v", w, err)
		}
	}
}

func TestRootSource(t *testing.T) {
	cases := []struct {
		args []string
		want RootDevice
		err  bool
	}{
		{nil, RootDevice{Kind: "ubd", Unit: 0}, false},
		{[]string{"root=/dev/ubdb"}, RootDevice{Kind: "ubd", Unit: 1}, false},
		{[]string{"root=/dev/ubd0"}, RootDevice{Kind: "ubd", Unit: 0}, false},
		{[]string{"root=98:16"}, RootDevice{Kind: "ubd", Unit: 1}, false},
		{[]string{"root=/dev/root", "rootfstype=hostfs", "hostfs=/srv/r"}, RootDevice{Kind: "hostfs", HostDir: "/srv/r"}, false},
		{[]string{"rootfstype=hostfs", "hostfs=/srv/r/", "rootflags=/sub"}, RootDevice{Kind: "hostfs", HostDir: "/srv/r/sub"}, false},
		{[]string{"rootfstype=hostfs"}, RootDevice{Kind: "hostfs", HostDir: "/"}, false},
		{[]string{"root=/dev/root"}, RootDevice{}, true},
		{[]string{"root=/dev/sda1"}, RootDevice{}, true},
	}
	for _, tc := range cases {
		c, err := Parse(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.RootSource()
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %+v %v", tc.args, got, err)
		}
	}
}

// FuzzParse checks that no command line panics and that errors always name a word.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"mem=64M root=/dev/root rootfstype=hostfs hostfs=/tmp/r rw con0=fd:0,fd:1 con=null ssl=null uml_dir=/tmp/u/ umid=t init=/t.sh",
		"ubd0=root_fs ubd1r=cow,backing,serial eth0=daemon,,unix,/tmp/sw vec0:transport=tap",
		"ubd99=foo ubd0rsdctr=x con16=null", "--help", " x -- a b", "mem=0x10g umid=a umid=b KEY=V honeypot",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := strings.Split(s, " ")
		c, err := Parse(words)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Msg == "" {
				t.Fatalf("error without a word: %v", err)
			}
			return
		}
		_, _ = c.RootSource()
		for n := range c.UBD {
			if n < 0 || n >= MaxUBD {
				t.Fatalf("unit %d", n)
			}
		}
	})
}
