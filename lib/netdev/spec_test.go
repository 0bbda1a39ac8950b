package netdev

import (
	"reflect"
	"strings"
	"testing"
)

// The messages and values below are what linux.uml 6.1 printed and configured for the same
// specs (docs/interfaces.md §3.1, §4).
func TestParse(t *testing.T) {
	cases := []struct {
		spec string
		want *Spec
		msgs string
	}{
		{"daemon", &Spec{Transport: Daemon, SockType: "unix", Ctl: DefaultCtl}, ""},
		{"daemon,,unix,/tmp/x", &Spec{Transport: Daemon, SockType: "unix", Ctl: "/tmp/x"}, ""},
		{"daemon,zz:11,unix,/tmp/x,extra", &Spec{Transport: Daemon, MACField: "zz:11", SockType: "unix", Ctl: "/tmp/x"},
			"daemon_setup : Ignoring data socket specification"},
		{"daemon,,unix,/tmp/x,", &Spec{Transport: Daemon, SockType: "unix", Ctl: "/tmp/x"},
			"daemon_setup : Ignoring data socket specification"},
		{"daemon,,tcp,/tmp/x", &Spec{Transport: Daemon, SockType: "tcp", Ctl: "/tmp/x"}, ""},
		{"mcast", &Spec{Transport: Mcast, Addr: "239.192.168.1", LPort: 1102, RPort: 1102, TTL: 1},
			"Configured mcast device: 239.192.168.1:1102-1"},
		{"mcast,,,,", &Spec{Transport: Mcast, Addr: "239.192.168.1", LPort: 1102, RPort: 1102, TTL: 1},
			"Configured mcast device: 239.192.168.1:1102-1"},
		{"mcast,0x12:0x34:56:78:9a:bc:de,239.1.2.3,70000,300",
			&Spec{Transport: Mcast, MACField: "0x12:0x34:56:78:9a:bc:de", Addr: "239.1.2.3", LPort: 4464, RPort: 4464, TTL: 300},
			"Configured mcast device: 239.1.2.3:70000-300"},
		{"mcast,01:00:00:00:00:01,239.1.1.1,abc", nil, "mcast_setup - Bad port : 'abc'"},
		{"mcast,,,,,x", nil, "mcast_setup - Extra garbage on specification : 'x'"},
		{"mcast,,,1,x", nil, "mcast_setup - Bad ttl : 'x'"},
		{"ucast,fe:fd:1:2:3:4,127.0.0.1,5000,5001",
			&Spec{Transport: Ucast, MACField: "fe:fd:1:2:3:4", Addr: "127.0.0.1", LPort: 5000, RPort: 5001},
			"Configured ucast device: :5000 -> 127.0.0.1:5001"},
		{"ucast", &Spec{Transport: Ucast, LPort: 1102, RPort: 1102}, "Configured ucast device: :1102 -> :1102"},
		{"ucast,00:11:22:33:44:55,,1x", nil, "ucast_setup - Bad listen port : '1x'"},
		{"ucast,12:34:56:78:9a:bc,127.0.0.1,+5,", nil, "ucast_setup - Bad listen port : '+5'"},
		{"ucast,,1.2.3.4,1,x", nil, "ucast_setup - Bad remote port : 'x'"},
		{"ucast,,1.2.3.4,1,2,3", nil, "ucast_setup - Extra garbage on specification : '3'"},
		{"tuntap", &Spec{Transport: TunTap}, ""},
		{"tuntap,,,", &Spec{Transport: TunTap}, ""},
		{"tuntap,tapX,fe:fd:0:0:0:1,10.0.0.1", &Spec{Transport: TunTap, HostIf: "tapX", MACField: "fe:fd:0:0:0:1", Gate: "10.0.0.1"}, ""},
		{"tuntap,tapX,fe:fd:0:0:0:1,10.0.0.1,x", nil, "tap_setup_common - Extra garbage on specification : 'x'"},
		{"slirp", &Spec{Transport: Slirp}, ""},
		{"slirp,fe:fd:1:1:1:1", &Spec{Transport: Slirp, MACField: "fe:fd:1:1:1:1"}, ""},
		{"slirp,fe:fd:1:1:1:1,", &Spec{Transport: Slirp, MACField: "fe:fd:1:1:1:1", Argv: []string{""}}, ""},
		{"slirp,,/bin/true,a_b", &Spec{Transport: Slirp, Argv: []string{"/bin/true", "a b"}}, ""},
		{"usernet", &Spec{Transport: Usernet}, ""},
		{"usernet,fe:fd:0:0:0:9", &Spec{Transport: Usernet, MACField: "fe:fd:0:0:0:9"}, ""},
		{"usernet,,x", nil, "usernet_setup - Extra garbage on specification : 'x'"},
		// unknown or not compiled in: ignored without a word
		{"bogus", nil, ""}, {"daemonx", nil, ""}, {"", nil, ""},
	}
	for _, c := range cases {
		var msgs []string
		got := Parse(3, c.spec, func(m string) { msgs = append(msgs, m) })
		if c.want != nil {
			c.want.Index = 3
			if c.want.Transport == Ucast || c.want.Transport == Mcast {
				if c.want.RPort == 0 {
					c.want.RPort = c.want.LPort
				}
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.spec, got, c.want)
		}
		if m := strings.Join(msgs, "\n"); m != c.msgs {
			t.Errorf("%q: messages %q, want %q", c.spec, m, c.msgs)
		}
	}
}

func TestMAC(t *testing.T) {
	cases := []struct {
		field, want, msgs string
	}{
		{"fe:fd:1:2:3:4", "fe:fd:01:02:03:04", ""},
		{"fe:fd:1:2:3:4:5", "fe:fd:01:02:03:04", ""},
		{"0x12:0x34:56:78:9a:bc:de", "12:34:56:78:9a:bc", ""},
		{"zz:11", "", "setup_etheraddr: failed to parse 'zz:11' as an ethernet address\nChoosing a random ethernet address for device eth2"},
		{"fe:fd", "", "setup_etheraddr: failed to parse 'fe:fd' as an ethernet address\nChoosing a random ethernet address for device eth2"},
		{"01:00:00:00:00:01", "", "Attempt to assign a multicast ethernet address to a device disallowed\nChoosing a random ethernet address for device eth2"},
		{"00:00:00:00:00:00", "", "Attempt to assign an invalid ethernet address to a device disallowed\nChoosing a random ethernet address for device eth2"},
		{"00:11:22:33:44:55", "00:11:22:33:44:55", "Warning: Assigning a globally valid ethernet address to a device\n" +
			"You should set the 2nd rightmost bit in the first byte of the MAC,\ni.e. 02:11:22:33:44:55"},
		{"", "", "Choosing a random ethernet address for device eth2"},
	}
	for _, c := range cases {
		var msgs []string
		s := &Spec{Index: 2, MACField: c.field}
		m := s.MAC(func(l string) { msgs = append(msgs, l) })
		if c.want != "" && FormatMAC(m) != c.want {
			t.Errorf("%q: %s, want %s", c.field, FormatMAC(m), c.want)
		}
		if m[0]&1 != 0 || m[0]&2 == 0 && c.want == "" {
			t.Errorf("%q: random MAC %s is not local unicast", c.field, FormatMAC(m))
		}
		if got := strings.Join(msgs, "\n"); got != c.msgs {
			t.Errorf("%q: messages %q, want %q", c.field, got, c.msgs)
		}
	}
}

func TestBackend(t *testing.T) {
	for spec, want := range map[string]string{
		"daemon,,unix,/tmp/nonexist":              "daemon backend (uml_switch version 3) - unix:/tmp/nonexist",
		"mcast,,239.1.2.3,70000,300":              "mcast backend multicast address: 239.1.2.3:4464, TTL:300",
		"ucast,fe:fd:1:2:3:4,127.0.0.1,5000,5001": "ucast backend address: 127.0.0.1:5001 listen port: 5000",
		"tuntap":               "TUN/TAP backend - ",
		"slirp":                "SLIRP backend - command line:\n 'slirp'",
		"slirp,,/bin/true,a_b": "SLIRP backend - command line:\n '/bin/true'\n 'a b'",
	} {
		if got := Parse(0, spec, func(string) {}).Backend(); got != want {
			t.Errorf("%s: %q, want %q", spec, got, want)
		}
	}
}

// FuzzParse: any spec parses without a panic, and what it yields is consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"daemon,,unix,/tmp/x", "mcast,0x12:0x34:56:78:9a:bc:de,239.1.2.3,70000,300",
		"ucast,,127.0.0.1,5000,5001", "tuntap,tap0,,10.0.0.1", "slirp,,a_b,c", "usernet,fe:fd:0:0:0:1", ",,,", "mcast,,,,,",
		"vde,/sw,fe:fd:0:0:0:1,3,7,660,d", "vde,,,,,,,,x", "pcap,eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s := Parse(0, spec, func(string) {})
		if s == nil {
			return
		}
		m := s.MAC(func(string) {})
		if m[0]&1 != 0 {
			t.Fatalf("%q: multicast MAC %s", spec, FormatMAC(m))
		}
		if Order(s.Transport) >= len(order) || s.Backend() == "" {
			t.Fatalf("%q: %+v", spec, s)
		}
	})
}

// pcap, which Debian's kernel leaves out, is refused with a line saying so.
func TestParsePcap(t *testing.T) {
	var got []string
	if s := Parse(1, "pcap,eth0,,promisc", func(m string) { got = append(got, m) }); s != nil || len(got) != 1 ||
		!strings.HasPrefix(got[0], "eth1=pcap: the pcap transport is not built in") {
		t.Errorf("%v %q", s, got)
	}
	got = nil
	if s := Parse(1, "pcapx", func(m string) { got = append(got, m) }); s != nil || len(got) != 0 {
		t.Errorf("pcapx: %v %q", s, got)
	}
}
