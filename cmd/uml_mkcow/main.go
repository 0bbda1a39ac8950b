// Command uml_mkcow creates a UML copy-on-write file over a backing file.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/cowcli"
)

func main() { os.Exit(cowcli.Mkcow(os.Args, os.Stderr)) }
