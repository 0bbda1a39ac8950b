package kernel_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gouml/gouml/lib/testenv"
)

// labScript is netScript for a host behind a router: a default route through $gw.
var labScript = strings.Replace(netScript, "ifconfig eth0 $myip netmask 255.255.255.0 up",
	"ifconfig eth0 $myip netmask 255.255.255.0 up\nroute add default gw $gw", 1)

// routerScript configures two interfaces and forwarding, says so in /result and waits for
// /done.
const routerScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig eth0 10.1.0.1 netmask 255.255.255.0 up
ifconfig eth1 10.2.0.1 netmask 255.255.255.0 up
echo 1 > /proc/sys/net/ipv4/ip_forward
echo "FWD=$(cat /proc/sys/net/ipv4/ip_forward)" > /result.tmp; mv /result.tmp /result
while [ ! -e /done ]; do sleep 0.1; done
/bin/busybox poweroff -f
`

// TestNetLab is a three-machine lab as Netkit builds one: two hubs (Debian's uml_switch
// -hub and ours), a router of ours with an interface on each and ip_forward on, and a host
// on each side, one of them the real linux.uml. The hosts ping each other and fetch each
// other's page through the router.
func TestNetLab(t *testing.T) {
	hubA := startSwitch(t, testenv.Tool(t, "uml_switch"), "-hub")
	hubB := startSwitch(t, testenv.Program(t, "uml_switch"), "-hub")
	router, _ := startOursWith(t, routerScript, "router", "eth0=daemon,fe:fd:0a:01:00:01,unix,"+hubA,
		"eth1=daemon,fe:fd:0a:02:00:01,unix,"+hubB)
	left := &netGuest{root: testenv.BusyboxRoot(t, map[string]string{"/n.sh": labScript}), ip: "10.1.0.2"}
	u := &testenv.UML{Root: left.root, Init: "/n.sh", Args: []string{"eth0=daemon,fe:fd:0a:01:00:02,unix," + hubA,
		"myip=10.1.0.2", "peer=10.2.0.2", "gw=10.1.0.1"}}
	left.cmd, left.out = u.Start(t)
	right, _ := startOursWith(t, labScript, "10.2.0.2", "eth0=daemon,fe:fd:0a:02:00:02,unix,"+hubB,
		"myip=10.2.0.2", "peer=10.1.0.2", "gw=10.2.0.1")
	if got := router.resultWith(t, left); got != "FWD=1" {
		t.Errorf("router: %q\n%s", got, router.out.String())
	}
	pair(t, left, right)
	os.WriteFile(filepath.Join(router.root, "done"), nil, 0o644)
	finish(t, router)
}
