// Command uml_moo merges a UML copy-on-write file with its backing file.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/cowcli"
)

func main() { os.Exit(cowcli.Moo(os.Args, os.Stderr)) }
