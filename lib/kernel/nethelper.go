package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gouml/gouml/lib/cmdline"
	"github.com/gouml/gouml/lib/netdev"
	"golang.org/x/sys/unix"
)

// ethN=tuntap,,MAC,GATE: the uml_net helper mode (docs/interfaces.md §4.1). The real kernel
// runs the setuid helper `uml_net 4 tuntap up GATE`, which makes a host tap, gives it the
// gateway address and passes its fd back; later, as the guest adds and removes addresses
// on the interface while it is up, `uml_net 4 add|del TAP ADDR MASK`, which routes the
// guest's address to the tap and answers ARP for it on the host's side.
//
// Here the helper cannot be run by the kernel: it runs in a user namespace, where a setuid
// program gains nothing, and its Landlock and seccomp walls are meant to keep it from
// running host programs at all. The outer process, which runs as the user started it,
// runs the helper instead: `tuntap up` once at start (the tap's fd is handed to the kernel
// like a named host tap's), and add/del on the kernel's request through a socket whose
// messages carry nothing but a device number and two IPv4 addresses. The outer process
// formats the helper's arguments itself, from its own record of the tap's name, so a
// kernel that is not what it should be can still only make uml_net do what the guest's
// own address changes would.

// netHelperEnv is the fd, in the kernel, of its end of the request socket.
const netHelperEnv = "GOUML_NETHELPER_FD"

// umlNetSearchDir is where linux.uml also looks for uml_net: it appends it to PATH.
const umlNetSearchDir = "/usr/lib/uml"

// helperTimeout bounds one run of uml_net: a helper that hangs must not hold the machine.
const helperTimeout = 20 * time.Second

// helperTextMax bounds the text taken from the helper.
const helperTextMax = 1 << 16

// Address requests from the kernel: op, device number, address, mask.
const (
	addrReqLen = 16
	addrAdd    = 1
	addrDel    = 2
)

// umlNetPath finds uml_net as linux.uml's execvp would, PATH first, then /usr/lib/uml.
func umlNetPath() (string, error) {
	for _, d := range append(filepath.SplitList(os.Getenv("PATH")), umlNetSearchDir) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, "uml_net")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("uml_net not found in PATH or %s", umlNetSearchDir)
}

// runTuntapUp runs `uml_net 4 tuntap up [GATE]` with a datagram socket as its stdout and
// returns the tap it passed back (nil if none), its name, and the helper's text.
func runTuntapUp(gate string) (*os.File, string, string, error) {
	prog, err := umlNetPath()
	if err != nil {
		return nil, "", "", err
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, "", "", err
	}
	mine, theirs := os.NewFile(uintptr(sp[0]), "uml_net"), os.NewFile(uintptr(sp[1]), "uml_net")
	defer mine.Close()
	args := []string{"4", "tuntap", "up"}
	if gate != "" {
		args = append(args, gate)
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, theirs, os.Stderr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return nil, "", "", err
	}
	// The helper sends one message and exits; its exit is not waited for before the read,
	// as the real kernel does not, but a helper that exits without sending ends the read.
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	buf := make([]byte, unix.IFNAMSIZ+helperTextMax)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(mine.Fd()), buf, oob, unix.MSG_DONTWAIT)
		if err != unix.EAGAIN {
			break
		}
		select {
		case <-done:
			// one last look: the message may have come just before the exit
			n, oobn, _, _, err = unix.Recvmsg(int(mine.Fd()), buf, oob, unix.MSG_DONTWAIT)
			if err == unix.EAGAIN {
				return nil, "", "", fmt.Errorf("uml_net exited without a reply")
			}
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	<-done
	if err != nil {
		return nil, "", "", err
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	if len(fds) == 0 {
		return nil, "", cText(buf[:n]), nil
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	unix.CloseOnExec(fds[0])
	if n < unix.IFNAMSIZ {
		unix.Close(fds[0])
		return nil, "", cText(buf[:n]), nil
	}
	name := cText(buf[:unix.IFNAMSIZ])
	return os.NewFile(uintptr(fds[0]), name), name, cText(buf[unix.IFNAMSIZ:n]), nil
}

// cText is a C string from a buffer: up to its first NUL.
func cText(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// runAddrHelper runs `uml_net 4 add|del TAP ADDR MASK` with a stream socket as its stdout
// and returns its text (an i32 length, then that many bytes).
func runAddrHelper(op, tap, addr, mask string) string {
	prog, err := umlNetPath()
	if err != nil {
		return "linux: " + err.Error() + "\n"
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	mine, theirs := os.NewFile(uintptr(sp[0]), "uml_net"), os.NewFile(uintptr(sp[1]), "uml_net")
	defer mine.Close()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "4", op, tap, addr, mask)
	cmd.Stdout, cmd.Stderr = theirs, os.Stderr
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return "linux: uml_net: " + err.Error() + "\n"
	}
	defer cmd.Wait()
	_ = mine.SetReadDeadline(time.Now().Add(helperTimeout))
	var hdr [4]byte
	if _, err := io.ReadFull(mine, hdr[:]); err != nil {
		return ""
	}
	n := binary.NativeEndian.Uint32(hdr[:])
	text, _ := io.ReadAll(io.LimitReader(mine, int64(min(n, helperTextMax))))
	return cText(text)
}

// helperTaps is the outer process's record of the taps uml_net made: device number to
// interface name.
type helperTaps map[uint32]string

// serveAddrRequests answers the kernel's address requests on conn until it closes: each is
// addrReqLen bytes, each answer one message with the helper's text.
func serveAddrRequests(conn *os.File, taps helperTaps, wg *sync.WaitGroup) {
	defer wg.Done()
	defer conn.Close()
	var req [addrReqLen + 1]byte
	for {
		n, err := unix.Read(int(conn.Fd()), req[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		text := ""
		if n == addrReqLen && (req[0] == addrAdd || req[0] == addrDel) {
			dev := binary.LittleEndian.Uint32(req[4:])
			if name, ok := taps[dev]; ok {
				op := "add"
				if req[0] == addrDel {
					op = "del"
				}
				a, m := req[8:12], req[12:16]
				text = runAddrHelper(op, name, fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]),
					fmt.Sprintf("%d.%d.%d.%d", m[0], m[1], m[2], m[3]))
			}
		}
		if len(text) > helperTextMax {
			text = text[:helperTextMax]
		}
		if _, err := unix.Write(int(conn.Fd()), append([]byte(text), 0)); err != nil {
			return
		}
	}
}

// helperTapEntry is the GOUML_TAP_FDS entry of a helper-made tap: "N=FD:NAME:HEXTEXT", or
// "N=-ERRNO::HEXTEXT" where no tap came back.
func helperTapEntry(n, fd int, name, text string) string {
	return fmt.Sprintf("%d=%d:%s:%s", n, fd, name, hex.EncodeToString([]byte(text)))
}

// parseHelperTapValue splits the value of a tap entry into the fd (or -errno) and, for a
// helper-made tap, its name and the helper's text.
func parseHelperTapValue(v string) (fd, name, text string) {
	fd, rest, ok := strings.Cut(v, ":")
	if !ok {
		return fd, "", ""
	}
	name, h, _ := strings.Cut(rest, ":")
	b, _ := hex.DecodeString(h)
	return fd, name, string(b)
}

// slirpFDsEnv tells the kernel which inherited fds are the streams to the slirp programs of
// ethN=slirp,MAC,PROGRAM: "N=FD,…".
const slirpFDsEnv = "GOUML_SLIRP_FDS"

// startSlirps is the outer process's part of ethN=slirp,MAC,PROGRAM ARGS: it runs each
// program, found through PATH as the real kernel's execvp finds it, with its stdin and
// stdout one end of a stream socket whose other end goes to the kernel (first is its fd
// number there). The kernel could not run it: it may run no host program. The programs
// run for the machine's life (the real kernel runs one per bringing up of the interface)
// and are killed when it ends. A program that cannot be started is reported and its
// device left out.
func startSlirps(eth map[int]string, first int, stderr io.Writer) (files []*os.File, env string, progs []*exec.Cmd) {
	idx := make([]int, 0, len(eth))
	for n := range eth {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	var ents []string
	for _, n := range idx {
		s := netdev.Parse(n, eth[n], func(string) {})
		if s == nil || !s.IPLink() || len(s.Argv) == 0 || s.Argv[0] == "" {
			continue
		}
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintf(stderr, "slirp_tramp : socketpair failed, errno = %d\n", int(errnoOf(err)))
			continue
		}
		mine, theirs := os.NewFile(uintptr(sp[0]), "slirp"), os.NewFile(uintptr(sp[1]), "slirp")
		cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = theirs, theirs, stderr
		// its own session (no signals from the tty), and gone with the outer process even if
		// that is killed (this thread, locked by cmd/linux, lives as long as it does)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		theirs.Close()
		if err != nil {
			mine.Close()
			fmt.Fprintf(stderr, "linux: eth%d: the slirp program: %v\n", n, err)
			continue
		}
		ents = append(ents, fmt.Sprintf("%d=%d", n, first+len(files)))
		files = append(files, mine)
		progs = append(progs, cmd)
	}
	return files, slirpFDsEnv + "=" + strings.Join(ents, ","), progs
}

// stopSlirps kills the slirp programs once the machine has ended, as the real kernel kills
// its at the interface's close.
func stopSlirps(progs []*exec.Cmd) {
	for _, c := range progs {
		c.Process.Kill()
		c.Wait()
	}
}

// openHostNet is the outer process's part of the network devices (the host taps, uml_net,
// the slirp programs, the vector devices' host sides): the files to hand the kernel, the
// first of which will be its fd first, the environment naming them, and what to do once the
// kernel has ended (stop the slirp programs; wait for the address hooks' server, which ends
// when the kernel's end of its socket closes). The caller closes its copies of the files
// once the kernel has started.
func openHostNet(c *cmdline.Config, first int, stderr io.Writer) ([]*os.File, []string, func()) {
	var helpers sync.WaitGroup
	files, env, helper := openHostTaps(c.Eth, first, &helpers) // ethN=tuntap
	if helper != nil {
		files = append(files, helper)
	}
	slirps, slirpEnv, progs := startSlirps(c.Eth, first+len(files), stderr) // ethN=slirp,MAC,PROGRAM
	files = append(files, slirps...)
	vecs, vecEnv := openVecs(c.Vec, first+len(files), stderr) // vecN: (netvec.go)
	files = append(files, vecs...)
	return files, append(env, slirpEnv, vecEnv), func() {
		if helper != nil {
			helper.Close() // if the kernel never started, its end is still ours
		}
		stopSlirps(progs)
		// The server ends when the kernel's end closes, with the kernel; a copy of it that
		// something else kept must not hold the outer process.
		done := make(chan struct{})
		go func() { helpers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(helperTimeout):
		}
	}
}

// netFDsCloseOnExec marks the fds the outer process handed in for the network devices
// close-on-exec, at the start of stage 2 (stage 1 passed them on through its exec): the
// programs the kernel starts have no business with them, and the outer process learns that
// the kernel has ended from the last copy of the helper socket closing.
func netFDsCloseOnExec() {
	for _, env := range []string{tapFDsEnv, slirpFDsEnv, vecFDsEnv} {
		for _, e := range strings.Split(os.Getenv(env), ",") {
			_, v, _ := strings.Cut(e, "=")
			v, _, _ = strings.Cut(v, ":")
			if fd, err := strconv.Atoi(v); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	if fd, err := strconv.Atoi(os.Getenv(netHelperEnv)); err == nil && fd > 2 {
		unix.CloseOnExec(fd)
	}
}
