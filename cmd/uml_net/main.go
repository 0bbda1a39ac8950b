// Command uml_net is the helper the UML kernel runs to create and configure host tap devices
// (see man/uml_net.8). All logic is in lib/tap.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/tap"
)

func main() { os.Exit(tap.UmlNetMain(os.Args[1:], os.Stdout, os.Stderr)) }
