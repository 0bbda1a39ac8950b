package ubd

import (
	"fmt"
	"io"
	"sort"

	"golang.org/x/sys/unix"
)

// Partition is a partition of a Device (ubda1..ubda15): an offset-and-size window on it.
type Partition struct {
	dev    *Device
	Number int
	Start  int64 // bytes from the start of the disk
	Length int64 // bytes
	Entry  PartEntry
}

// Partitions returns the device's partitions, reading the table the first time. A table
// that could not be read gives none; PartitionError says why.
func (d *Device) Partitions() []*Partition {
	d.partMu.Lock()
	defer d.partMu.Unlock()
	if d.parts == nil && d.partOK == nil {
		d.scanLocked()
	}
	return d.parts
}

// PartitionError is why the partition table could not be used (nil: read, or none there).
func (d *Device) PartitionError() error {
	d.Partitions()
	d.partMu.Lock()
	defer d.partMu.Unlock()
	return d.partOK
}

// RereadPartitions reads the partition table again (BLKRRPART).
func (d *Device) RereadPartitions() error {
	d.partMu.Lock()
	defer d.partMu.Unlock()
	d.scanLocked()
	return d.partOK
}

func (d *Device) scanLocked() {
	ents, err := ParseTable(d, d.Size())
	d.partOK = err
	d.parts = []*Partition{}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Number < ents[j].Number })
	for _, e := range ents {
		d.parts = append(d.parts, &Partition{dev: d, Number: e.Number, Start: e.Start * SectorSize, Length: e.Length * SectorSize, Entry: e})
	}
}

// Partition returns partition n (1..15), or nil.
func (d *Device) Partition(n int) *Partition {
	for _, p := range d.Partitions() {
		if p.Number == n {
			return p
		}
	}
	return nil
}

// Device returns the disk the partition belongs to.
func (p *Partition) Device() *Device { return p.dev }

// Name is the guest name, e.g. ubda1.
func (p *Partition) Name() string { return fmt.Sprintf("%s%d", p.dev.Name, p.Number) }

// Minor is the partition's minor number (unit*16 + number).
func (p *Partition) Minor() int { return p.dev.Unit*16 + p.Number }

// Size is the partition's size in bytes.
func (p *Partition) Size() int64 { return p.Length }

// ReadOnly is the disk's read-only state.
func (p *Partition) ReadOnly() bool { return p.dev.ReadOnly() }

// Sync syncs the whole disk.
func (p *Partition) Sync() error { return p.dev.Sync() }

// ReadAt reads within the partition.
func (p *Partition) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fail(unix.EINVAL, "%s: negative offset %d", p.Name(), off)
	}
	if off >= p.Length {
		return 0, io.EOF
	}
	var eof error
	if int64(len(b)) > p.Length-off {
		b, eof = b[:p.Length-off], io.EOF
	}
	n, err := p.dev.ReadAt(b, p.Start+off)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	if err == nil {
		err = eof
	}
	return n, err
}

// WriteAt writes within the partition.
func (p *Partition) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 || off > p.Length || int64(len(b)) > p.Length-off {
		return 0, fail(unix.ENOSPC, "%s: write of %d bytes at %d is beyond the end of the partition (%d bytes)", p.Name(), len(b), off, p.Length)
	}
	return p.dev.WriteAt(b, p.Start+off)
}

// Discard discards a range of the partition.
func (p *Partition) Discard(off, length int64) error {
	if off < 0 || length < 0 || off > p.Length || length > p.Length-off {
		return fail(unix.EINVAL, "%s: discard beyond the end of the partition", p.Name())
	}
	return p.dev.Discard(p.Start+off, length)
}
