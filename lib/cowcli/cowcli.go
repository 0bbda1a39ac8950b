// Package cowcli holds the command lines of uml_mkcow and uml_moo, compatible with the
// real uml-utilities programs: the same argument orders (including their positional quirks),
// usage texts and exit codes.
package cowcli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gouml/gouml/lib/cow"
	"golang.org/x/sys/unix"
)

const mkcowUsage = "%[1]s usage: \n" +
	"\t%[1]s [-f] <COW file> <backing file>\n" +
	"\t-f forces overwrite of an existing COW file\n"

// Mkcow runs uml_mkcow with argv (argv[0] is the program name, used in the usage text as the
// real tool does) and returns its exit status: 2 for a usage error, 1 for a failure, 0 on
// success — as the real tool.
func Mkcow(argv []string, stderr io.Writer) int {
	prog, args := progArgs(argv, "uml_mkcow")
	force := false
	if len(args) > 0 && args[0] == "-f" {
		force = true
		args = args[1:]
	}
	if len(args) < 2 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stderr, mkcowUsage, prog)
		return 2
	}
	if len(args) > 2 {
		// The real tool ignores them silently; a warning costs nothing.
		fmt.Fprintf(stderr, "uml_mkcow: ignoring extra arguments: %s\n", strings.Join(args[2:], " "))
	}
	if refuseDash(stderr, "uml_mkcow", map[string]string{"COW file": args[0], "backing file": args[1]}) {
		return 1
	}
	if _, err := cow.Create(args[0], args[1], force); err != nil {
		fmt.Fprintf(stderr, "uml_mkcow: %v\n", err)
		return 1
	}
	return 0
}

const mooUsage = `%[1]s usage:
	%[1]s [ -b <actual backing file> ] <COW file> <new backing file>
	%[1]s [ -b <actual backing file> ] -d <COW file>
Creates a new filesystem image from the COW file and its backing file.
Specifying -d will cause a destructive, in-place merge of the COW file into
its current backing file
Specifying -b overrides the backing_file specified in the COW file.  This is
needed when dealing with a COW file that was created inside a chroot jail.
%[1]s supports version 1,2 and 3 COW files.
`

// Moo runs uml_moo with argv (argv[0] is the program name) and returns its exit status (1
// for usage errors and failures, 0 on success, as the real tool). Progress is drawn on stderr
// when it is a terminal.
func Moo(argv []string, stderr *os.File) int {
	prog, args := progArgs(argv, "uml_moo")
	var inPlace bool
	var backing string
	// The real tool checks -d first and then -b; we also take the documented order -b X -d.
	for len(args) > 0 {
		if args[0] == "-d" && !inPlace {
			inPlace = true
			args = args[1:]
		} else if args[0] == "-b" && backing == "" && len(args) > 1 {
			backing = args[1]
			args = args[2:]
		} else {
			break
		}
	}
	want := 2
	if inPlace {
		want = 1
	}
	if len(args) != want || args[0] == "-h" || args[0] == "--help" || args[0] == "-b" {
		fmt.Fprintf(stderr, mooUsage, prog)
		return 1
	}
	cowPath := args[0]
	named := map[string]string{"COW file": cowPath, "backing file": backing}
	if !inPlace {
		named["new image"] = args[1]
	}
	if refuseDash(stderr, "uml_moo", named) {
		return 1
	}
	if h, err := cow.ReadHeader(cowPath); err == nil && h.Broken64 {
		fmt.Fprintln(stderr, "uml_moo: read_cow_header - broken V3 file with 64-bit layout - recovering content.")
	}
	p := newProgress(stderr, cowPath)
	if inPlace {
		resumed, err := cow.MergeInPlace(cowPath, cow.OpenOptions{Backing: backing}, p.update)
		p.done()
		if resumed {
			fmt.Fprintf(stderr, "uml_moo: resumed an interrupted in-place merge of %q\n", cowPath)
		}
		if err != nil {
			fmt.Fprintf(stderr, "uml_moo: %v\n", err)
			return 1
		}
		return 0
	}
	f, err := cow.Open(cowPath, cow.OpenOptions{Backing: backing})
	if err != nil {
		fmt.Fprintf(stderr, "uml_moo: %v\n", err)
		return 1
	}
	defer f.Close()
	err = f.MergeTo(args[1], p.update)
	p.done()
	if err != nil {
		fmt.Fprintf(stderr, "uml_moo: %v\n", err)
		return 1
	}
	return 0
}

// refuseDash refuses "-" as any of the named files, with one line naming why: the Unix
// habit of "-" for standard input or output cannot work for COW files, backing files and
// merged images, which are read and written at offsets (the header, the bitmap, then
// sectors anywhere), and the real tools would quietly take "-" as a file name in the
// current directory. A file of that name is still reachable as ./-.
func refuseDash(stderr io.Writer, prog string, named map[string]string) bool {
	for _, what := range []string{"COW file", "backing file", "new image"} {
		if named[what] == "-" {
			fmt.Fprintf(stderr, "%s: the %s cannot be '-' (standard input or output): COW files and images are read and written at offsets, which a pipe cannot do; name a file (./- for one called '-')\n", prog, what)
			return true
		}
	}
	return false
}

// progress draws one self-overwriting line on a terminal, at most ten times a second.
type progress struct {
	w     *os.File
	name  string
	last  time.Time
	drawn bool
}

func newProgress(w *os.File, name string) *progress {
	if w == nil {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(w.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	return &progress{w: w, name: name}
}

func (p *progress) update(done, total int64) {
	if p == nil || time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	pct := 100.0
	if total > 0 {
		pct = float64(done) * 100 / float64(total)
	}
	fmt.Fprintf(p.w, "\ruml_moo: merging %s: %5.1f%% (%.1f of %.1f MiB)", p.name, pct, float64(done)/(1<<20), float64(total)/(1<<20))
	p.drawn = true
}

func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func progArgs(argv []string, def string) (string, []string) {
	if len(argv) == 0 {
		return def, nil
	}
	return argv[0], argv[1:]
}
