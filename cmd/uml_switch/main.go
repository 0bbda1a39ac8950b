// Command uml_switch is a virtual Ethernet switch for User-Mode Linux guests; see
// uml_switch(1) and package vswitch.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/vswitch"
)

func main() {
	os.Exit(vswitch.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
