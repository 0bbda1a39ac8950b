package kernel

import (
	"errors"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Console is con0: a pseudo-terminal whose slave side is the guest's console (init's fds
// 0-2, /dev/console, /dev/tty0) and whose master side the kernel connects to the host
// channels (stdin/stdout of linux by default). The guest so has a real tty of its own:
// line discipline, job control, ^C to its foreground process group, window size. As with
// the real UML, output lines end in "\r\n" (the tty's ONLCR). When the host stdin is a
// terminal it is put in raw mode for the machine's lifetime, so keys reach the guest's
// line discipline unchanged.
type Console struct {
	master  *os.File
	slave   string // host path of the slave, opened afresh for every guest open
	in      *os.File
	out     *os.File
	restore func()
	done    chan struct{}
	stopIn  chan struct{}
	once    sync.Once
}

// NewConsole creates the console pty and starts relaying.
func NewConsole(in, out *os.File) (*Console, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		return nil, e
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, err
	}
	c := &Console{master: m, slave: "/dev/pts/" + strconv.Itoa(n), in: in, out: out,
		done: make(chan struct{}), stopIn: make(chan struct{})}
	c.restore = rawMode(in)
	c.resize()
	if isTerminal(out) {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		go func() {
			for {
				select {
				case <-winch:
					c.resize()
				case <-c.done:
					signal.Stop(winch)
					return
				}
			}
		}()
	}
	go c.output()
	go c.input()
	return c, nil
}

// Open opens the guest side of the console (never as the kernel's controlling tty).
// It asks the master for its peer (TIOCGPTPEER): no path is looked up, so the slave is the
// console's whatever the host's /dev/pts holds, and the kernel needs no right on /dev/pts.
func (c *Console) Open(flags int) (int, error) {
	fl := flags&(unix.O_ACCMODE|unix.O_NONBLOCK) | unix.O_NOCTTY | unix.O_CLOEXEC
	if flags&unix.O_PATH != 0 {
		fl = unix.O_RDONLY | unix.O_NOCTTY | unix.O_CLOEXEC
	}
	fd, _, e := unix.Syscall(unix.SYS_IOCTL, c.master.Fd(), unix.TIOCGPTPEER, uintptr(fl))
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// output copies guest output to the host. EIO means no guest holds the slave open right
// now (e.g. between boots); it is not the end.
func (c *Console) output() {
	defer close(c.done)
	b := make([]byte, 32*1024)
	for {
		n, err := c.master.Read(b)
		if n > 0 {
			c.out.Write(b[:n])
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.EIO) {
				select {
				case <-c.stopIn:
					return // draining at shutdown: nothing left
				default:
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
	}
}

func (c *Console) input() {
	b := make([]byte, 4096)
	for {
		n, err := c.in.Read(b)
		if n > 0 {
			select {
			case <-c.stopIn:
				return
			default:
			}
			c.master.Write(b[:n])
		}
		if err != nil {
			return // EOF on the host side: the guest just sees no more input
		}
	}
}

func (c *Console) resize() {
	if ws, err := unix.IoctlGetWinsize(int(c.out.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(c.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// Close drains what the guest wrote, restores the host terminal and releases the pty.
func (c *Console) Close() {
	c.once.Do(func() {
		close(c.stopIn)
		c.master.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		select {
		case <-c.done:
		case <-time.After(time.Second):
		}
		c.restore()
		c.master.Close()
	})
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// rawMode puts a host terminal in raw mode (cfmakeraw) and returns the restore function.
func rawMode(f *os.File) func() {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}
