package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/gouml/gouml/lib/hostmeta"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// Spool holds the bytes of archive members until the output is written: a compressed stream
// can only be read once, in order. It is an unlinked temporary file.
type Spool struct {
	f   *os.File
	off int64
}

// NewSpool creates an unlinked spool file in dir (the default temporary directory if "").
func NewSpool(dir string) (*Spool, error) {
	f, err := os.CreateTemp(dir, "mkrootfs-spool-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &Spool{f: f}, nil
}

// Close releases the spool.
func (s *Spool) Close() error { return s.f.Close() }

// store copies exactly n bytes from r into the spool and returns where they are. Runs of
// zeros become holes in the spool, so a sparse member does not take its full size on disk.
func (s *Spool) store(r io.Reader, n int64) (fstree.Content, error) {
	if n == 0 {
		return nil, nil
	}
	off := s.off
	buf := make([]byte, 64<<10)
	var got int64
	for got < n {
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-got)])
		if k > 0 {
			if !allZero(buf[:k]) {
				if _, werr := s.f.WriteAt(buf[:k], off+got); werr != nil {
					return nil, werr
				}
			}
			got += int64(k)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated: %d of %d bytes", got, n)
			}
			return nil, err
		}
	}
	s.off = off + n
	// a trailing hole must still read back as zeros, not as the end of the file
	if st, err := s.f.Stat(); err == nil && st.Size() < s.off {
		if err := s.f.Truncate(s.off); err != nil {
			return nil, err
		}
	}
	return &fstree.Section{R: s.f, Off: off}, nil
}

// storeAll copies r to its end into the spool and returns the bytes as a reader, for formats
// read at random offsets (a newc cpio) that arrived as a stream.
func (s *Spool) storeAll(r io.Reader) (*io.SectionReader, error) {
	off := s.off
	buf := make([]byte, 64<<10)
	var got int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if !allZero(buf[:k]) {
				if _, werr := s.f.WriteAt(buf[:k], off+got); werr != nil {
					return nil, werr
				}
			}
			got += int64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	s.off = off + got
	if st, err := s.f.Stat(); err == nil && st.Size() < s.off {
		if err := s.f.Truncate(s.off); err != nil {
			return nil, err
		}
	}
	return io.NewSectionReader(s.f, off, got), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Decompress recognises gzip, xz, zstd and bzip2 by their magic numbers and returns a reader
// of the plain bytes (r itself for an uncompressed stream).
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, _ := br.Peek(6)
	nop := func() {}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip: %w", err)
		}
		return z, func() { z.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, nop, fmt.Errorf("xz: %w", err)
		}
		return z, nop, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nop, fmt.Errorf("zstd: %w", err)
		}
		return z, z.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nop, nil
	}
	return br, nop, nil
}

// tarName turns an archive member name into a tree path. Leading "/" and "./" are dropped (as
// tar does); a ".." component is refused, so no member can name anything outside the root.
func tarName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("member name %q contains a NUL byte", name)
	}
	comps, err := fstree.Clean(name)
	if err != nil {
		return "", fmt.Errorf("member %q climbs out of the root with \"..\"", name)
	}
	return "/" + strings.Join(comps, "/"), nil
}

// ImportTar reads a (possibly compressed) tar stream into t at the path prefix dest ("/" for
// the root). Owners, modes, device numbers, links and extended attributes come from the
// archive, never from the host. Warnings (things stored in the archive that the tree cannot
// keep) go to warn.
func ImportTar(t *fstree.Tree, r io.Reader, dest string, sp *Spool, warn func(string)) error {
	plain, done, err := Decompress(r)
	if err != nil {
		return err
	}
	defer done()
	return importPlainTar(t, plain, dest, sp, warn)
}

func importPlainTar(t *fstree.Tree, plain io.Reader, dest string, sp *Spool, warn func(string)) error {
	tr := tar.NewReader(plain)
	entries := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if entries == 0 {
				return errors.New("not a tar archive (no members)")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("after %d members: %w", entries, err)
		}
		entries++
		if err := importTarEntry(t, tr, h, dest, sp, warn); err != nil {
			return fmt.Errorf("member %q: %w", h.Name, err)
		}
	}
}

// StreamFormat names what ImportStream found: "tar" or "cpio".
type StreamFormat string

// ErrEmptyStream is ImportStream's error for a stream without a single byte.
var ErrEmptyStream = errors.New("empty input")

// ImportStream reads an archive that can only be read once, front to back (a pipe), into t
// at dest: a tarball or a newc cpio archive, either one plain or compressed (gzip, xz, zstd,
// bzip2), told apart by their bytes. A cpio archive is read at random offsets, so it is
// copied into the spool first. It returns the format it found, also with an error about the
// archive's content.
func ImportStream(t *fstree.Tree, r io.Reader, dest string, sp *Spool, warn func(string)) (StreamFormat, error) {
	plain, done, err := Decompress(r)
	if err != nil {
		return "", err
	}
	defer done()
	br := bufio.NewReaderSize(plain, 1<<16)
	magic, err := br.Peek(6)
	if len(magic) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return "", ErrEmptyStream
	}
	if m := string(magic); m == "070701" || m == "070702" {
		sec, err := sp.storeAll(br)
		if err != nil {
			return "cpio", err
		}
		return "cpio", ImportCPIO(t, sec, sec.Size(), dest)
	}
	return "tar", importPlainTar(t, br, dest, sp, warn)
}

func importTarEntry(t *fstree.Tree, tr *tar.Reader, h *tar.Header, dest string, sp *Spool, warn func(string)) error {
	rel, err := tarName(h.Name)
	if err != nil {
		return err
	}
	p := joinGuest(dest, rel)
	if h.Mode < 0 || h.Mode > 0o7777|0o170000 {
		return fmt.Errorf("mode %#o out of range", h.Mode)
	}
	if h.Uid < 0 || h.Gid < 0 || int64(h.Uid) > 1<<32-1 || int64(h.Gid) > 1<<32-1 {
		return fmt.Errorf("owner %d:%d out of range", h.Uid, h.Gid)
	}
	in := &fstree.Inode{Mode: uint32(h.Mode) & 0o7777, UID: uint32(h.Uid), GID: uint32(h.Gid),
		Mtime: h.ModTime, Atime: h.AccessTime, Ctime: h.ChangeTime, Origin: h.Name}
	for k, v := range h.PAXRecords {
		switch {
		case strings.HasPrefix(k, "SCHILY.xattr."):
			setXattr(in, k[len("SCHILY.xattr."):], []byte(v))
		case strings.HasPrefix(k, "LIBARCHIVE.xattr."):
			name := k[len("LIBARCHIVE.xattr."):]
			val, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				val, err = base64.RawStdEncoding.DecodeString(v)
			}
			if err != nil {
				return fmt.Errorf("xattr %s: bad base64 value", name)
			}
			setXattr(in, name, val)
		case strings.HasPrefix(k, "SCHILY.acl."):
			warn(fmt.Sprintf("%s: POSIX ACL in text form (%s) not imported; its permission bits are kept", p, k))
		}
	}
	switch h.Typeflag {
	case tar.TypeReg, typeRegA, tar.TypeGNUSparse:
		in.Mode |= fstree.TypeReg
		in.Size = h.Size
		c, err := sp.store(tr, h.Size)
		if err != nil {
			return err
		}
		in.Data = c
	case tar.TypeDir:
		in.Mode |= fstree.TypeDir
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return errors.New("symbolic link with an empty target")
		}
		in.Mode = fstree.TypeLink | 0o777
		in.Target = h.Linkname
	case tar.TypeLink:
		target, err := tarName(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		return t.Link(p, joinGuest(dest, target))
	case tar.TypeChar, tar.TypeBlock:
		if h.Typeflag == tar.TypeChar {
			in.Mode |= fstree.TypeChr
		} else {
			in.Mode |= fstree.TypeBlk
		}
		if h.Devmajor < 0 || h.Devminor < 0 || h.Devmajor > 0xfff || h.Devminor > 0xfffff {
			return fmt.Errorf("device number %d:%d out of range", h.Devmajor, h.Devminor)
		}
		in.Major, in.Minor = uint32(h.Devmajor), uint32(h.Devminor)
	case tar.TypeFifo:
		in.Mode |= fstree.TypeFifo
	default:
		return fmt.Errorf("unsupported member type %q", h.Typeflag)
	}
	_, err = t.Put(p, in)
	return err
}

func setXattr(in *fstree.Inode, name string, v []byte) {
	if in.Xattrs == nil {
		in.Xattrs = map[string][]byte{}
	}
	in.Xattrs[name] = v
}

func joinGuest(dest, rel string) string {
	return "/" + strings.Trim(strings.TrimSuffix(dest, "/")+"/"+strings.TrimPrefix(rel, "/"), "/")
}

// Extended attributes of the directory output format (see DirXattr* and the man page).
const (
	XattrUID  = "user.gouml.uid"
	XattrGID  = "user.gouml.gid"
	XattrMode = "user.gouml.mode"
	XattrRdev = "user.gouml.rdev"
	// XattrGuestLegacy is the prefix under which earlier mkrootfs versions kept every guest
	// attribute; still read. The guest's attributes are now kept as the emulator keeps
	// them (hostmeta.XattrHostName).
	XattrGuestLegacy = "user.gouml.xattr."
)

// ImportDir copies the metadata of a host directory tree into t at dest; file contents are
// read from the host when the output is written. Owners and modes are the host's, unless the
// files carry user.gouml.* attributes (a directory mkrootfs made as an ordinary user), which
// then win. Hard links within the tree stay hard links.
func ImportDir(t *fstree.Tree, dir, dest string, warn func(string)) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	type key struct{ dev, ino uint64 }
	links := map[key]*fstree.Inode{}
	scheme := map[string]bool{} // directories that carry user.gouml.* attributes
	return filepath.WalkDir(dir, func(hp string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, hp)
		p := joinGuest(dest, filepath.ToSlash(rel))
		var s unix.Stat_t
		if err := unix.Lstat(hp, &s); err != nil {
			return err
		}
		if s.Mode&unix.S_IFMT != unix.S_IFDIR && s.Nlink > 1 {
			if in, ok := links[key{s.Dev, s.Ino}]; ok {
				_, err := t.Put(p, in)
				return err
			}
		}
		in := &fstree.Inode{Mode: s.Mode, UID: s.Uid, GID: s.Gid, Origin: hp,
			Mtime: time.Unix(s.Mtim.Unix()), Atime: time.Unix(s.Atim.Unix()), Ctime: time.Unix(s.Ctim.Unix())}
		switch s.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			in.Size = s.Size
			in.Data = fstree.HostFile(hp)
		case unix.S_IFLNK:
			target, err := os.Readlink(hp)
			if err != nil {
				return err
			}
			in.Target = target
		case unix.S_IFCHR, unix.S_IFBLK:
			in.Major, in.Minor = unix.Major(s.Rdev), unix.Minor(s.Rdev)
		}
		had, err := readXattrs(hp, in)
		if err != nil {
			return err
		}
		if had && in.IsDir() {
			scheme[hp] = true
		}
		if in.Type() == fstree.TypeLink {
			// Symbolic links cannot carry user.* attributes: their directory keeps their
			// owners (lib/hostmeta), and in a tree written by an ordinary user a link
			// without one belongs to root, like the rest of the system.
			u, g, ok, err := hostmeta.LinkOwner(filepath.Dir(hp), filepath.Base(hp))
			switch {
			case err != nil:
				return fmt.Errorf("%s: reading its owner from its directory: %w", hp, err)
			case ok:
				in.UID, in.GID = u, g
			case scheme[filepath.Dir(hp)]:
				in.UID, in.GID = 0, 0
			}
		}
		if s.Mode&unix.S_IFMT != unix.S_IFDIR && s.Nlink > 1 {
			links[key{s.Dev, s.Ino}] = in
		}
		_, err = t.Put(p, in)
		return err
	})
}

// readXattrs copies a host file's extended attributes, decoding the user.gouml.* scheme;
// it reports whether the file carried the scheme's owner attributes.
func readXattrs(hp string, in *fstree.Inode) (bool, error) {
	names, err := listXattr(hp)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return false, nil
		}
		return false, fmt.Errorf("%s: listing extended attributes: %w", hp, err)
	}
	scheme := false
	for _, n := range names {
		v, err := getXattr(hp, n)
		if err != nil {
			if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return false, fmt.Errorf("%s: reading %s: %w", hp, n, err)
		}
		switch {
		case n == XattrUID || n == XattrGID:
			scheme = true
			id, err := strconv.ParseUint(string(v), 10, 32)
			if err != nil {
				return false, fmt.Errorf("%s: bad %s %q", hp, n, v)
			}
			if n == XattrUID {
				in.UID = uint32(id)
			} else {
				in.GID = uint32(id)
			}
		case n == XattrMode:
			m, err := strconv.ParseUint(string(v), 8, 32)
			if err != nil || m&fstree.TypeMask == 0 {
				return false, fmt.Errorf("%s: bad %s %q", hp, n, v)
			}
			if uint32(m)&fstree.TypeMask != in.Mode&fstree.TypeMask {
				// a special file stood in for by an empty regular file
				in.Data, in.Size = nil, 0
			}
			in.Mode = uint32(m)
		case n == XattrRdev:
			var maj, mnr uint32
			if _, err := fmt.Sscanf(string(v), "%d:%d", &maj, &mnr); err != nil {
				return false, fmt.Errorf("%s: bad %s %q", hp, n, v)
			}
			in.Major, in.Minor = maj, mnr
		case n == hostmeta.LegacyOwner:
			// written by the first emulator version ("uid:gid"), still read by it
			scheme = true
			var u, g uint32
			if _, err := fmt.Sscanf(string(v), "%d:%d", &u, &g); err != nil {
				return false, fmt.Errorf("%s: bad %s %q", hp, n, v)
			}
			in.UID, in.GID = u, g
		case n == hostmeta.LegacyDev:
			// the first emulator version's device nodes ("c:MAJ:MIN" on an empty file)
			var kind rune
			var maj, mnr uint32
			if _, err := fmt.Sscanf(string(v), "%c:%d:%d", &kind, &maj, &mnr); err != nil || kind != 'c' && kind != 'b' {
				return false, fmt.Errorf("%s: bad %s %q", hp, n, v)
			}
			typ := uint32(unix.S_IFCHR)
			if kind == 'b' {
				typ = unix.S_IFBLK
			}
			in.Data, in.Size = nil, 0
			in.Mode = typ | in.Mode&0o7777
			in.Major, in.Minor = maj, mnr
		case strings.HasPrefix(n, hostmeta.XattrKept):
			if g, ok := hostmeta.XattrGuestName(n); ok {
				setXattr(in, g, v)
			}
		case strings.HasPrefix(n, XattrGuestLegacy):
			setXattr(in, n[len(XattrGuestLegacy):], v)
		case strings.HasPrefix(n, hostmeta.LinkPrefix) || strings.HasPrefix(n, hostmeta.LinkHashPrefix):
			// a directory's entry for one of its symbolic links (read with the link)
			scheme = true
		case strings.HasPrefix(n, "user.gouml."):
			return false, fmt.Errorf("%s: unknown attribute %s", hp, n)
		case n == "security.selinux":
			// the host's label, not the guest's
		default:
			setXattr(in, n, v)
		}
	}
	return scheme, nil
}

func listXattr(p string) ([]string, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*16)
			if len(buf) > 1<<20 {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// ImportCPIO reads a newc cpio archive of end bytes (what the u-root builder writes, or an
// initramfs) into t. File contents stay in f and are read when the output is written.
func ImportCPIO(t *fstree.Tree, f io.ReaderAt, end int64, dest string) error {
	type key struct{ ino, maj, min uint64 }
	links := map[key]*fstree.Inode{}
	var off int64
	for {
		var hdr [110]byte
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("at byte %d: truncated header", off)
		}
		if m := string(hdr[:6]); m != "070701" && m != "070702" {
			return fmt.Errorf("at byte %d: bad magic %q (only newc cpio is supported)", off, m)
		}
		var v [13]uint64
		for i := range v {
			n, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return fmt.Errorf("at byte %d: bad header field %q", off, hdr[6+8*i:14+8*i])
			}
			v[i] = n
		}
		ino, mode, uid, gid, nlink, mtime, size := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
		devMaj, devMin, rMaj, rMin, nameLen := v[7], v[8], v[9], v[10], v[11]
		if nameLen == 0 || nameLen > 4096 {
			return fmt.Errorf("at byte %d: name length %d out of range", off, nameLen)
		}
		name := make([]byte, nameLen)
		if _, err := f.ReadAt(name, off+110); err != nil {
			return fmt.Errorf("at byte %d: truncated name", off)
		}
		if name[nameLen-1] != 0 {
			return fmt.Errorf("at byte %d: name not NUL-terminated", off)
		}
		nm := string(name[:nameLen-1])
		dataOff := (off + 110 + int64(nameLen) + 3) &^ 3
		if int64(size) > end-dataOff {
			return fmt.Errorf("member %q: truncated: %d bytes of content claimed, %d left", nm, size, max(end-dataOff, 0))
		}
		off = (dataOff + int64(size) + 3) &^ 3
		if nm == "TRAILER!!!" {
			return nil
		}
		rel, err := tarName(nm)
		if err != nil {
			return err
		}
		if rel == "/" {
			continue
		}
		p := joinGuest(dest, rel)
		in := &fstree.Inode{Mode: uint32(mode), UID: uint32(uid), GID: uint32(gid),
			Mtime: time.Unix(int64(mtime), 0), Origin: nm}
		switch uint32(mode) & fstree.TypeMask {
		case fstree.TypeReg:
			in.Size = int64(size)
			if size > 0 {
				in.Data = &fstree.Section{R: f, Off: dataOff}
			}
		case fstree.TypeLink:
			b := make([]byte, size)
			if _, err := f.ReadAt(b, dataOff); err != nil || size == 0 || size > 4095 {
				return fmt.Errorf("member %q: bad symbolic link target", nm)
			}
			in.Target = string(b)
		case fstree.TypeChr, fstree.TypeBlk:
			in.Major, in.Minor = uint32(rMaj), uint32(rMin)
		case fstree.TypeDir, fstree.TypeFifo, fstree.TypeSock:
		default:
			return fmt.Errorf("member %q: unknown file type in mode %#o", nm, mode)
		}
		if nlink > 1 && in.Type() != fstree.TypeDir {
			k := key{ino, devMaj, devMin}
			if old, ok := links[k]; ok {
				if in.Size > 0 { // GNU cpio puts the content on the last name
					old.Size, old.Data = in.Size, in.Data
				}
				if _, err := t.Put(p, old); err != nil {
					return err
				}
				continue
			}
			links[k] = in
		}
		if _, err := t.Put(p, in); err != nil {
			return err
		}
	}
}

// isNotExist reports a missing path in a way that survives wrapping.
func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT)
}

// typeRegA is the old tar type '\x00' of a regular file, still found in archives made by
// old tools (archive/tar's TypeRegA is deprecated, the byte is not).
const typeRegA = '\x00'
