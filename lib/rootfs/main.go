// Package rootfs is mkrootfs: it builds a bootable root file system for User-Mode Linux as
// an ordinary user, from layered sources (u-root, host directories, tarballs, single files)
// into a host directory (for hostfs roots) or an ext2/ext4 image file (for ubd0=).
package rootfs

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/gouml/gouml/lib/rootfs/ext"
	"github.com/gouml/gouml/lib/rootfs/fstree"
	"github.com/gouml/gouml/lib/rootfs/uroot"
)

const prog = "mkrootfs"

// Config is one build.
type Config struct {
	Output       string // a path, or "-" for Stdout
	Format       string // "dir", "ext2", "ext4", "cpio", "tar"
	Size         int64
	Inodes       int64
	Reserved     float64
	Label        string
	Sources      []string
	Adds         []string // SRC:DEST
	Hostname     string
	RootPassword string
	RootHash     string // a crypt(3) hash for root, stored as given (--root-password-hash)
	Net          string
	DNS          string
	UML          bool
	NoJournal    bool
	URootCmds    []string
	URootUinit   string
	Force        bool
	Quiet        bool
	TempDir      string
	Now          time.Time
	Stdin        io.Reader // the source "-"
	Stdout       io.Writer // the output "-"
	Stderr       io.Writer
	progress     bool
	succeeded    bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

const usage = `Usage: mkrootfs -o OUTPUT [options] [SOURCE...]

Builds a root file system for User-Mode Linux without root privileges.
SOURCEs are layered in order; each is a directory, a tarball or a newc cpio archive
(plain, gzip, xz, zstd or bzip2), "-" for such an archive on standard input, or
"u-root" (u-root's core commands and init; needs go on PATH).
Without a SOURCE the default guest is built: u-root.

Options:
  -o, --output PATH        where to write (required); "-" is standard output
  -t, --format FMT         ext4 (default), ext2, dir (a directory for hostfs roots),
                           cpio (a newc initramfs for initrd=) or tar (an archive)
  -s, --size SIZE          image size (512M, 2G, bytes); default: content + headroom
      --inodes N           number of inodes in the image
  -m, --reserved PCT       blocks reserved for root, percent (default 0)
  -L, --label LABEL        volume label
  -a, --add SRC:DEST       add a host file or directory at guest path DEST (repeatable)
      --hostname NAME      /etc/hostname, and 127.0.1.1 in /etc/hosts (default: keep the
                           source's hostname, else "gouml")
      --root-password PW   set root's password (stored SHA-512 hashed in /etc/shadow)
      --root-password-hash HASH
                           root's password field in /etc/shadow as given: a crypt(3) hash,
                           e.g. from openssl passwd -6 (keeps the password off the command line)
      --net MODE           dhcp, or static:ADDR/PREFIX[,GATEWAY]: eth0 in /etc/network/interfaces
      --dns ADDR           nameserver in /etc/resolv.conf
      --uroot-commands L   comma-separated u-root commands or package globs (default: core)
      --uroot-uinit CMD    command u-root's init runs first (/bin/uinit)
      --no-journal         ext4 without a journal
      --no-uml             do not add fstab, inittab, device nodes, hostname
  -f, --force              replace an existing output directory
  -q, --quiet              no progress bar and no summary
      --tmpdir DIR         temporary files (default $TMPDIR)
  -h, --help               this help
`

// Main runs mkrootfs with args (without the program name) and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, err := parse(args, stdout, stderr)
	if err == nil && c != nil {
		err = checkStreams(c, stdin, stdout)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		fmt.Fprintf(stderr, "Try '%s --help' for more information.\n", prog)
		return 2
	}
	if c == nil {
		return 0
	}
	if f, ok := stderr.(*os.File); ok && !c.Quiet && term.IsTerminal(int(f.Fd())) {
		c.progress = true
	}
	sum, err := Build(c)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	if !c.Quiet {
		if c.Output == "-" {
			fmt.Fprintln(stderr, sum) // standard output holds the image
		} else {
			fmt.Fprintln(stdout, sum)
		}
	}
	return 0
}

// checkStreams refuses a terminal where an archive or image would be read or written (the
// bytes mean nothing to a person, and a terminal cannot end the input), and a second "-"
// source (standard input can be read once).
func checkStreams(c *Config, stdin io.Reader, stdout io.Writer) error {
	c.Stdin, c.Stdout = stdin, stdout
	dash := 0
	for _, s := range c.Sources {
		if s == "-" {
			dash++
		}
	}
	if dash > 1 {
		return errors.New("source - given more than once (standard input can be read only once)")
	}
	if f, ok := stdin.(*os.File); ok && dash > 0 && term.IsTerminal(int(f.Fd())) {
		return errors.New("source -: standard input is a terminal; pipe a tar or cpio archive into it")
	}
	if f, ok := stdout.(*os.File); ok && c.Output == "-" && term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("-o -: standard output is a terminal; redirect it to a file or a pipe for the %s output", c.Format)
	}
	return nil
}

func parse(args []string, stdout, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &Config{Stderr: stderr, UML: true}
	var size, uc string
	var adds multiFlag
	var noUML, help bool
	for _, n := range []string{"o", "output"} {
		fs.StringVar(&c.Output, n, "", "")
	}
	for _, n := range []string{"t", "format"} {
		fs.StringVar(&c.Format, n, "ext4", "")
	}
	for _, n := range []string{"s", "size"} {
		fs.StringVar(&size, n, "", "")
	}
	fs.Int64Var(&c.Inodes, "inodes", 0, "")
	for _, n := range []string{"m", "reserved"} {
		fs.Float64Var(&c.Reserved, n, 0, "")
	}
	for _, n := range []string{"L", "label"} {
		fs.StringVar(&c.Label, n, "", "")
	}
	for _, n := range []string{"a", "add"} {
		fs.Var(&adds, n, "")
	}
	fs.StringVar(&c.Hostname, "hostname", "", "")
	fs.StringVar(&c.RootPassword, "root-password", "", "")
	fs.StringVar(&c.RootHash, "root-password-hash", "", "")
	fs.StringVar(&c.Net, "net", "", "")
	fs.StringVar(&c.DNS, "dns", "", "")
	fs.StringVar(&uc, "uroot-commands", "", "")
	fs.StringVar(&c.URootUinit, "uroot-uinit", "", "")
	fs.BoolVar(&noUML, "no-uml", false, "")
	fs.BoolVar(&c.NoJournal, "no-journal", false, "")
	for _, n := range []string{"f", "force"} {
		fs.BoolVar(&c.Force, n, false, "")
	}
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&c.Quiet, n, false, "")
	}
	fs.StringVar(&c.TempDir, "tmpdir", "", "")
	for _, n := range []string{"h", "help"} {
		fs.BoolVar(&help, n, false, "")
	}
	// Options may follow sources (mkrootfs dir -o img), as users type them.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if help {
		fmt.Fprint(stdout, usage)
		return nil, nil
	}
	c.Sources = rest
	c.Adds = adds
	c.UML = !noUML
	if uc != "" {
		c.URootCmds = strings.Split(uc, ",")
	}
	if c.Output == "" {
		return nil, errors.New("no output given (-o PATH)")
	}
	switch c.Format {
	case "ext4", "ext2", "dir", "cpio", "tar":
	default:
		return nil, fmt.Errorf("unknown format %q (ext4, ext2, dir, cpio or tar)", c.Format)
	}
	if c.Output == "-" && c.Format == "dir" {
		return nil, errors.New("-o - (standard output) takes an archive or an image: -t tar, cpio, ext4 or ext2")
	}
	if size != "" {
		n, err := ParseSize(size)
		if err != nil {
			return nil, err
		}
		if c.Format == "dir" || c.Format == "cpio" || c.Format == "tar" {
			return nil, errors.New("--size applies to ext2/ext4 images")
		}
		c.Size = n
	}
	if c.Reserved < 0 || c.Reserved > 50 {
		return nil, fmt.Errorf("reserved percentage %v out of range 0-50", c.Reserved)
	}
	if len(c.Label) > 16 {
		return nil, fmt.Errorf("label %q longer than 16 bytes", c.Label)
	}
	for _, a := range c.Adds {
		if i := strings.LastIndex(a, ":"); i <= 0 || i == len(a)-1 {
			return nil, fmt.Errorf("--add %q: want SRC:DEST", a)
		}
	}
	if c.RootPassword != "" && c.RootHash != "" {
		return nil, errors.New("--root-password and --root-password-hash both given: choose one")
	}
	if c.RootHash != "" {
		if err := checkCryptHash(c.RootHash); err != nil {
			return nil, fmt.Errorf("--root-password-hash: %v", err)
		}
	}
	if c.Net != "" && c.Net != "dhcp" && !strings.HasPrefix(c.Net, "static:") {
		return nil, fmt.Errorf("--net %q: want dhcp or static:ADDR/PREFIX[,GATEWAY]", c.Net)
	}
	return c, nil
}

// ParseSize reads 512M, 2G, 1.5G, 4096 (bytes); K, M, G, T are powers of 1024.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.TrimSuffix(strings.TrimSuffix(s, "B"), "i")
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1<<10, t[:n-1]
		case 'm', 'M':
			mult, t = 1<<20, t[:n-1]
		case 'g', 'G':
			mult, t = 1<<30, t[:n-1]
		case 't', 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<44 {
		return 0, fmt.Errorf("bad size %q (e.g. 512M, 2G)", s)
	}
	return int64(f * float64(mult)), nil
}

// Build runs one build and returns the summary line.
func Build(c *Config) (string, error) {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	warn := func(s string) { fmt.Fprintf(c.Stderr, "%s: warning: %s\n", prog, s) }
	if c.Output == "-" {
		if c.Stdout == nil {
			return "", errors.New("-o -: no standard output to write to")
		}
	} else {
		undo, err := c.checkOutput()
		if err != nil {
			return "", err
		}
		defer func() {
			if !c.succeeded {
				undo()
			}
		}()
	}
	t := fstree.New(c.Now)
	sp, err := NewSpool(c.TempDir)
	if err != nil {
		return "", fmt.Errorf("temporary file: %w", err)
	}
	defer sp.Close()
	sources := c.Sources
	if len(sources) == 0 {
		sources = []string{"u-root"}
	}
	for _, s := range sources {
		if err := c.importSource(t, s, "/", sp, warn); err != nil {
			return "", err
		}
	}
	for _, a := range c.Adds {
		i := strings.LastIndex(a, ":")
		src, dest := a[:i], a[i+1:]
		if err := c.addHost(t, src, dest, sp, warn); err != nil {
			return "", err
		}
	}
	if c.UML {
		if err := c.umlSetup(t); err != nil {
			return "", err
		}
		if !hasInit(t) {
			warn("the root has no /sbin/init: boot it with init=PROGRAM, or install an init " +
				"(a Debian tree: debootstrap or mmdebstrap --include=sysvinit-core)")
		}
	}
	sum, err := c.write(t, warn)
	c.succeeded = err == nil
	return sum, err
}

// checkOutput checks the output's directory before minutes are spent on the sources.
// It returns what removes the directories it made, for a build that fails.
func (c *Config) checkOutput() (undo func(), err error) {
	undo = func() {}
	outDir := filepath.Dir(filepath.Clean(c.Output))
	if _, err := os.Stat(outDir); isNotExist(err) {
		// mkrootfs -o build/rootfs.img in a fresh checkout: make build/, and take it away
		// again if the build fails.
		made, err := mkdirAll(outDir)
		if err != nil {
			return undo, fmt.Errorf("output %s: cannot create directory %s: %w", c.Output, outDir, unwrapPath(err))
		}
		undo = func() {
			for i := len(made) - 1; i >= 0; i-- {
				os.Remove(made[i])
			}
		}
		defer func() {
			if err != nil {
				undo()
			}
		}()
	}
	if st, err := os.Stat(outDir); err != nil {
		return undo, fmt.Errorf("output %s: %w", c.Output, unwrapPath(err))
	} else if !st.IsDir() {
		return undo, fmt.Errorf("output %s: %s is not a directory", c.Output, outDir)
	}
	if err := checkWritable(outDir); err != nil {
		return undo, fmt.Errorf("output %s: cannot write in %s: %w", c.Output, outDir, err)
	}
	if c.Format == "dir" {
		if st, err := os.Lstat(c.Output); err == nil {
			if !c.Force {
				return undo, fmt.Errorf("output %s exists (use --force to replace it)", c.Output)
			}
			if !st.IsDir() {
				return undo, fmt.Errorf("output %s exists and is not a directory", c.Output)
			}
		}
	} else if st, err := os.Stat(c.Output); err == nil && st.IsDir() {
		return undo, fmt.Errorf("output %s is a directory (use -t dir for a directory output)", c.Output)
	}
	return undo, nil
}

// mkdirAll is os.MkdirAll that reports the directories it made, parents first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
		if d == filepath.Dir(d) {
			break
		}
	}
	var made []string
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			for i := len(made) - 1; i >= 0; i-- {
				os.Remove(made[i])
			}
			return nil, err
		}
		made = append(made, d)
	}
	return made, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".mkrootfs-probe-")
	if err != nil {
		return unwrapPath(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func (c *Config) importSource(t *fstree.Tree, s, dest string, sp *Spool, warn func(string)) error {
	if s == "u-root" || s == "uroot" {
		return c.importURoot(t, dest)
	}
	if s == "-" {
		if c.Stdin == nil {
			return errors.New("source -: no standard input to read")
		}
		return c.importStream(t, c.Stdin, "-", "standard input", -1, dest, sp, warn)
	}
	st, err := os.Stat(s)
	if err != nil {
		return fmt.Errorf("source %s: %w", s, unwrapPath(err))
	}
	if st.IsDir() {
		if err := ImportDir(t, s, dest, warn); err != nil {
			return fmt.Errorf("source %s: %w", s, err)
		}
		return nil
	}
	f, err := os.Open(s)
	if err != nil {
		return fmt.Errorf("source %s: %w", s, unwrapPath(err))
	}
	var magic [6]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 6 && (string(magic[:]) == "070701" || string(magic[:]) == "070702") && st.Mode().IsRegular() {
		// a plain newc cpio (an initramfs); its records are read when the output is
		// written, so the file stays open until mkrootfs exits
		if err := ImportCPIO(t, f, st.Size(), dest); err != nil {
			return fmt.Errorf("source %s: corrupt cpio archive: %w", s, err)
		}
		return nil
	}
	defer f.Close()
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	return c.importStream(t, f, s, filepath.Base(s), size, dest, sp, warn)
}

// importStream reads an archive read once, front to back (a compressed file or a pipe).
func (c *Config) importStream(t *fstree.Tree, r io.Reader, name, short string, size int64, dest string, sp *Spool, warn func(string)) error {
	var bar *pb.ProgressBar
	if c.progress {
		bar = c.newBar(max(size, 0), "reading "+short)
		r = bar.NewProxyReader(r)
	}
	format, err := ImportStream(t, r, dest, sp, warn)
	if bar != nil {
		bar.Finish()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrEmptyStream):
		return fmt.Errorf("source %s: empty input, want a tar or cpio archive", name)
	case format == "cpio":
		return fmt.Errorf("source %s: corrupt cpio archive: %w", name, err)
	}
	return fmt.Errorf("source %s: corrupt or unsupported tarball: %w", name, err)
}

func (c *Config) importURoot(t *fstree.Tree, dest string) error {
	work, err := os.MkdirTemp(c.TempDir, "mkrootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	out := filepath.Join(work, "uroot.cpio")
	if !c.Quiet {
		fmt.Fprintf(c.Stderr, "%s: building u-root %s (compiles Go code; takes a minute)\n", prog, uroot.Version)
	}
	if err := uroot.Build(out, uroot.Options{Commands: c.URootCmds, Uinit: c.URootUinit, TempDir: c.TempDir}); err != nil {
		return fmt.Errorf("source u-root: %w", err)
	}
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	// The records read lazily from f until the output is written; f stays open until exit.
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := ImportCPIO(t, f, st.Size(), dest); err != nil {
		return fmt.Errorf("source u-root: reading its archive: %w", err)
	}
	return nil
}

// addHost puts a host file or directory at a guest path, owned by root (an --add is meant to
// become part of the system, not to keep the building user's uid).
func (c *Config) addHost(t *fstree.Tree, src, dest string, sp *Spool, warn func(string)) error {
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("--add %s: %w", src, unwrapPath(err))
	}
	if _, err := fstree.Clean(dest); err != nil {
		return fmt.Errorf("--add %s: destination %q climbs out of the root", src, dest)
	}
	sub := fstree.New(c.Now)
	if st.IsDir() {
		if err := ImportDir(sub, src, "/", warn); err != nil {
			return fmt.Errorf("--add %s: %w", src, err)
		}
	} else {
		in := &fstree.Inode{Mode: uint32(st.Mode().Perm()), Mtime: st.ModTime(), Origin: src}
		switch {
		case st.Mode().IsRegular():
			in.Mode |= fstree.TypeReg
			in.Size = st.Size()
			in.Data = fstree.HostFile(src)
		case st.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			in.Mode = fstree.TypeLink | 0o777
			in.Target = target
		default:
			return fmt.Errorf("--add %s: only files, symbolic links and directories can be added", src)
		}
		if _, err := t.Put(dest, in); err != nil {
			return fmt.Errorf("--add %s: %w", src, err)
		}
		return nil
	}
	// graft the directory's tree, owned by root
	return sub.Walk(func(n *fstree.Node) error {
		in := n.Inode
		in.UID, in.GID = 0, 0
		p := joinGuest(dest, n.Path())
		if _, err := t.Put(p, in); err != nil {
			return fmt.Errorf("--add %s: %w", src, err)
		}
		return nil
	})
}

func (c *Config) write(t *fstree.Tree, warn func(string)) (string, error) {
	st := t.Stats()
	abs, _ := filepath.Abs(c.Output)
	dir, base := filepath.Split(abs)
	var bar *pb.ProgressBar
	progress := func(done, total int64) {}
	if c.progress && st.Bytes > 8<<20 {
		bar = c.newBar(st.Bytes, "writing")
		progress = func(done, total int64) { bar.SetCurrent(done) }
	}
	finish := func() {
		if bar != nil {
			bar.Finish()
		}
	}
	if c.Format == "dir" {
		tmp := filepath.Join(dir, "."+base+".mkrootfs-"+randSuffix())
		if err := WriteDir(t, tmp, progress, warn); err != nil {
			finish()
			removeAllForce(tmp)
			return "", fmt.Errorf("writing %s: %w", c.Output, err)
		}
		finish()
		var old string
		if _, err := os.Lstat(abs); err == nil {
			old = filepath.Join(dir, "."+base+".mkrootfs-old-"+randSuffix())
			if err := os.Rename(abs, old); err != nil {
				removeAllForce(tmp)
				return "", err
			}
		}
		if err := os.Rename(tmp, abs); err != nil {
			removeAllForce(tmp)
			return "", err
		}
		if old != "" {
			removeAllForce(old)
		}
		return fmt.Sprintf("%s: %s: directory, %d files, %s of file data", prog, c.Output, st.Files, human(st.Bytes)), nil
	}
	if c.Output == "-" {
		return c.writeStream(t, progress, finish, warn)
	}
	f, err := os.CreateTemp(dir, "."+base+".mkrootfs-")
	if err != nil {
		return "", fmt.Errorf("output %s: %w", c.Output, unwrapPath(err))
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		finish()
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	var res *ext.Result
	if c.Format == "cpio" || c.Format == "tar" {
		err = c.writeArchive(t, f, progress, warn)
	} else {
		res, err = ext.Write(f, t, c.extOptions(progress))
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fail(fmt.Errorf("writing %s: %w", c.Output, err))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	finish()
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("output %s: %w", c.Output, unwrapPath(err))
	}
	size := int64(0)
	if st, err := os.Stat(abs); err == nil {
		size = st.Size()
	}
	return c.summary(st, res, size), nil
}

// writeStream writes the output to standard output, front to back.
func (c *Config) writeStream(t *fstree.Tree, progress func(done, total int64), finish func(), warn func(string)) (string, error) {
	cw := &countWriter{w: c.Stdout}
	var res *ext.Result
	var err error
	if f := sparseTarget(c.Stdout); f != nil && c.Format != "cpio" && c.Format != "tar" {
		// -o - > img: a file after all, so the image can keep its holes
		res, err = ext.Write(f, t, c.extOptions(progress))
		if err == nil {
			cw.n = res.Size
		}
	} else if c.Format == "cpio" || c.Format == "tar" {
		err = c.writeArchive(t, cw, progress, warn)
	} else {
		res, err = ext.WriteStream(cw, t, c.extOptions(progress))
	}
	finish()
	if err != nil {
		return "", fmt.Errorf("writing to standard output: %w", err)
	}
	return c.summary(t.Stats(), res, cw.n), nil
}

func (c *Config) writeArchive(t *fstree.Tree, w io.Writer, progress func(done, total int64), warn func(string)) error {
	if c.Format == "tar" {
		return WriteTar(t, w, progress, warn)
	}
	return WriteCPIO(t, w, progress, warn)
}

func (c *Config) extOptions(progress func(done, total int64)) ext.Options {
	var uuid [16]byte
	_, _ = rand.Read(uuid[:])
	uuid[6] = uuid[6]&0x0f | 0x40
	uuid[8] = uuid[8]&0x3f | 0x80
	return ext.Options{Ext4: c.Format == "ext4", Journal: !c.NoJournal, Size: c.Size, Inodes: c.Inodes,
		ReservedPercent: c.Reserved, Label: c.Label, UUID: uuid, Now: c.Now, Progress: progress}
}

// summary is the line printed after a build; size is what was written.
func (c *Config) summary(st fstree.Stats, res *ext.Result, size int64) string {
	switch c.Format {
	case "cpio":
		return fmt.Sprintf("%s: %s: cpio initramfs, %d files, %s of file data, archive %s", prog, c.Output, st.Files, human(st.Bytes), human(size))
	case "tar":
		return fmt.Sprintf("%s: %s: tar archive, %d files, %s of file data, archive %s", prog, c.Output, st.Files, human(st.Bytes), human(size))
	}
	used := (res.Blocks - res.FreeBlocks) * 4096
	return fmt.Sprintf("%s: %s: %s image, %d files, %s of file data, image %s (%s used)", prog, c.Output,
		c.Format, st.Files, human(st.Bytes), human(res.Size), human(used))
}

// sparseTarget returns standard output when it is a regular file opened at its start and
// not for appending, where an image can be written at offsets, with holes.
func sparseTarget(w io.Writer) *os.File {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_APPEND != 0 {
		return nil
	}
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
		return nil
	}
	return f
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// newBar starts a progress bar on the terminal that stderr is.
func (c *Config) newBar(total int64, what string) *pb.ProgressBar {
	bar := pb.New64(total).SetTemplate(pb.Full).SetWriter(c.Stderr).Set(pb.Bytes, true).Set("prefix", what+" ")
	if f, ok := c.Stderr.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			bar.SetWidth(w)
		}
	}
	return bar.Start()
}

func randSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// removeAllForce removes a tree even where a directory's mode forbids writing into it.
func removeAllForce(p string) {
	_ = filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(p)
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
