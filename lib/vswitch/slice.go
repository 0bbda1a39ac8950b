package vswitch

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// schedAttr is struct sched_attr as of its first version (48 bytes).
type schedAttr struct {
	size                      uint32
	policy                    uint32
	flags                     uint64
	nice                      int32
	priority                  uint32
	runtime, deadline, period uint64
}

// shortSlice is the time slice asked for the threads that move frames: the least the
// host kernel takes (0.1 ms).
const shortSlice = 100_000

// ShortSlice asks the host's scheduler (EEVDF, Linux 6.12 and later) for a short time
// slice for the calling thread, which must be locked to its goroutine. A frame's way
// between two guests is a chain of wake-ups (relay, switch, relay, and back), and on a
// busy machine each waits for the running task's slice to end; a thread with a shorter
// slice gets an earlier deadline and preempts it at once. Its share of the CPU is the same
// (the weight, that is the nice value, is kept), and it needs no privilege. Older kernels
// refuse or ignore it: nothing changes then.
func ShortSlice() {
	var a schedAttr
	_, _, e := unix.RawSyscall6(unix.SYS_SCHED_GETATTR, 0, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a), 0, 0, 0)
	if e != 0 || a.policy != unix.SCHED_NORMAL {
		return
	}
	a.size, a.flags, a.runtime = uint32(unsafe.Sizeof(a)), 0, shortSlice
	unix.RawSyscall(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&a)), 0)
}
