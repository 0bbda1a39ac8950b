package usernet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseOptions takes the gateway's options out of a command line (uml_switch style: one
// dash, value in the next word) and returns the configuration, whether -nat was given, and
// the words it did not consume, in order, for the caller's own parser:
//
//	-nat [SUBNET]            attach a gateway (SUBNET optional, default 10.0.2.0/24)
//	-forward SPEC            tcp|udp:[HOSTADDR:]HOSTPORT:GUESTIP:GUESTPORT, repeatable
//	-nat-allow LIST          all, none, or NET[,NET...]
//	-nat-dns ADDR[:PORT]     upstream resolver, repeatable
//	-nat-no-host             do not map the gateway address to the host's loopback
//	-nat-ipv6 PREFIX|off     the guests' IPv6 /64 (default fd00:10:0:2::/64), or no IPv6
//	-nat-max-conns N         connections+flows per guest
//	-nat-buffer BYTES        per-connection socket buffer
//
// The options other than -nat are errors without -nat. Logf (the -debug hook) is left to
// the caller.
func ParseOptions(args []string) (cfg Config, enabled bool, rest []string, err error) {
	value := func(i int) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("option %s needs a value", args[i])
		}
		return args[i+1], nil
	}
	var other []string // gateway options seen, for the "without -nat" error
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-nat":
			enabled = true
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				p, err := ParseSubnet(args[i+1])
				if err != nil {
					return cfg, false, nil, fmt.Errorf("-nat: %v", err)
				}
				cfg.Subnet = p
				i++
			}
			continue
		case "-nat-no-host":
			cfg.NoHostLoopback = true
			other = append(other, a)
			continue
		case "-forward", "-nat-allow", "-nat-dns", "-nat-max-conns", "-nat-buffer", "-nat-ipv6":
		default:
			rest = append(rest, a)
			continue
		}
		v, err := value(i)
		if err != nil {
			return cfg, false, nil, err
		}
		i++
		other = append(other, a)
		switch a {
		case "-forward":
			f, err := ParseForward(v)
			if err != nil {
				return cfg, false, nil, err
			}
			cfg.Forwards = append(cfg.Forwards, f)
		case "-nat-allow":
			p, err := ParseAllow(v)
			if err != nil {
				return cfg, false, nil, err
			}
			cfg.Allow = append(cfg.Allow, p...)
			if cfg.Allow == nil {
				cfg.Allow = []netip.Prefix{}
			}
		case "-nat-ipv6":
			if v == "off" {
				cfg.NoIPv6 = true
				break
			}
			p, err := ParseIPv6Prefix(v)
			if err != nil {
				return cfg, false, nil, fmt.Errorf("-nat-ipv6: %v", err)
			}
			cfg.IPv6Prefix, cfg.NoIPv6 = p, false
		case "-nat-dns":
			r, err := ParseResolver(v)
			if err != nil {
				return cfg, false, nil, err
			}
			cfg.Resolvers = append(cfg.Resolvers, r)
		case "-nat-max-conns", "-nat-buffer":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1<<30 {
				return cfg, false, nil, fmt.Errorf("%s: %q is not a positive number", a, v)
			}
			if a == "-nat-max-conns" {
				cfg.MaxConns = n
			} else {
				cfg.BufferSize = n
			}
		}
	}
	if !enabled && len(other) > 0 {
		return cfg, false, nil, fmt.Errorf("option %s needs -nat", other[0])
	}
	if enabled {
		if _, err := cfg.withDefaults(); err != nil {
			return cfg, false, nil, err
		}
	}
	return cfg, enabled, rest, nil
}
