// Package watchdog is the uml_watchdog program: the host half of the User-Mode Linux
// kernel's harddog driver (/dev/watchdog in the guest).
//
// When a guest opens /dev/watchdog, the kernel runs /usr/bin/uml_watchdog with two stream
// socketpairs as its standard input and output, and the arguments `-pid <kernel pid>`, or
// `-mconsole <notify socket>` when the kernel was booted with mconsole=notify:<path>. The
// program writes one byte to say it is ready (the kernel's open waits for it); every byte the
// kernel writes afterwards (a guest ping) re-arms a 60 s timer; end of file (the guest closed
// the device, or the kernel is gone) ends it with status 0. When the timer runs out the guest
// is hung: with -pid the kernel gets SIGINT, again a second later, and SIGKILL a second after
// that; with -mconsole an MCONSOLE_HANG notification goes to the notify socket instead, for
// whoever manages the machine. Either way the program then exits with status 1.
//
// The command line, exit statuses, ready byte and datagram are the real uml-utilities
// program's, checked side by side in the tests; see docs/interfaces.md §2.6 and §9.
package watchdog

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gouml/gouml/lib/cnum"
	"golang.org/x/sys/unix"
)

// Usage is the --help text. The real program prints nothing at all for any usage error.
const Usage = `Usage: uml_watchdog -pid PID
       uml_watchdog -mconsole NOTIFY-SOCKET

The host side of a User-Mode Linux guest's /dev/watchdog (the harddog driver); the kernel
runs it with its standard input and output connected to the driver. It writes one byte when
ready; each byte it reads re-arms a 60 s timer; end of input ends it with status 0. When the
timer runs out it sends SIGINT, SIGINT and SIGKILL a second apart to PID (-pid), or an
MCONSOLE_HANG notification to the mconsole notify socket (-mconsole), and exits with status 1.
`

// Timeout is how long the guest may go without a ping: the real program's alarm(60). A
// variable so tests need not wait a minute.
var Timeout = 60 * time.Second

// killPause is the pause between the signals of the -pid sequence (the real program's sleep(1)).
var killPause = time.Second

// Main runs uml_watchdog with argv (argv[0] is the program name) and returns its exit status.
// stdin and stdout are the connections to the kernel's harddog driver.
func Main(argv []string, stdin io.Reader, stdout io.Writer, stderr io.Writer) int {
	const prog = "uml_watchdog"
	if len(argv) == 2 && (argv[1] == "--help" || argv[1] == "-h") {
		fmt.Fprint(stdout, Usage)
		return 0
	}
	// Like the real program: two words at least, anything after them ignored.
	if len(argv) < 3 {
		fmt.Fprintf(stderr, "%s: usage: %s -pid PID | -mconsole NOTIFY-SOCKET (see --help)\n", prog, prog)
		return 1
	}
	var expire func() int
	switch argv[1] {
	case "-pid":
		v, whole := cnum.Strtol(argv[2])
		if !whole {
			fmt.Fprintf(stderr, "%s: bad pid '%s'\n", prog, argv[2])
			return 1
		}
		pid := int(int32(v)) // the real program keeps strtol's long in an int
		// The real program refuses a pid it cannot signal before it says it is ready.
		if err := unix.Kill(pid, 0); err != nil {
			fmt.Fprintf(stderr, "%s: pid %d: %v\n", prog, pid, err)
			return 1
		}
		expire = func() int { return killSequence(pid) }
	case "-mconsole":
		path := argv[2]
		expire = func() int {
			if err := SendHang(path); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			}
			return 1
		}
	default:
		fmt.Fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, argv[1])
		return 1
	}

	// The ready byte: the kernel's open of /dev/watchdog blocks until it arrives. The real
	// program sends an uninitialised byte, which is 0 in practice; the kernel ignores its value.
	if n, err := stdout.Write([]byte{0}); n != 1 || err != nil {
		fmt.Fprintf(stderr, "%s: write: %v\n", prog, err)
		return 1
	}

	// Pings arrive on a goroutine so that the timer can run out while a read is pending.
	pings := make(chan error)
	go func() {
		var b [1]byte
		for {
			n, err := stdin.Read(b[:])
			if n > 0 {
				pings <- nil
				continue
			}
			if err == nil {
				continue
			}
			pings <- err
			return
		}
	}()
	timer := time.NewTimer(Timeout)
	for {
		select {
		case err := <-pings:
			if err == nil {
				timer.Reset(Timeout)
				continue
			}
			if err == io.EOF {
				return 0
			}
			fmt.Fprintf(stderr, "%s: read: %v\n", prog, err)
			return 1
		case <-timer.C:
			return expire()
		}
	}
}

// killSequence is what the real program does to a hung kernel: SIGINT (its orderly shutdown),
// a second later SIGINT again, a second after that SIGKILL. Errors are ignored, as there.
func killSequence(pid int) int {
	_ = unix.Kill(pid, unix.SIGINT)
	time.Sleep(killPause)
	_ = unix.Kill(pid, unix.SIGINT)
	time.Sleep(killPause)
	_ = unix.Kill(pid, unix.SIGKILL)
	return 1
}

// HangDatagram is the MCONSOLE_HANG notification exactly as the real uml_watchdog sends it on
// 64-bit hosts: its struct has an 8-byte magic, so the version sits at offset 8, the type
// (2, MCONSOLE_HANG) at 12 and the length (0) at 16, and 24 bytes go out. A listener using
// the kernel's layout (4-byte magic) still reads type 2 at offset 8. The last 4 bytes are
// uninitialised padding in the real program; ours are zero.
func HangDatagram() []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b[0:], 0xcafebabe)
	binary.LittleEndian.PutUint32(b[8:], 2)  // MCONSOLE_VERSION
	binary.LittleEndian.PutUint32(b[12:], 2) // MCONSOLE_HANG
	binary.LittleEndian.PutUint32(b[16:], 0) // no data
	return b
}

// SendHang sends HangDatagram to the notify socket at path, as a datagram from an unbound
// socket.
func SendHang(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, HangDatagram(), 0, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("sendto %s: %w", path, err)
	}
	return nil
}
