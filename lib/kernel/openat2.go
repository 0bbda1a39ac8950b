package kernel

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// openat2 is unix.Openat2 that retries the EAGAIN of a scoped resolution. With
// RESOLVE_IN_ROOT or RESOLVE_BENEATH the host refuses a walk through ".." (of the path, or
// of a symlink's target such as /sys/block/X's "../devices/…") when any rename or mount
// happened anywhere on the host while it walked — it cannot then be sure ".." stayed
// inside. On a busy host (parallel builds, containers starting) that happens often, and a
// guest must never see it: Linux's own lookups retry such a race themselves. The bound
// (about half a second of backing off) only keeps a real EAGAIN — an O_NONBLOCK open of a
// file under a lease — from spinning forever.
//
// A path inside a root of PATH_MAX bytes or more, which the host refuses, is walked instead
// (longpath.go).
func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	if len(path) >= unix.PathMax && how.Resolve&(unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_XDEV) == unix.RESOLVE_IN_ROOT {
		return openLong(dirfd, path, how)
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, path, how)
		if err != unix.EAGAIN || how.Resolve&(unix.RESOLVE_IN_ROOT|unix.RESOLVE_BENEATH) == 0 || i >= 1000 {
			return fd, err
		}
		if i < 8 {
			runtime.Gosched()
		} else {
			time.Sleep(time.Duration(i) * time.Microsecond)
		}
	}
}
