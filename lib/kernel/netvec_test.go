package kernel_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
)

// vec0:transport=bess to our uml_switch -bess: a guest of ours on a vector device and one on
// the switch's daemon port ping and fetch each other's page; the management console refuses
// to remove vec0 while it is up, and to plug a vector device in.
func TestNetVecBess(t *testing.T) {
	dir, err := os.MkdirTemp("", "bess")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctl, bess := filepath.Join(dir, "ctl"), filepath.Join(dir, "bess")
	cmd := exec.Command(testenv.Program(t, "uml_switch"), "-unix", ctl, "-bess", bess)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Listening(ctl) }) {
		t.Fatal("the switch did not listen")
	}
	os.Chmod(ctl, 0o777)
	os.Chmod(bess, 0o777)
	a := startOurs(t, "daemon,fe:fd:0a:00:07:01,unix,"+ctl, "10.0.7.1", "10.0.7.2")
	b, umlDir := startOursWith(t, strings.ReplaceAll(netScript, "eth0", "vec0"), "10.0.7.2",
		"vec0:transport=bess,src="+filepath.Join(dir, "b.sock")+",dst="+bess+",mac=fe:fd:0a:00:07:02",
		"myip=10.0.7.2", "peer=10.0.7.1", "umid=vecb")
	ra, rb := a.result(t), b.resultWith(t, a)
	// the management console knows vecN as the real kernel does
	mc := func(cmd string) string {
		out, _ := exec.Command(testenv.Program(t, "uml_mconsole"), filepath.Join(umlDir, "vecb", "mconsole"), cmd).Output()
		return strings.TrimSpace(string(out))
	}
	if got := mc("remove vec0"); !strings.Contains(got, "Device is currently open") {
		t.Errorf("remove vec0 while it is up: %q", got)
	}
	if got := mc("config vec1:transport=tap"); !strings.Contains(got, "only be given on the command line") {
		t.Errorf("config vec1: %q", got)
	}
	finish(t, a, b)
	if want := netWant("10.0.7.2"); ra != want {
		t.Errorf("daemon guest: %q, want %q\n%s", ra, want, a.out.String())
	}
	if want := netWant("10.0.7.1"); rb != want {
		t.Errorf("vec guest: %q, want %q\n%s", rb, want, b.out.String())
	}
}

// What needs host privilege fails with one line saying why, and so does what gouml does not
// carry; the machine boots without those devices.
func TestNetVecRefused(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/r.sh": "#!/bin/sh\necho \"LINKS=$(ls /sys/class/net 2>/dev/null | tr '\\n' ' ')\"\necho BOOTED\n/bin/busybox poweroff -f\n"})
	r := run{args: []string{"ubd0=" + root, "rw", "init=/r.sh", "vec0:transport=raw,ifname=lo", "vec1:transport=gre,src=1.2.3.4",
		"vec2:transport=tap", "vec3:ifname=x", "vec4:transport=foo"}, timeout: 60 * time.Second}
	if os.Geteuid() == 0 {
		r.asUser = true
		r.args = append(r.args, "uml_dir="+unprivileged(t, root)+"/")
	}
	out, errs, status := r.do(t)
	if status != 0 || !strings.Contains(out, "BOOTED") {
		t.Errorf("status %d\nstdout:\n%s\nstderr:\n%s", status, out, errs)
	}
	for _, want := range []string{
		"linux: vec0: transport=raw: a packet socket on lo takes CAP_NET_RAW in the host's network namespace: run linux as root\n",
		"linux: vec1: transport=gre is not supported by gouml (tap, raw and bess are)\n",
		"linux: vec2: transport=tap: ",
		"linux: vec3: no transport= given\n",
		"linux: vec4: unknown transport 'foo'\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("no %q in\n%s", want, errs)
		}
	}
}

// vec0:transport=raw on one end of a veth pair and vec1:transport=tap with an ifup script
// that configures the host side, as root in a network namespace of the test's own: the
// guest pings the host through both.
func TestNetVecRawAndTap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a packet socket and a tap on the host need root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	script := `#!/bin/sh
mount -t proc proc /proc
ifconfig vec0 10.12.0.2 netmask 255.255.255.0 up
ifconfig vec1 10.13.0.2 netmask 255.255.255.0 up
i=0; until ping -c 1 -W 1 10.12.0.1 >/dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i+1)); done
ping -c 2 -W 2 10.12.0.1 >/dev/null; echo "RAWPING=$?"
i=0; until ping -c 1 -W 1 10.13.0.1 >/dev/null 2>&1 || [ $i -ge 30 ]; do i=$((i+1)); done
ping -c 2 -W 2 10.13.0.1 >/dev/null; echo "TAPPING=$?"
/bin/busybox poweroff -f
`
	root := testenv.BusyboxRoot(t, map[string]string{"/v.sh": script})
	ifup := filepath.Join(t.TempDir(), "ifup")
	os.WriteFile(ifup, []byte("#!/bin/sh\nip addr add 10.13.0.1/24 dev $1 && ip link set $1 up && echo \"IFUP $1\"\n"), 0o755)
	sh := `set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.12.0.1/24 dev v0
ip link set v0 up; ip link set v1 up
set +e
` + testenv.Program(t, "linux") + " ubd0=" + root + " rw init=/v.sh uml_dir=" + t.TempDir() + "/" +
		" vec0:transport=raw,ifname=v1,mac=fe:fd:0a:0c:00:02 vec1:transport=tap,ifname=vt1,ifup=" + ifup + ` </dev/null
echo "LINUXRC=$?"
`
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c", sh).CombinedOutput()
	out := strings.ReplaceAll(string(b), "\r\n", "\n")
	for _, want := range []string{"IFUP vt1\n", "RAWPING=0\n", "TAPPING=0\n", "LINUXRC=0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q (%v)\n%s", want, err, out)
		}
	}
}
