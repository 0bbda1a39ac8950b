// Package usernettest holds what the tests of user-mode networking share: a DHCP client
// script for busybox guests, a stub DNS resolver and an HTTP server on the host's loopback.
package usernettest

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// UDHCPCScript configures the interface from a lease, as Debian's default script would,
// and prints the lease on the console for the test to read.
const UDHCPCScript = `#!/bin/sh
case "$1" in
deconfig) ifconfig "$interface" 0.0.0.0 up ;;
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	set -- $router
	route add default gw "$1" dev "$interface"
	echo "LEASE ip=$ip router=$1 dns=$dns mask=$subnet"
	;;
esac
exit 0
`

// StubResolver answers A queries for name with addr and everything else with no answer,
// on 127.0.0.1 (UDP).
func StubResolver(t testing.TB, name string, addr netip.Addr) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := DNSAnswer(buf[:n], name, addr); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// DNSAnswer builds the reply to a one-question query (nil when q is not one).
func DNSAnswer(q []byte, name string, addr netip.Addr) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// Walk the question name.
	i, labels := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	end := i + 5
	out := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(out[2:], 0x8180) // response, recursion desired+available
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	if qtype == 1 && strings.EqualFold(strings.Join(labels, "."), name) {
		binary.BigEndian.PutUint16(out[6:], 1)
		a := addr.As4()
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, a[0], a[1], a[2], a[3])
	} else {
		binary.BigEndian.PutUint16(out[6:], 0)
	}
	return out
}

// HostHTTP serves body on 127.0.0.1 until the test ends and returns the port.
func HostHTTP(t testing.TB, body string) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
