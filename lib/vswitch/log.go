package vswitch

import (
	"bufio"
	"fmt"
	"io"
	"sync"
	"time"
)

// Log carries the switch's messages: the real switch's progress lines go to out (buffered,
// flushed at least every FlushInterval and on Flush, so a per-frame message costs no system
// call and still shows up promptly even when out is not a terminal), errors to errw at once.
type Log struct {
	Prog string

	mu   sync.Mutex
	out  *bufio.Writer
	errw io.Writer
	stop chan struct{}
	once sync.Once
}

// FlushInterval bounds how long a progress message stays buffered.
const FlushInterval = 100 * time.Millisecond

// NewLog starts a log; Close stops its flusher.
func NewLog(prog string, out, errw io.Writer) *Log {
	l := &Log{Prog: prog, out: bufio.NewWriterSize(out, 64<<10), errw: errw, stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.Flush()
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

// Printf writes a progress message.
func (l *Log) Printf(format string, a ...any) {
	l.mu.Lock()
	fmt.Fprintf(l.out, format, a...)
	l.mu.Unlock()
}

// Errorf writes an error message prefixed with the program name.
func (l *Log) Errorf(format string, a ...any) {
	l.Flush()
	l.mu.Lock()
	fmt.Fprintf(l.errw, l.Prog+": "+format, a...)
	l.mu.Unlock()
}

// Rawf writes to the error stream without a prefix (messages the real switch prints so).
func (l *Log) Rawf(format string, a ...any) {
	l.Flush()
	l.mu.Lock()
	fmt.Fprintf(l.errw, format, a...)
	l.mu.Unlock()
}

// Flush writes out buffered progress messages.
func (l *Log) Flush() {
	l.mu.Lock()
	_ = l.out.Flush()
	l.mu.Unlock()
}

// Close flushes and stops the periodic flusher.
func (l *Log) Close() {
	l.once.Do(func() { close(l.stop) })
	l.Flush()
}
