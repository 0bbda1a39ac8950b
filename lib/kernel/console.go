package kernel

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
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
//
// Scripted use (printf 'cmd\n' | linux ...): when host input that can end (a pipe, a
// socket, a regular file) does end, the guest gets end of file the way a user at a
// terminal gives it, by typing the tty's EOF character (^D) once the guest has read
// everything before it (see endOfInput). Everything the guest wrote is copied out before
// linux exits, however slowly the host side takes it (see Close).
type Console struct {
	master  *os.File
	slave   string // host path of the slave, opened afresh for every guest open
	in      *os.File
	out     *os.File
	restore func()
	done    chan struct{}
	stopIn  chan struct{}
	once    sync.Once
	written atomic.Int64 // bytes copied to the host, to tell a slow reader from a stuck one
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

// drainQuiet is how long the guest's side must stay silent at shutdown before the output
// is taken to be complete (a guest process may still hold the console open).
const drainQuiet = 500 * time.Millisecond

// output copies guest output to the host. EIO means no guest holds the slave open right
// now (e.g. between boots); it is not the end.
func (c *Console) output() {
	defer close(c.done)
	b := make([]byte, 32*1024)
	for {
		select {
		case <-c.stopIn:
			// Shutting down: read on while there is output; the deadline moves with
			// every read, so a host side that takes its time writing loses nothing.
			c.master.SetReadDeadline(time.Now().Add(drainQuiet))
		default:
		}
		n, err := c.master.Read(b)
		if n > 0 {
			c.out.Write(b[:n])
			c.written.Add(int64(n))
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
	last := byte('\n')
	for {
		n, err := c.in.Read(b)
		if n > 0 {
			select {
			case <-c.stopIn:
				return
			default:
			}
			c.master.Write(b[:n])
			last = b[n-1]
		}
		if err != nil {
			if n == 0 && errors.Is(err, io.EOF) && inputCanEnd(c.in) {
				c.endOfInput(last == '\n')
			}
			return
		}
	}
}

// inputCanEnd reports whether the end of f means the end of the guest's input: a pipe, a
// socket or a regular file. A character device does not: a terminal's end of file is the
// ^D its user types, which the guest already got as a byte, and /dev/null stands for no
// input at all, as with the real UML, which cannot poll it and never reads it.
func inputCanEnd(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	m := st.Mode()
	return m.IsRegular() || m&(os.ModeNamedPipe|os.ModeSocket) != 0
}

// drainPoll is how often endOfInput looks whether the guest has read all its input.
const drainPoll = 20 * time.Millisecond

// endOfInput gives the guest end of file after the last of its input, as a user would:
// once the guest has read everything (the tty's input queue is empty, twice in a row, so
// that bytes still on their way into the line discipline are not missed) it types the
// EOF character of the tty's current settings. In canonical mode a read then returns 0;
// a program that edits its own lines in raw mode (busybox sh) takes ^D on an empty line as
// end of file. Waiting matters: a ^D queued while the tty is canonical turns into a NUL
// byte if the reader switches to raw mode before reading it. After a last line without a
// newline a first ^D only hands that line over, so a second one follows.
func (c *Console) endOfInput(endsLine bool) {
	fd, _, e := unix.Syscall(unix.SYS_IOCTL, c.master.Fd(), unix.TIOCGPTPEER,
		uintptr(unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC))
	if e != 0 {
		return
	}
	defer unix.Close(int(fd))
	times := 1
	if !endsLine {
		times = 2
	}
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for sent, empty := 0, 0; sent < times; {
		select {
		case <-c.stopIn:
			return
		case <-t.C:
		}
		if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err != nil || n > 0 {
			empty = 0
			continue
		}
		if empty++; empty < 2 {
			continue
		}
		eof := byte(4) // ^D, when VEOF is disabled
		if tio, err := unix.IoctlGetTermios(int(c.master.Fd()), unix.TCGETS); err == nil && tio.Cc[unix.VEOF] != 0 {
			eof = tio.Cc[unix.VEOF]
		}
		c.master.Write([]byte{eof})
		sent, empty = sent+1, 0
	}
}

func (c *Console) resize() {
	if ws, err := unix.IoctlGetWinsize(int(c.out.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(c.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// stuckWrite is how long Close waits for a host side that takes none of the output.
const stuckWrite = 2 * time.Second

// Close copies out what the guest wrote, restores the host terminal and releases the pty.
// It waits as long as the host side takes output (linux > log, or a slow pipe), and gives
// up only on one that takes nothing for stuckWrite.
func (c *Console) Close() {
	c.once.Do(func() {
		close(c.stopIn)
		c.master.SetReadDeadline(time.Now().Add(drainQuiet))
		t := time.NewTicker(stuckWrite)
		defer t.Stop()
		last := c.written.Load()
	wait:
		for {
			select {
			case <-c.done:
				break wait
			case <-t.C:
				now := c.written.Load()
				if now == last {
					break wait
				}
				last = now
			}
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
