// Package porthelper is the port-helper program (/usr/lib/uml/port-helper): it hands a
// terminal to the User-Mode Linux kernel for its port: and xterm console channels.
//
// For a port: channel the kernel accepts a TCP connection and runs `in.telnetd -L
// /usr/lib/uml/port-helper` with the connection as fds 0-2 and one end of a datagram
// socketpair as fd 3; telnetd runs port-helper on the pseudo-terminal it allocates. For an
// xterm channel the kernel runs `x-terminal-emulator -T title -e /usr/lib/uml/port-helper
// -uml-socket PATH`, PATH being a datagram socket the kernel listens on. Either way
// port-helper gives up its controlling terminal, sends its pid (4 bytes) with its standard
// input attached (SCM_RIGHTS), and waits to be killed: the kernel kills it when the console
// is closed. See docs/interfaces.md §5.3.
package porthelper

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Usage is the --help text; the real program has none (it ignores arguments other than
// -uml-socket).
const Usage = `Usage: port-helper [-uml-socket PATH]

Run by the User-Mode Linux kernel (through in.telnetd for port: consoles, through a terminal
emulator for xterm consoles), not by hand. It detaches from its controlling terminal and
sends its process ID and its standard input (the terminal) to the kernel: over fd 3, or with
-uml-socket, to the datagram socket PATH. Then it waits until the kernel kills it.
`

// ttyMessage is the real program's perror() text when TIOCNOTTY fails, kept word for word:
// it is what a user sees in the telnet session or terminal window.
const ttyMessage = "TIOCNOTTY failed in port-helper, check UML's exec call for xterm or telnetd"

// Main runs port-helper. It returns only on an error (status 1) or for --help; otherwise it
// waits forever.
func Main(argv []string, stdout, stderr io.Writer) int {
	const prog = "port-helper"
	sock := 3
	if len(argv) > 1 && (argv[1] == "--help" || argv[1] == "-h") {
		fmt.Fprint(stdout, Usage)
		return 0
	}
	if len(argv) > 1 && argv[1] == "-uml-socket" {
		if len(argv) < 3 {
			fmt.Fprintf(stderr, "%s: -uml-socket needs a socket path\n", prog)
			return 1
		}
		fd, err := dial(argv[2])
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 1
		}
		sock = fd
	}
	// Giving up the terminal makes the kernel send SIGHUP to the foreground process group,
	// which is ours when telnetd made us session leader.
	signal.Ignore(syscall.SIGHUP)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCNOTTY, 0); e != 0 {
		// perror's wording: glibc's strerror text starts with a capital, Go's does not.
		msg := e.Error()
		fmt.Fprintf(stderr, "%s: %s%s\n", ttyMessage, strings.ToUpper(msg[:1]), msg[1:])
	}
	if err := SendFD(sock, 0); err != nil {
		// The real program ignores this and waits anyway; say it, for whoever reads stderr.
		fmt.Fprintf(stderr, "%s: sending the terminal to the kernel: %v\n", prog, err)
	}
	for {
		_ = unix.Pause()
	}
}

// dial makes the xterm case's socket: a datagram socket bound to the abstract name
// "\0" + "%5d" of our pid (all 108 bytes of sun_path, zero padded, as the real program binds
// it) and connected to path.
func dial(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	// x/sys/unix cannot express a 108-byte abstract name (it binds at most 107), so the
	// address is built and bound by hand.
	var sa unix.RawSockaddrUnix
	sa.Family = unix.AF_UNIX
	for i, c := range []byte(fmt.Sprintf("%5d", os.Getpid())) {
		sa.Path[1+i] = int8(c)
	}
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa)); e != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", e)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", path, err)
	}
	return fd, nil
}

// SendFD sends one message on the socket sock: our pid as a 4-byte host-order integer, with
// fd attached. This is what the kernel's os_rcv_fd expects.
func SendFD(sock, fd int) error {
	pid := make([]byte, 4)
	binary.NativeEndian.PutUint32(pid, uint32(os.Getpid()))
	return unix.Sendmsg(sock, pid, unix.UnixRights(fd), nil, 0)
}
