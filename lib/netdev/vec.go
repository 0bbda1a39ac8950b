package netdev

import (
	"fmt"
	"strings"
)

// Vector devices: `vecN:key=value,...` (docs/interfaces.md §4.8), the real kernel's
// multi-packet driver. The guest's interface is vecN. gouml carries the frames of the tap,
// raw and bess transports, whose host side the outer linux process opens (lib/kernel);
// hybrid, gre, l2tpv3 and fd are refused with a message.

// Vector is the Transport of a vecN device.
const Vector = "vector"

// Vector transports, as the value of transport= names them (prefix-compared).
const (
	VecTap  = "tap"
	VecRaw  = "raw"
	VecBess = "bess"
)

var vecTransports = []string{"raw", "tap", "hybrid", "gre", "l2tpv3", "bess", "fd"}

// ParseVec parses the text after `vecN:`. The error is one line saying what is wrong.
func ParseVec(index int, spec string) (*Spec, error) {
	s := &Spec{Index: index, Transport: Vector, Vec: map[string]string{}}
	if spec == "" {
		return nil, fmt.Errorf("vec%d: empty specification", index)
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("vec%d: '%s' is not key=value", index, kv)
		}
		s.Vec[k] = v
	}
	t, ok := s.Vec["transport"]
	if !ok {
		return nil, fmt.Errorf("vec%d: no transport= given", index)
	}
	for _, name := range vecTransports {
		if strings.HasPrefix(t, name) { // as the real kernel compares: strncmp
			s.VecKind = name
			break
		}
	}
	if s.VecKind == "" {
		return nil, fmt.Errorf("vec%d: unknown transport '%s'", index, t)
	}
	s.MACField = s.Vec["mac"]
	switch s.VecKind {
	case VecTap:
		if n := s.Vec["ifname"]; len(n) >= 16 {
			return nil, fmt.Errorf("vec%d: ifname '%s' is longer than an interface name", index, n)
		}
	case VecRaw:
		if s.Vec["ifname"] == "" {
			return nil, fmt.Errorf("vec%d: transport=raw needs ifname=", index)
		}
	case VecBess:
		if s.Vec["dst"] == "" {
			return nil, fmt.Errorf("vec%d: transport=bess needs dst=", index)
		}
	default:
		return nil, fmt.Errorf("vec%d: transport=%s is not supported by gouml (tap, raw and bess are)", index, s.VecKind)
	}
	return s, nil
}
