package ubd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// Partition tables are read the way Linux 6.1 reads them for a disk with 16 minors
// (block/partitions/efi.c, then msdos.c): GPT first, MBR (with extended/logical partitions)
// otherwise; at most 15 partitions; a partition starting beyond the disk is dropped and one
// extending beyond it is cut at the end. Where Linux silently finds no partitions in a damaged
// table, ParseTable returns an error saying what is wrong (the disk then has no partitions,
// as in Linux). All reads are bounded by the disk size, and every loop by a count, so hostile
// tables cannot make the parser allocate much, loop or panic.

// PartEntry is one partition found in a table; positions are in 512-byte sectors.
type PartEntry struct {
	Number int    // 1..15 (logical MBR partitions start at 5)
	Start  int64  // first sector
	Length int64  // sectors
	Type   string // MBR: "0x83"; GPT: the partition type GUID
	Name   string // GPT partition name ("" for MBR)
}

// MBR partition types that link to logical partitions.
func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

const (
	gptHeaderSize = 92
	gptEntrySize  = 128
	// gptMaxTable is the kernel's KMALLOC_MAX_SIZE limit on the entry array (x86-64).
	gptMaxTable   = 4 << 20
	mbrMaxLinks   = 100 // the kernel gives up after 100 links without a data partition
	mbrMagicOff   = 510
	mbrTableOff   = 0x1be
	typeGPTProtec = 0xee
)

// ParseTable reads the partition table of a disk of the given size in bytes (rounded down to
// whole sectors). No table: (nil, nil).
func ParseTable(r io.ReaderAt, size int64) ([]PartEntry, error) {
	sectors := size / SectorSize
	if sectors < 1 {
		return nil, nil
	}
	mbr := make([]byte, SectorSize)
	if err := readFull(r, mbr, 0); err != nil {
		return nil, fmt.Errorf("reading sector 0: %w", err)
	}
	var parts []PartEntry
	var err error
	if pmbrValid(mbr) {
		parts, err = parseGPT(r, sectors)
	} else {
		parts, err = parseMBR(r, mbr, sectors)
	}
	if err != nil {
		return nil, err
	}
	return clip(parts, sectors), nil
}

// clip drops partitions starting beyond the disk and cuts those extending beyond it, as
// Linux's blk_add_partition does.
func clip(parts []PartEntry, sectors int64) []PartEntry {
	out := parts[:0]
	for _, p := range parts {
		if p.Start >= sectors || p.Length <= 0 {
			continue
		}
		if p.Length > sectors-p.Start {
			p.Length = sectors - p.Start
		}
		out = append(out, p)
	}
	return out
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func mbrMagic(b []byte) bool { return b[mbrMagicOff] == 0x55 && b[mbrMagicOff+1] == 0xaa }

type mbrEntry struct {
	boot, typ     byte
	start, length uint32
}

func mbrEntries(b []byte) [4]mbrEntry {
	var e [4]mbrEntry
	for i := range e {
		p := b[mbrTableOff+16*i:]
		e[i] = mbrEntry{boot: p[0], typ: p[4], start: binary.LittleEndian.Uint32(p[8:]), length: binary.LittleEndian.Uint32(p[12:])}
	}
	return e
}

// pmbrValid is Linux's is_pmbr_valid: a protective (or hybrid) MBR has a type 0xEE entry
// starting at LBA 1.
func pmbrValid(b []byte) bool {
	if !mbrMagic(b) {
		return false
	}
	for _, e := range mbrEntries(b) {
		if e.typ == typeGPTProtec && e.start == 1 {
			return true
		}
	}
	return false
}

// ParseMBR reads only an MBR (DOS) partition table; no table: (nil, nil).
func ParseMBR(r io.ReaderAt, size int64) ([]PartEntry, error) {
	sectors := size / SectorSize
	if sectors < 1 {
		return nil, nil
	}
	mbr := make([]byte, SectorSize)
	if err := readFull(r, mbr, 0); err != nil {
		return nil, fmt.Errorf("reading sector 0: %w", err)
	}
	parts, err := parseMBR(r, mbr, sectors)
	if err != nil {
		return nil, err
	}
	return clip(parts, sectors), nil
}

func parseMBR(r io.ReaderAt, mbr []byte, sectors int64) ([]PartEntry, error) {
	if !mbrMagic(mbr) {
		return nil, nil
	}
	ents := mbrEntries(mbr)
	for _, e := range ents {
		if e.boot != 0 && e.boot != 0x80 {
			// Probably the boot sector of a FAT file system without a table: Linux
			// finds no partitions, and that is not an error.
			return nil, nil
		}
	}
	for _, e := range ents {
		if e.typ == typeGPTProtec {
			return nil, errors.New("MBR has a GPT protective entry (type 0xee) that does not start at sector 1: no partitions")
		}
	}
	var parts []PartEntry
	next := 5
	for i, e := range ents {
		if e.length == 0 {
			continue
		}
		start, length := int64(e.start), int64(e.length)
		if isExtended(e.typ) {
			// Linux exposes the extended partition as 2 sectors (room for LILO, no mkfs).
			parts = append(parts, PartEntry{Number: i + 1, Start: start, Length: min(length, 2), Type: hexType(e.typ)})
			logical, err := parseExtended(r, start, length, sectors, &next)
			parts = append(parts, logical...)
			if err != nil {
				return parts, err
			}
			continue
		}
		parts = append(parts, PartEntry{Number: i + 1, Start: start, Length: length, Type: hexType(e.typ)})
	}
	return parts, nil
}

func hexType(t byte) string { return fmt.Sprintf("0x%02x", t) }

// parseExtended follows the chain of extended boot records like Linux's parse_extended:
// data partitions of each EBR first (entries 3 and 4 only if they lie inside the extended
// partition), then the first link; at most 15 partitions and 100 links without data.
func parseExtended(r io.ReaderAt, first, firstSize, sectors int64, next *int) ([]PartEntry, error) {
	var parts []PartEntry
	this, thisSize := first, firstSize
	buf := make([]byte, SectorSize)
	for loops := 0; ; {
		loops++
		if loops > mbrMaxLinks || *next > MaxPartitions {
			return parts, nil
		}
		if this >= sectors {
			return parts, nil // Linux cannot read the sector: the chain just ends
		}
		if err := readFull(r, buf, this*SectorSize); err != nil {
			return parts, fmt.Errorf("reading extended boot record at sector %d: %w", this, err)
		}
		if !mbrMagic(buf) {
			return parts, nil
		}
		ents := mbrEntries(buf)
		for i, e := range ents {
			if e.length == 0 || isExtended(e.typ) {
				continue
			}
			offs, size := int64(e.start), int64(e.length)
			nx := this + offs
			if i >= 2 && (offs+size > thisSize || nx < first || nx+size > first+firstSize) {
				continue // entries 3 and 4 often hold garbage
			}
			parts = append(parts, PartEntry{Number: *next, Start: nx, Length: size, Type: hexType(e.typ)})
			loops = 0
			*next++
			if *next > MaxPartitions {
				return parts, nil
			}
		}
		link := -1
		for i, e := range ents {
			if e.length != 0 && isExtended(e.typ) {
				link = i
				break
			}
		}
		if link < 0 {
			return parts, nil
		}
		this, thisSize = first+int64(ents[link].start), int64(ents[link].length)
	}
}

// ParseGPT reads only a GPT (behind a protective MBR); no GPT: (nil, nil).
func ParseGPT(r io.ReaderAt, size int64) ([]PartEntry, error) {
	sectors := size / SectorSize
	if sectors < 1 {
		return nil, nil
	}
	mbr := make([]byte, SectorSize)
	if err := readFull(r, mbr, 0); err != nil {
		return nil, fmt.Errorf("reading sector 0: %w", err)
	}
	if !pmbrValid(mbr) {
		return nil, nil
	}
	parts, err := parseGPT(r, sectors)
	if err != nil {
		return nil, err
	}
	return clip(parts, sectors), nil
}

// parseGPT checks the primary GPT header and entry array as Linux's is_gpt_valid does
// (Linux reads the backup only to compare it, unless booted with "gpt").
func parseGPT(r io.ReaderAt, sectors int64) ([]PartEntry, error) {
	last := uint64(sectors - 1)
	if sectors < 2 {
		return nil, errors.New("GPT: disk too small for a GPT header")
	}
	h := make([]byte, SectorSize)
	if err := readFull(r, h, SectorSize); err != nil {
		return nil, fmt.Errorf("GPT: reading the header: %w", err)
	}
	le := binary.LittleEndian
	if !bytes.Equal(h[:8], []byte("EFI PART")) {
		return nil, errors.New("GPT: protective MBR but no \"EFI PART\" header at sector 1")
	}
	hsize := le.Uint32(h[12:])
	if hsize < gptHeaderSize || hsize > SectorSize {
		return nil, fmt.Errorf("GPT: header size %d outside %d..%d", hsize, gptHeaderSize, SectorSize)
	}
	want := le.Uint32(h[16:])
	hc := bytes.Clone(h[:hsize])
	clear(hc[16:20])
	if got := crc32.ChecksumIEEE(hc); got != want {
		return nil, fmt.Errorf("GPT: header CRC is %#08x, header says %#08x", got, want)
	}
	if my := le.Uint64(h[24:]); my != 1 {
		return nil, fmt.Errorf("GPT: primary header says it lives at LBA %d, not 1", my)
	}
	firstUsable, lastUsable := le.Uint64(h[40:]), le.Uint64(h[48:])
	if firstUsable > last || lastUsable > last || lastUsable < firstUsable {
		return nil, fmt.Errorf("GPT: usable LBAs %d..%d do not fit the disk (last LBA %d)", firstUsable, lastUsable, last)
	}
	if es := le.Uint32(h[84:]); es != gptEntrySize {
		return nil, fmt.Errorf("GPT: partition entry size %d, not %d", es, gptEntrySize)
	}
	count := uint64(le.Uint32(h[80:]))
	tableLBA := le.Uint64(h[72:])
	tsize := count * gptEntrySize
	if tsize > gptMaxTable {
		return nil, fmt.Errorf("GPT: %d partition entries (%d bytes) is more than the %d bytes Linux accepts", count, tsize, gptMaxTable)
	}
	if tableLBA > last || tsize > (uint64(sectors)-tableLBA)*SectorSize {
		return nil, fmt.Errorf("GPT: partition entries at LBA %d (%d bytes) run past the end of the disk", tableLBA, tsize)
	}
	table := make([]byte, tsize)
	if err := readFull(r, table, int64(tableLBA)*SectorSize); err != nil {
		return nil, fmt.Errorf("GPT: reading the partition entries: %w", err)
	}
	if got, want := crc32.ChecksumIEEE(table), le.Uint32(h[88:]); got != want {
		return nil, fmt.Errorf("GPT: partition entry array CRC is %#08x, header says %#08x", got, want)
	}
	var parts []PartEntry
	for i := uint64(0); i < count && i < MaxPartitions; i++ {
		e := table[i*gptEntrySize : (i+1)*gptEntrySize]
		start, end := le.Uint64(e[32:]), le.Uint64(e[40:])
		if bytes.Equal(e[:16], make([]byte, 16)) || start > last || end > last || end < start {
			continue
		}
		parts = append(parts, PartEntry{Number: int(i) + 1, Start: int64(start), Length: int64(end - start + 1),
			Type: guidString(e[:16]), Name: utf16Name(e[56:128])})
	}
	return parts, nil
}

// guidString formats a GUID in its mixed-endian text form.
func guidString(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
