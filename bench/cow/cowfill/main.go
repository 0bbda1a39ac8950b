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
	h, err := cow.ReadHeader(path)
	if err != nil {
		return err
	}
	l, err := h.Layout()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const chunk = 64 << 10
	bitmap := make([]byte, l.BitmapLen)
	data := make([]byte, chunk)
	for off := int64(0); off+chunk <= int64(h.Size); off += 2 * chunk {
		for i := range data {
			data[i] = byte(off>>16) ^ byte(i) ^ 0x5a
		}
		if _, err := f.WriteAt(data, l.DataOffset+off); err != nil {
			return err
		}
		for s := off / 512; s < (off+chunk)/512; s++ {
			bitmap[s/8] |= 1 << (s % 8)
		}
	}
	_, err = f.WriteAt(bitmap, l.BitmapOffset)
	return err
}
