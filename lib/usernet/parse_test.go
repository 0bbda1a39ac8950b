package usernet

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseForward(t *testing.T) {
	good := map[string]string{
		"tcp:8080:10.0.2.15:80":         "tcp:127.0.0.1:8080:10.0.2.15:80",
		"tcp:0.0.0.0:2222:10.0.2.16:22": "tcp:0.0.0.0:2222:10.0.2.16:22",
		"tcp:65535:10.0.2.15:1":         "tcp:127.0.0.1:65535:10.0.2.15:1",
		"udp:5353:10.0.2.15:53":         "udp:127.0.0.1:5353:10.0.2.15:53",
		"udp:0.0.0.0:69:10.0.2.16:69":   "udp:0.0.0.0:69:10.0.2.16:69",
	}
	for in, want := range good {
		f, err := ParseForward(in)
		if err != nil || f.String() != want {
			t.Errorf("ParseForward(%q) = %v, %v; want %s", in, f, err, want)
		}
	}
	bad := map[string]string{
		"":                              "want tcp|udp:HOSTPORT",
		"tcp:8080:10.0.2.15":            "want tcp|udp:HOSTPORT",
		"sctp:53:10.0.2.15:53":          "protocol \"sctp\" unsupported",
		"UDP:53:10.0.2.15:53":           "protocol \"UDP\" unsupported",
		"udp:53:10.0.2.15":              "want tcp|udp:HOSTPORT",
		"tcp:0:10.0.2.15:80":            "host port",
		"tcp:70000:10.0.2.15:80":        "host port",
		"tcp:80:10.0.2:80":              "guest address",
		"tcp:80:::1:80":                 "want tcp|udp:HOSTPORT",
		"tcp:80:10.0.2.15:x":            "guest port",
		"tcp:localhost:80:10.0.2.15:80": "host address",
	}
	for in, want := range bad {
		if _, err := ParseForward(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseForward(%q) error %v, want it to mention %q", in, err, want)
		}
	}
}

func TestParseSubnet(t *testing.T) {
	if p, err := ParseSubnet("10.0.3.0/24"); err != nil || p.String() != "10.0.3.0/24" {
		t.Fatalf("ParseSubnet: %v %v", p, err)
	}
	for in, want := range map[string]string{
		"10.0.3.1/24": "host bits set",
		"10.0.3.0/28": "prefix length",
		"fd00::/64":   "only IPv4",
		"10.0.3.0":    "want an IPv4 network",
	} {
		if _, err := ParseSubnet(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSubnet(%q) error %v, want %q", in, err, want)
		}
	}
	g := testGateway(t, Config{Subnet: netip.MustParsePrefix("192.168.77.0/24")})
	c := g.Config()
	if c.Gateway.String() != "192.168.77.2" || c.DNS.String() != "192.168.77.3" || c.DHCPStart.String() != "192.168.77.15" {
		t.Fatalf("derived addresses %v %v %v", c.Gateway, c.DNS, c.DHCPStart)
	}
	if _, err := New(Config{Subnet: netip.MustParsePrefix("10.0.2.0/24"), Gateway: netip.MustParseAddr("10.0.3.2")}); err == nil {
		t.Fatal("New accepted a gateway outside the subnet")
	}
}

func TestParseAllowAndResolver(t *testing.T) {
	if p, _ := ParseAllow("all"); len(p) != 1 || p[0].Bits() != 0 {
		t.Fatalf("all = %v", p)
	}
	if p, err := ParseAllow("none"); err != nil || len(p) != 0 {
		t.Fatalf("none = %v %v", p, err)
	}
	if p, err := ParseAllow("192.0.2.0/24,198.51.100.9"); err != nil || len(p) != 2 || p[1].String() != "198.51.100.9/32" {
		t.Fatalf("list = %v %v", p, err)
	}
	if _, err := ParseAllow("192.0.2.0/24,nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("bad entry: %v", err)
	}
	if r, err := ParseResolver("127.0.0.1:5353"); err != nil || r.Port() != 5353 {
		t.Fatalf("resolver %v %v", r, err)
	}
	if r, err := ParseResolver("192.0.2.53"); err != nil || r.Port() != 53 {
		t.Fatalf("resolver %v %v", r, err)
	}
	if _, err := ParseResolver("dns.example"); err == nil {
		t.Fatal("ParseResolver accepted a name")
	}
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# c\nsearch x\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.1\n"), 0o644)
	got := SystemResolvers(p)
	if len(got) != 2 || got[0].String() != "127.0.0.53:53" || got[1].String() != "192.0.2.1:53" {
		t.Fatalf("SystemResolvers = %v", got)
	}
	if got := SystemResolvers(filepath.Join(t.TempDir(), "none")); len(got) != 0 {
		t.Fatalf("missing file: %v", got)
	}
}

func TestParseOptions(t *testing.T) {
	cfg, on, rest, err := ParseOptions([]string{"-unix", "/tmp/s", "-nat", "-forward", "tcp:2222:10.0.2.15:22",
		"-hub", "-nat-allow", "192.0.2.0/24", "-nat-dns", "127.0.0.1:5353", "-nat-max-conns", "9", "-nat-buffer", "65536", "-nat-no-host"})
	if err != nil || !on {
		t.Fatalf("ParseOptions: %v %v", on, err)
	}
	if strings.Join(rest, " ") != "-unix /tmp/s -hub" {
		t.Fatalf("rest = %q", rest)
	}
	if cfg.Subnet.IsValid() || len(cfg.Forwards) != 1 || cfg.Forwards[0].GuestPort != 22 || len(cfg.Allow) != 1 ||
		cfg.Resolvers[0].Port() != 5353 || cfg.MaxConns != 9 || cfg.BufferSize != 65536 || !cfg.NoHostLoopback {
		t.Fatalf("cfg = %+v", cfg)
	}
	cfg, on, rest, err = ParseOptions([]string{"-nat", "10.9.0.0/16", "-daemon"})
	if err != nil || !on || cfg.Subnet.String() != "10.9.0.0/16" || len(rest) != 1 {
		t.Fatalf("-nat SUBNET: %v %v %v %v", cfg.Subnet, on, rest, err)
	}
	cfg, _, _, err = ParseOptions([]string{"-nat", "-nat-ipv6", "fd00:99::/64"})
	if err != nil || cfg.IPv6Prefix.String() != "fd00:99::/64" || cfg.NoIPv6 {
		t.Fatalf("-nat-ipv6 PREFIX: %v %v", cfg.IPv6Prefix, err)
	}
	if cfg, _, _, err = ParseOptions([]string{"-nat", "-nat-ipv6", "off"}); err != nil || !cfg.NoIPv6 {
		t.Fatalf("-nat-ipv6 off: %v %v", cfg.NoIPv6, err)
	}
	if _, on, rest, err = ParseOptions([]string{"-hub"}); err != nil || on || len(rest) != 1 {
		t.Fatalf("no -nat: %v %v %v", on, rest, err)
	}
	for args, want := range map[string]string{
		"-forward tcp:1:10.0.2.15:1":      "needs -nat",
		"-nat -forward":                   "needs a value",
		"-nat 10.0.2.1/24":                "host bits",
		"-nat -nat-max-conns 0":           "not a positive number",
		"-nat -forward tcp:1:10.0.3.15:1": "outside 10.0.2.0/24",
		"-nat -nat-dns x":                 "bad resolver",
		"-nat -nat-allow foo":             "bad allow entry",
		"-nat -nat-ipv6 fd00::/48":        "must be a /64",
		"-nat -nat-ipv6 fd00::1/64":       "host bits",
		"-nat -nat-ipv6 10.0.2.0/24":      "want an IPv6 /64",
		"-nat -nat-ipv6 fe80::/64":        "not a unicast network",
		"-nat-ipv6 off":                   "needs -nat",
	} {
		if _, _, _, err := ParseOptions(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOptions(%s) error %v, want %q", args, err, want)
		}
	}
}
