package kernel

import "github.com/gouml/gouml/lib/kernel/internal/shim"

// The shim (its code, generated from internal/shim/src/shim.S, its page layout and the ids
// page) is mechanism only and lives in internal/shim; these are the kernel's short names.

const (
	shimAddr           = shim.Addr
	shimCommOff        = shim.CommOff
	shimFirstNR        = shim.FirstNR
	shimG1RetOff       = shim.G1RetOff
	shimG2Off          = shim.G2Off
	shimG2RetOff       = shim.G2RetOff
	shimGuestSigsysOff = shim.GuestSigsysOff
	shimHandlerOff     = shim.HandlerOff
	shimNValues        = shim.NValues
	shimPage1Off       = shim.Page1Off
	shimPageSize       = shim.PageSize
	shimRestorerOff    = shim.RestorerOff
	shimSigactionOff   = shim.SigactionOff
	shimSigdflOff      = shim.SigdflOff
	shimSyscallOff     = shim.SyscallOff
	shimTrapData       = shim.TrapData
	shimValuesOff      = shim.ValuesOff
)

var shimCode = shim.Code

func shimPage0() []byte { return shim.Page0() }
func shimPage1(uid, euid, gid, egid uint32, sd shim.StatData) []byte {
	return shim.Page1(uid, euid, gid, egid, sd)
}
func shimValues(uid, euid, gid, egid uint32) []byte { return shim.Values(uid, euid, gid, egid) }
