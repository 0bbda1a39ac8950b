// Command cowfill marks every other 64 KiB chunk of a COW file's device as written, with data
// unlike the backing file's: the workload of the uml_moo benchmark.
package main

import (
	"fmt"
	"os"

	"github.com/gouml/gouml/lib/cow"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cowfill COWFILE")
		os.Exit(2)
	}
	if err := fill(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cowfill:", err)
		os.Exit(1)
	}
}

func fill(path string) error {
	f, err := cow.Open(path, cow.OpenOptions{Writable: true})
	if err != nil {
		return err
	}
	defer f.Close()
	const chunk = 64 << 10
	data := make([]byte, chunk)
	for off := int64(0); off+chunk <= int64(f.Header.Size); off += 2 * chunk {
		for i := range data {
			data[i] = byte(off>>16) ^ byte(i) ^ 0x5a
		}
		if err := f.WriteSectors(off/cow.SectorSize, data); err != nil {
			return err
		}
	}
	return nil
}
