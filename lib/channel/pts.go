package channel

import (
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenPts allocates a host pseudo-terminal for a pts channel and returns its master and the
// slave's path (what a user attaches to: `screen /dev/pts/K`). The terminal starts in raw
// mode, as the real kernel leaves it.
func OpenPts() (*os.File, string, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", err
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		return nil, "", e
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, "", err
	}
	MakeRaw(int(m.Fd()))
	return m, "/dev/pts/" + strconv.Itoa(n), nil // blocking; the caller may make it non-blocking
}

// OpenTTY opens a host terminal device for a tty:DEV channel, in raw mode. Like the real
// kernel's, it refuses what is not a terminal.
func OpenTTY(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := MakeRaw(int(f.Fd())); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MakeRaw puts a terminal in raw mode (cfmakeraw); it fails on what is not a terminal.
func MakeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
