package netdev

import (
	"strings"
	"testing"
)

func TestParseVec(t *testing.T) {
	s, err := ParseVec(2, "transport=tap,ifname=t0,mac=fe:fd:0:0:0:2,depth=32")
	if err != nil || s.VecKind != VecTap || s.Vec["ifname"] != "t0" || s.MACField != "fe:fd:0:0:0:2" || s.Name() != "vec2" {
		t.Errorf("%+v %v", s, err)
	}
	if s, err := ParseVec(0, "transport=rawx,ifname=e"); err != nil || s.VecKind != VecRaw {
		t.Errorf("prefix-compared transport: %+v %v", s, err)
	}
	for spec, want := range map[string]string{
		"":                                      "vec1: empty specification",
		"ifname=x":                              "vec1: no transport= given",
		"transport=foo":                         "vec1: unknown transport 'foo'",
		"transport=raw":                         "vec1: transport=raw needs ifname=",
		"transport=bess,src=/a":                 "vec1: transport=bess needs dst=",
		"transport=gre":                         "vec1: transport=gre is not supported by gouml (tap, raw and bess are)",
		"transport=tap,garbage":                 "vec1: 'garbage' is not key=value",
		"transport=tap,ifname=0123456789abcdef": "vec1: ifname '0123456789abcdef' is longer than an interface name",
	} {
		if _, err := ParseVec(1, spec); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", spec, err, want)
		}
	}
}

// FuzzParseVec: any vecN: text is refused with one line or yields a device of a carried
// transport.
func FuzzParseVec(f *testing.F) {
	f.Add("transport=tap,ifname=t0,mac=fe:fd:0:0:0:2")
	f.Add("transport=bess,src=/a,dst=/b")
	f.Add("transport=raw,ifname=eth0,,=")
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseVec(0, spec)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(spec, "\n") {
				t.Fatalf("%q: two lines: %v", spec, err)
			}
			return
		}
		if s.VecKind != VecTap && s.VecKind != VecRaw && s.VecKind != VecBess {
			t.Fatalf("%q: transport %q", spec, s.VecKind)
		}
		_ = s.MAC(func(string) {})
	})
}
