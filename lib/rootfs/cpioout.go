package rootfs

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/u-root/mkuimage/cpio"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// WriteCPIO writes the tree as a newc cpio archive (an initramfs: linux initrd=FILE). Hard
// links share an inode number, and the content travels with the first name, which the
// kernel's initramfs unpacker and cpio -i both accept. Extended attributes have no place in
// newc: a warning names each file that loses them.
func WriteCPIO(t *fstree.Tree, f io.Writer, progress func(done, total int64), warn func(string)) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	w := cpio.Newc.Writer(bw)
	st := t.Stats()
	inos := map[*fstree.Inode]uint64{}
	links := map[*fstree.Inode]int{}
	_ = t.Walk(func(n *fstree.Node) error { links[n.Inode]++; return nil })
	var done int64
	err := t.Walk(func(n *fstree.Node) error {
		in := n.Inode
		name := strings.TrimPrefix(n.Path(), "/")
		if name == "" {
			name = "."
		}
		ino, seen := inos[in]
		if !seen {
			ino = uint64(len(inos) + 1)
			inos[in] = ino
			if len(in.Xattrs) > 0 {
				warn(fmt.Sprintf("%s: extended attributes not stored (cpio newc has no room for them)", n.Path()))
			}
		}
		nlink := uint64(links[in])
		if in.IsDir() {
			nlink = 2
			for _, c := range n.Children {
				if c.Inode.IsDir() {
					nlink++
				}
			}
		}
		info := cpio.Info{Ino: ino, Mode: uint64(in.Mode), UID: uint64(in.UID), GID: uint64(in.GID),
			NLink: nlink, MTime: uint64(max(in.Mtime.Unix(), 0)), Rmajor: uint64(in.Major), Rminor: uint64(in.Minor), Name: name}
		rec := cpio.Record{Info: info}
		switch in.Type() {
		case fstree.TypeReg:
			if !seen && in.Size > 0 {
				rc, err := in.Data.Open()
				if err != nil {
					return fmt.Errorf("%s: %w", in.Origin, err)
				}
				defer rc.Close()
				rec.Info.FileSize = uint64(in.Size)
				rec.ReaderAt = &streamAt{r: io.LimitReader(rc, in.Size)}
				done += in.Size
			}
		case fstree.TypeLink:
			rec.Info.FileSize = uint64(len(in.Target))
			rec.ReaderAt = strings.NewReader(in.Target)
		}
		if err := w.WriteRecord(rec); err != nil {
			return fmt.Errorf("%s: %w", n.Path(), err)
		}
		if progress != nil {
			progress(done, st.Bytes)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return err
	}
	return bw.Flush()
}

// streamAt lets the cpio writer, which wants an io.ReaderAt, read a stream front to back.
type streamAt struct {
	r   io.Reader
	off int64
}

func (s *streamAt) ReadAt(p []byte, off int64) (int, error) {
	if off != s.off {
		return 0, fmt.Errorf("cpio: out-of-order read at %d (at %d)", off, s.off)
	}
	n, err := s.r.Read(p)
	s.off += int64(n)
	return n, err
}
