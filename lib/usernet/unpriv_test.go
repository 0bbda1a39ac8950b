package usernet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/testenv"
	"github.com/gouml/gouml/lib/usernet/usernettest"
)

const nobody = 65534

// TestHelperGatewayProcess is the gateway process of TestRealUMLUnprivileged: the test
// binary re-executed as an ordinary user. It serves one ucast link until stdin closes.
func TestHelperGatewayProcess(t *testing.T) {
	if os.Getenv("GOUML_USERNET_HELPER") == "" {
		t.Skip("helper process for TestRealUMLUnprivileged")
	}
	peer := netip.MustParseAddrPort(os.Getenv("GOUML_USERNET_PEER"))
	g, err := New(Config{Resolvers: []netip.AddrPort{}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	l, err := ListenUcast(netip.MustParseAddrPort("127.0.0.1:0"), peer)
	if err != nil {
		t.Fatal(err)
	}
	g.Attach(l)
	fmt.Printf("READY port=%d uid=%d euid=%d\n", l.LocalAddr().Port(), os.Getuid(), os.Geteuid())
	io.Copy(io.Discard, os.Stdin)
}

// openUp makes dir and its parents up to the temp root traversable by other users.
func openUp(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRealUMLUnprivileged runs the gateway and the real linux.uml guest both as user
// nobody: no privilege anywhere on the data path. The guest gets a lease and fetches a page
// from the host's loopback.
func TestRealUMLUnprivileged(t *testing.T) {
	testenv.Tool(t, "linux.uml")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	page := "unprivileged page " + t.Name()
	httpPort := usernettest.HostHTTP(t, page)

	// The test binary, where user nobody can execute it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "usernet.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	openUp(t, filepath.Dir(bin))

	gport := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	helper := exec.CommandContext(ctx, bin, "-test.run=^TestHelperGatewayProcess$")
	helper.Env = append(os.Environ(), "GOUML_USERNET_HELPER=1", fmt.Sprintf("GOUML_USERNET_PEER=127.0.0.1:%d", gport))
	helper.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	helper.Stderr = os.Stderr
	stdin, _ := helper.StdinPipe()
	stdout, _ := helper.StdoutPipe()
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var lport, uid, euid int
	if _, err2 := fmt.Sscanf(line, "READY port=%d uid=%d euid=%d", &lport, &uid, &euid); err != nil || err2 != nil {
		t.Fatalf("gateway helper: %q %v %v", line, err, err2)
	}
	if cred != nil && (uid != nobody || euid != nobody) {
		t.Fatalf("gateway helper runs as uid %d euid %d, want %d", uid, euid, nobody)
	}

	root := testenv.BusyboxRoot(t, map[string]string{
		"/udhcpc.sh": usernettest.UDHCPCScript,
		"/t.sh": `#!/bin/sh
udhcpc -i eth0 -s /udhcpc.sh -n -q -t 10 -T 1 || echo DHCP-FAILED
echo WGET-BEGIN
wget -q -O - "http://10.0.2.2:$HTTPPORT/"
echo "WGET-END rc=$?"
poweroff -f
`})
	openUp(t, root)
	umlDir, err := os.MkdirTemp("", "umlu")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(umlDir)
	openUp(t, umlDir)
	if cred != nil {
		os.Chown(umlDir, nobody, nobody)
	}
	u := &testenv.UML{Root: root, UmlDir: umlDir, Umid: testenv.Umid(t), Init: "/t.sh",
		Args: []string{fmt.Sprintf("eth0=ucast,52:54:00:12:34:57,127.0.0.1,%d,%d", gport, lport), fmt.Sprintf("HTTPPORT=%d", httpPort)}}
	guest := exec.CommandContext(ctx, testenv.Tool(t, "linux.uml"), u.CommandLine()...)
	guest.Dir = umlDir
	guest.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	guest.WaitDelay = 5 * time.Second
	out, err := guest.CombinedOutput()
	console := string(out)
	if !testenv.HaltedCleanly(t, err, console) {
		t.Fatalf("linux.uml as nobody: %v\n%s", err, console)
	}
	if m := leaseRE.FindStringSubmatch(console); m == nil || m[1] != "10.0.2.15" {
		t.Errorf("no lease from the unprivileged gateway\n%s", console)
	}
	if !strings.Contains(console, page) || !strings.Contains(console, "WGET-END rc=0") {
		t.Errorf("wget through the unprivileged gateway failed\n%s", console)
	}
}
