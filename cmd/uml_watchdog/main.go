// Command uml_watchdog is the host side of a User-Mode Linux guest's /dev/watchdog (the
// kernel's harddog driver); see uml_watchdog(1) and package watchdog.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/watchdog"
)

func main() {
	os.Exit(watchdog.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
