package kernel

import (
	"github.com/gouml/gouml/lib/kernel/internal/seccomp"
	"golang.org/x/sys/unix"
)

// The seccomp user-notification ABI comes from internal/seccomp (mechanism only); these are
// the kernel's short names for it.

type (
	seccompNotif     = seccomp.Notif
	seccompNotifResp = seccomp.NotifResp
)

const notifFlagContinue = seccomp.FlagContinue

func notifRecv(fd int, n *seccompNotif) error     { return seccomp.Recv(fd, n) }
func notifSend(fd int, r *seccompNotifResp) error { return seccomp.Send(fd, r) }
func notifAddfd(fd int, id uint64, srcfd int, cloexec bool) (int, error) {
	return seccomp.Addfd(fd, id, srcfd, cloexec)
}
func notifSetSyncWakeUp(fd int) error                   { return seccomp.SetSyncWakeUp(fd) }
func installFilter(prog []unix.SockFilter) (int, error) { return seccomp.Install(prog) }
