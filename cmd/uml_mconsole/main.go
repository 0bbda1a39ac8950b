// Command uml_mconsole controls a running UML through its management console socket; see
// uml_mconsole(1).
package main

import (
	"os"

	"github.com/gouml/gouml/lib/mconsole"
)

func main() {
	os.Exit(mconsole.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
