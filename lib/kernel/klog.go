package kernel

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel log: what dmesg and klogctl(2) read (syslog(2)). It holds the machine's boot
// messages and what the kernel reports later (mounts that fail, hostfs refusals, mconsole
// log lines), in Linux's record format, "<level>[seconds.micros] text".

// klogSize is the log buffer's size (CONFIG_LOG_BUF_SHIFT=14 on the real UML: 16 KiB).
const klogSize = 16 << 10

// klog is the ring of the machine's kernel messages.
type klog struct {
	mu     sync.Mutex
	buf    []byte // the records, oldest first, at most klogSize bytes
	unread int    // bytes at the end not yet read by SYSLOG_ACTION_READ
	start  time.Time
	// the same records for /dev/kmsg (kmsg.go): numbered, and a channel closed (and
	// replaced) at every new one for the readers that wait
	recs  []kmsgRec
	seq   uint64 // the next record's number
	fresh chan struct{}
}

// add appends one record at level (0-7; 6 = info; with a facility, facility<<3 | level).
func (l *klog) add(level int, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() {
		l.start = time.Now()
	}
	d := time.Since(l.start)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		rec := fmt.Sprintf("<%d>[%5d.%06d] %s\n", level, int64(d/time.Second), int64(d%time.Second/time.Microsecond), line)
		l.buf = append(l.buf, rec...)
		l.unread += len(rec)
		l.recs = append(l.recs, kmsgRec{seq: l.seq, prefix: level, usec: int64(d / time.Microsecond), text: line})
		l.seq++
	}
	if len(l.recs) > kmsgMax {
		l.recs = append([]kmsgRec(nil), l.recs[len(l.recs)-kmsgMax:]...)
	}
	if l.fresh != nil {
		close(l.fresh)
		l.fresh = nil
	}
	if over := len(l.buf) - klogSize; over > 0 {
		// drop whole records from the front, as the ring overwrites its oldest
		cut := over
		if i := strings.IndexByte(string(l.buf[cut:]), '\n'); i >= 0 {
			cut += i + 1
		}
		l.buf = append([]byte(nil), l.buf[min(cut, len(l.buf)):]...)
		l.unread = min(l.unread, len(l.buf))
	}
}

// syslog actions (SYSLOG_ACTION_*).
const (
	syslogClose = iota
	syslogOpen
	syslogRead
	syslogReadAll
	syslogReadClear
	syslogClear
	syslogConsoleOff
	syslogConsoleOn
	syslogConsoleLevel
	syslogSizeUnread
	syslogSizeBuffer
)

// sysSyslog is syslog(2): the kernel log for dmesg, and klogctl's console switches (which
// change nothing here: kernel messages go to standard error, not the guest's console). As
// on Linux with dmesg_restrict, only guest root may read or clear it.
func sysSyslog(c *Call) result {
	action, buf, n := int(c.Arg(0)), c.Arg(1), int(c.Int(2))
	switch action {
	case syslogClose, syslogOpen:
		return ok(0)
	}
	c.k.mu.Lock()
	root := c.cred().EUID == 0
	c.k.mu.Unlock()
	if !root {
		return errno(unix.EPERM)
	}
	l := &c.k.log
	switch action {
	case syslogRead, syslogReadAll, syslogReadClear:
		c.k.drainKmsg() // what was written to /dev/kmsg before
		if buf == 0 || n < 0 {
			return errno(unix.EINVAL)
		}
		l.mu.Lock()
		var out []byte
		switch action {
		case syslogRead:
			// what was not read yet (Linux would wait for a message: here the log
			// only grows by the kernel's own reports, so an empty read returns 0)
			out = l.buf[len(l.buf)-l.unread:]
			out = out[:min(len(out), n)]
			l.unread -= len(out)
		default:
			out = l.buf[len(l.buf)-min(len(l.buf), n):]
		}
		out = append([]byte(nil), out...)
		if action == syslogReadClear {
			l.buf, l.unread = nil, 0
		}
		l.mu.Unlock()
		if err := c.Write(buf, out); err != nil {
			return fail(err)
		}
		return ok(int64(len(out)))
	case syslogClear:
		l.mu.Lock()
		l.buf, l.unread = nil, 0
		l.mu.Unlock()
		return ok(0)
	case syslogConsoleOff, syslogConsoleOn:
		return ok(0)
	case syslogConsoleLevel:
		if n < 1 || n > 8 {
			return errno(unix.EINVAL)
		}
		return ok(0)
	case syslogSizeUnread:
		l.mu.Lock()
		defer l.mu.Unlock()
		return ok(int64(l.unread))
	case syslogSizeBuffer:
		return ok(klogSize)
	}
	return errno(unix.EINVAL)
}
