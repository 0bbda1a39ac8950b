package kernel

import (
	"sync"

	"github.com/gouml/gouml/lib/kernel/internal/shim"
)

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
	shimTokenLen       = shim.TokenLen
	shimTokenOff       = shim.TokenOff
	shimTrapData       = shim.TrapData
	shimValuesOff      = shim.ValuesOff
)

var shimCode = shim.Code

// shimPage0 is page 0 as the kernel maps it: the shim's, with the ratchet (ratchet.go).
func shimPage0() []byte { return append([]byte(nil), page0()...) }

var page0 = sync.OnceValue(func() []byte {
	p := shim.Page0()
	ratchetPage0(p)
	return p
})

func shimPage1(uid, euid, gid, egid uint32, sd shim.StatData) []byte {
	return shim.Page1(uid, euid, gid, egid, sd)
}
func shimValues(uid, euid, gid, egid uint32) []byte { return shim.Values(uid, euid, gid, egid) }
