// Command linux is gouml's User-Mode Linux kernel: it boots a guest userland as an ordinary
// host process. See linux(1).
package main

import (
	"os"
	"runtime"

	"github.com/gouml/gouml/lib/kernel"
)

func main() {
	if kernel.IsStub() {
		kernel.StubMain() // the guest's init launcher: never returns
	}
	os.Exit(kernel.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func init() {
	// The launcher installs its seccomp filter on the thread that will call execve; keep the
	// main goroutine on the main thread so that thread is the one the kernel attaches to.
	runtime.LockOSThread()
}
