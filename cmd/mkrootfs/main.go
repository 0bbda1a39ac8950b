// Command mkrootfs builds bootable root file systems for User-Mode Linux without root
// privileges. See mkrootfs(1).
package main

import (
	"os"

	"github.com/gouml/gouml/lib/rootfs"
)

func main() {
	os.Exit(rootfs.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
