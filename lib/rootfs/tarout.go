package rootfs

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// WriteTar writes the tree as a tar archive, the form container and chroot tools import a
// root from (docker import, machinectl import-tar, mmdebstrap-style hooks). Owners, modes,
// device numbers and times are the tree's guest metadata, never the building user's; owners
// are numeric only (a name would be looked up on the importing host, not in the guest's
// /etc/passwd). Names start with "./" as in `tar -C root -cf - .`. Extended attributes
// travel as SCHILY.xattr.* pax records (what GNU tar --xattrs writes and reads). Sockets
// cannot be archived; a warning names each one left out.
func WriteTar(t *fstree.Tree, w io.Writer, progress func(done, total int64), warn func(string)) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	st := t.Stats()
	first := map[*fstree.Inode]string{}
	var done int64
	err := t.Walk(func(n *fstree.Node) error {
		in := n.Inode
		name := "." + n.Path()
		if in.IsDir() && name != "./" {
			name += "/"
		}
		h := &tar.Header{Name: name, Mode: int64(in.Mode & 0o7777), Uid: int(in.UID), Gid: int(in.GID),
			ModTime: in.Mtime.Truncate(1e9)}
		if prev, ok := first[in]; ok && !in.IsDir() {
			h.Typeflag, h.Linkname = tar.TypeLink, prev
			return tw.WriteHeader(h)
		}
		first[in] = name
		for k, v := range in.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = string(v)
		}
		var content io.ReadCloser
		switch in.Type() {
		case fstree.TypeReg:
			h.Typeflag, h.Size = tar.TypeReg, in.Size
			if in.Size > 0 {
				if in.Data == nil {
					return fmt.Errorf("%s: no content for %d bytes", n.Path(), in.Size)
				}
				rc, err := in.Data.Open()
				if err != nil {
					return fmt.Errorf("%s: %w", in.Origin, err)
				}
				content = rc
			}
		case fstree.TypeDir:
			h.Typeflag = tar.TypeDir
		case fstree.TypeLink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, in.Target
		case fstree.TypeChr, fstree.TypeBlk:
			h.Typeflag = tar.TypeChar
			if in.Type() == fstree.TypeBlk {
				h.Typeflag = tar.TypeBlock
			}
			h.Devmajor, h.Devminor = int64(in.Major), int64(in.Minor)
		case fstree.TypeFifo:
			h.Typeflag = tar.TypeFifo
		default:
			warn(fmt.Sprintf("%s: socket not archived (tar has no place for sockets)", n.Path()))
			return nil
		}
		if err := tw.WriteHeader(h); err != nil {
			if content != nil {
				content.Close()
			}
			return fmt.Errorf("%s: %w", n.Path(), err)
		}
		if content != nil {
			defer content.Close()
			k, err := io.Copy(tw, io.LimitReader(content, in.Size))
			if err == nil && k < in.Size {
				err = fmt.Errorf("file shrank while being read (%d of %d bytes)", k, in.Size)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", n.Path(), err)
			}
			done += in.Size
			if progress != nil {
				progress(done, st.Bytes)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
