package kernel

import "github.com/gouml/gouml/lib/kernel/internal/guestmem"

// Guest memory and task figures come from internal/guestmem (mechanism only); these are
// the kernel's short names for them.

var errGone = guestmem.ErrGone

func readMem(tid int, addr uint64, buf []byte) error  { return guestmem.Read(tid, addr, buf) }
func writeMem(tid int, addr uint64, buf []byte) error { return guestmem.Write(tid, addr, buf) }
func writeU32s(tid int, addrs []uint64, vals []uint32) error {
	return guestmem.WriteU32s(tid, addrs, vals)
}
func readString(tid int, addr uint64, max int) (string, error) {
	return guestmem.ReadString(tid, addr, max)
}
func readPtrs(tid int, addr uint64, max int) ([]uint64, error) {
	return guestmem.ReadPtrs(tid, addr, max)
}
func writeMemForce(tid int, addr uint64, buf []byte) error {
	return guestmem.WriteForce(tid, addr, buf)
}
func procTgidPpid(tid int) (tgid, ppid int)      { return guestmem.TgidPpid(tid) }
func syscallSite(tid int) (guestmem.Site, error) { return guestmem.SyscallSite(tid) }
func procUmask(tid int) uint32                   { return guestmem.Umask(tid) }
