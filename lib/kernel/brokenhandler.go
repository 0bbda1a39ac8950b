//go:build gouml_brokenhandler

package kernel

import (
	"strings"

	"golang.org/x/sys/unix"
)

// A deliberately broken handler, for TestKernelConfined only: acct(2) opens its argument
// ("r:PATH" or "w:PATH") as a host path, as a confused-deputy bug in a handler would. The
// kernel's Landlock rules must stop it at every host file the kernel does not serve.
func init() {
	byNr[unix.SYS_ACCT] = &Syscall{Nr: unix.SYS_ACCT, Disp: Notify, Handler: func(c *Call) result {
		req, err := c.Str(0)
		if err != nil {
			return fail(err)
		}
		flags := unix.O_RDONLY
		if strings.HasPrefix(req, "w:") {
			flags = unix.O_WRONLY
		}
		fd, err := unix.Open(req[2:], flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fail(err)
		}
		return newFD(fd, true)
	}}
}
