// Command tunctl creates and deletes persistent tap devices (see man/tunctl.8). All logic is
// in lib/tunctl.
package main

import (
	"os"

	"github.com/gouml/gouml/lib/tunctl"
)

func main() { os.Exit(tunctl.Main(os.Args, os.Stdout, os.Stderr)) }
