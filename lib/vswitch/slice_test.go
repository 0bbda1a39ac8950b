package vswitch

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShortSlice: the thread gets the 0.1 ms slice and keeps its nice value (a lower one
// would need a privilege; a different one would change its share of the CPU).
func TestShortSlice(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread ends with the goroutine, attributes and all
		tid := unix.Gettid()
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, 7); err != nil {
			t.Errorf("setpriority: %v", err)
			return
		}
		ShortSlice()
		nice, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil || 20-nice != 7 { // the raw call returns 20 - nice
			t.Errorf("nice after ShortSlice: %d (%v), want 7", 20-nice, err)
		}
		b, err := os.ReadFile("/proc/thread-self/sched")
		if err != nil {
			t.Logf("no /proc/thread-self/sched (%v): the slice is not shown", err)
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "se.slice" {
				if f[2] != "100000" {
					t.Errorf("se.slice %s, want 100000", f[2])
				}
				return
			}
		}
		t.Log("the kernel shows no se.slice (before Linux 6.12: no custom slices)")
	}()
	<-done
}
