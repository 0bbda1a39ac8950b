package kernel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// sysfsScript reads the guest's /sys the way boot scripts and udev-less tools do: the links of
// /sys/class/net, /sys/block and /sys/dev, a disk's and the network devices' attributes, a
// character device's, a write to a read-only attribute and statfs. Its output must be the
// real linux.uml's, line by line, on the same root with the same devices.
const sysfsScript = `#!/bin/sh
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys || echo 'mount sysfs failed'
echo "=== begin"
readlink /sys/class/net/lo /sys/class/net/eth0 /sys/block/ubdb /sys/dev/block/98:16 /sys/dev/char/1:3 /sys/class/block/ubdb
for a in dev size ro range removable uevent ext_range hidden serial diskseq; do echo "ubdb $a: $(cat /sys/block/ubdb/$a 2>&1)"; done
for a in addr_len address broadcast mtu type ifindex iflink flags operstate tx_queue_len dev_id uevent carrier addr_assign_type dev_port link_mode netdev_group proto_down ifalias; do echo "lo $a: $(cat /sys/class/net/lo/$a 2>&1)"; done
for a in addr_len type mtu operstate flags tx_queue_len; do echo "eth0 $a: $(cat /sys/class/net/eth0/$a 2>&1)"; done
ls /sys/class/net
ls -ld /sys/block/ubdb/ | cut -c1-10
ls -l /sys/block/ubdb/size | cut -c1-10
echo 1 > /sys/block/ubdb/ro ; echo "write ro: $?"
stat -f -c %T /sys
cat /sys/devices/virtual/mem/null/dev /sys/devices/virtual/mem/null/uevent
cd /sys/class/net/lo && pwd -P && cd /
test -d /sys/kernel && echo kernel-dir
echo "=== end"
`

var sysfsBlock = regexp.MustCompile(`(?s)=== begin\r?\n(.*?)=== end`)

// TestSysfsAgainstRealLinuxUML compares the guest's /sys with the real linux.uml's.
func TestSysfsAgainstRealLinuxUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/s.sh":      sysfsScript,
		"/real.sh":   "#!/bin/sh\n/s.sh\nhalt -f\n",
		"/ours.sh":   "#!/bin/sh\n/s.sh\n/bin/busybox poweroff -f\n",
		"/etc/fstab": "",
	})
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// a multicast device with TTL 0: it exists in both guests, and nothing leaves the host
	eth0 := "eth0=mcast,,239.255.0.1,12345,0"
	real := (&testenv.UML{Root: root, Init: "/real.sh", Args: []string{"ubd1=" + disk, eth0}, Timeout: 2 * time.Minute}).Run(t)
	ours, errs, status := run{args: []string{"ubd0=" + root, "rw", "init=/ours.sh", "ubd1=" + disk, eth0,
		"uml_dir=" + t.TempDir()}}.do(t)
	if status != 0 {
		t.Fatalf("linux exited %d\n%s\nstderr:\n%s", status, ours, errs)
	}
	rm := sysfsBlock.FindStringSubmatch(real)
	om := sysfsBlock.FindStringSubmatch(ours)
	if rm == nil || om == nil {
		t.Fatalf("no output block\nreal:\n%s\nours:\n%s\nstderr:\n%s", real, ours, errs)
	}
	want := strings.ReplaceAll(rm[1], "\r\n", "\n")
	// eth0's address is random on both
	mac := regexp.MustCompile(`(?m)^([0-9a-f]{2}:){5}[0-9a-f]{2}$`)
	want, got := mac.ReplaceAllString(want, "MAC"), mac.ReplaceAllString(om[1], "MAC")
	if !strings.Contains(got, "ubdb dev: 98:16\n") || !strings.Contains(got, "lo type: 772\n") {
		t.Errorf("the guest's /sys lacks ubdb or lo:\n%s", got)
	}
	if got != want {
		t.Errorf("/sys differs from linux.uml's (- real, + ours):\n%s", lineDiff(want, got))
	}
}
