// Command port-helper hands a terminal to the User-Mode Linux kernel for its port: and
// xterm consoles; it is installed as /usr/lib/uml/port-helper. See port-helper(8) and
// package porthelper.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/porthelper"
)

func main() {
	os.Exit(porthelper.Main(os.Args, os.Stdout, os.Stderr))
}
