// Command tunctl creates and deletes persistent tap devices (see man/tunctl.8). All logic is
// in lib/tap.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/tap"
)

func main() { os.Exit(tap.TunctlMain(os.Args, os.Stdout, os.Stderr)) }
