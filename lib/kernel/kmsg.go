package kernel

import (
	"bytes"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// /dev/kmsg: the kernel log as dmesg -w, systemd-journald and logger read and write it.
// Every open gets a SOCK_SEQPACKET socket whose other end a goroutine of the kernel serves,
// so the guest's fd is a real host fd (reads and poll run natively, and block as Linux's
// do) and each read returns one record, "PREFIX,SEQ,MICROSECONDS,-;TEXT\n", from the oldest
// the log holds on, then each new one as it comes. Each write is one message appended to
// the log, at the "<N>" prefix's level (default 4: warning) and the user facility when
// none is given, as Linux's devkmsg_write does.
//
// Known limits: lseek fails with ESPIPE (Linux's SEEK_END and SEEK_DATA skip what was
// logged before the open), and fstat of an open /dev/kmsg shows a socket (stat of the
// path shows the character device 1:11).

// kmsgMax bounds the records kept for /dev/kmsg (the syslog(2) ring is bounded in bytes).
const kmsgMax = 1024

// kmsgRec is one record of the log.
type kmsgRec struct {
	seq    uint64
	prefix int // facility<<3 | level
	usec   int64
	text   string
}

// format is the record as a /dev/kmsg read returns it.
func (r kmsgRec) format() []byte {
	b := strconv.AppendInt(nil, int64(r.prefix), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.seq, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.usec, 10)
	b = append(b, ",-;"...)
	for i := 0; i < len(r.text); i++ {
		if c := r.text[i]; c < ' ' || c == 0x7f || c == '\\' {
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		} else {
			b = append(b, c)
		}
	}
	return append(b, '\n')
}

// next returns the first record numbered seq or later (ok false: none yet) and a channel
// closed when the log grows.
func (l *klog) next(seq uint64) (kmsgRec, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.seq >= seq {
			return r, true, nil
		}
	}
	if l.fresh == nil {
		l.fresh = make(chan struct{})
	}
	return kmsgRec{}, false, l.fresh
}

// kmsgMaxWrite is the longest message a write may log (Linux: LOG_LINE_MAX, 1024 - 32).
const kmsgMaxWrite = 976

// parseKmsgWrite turns what the guest wrote into a prefix and text: "<N>" gives the level
// and facility (a kernel facility becomes the user's, as on Linux), else level 4, user.
func parseKmsgWrite(b []byte) (int, string) {
	prefix := 1<<3 | 4
	if len(b) > 2 && b[0] == '<' {
		if i := bytes.IndexByte(b[:min(len(b), 6)], '>'); i > 1 {
			if n, err := strconv.Atoi(string(b[1:i])); err == nil && n >= 0 && n < 1024 {
				prefix = n
				if prefix>>3 == 0 {
					prefix |= 1 << 3
				}
				b = b[i+1:]
			}
		}
	}
	return prefix, string(bytes.TrimRight(b, "\n"))
}

// openKmsg opens /dev/kmsg for the guest (flags: its open flags).
func openKmsg(k *Kernel, c *Call, flags int) (int, error) {
	k.drainKmsg()
	if flags&unix.O_PATH != 0 {
		// stat and lstat: the node, as devtmpfs has it (special.go: devNodes)
		if fd, ok := k.devNodes().standIns["kmsg"]; ok {
			return unix.Open(selfFD(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
		}
	}
	if flags&unix.O_ACCMODE != unix.O_WRONLY && c != nil {
		k.mu.Lock()
		root := c.cred().EUID == 0
		k.mu.Unlock()
		if !root {
			return -1, unix.EPERM // reading the log is root's (dmesg_restrict)
		}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	mine, theirs := fds[0], fds[1]
	if flags&unix.O_NONBLOCK != 0 {
		unix.SetNonblock(theirs, true)
	}
	closed := make(chan struct{})
	w := &kmsgWriter{fd: mine}
	k.kmsgWriters.Store(w, true)
	go func() {
		// the guest's writes, until every copy of its end is closed
		defer close(closed)
		defer k.kmsgWriters.Delete(w)
		for {
			pfd := []unix.PollFd{{Fd: int32(mine), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, -1); err != nil && err != unix.EINTR {
				return
			}
			if w.drain(&k.log) {
				return
			}
		}
	}()
	go func() {
		defer unix.Close(mine)
		if flags&unix.O_ACCMODE == unix.O_WRONLY {
			<-closed
			return
		}
		var seq uint64
		for {
			r, ok, fresh := k.log.next(seq)
			if !ok {
				select {
				case <-fresh:
					continue
				case <-closed:
					return
				}
			}
			seq = r.seq + 1
			if _, err := unix.Write(mine, r.format()); err != nil && err != unix.EINTR {
				<-closed // the guest closed its end (EPIPE): its writes were all read
				return
			}
		}
	}()
	return theirs, nil
}

// kmsgWriter is the kernel's end of one /dev/kmsg open, from which what the guest wrote is
// logged. A write is logged in the order the guest made it: what every open holds is
// logged before another /dev/kmsg is opened and before the log is read (drainKmsg), so
// that two programs writing one after the other are logged in that order, as Linux logs a
// write before it returns.
type kmsgWriter struct {
	mu   sync.Mutex
	fd   int
	done bool
}

// drain logs what the guest wrote and has not been logged yet; true once the guest closed
// its end.
func (w *kmsgWriter) drain(l *klog) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	var buf [8192]byte
	for !w.done {
		n, _, err := unix.Recvfrom(w.fd, buf[:], unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil || n == 0:
			w.done = true
		default:
			prefix, text := parseKmsgWrite(buf[:min(n, kmsgMaxWrite)])
			l.add(prefix, text)
		}
	}
	return true
}

// drainKmsg logs what every /dev/kmsg open holds.
func (k *Kernel) drainKmsg() {
	k.kmsgWriters.Range(func(w, _ any) bool {
		w.(*kmsgWriter).drain(&k.log)
		return true
	})
}
