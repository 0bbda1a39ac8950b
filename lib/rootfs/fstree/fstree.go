// Package fstree is the in-memory model of a guest root file system that mkrootfs builds:
// names, inodes with the guest's metadata (owner, mode, device number, extended attributes,
// times) and where each regular file's bytes come from. Sources (directories, tarballs,
// u-root, --add) write into a Tree in layer order; outputs (a host directory, an ext2/ext4
// image) read it. The tree is never resolved against the host, so a hostile path can only
// ever name a node inside the tree.
package fstree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// File type bits of Inode.Mode, as in Linux's st_mode.
const (
	TypeMask = 0o170000
	TypeSock = 0o140000
	TypeLink = 0o120000
	TypeReg  = 0o100000
	TypeBlk  = 0o060000
	TypeDir  = 0o040000
	TypeChr  = 0o020000
	TypeFifo = 0o010000
)

// Content yields a regular file's bytes.
type Content interface {
	Open() (io.ReadCloser, error)
}

// Bytes is file content held in memory.
type Bytes []byte

// Open implements Content.
func (b Bytes) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }

// HostFile is file content read from a host path when the output is written.
type HostFile string

// Open implements Content.
func (h HostFile) Open() (io.ReadCloser, error) { return os.Open(string(h)) }

// Section is file content stored in a range of a spool file (tarball members are copied
// there, because a compressed stream cannot be re-read in a different order).
type Section struct {
	R   io.ReaderAt
	Off int64
}

// Open implements Content; the size comes from the inode.
func (s *Section) Open() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(s.R, s.Off, 1<<62)), nil
}

// Inode is one file's metadata; hard links are several Nodes sharing one *Inode.
type Inode struct {
	Mode     uint32 // type and permission bits, as st_mode
	UID, GID uint32
	Major    uint32 // device number, for block and character devices
	Minor    uint32
	Size     int64 // regular files
	Mtime    time.Time
	Atime    time.Time
	Ctime    time.Time
	Target   string            // symbolic link target
	Data     Content           // regular files; nil means empty
	Xattrs   map[string][]byte // full names, e.g. "security.capability"
	Origin   string            // where it came from, for error messages
}

// Type returns the file type bits.
func (i *Inode) Type() uint32 { return i.Mode & TypeMask }

// IsDir reports whether the inode is a directory.
func (i *Inode) IsDir() bool { return i.Type() == TypeDir }

// Node is one name in the tree.
type Node struct {
	Name     string
	Inode    *Inode
	Parent   *Node
	Children map[string]*Node // directories only
}

// SortedChildren returns a directory's entries in name order (outputs are deterministic).
func (n *Node) SortedChildren() []*Node {
	out := make([]*Node, 0, len(n.Children))
	for _, c := range n.Children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Path returns the node's absolute guest path.
func (n *Node) Path() string {
	if n.Parent == nil {
		return "/"
	}
	var parts []string
	for p := n; p.Parent != nil; p = p.Parent {
		parts = append(parts, p.Name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// Tree is a whole guest file system.
type Tree struct {
	Root *Node
	// Now is the time given to directories the tree creates on its own.
	Now time.Time
}

// New returns a tree holding only the root directory (0755, root:root).
func New(now time.Time) *Tree {
	return &Tree{Now: now, Root: &Node{Inode: &Inode{Mode: TypeDir | 0o755, Mtime: now, Atime: now, Ctime: now},
		Children: map[string]*Node{}}}
}

// ErrOutside is returned for a path that would leave the tree (it cannot: it is rejected).
var ErrOutside = errors.New("path leaves the root")

// maxLinks bounds symbolic link resolution inside the tree, as the kernel's ELOOP does.
const maxLinks = 40

// Clean splits a guest path into components, treating it as relative to the root. "."
// components vanish; ".." is an error because importers must not let an entry climb
// (even when the climb would stay inside, it usually betrays a hostile or broken archive).
func Clean(p string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("%q: %w", p, ErrOutside)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// splitLoose splits a symbolic link target; ".." stays, to be resolved against the tree.
func splitLoose(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// walkDir resolves a directory path, following symbolic links confined to the tree.
func (t *Tree) walkDir(start *Node, comps []string, create bool, depth *int) (*Node, error) {
	cur := start
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		if c == ".." {
			if cur.Parent != nil {
				cur = cur.Parent
			}
			continue
		}
		next, ok := cur.Children[c]
		if !ok {
			if !create {
				return nil, fmt.Errorf("%s: %w", path.Join(cur.Path(), c), os.ErrNotExist)
			}
			next = &Node{Name: c, Parent: cur, Children: map[string]*Node{},
				Inode: &Inode{Mode: TypeDir | 0o755, Mtime: t.Now, Atime: t.Now, Ctime: t.Now}}
			cur.Children[c] = next
		}
		switch next.Inode.Type() {
		case TypeDir:
			cur = next
		case TypeLink:
			*depth++
			if *depth > maxLinks {
				return nil, fmt.Errorf("%s: too many levels of symbolic links", next.Path())
			}
			from := cur
			if strings.HasPrefix(next.Inode.Target, "/") {
				from = t.Root
			}
			d, err := t.walkDir(from, splitLoose(next.Inode.Target), create, depth)
			if err != nil {
				return nil, err
			}
			cur = d
		default:
			return nil, fmt.Errorf("%s: not a directory", next.Path())
		}
	}
	return cur, nil
}

// Parent returns the directory that will hold p's last component (creating missing
// directories) and that component. Symbolic links among the parents are followed inside the
// tree, so layering onto a usr-merged root (/bin -> usr/bin) lands where the guest expects.
func (t *Tree) Parent(p string) (*Node, string, error) {
	comps, err := Clean(p)
	if err != nil {
		return nil, "", err
	}
	if len(comps) == 0 {
		return nil, "", nil
	}
	depth := 0
	dir, err := t.walkDir(t.Root, comps[:len(comps)-1], true, &depth)
	if err != nil {
		return nil, "", err
	}
	return dir, comps[len(comps)-1], nil
}

// Lookup finds a node by path without following a final symbolic link.
func (t *Tree) Lookup(p string) (*Node, error) {
	comps, err := Clean(p)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return t.Root, nil
	}
	depth := 0
	dir, err := t.walkDir(t.Root, comps[:len(comps)-1], false, &depth)
	if err != nil {
		return nil, err
	}
	n, ok := dir.Children[comps[len(comps)-1]]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	return n, nil
}

// Put places an inode at p. An existing directory meeting a directory keeps its children
// and takes the new metadata (a later layer wins); anything else is replaced.
func (t *Tree) Put(p string, ino *Inode) (*Node, error) {
	dir, name, err := t.Parent(p)
	if err != nil {
		return nil, err
	}
	if dir == nil { // the root itself
		if !ino.IsDir() {
			return nil, fmt.Errorf("/: cannot replace the root directory with a non-directory")
		}
		t.Root.Inode = ino
		return t.Root, nil
	}
	if old, ok := dir.Children[name]; ok && old.Inode.IsDir() && ino.IsDir() {
		old.Inode = ino
		return old, nil
	}
	n := &Node{Name: name, Inode: ino, Parent: dir}
	if ino.IsDir() {
		n.Children = map[string]*Node{}
	}
	dir.Children[name] = n
	return n, nil
}

// Link makes p another name for the inode at target (a hard link). Both are tree paths.
func (t *Tree) Link(p, target string) error {
	tn, err := t.Lookup(target)
	if err != nil {
		return fmt.Errorf("hard link %s -> %s: %w", p, target, err)
	}
	if tn.Inode.IsDir() {
		return fmt.Errorf("hard link %s -> %s: target is a directory", p, target)
	}
	_, err = t.Put(p, tn.Inode)
	return err
}

// Remove deletes p (and everything under it).
func (t *Tree) Remove(p string) {
	n, err := t.Lookup(p)
	if err != nil || n.Parent == nil {
		return
	}
	delete(n.Parent.Children, n.Name)
}

// Walk visits every node depth first, parents before children, children in name order.
func (t *Tree) Walk(fn func(n *Node) error) error {
	var rec func(n *Node) error
	rec = func(n *Node) error {
		if err := fn(n); err != nil {
			return err
		}
		if n.Inode.IsDir() {
			for _, c := range n.SortedChildren() {
				if err := rec(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return rec(t.Root)
}

// Stats summarises a tree.
type Stats struct {
	Files  int64 // names other than the root
	Inodes int64
	Bytes  int64 // regular file content
}

// Stats counts names, distinct inodes and bytes.
func (t *Tree) Stats() Stats {
	var s Stats
	seen := map[*Inode]bool{}
	_ = t.Walk(func(n *Node) error {
		if n != t.Root {
			s.Files++
		}
		if !seen[n.Inode] {
			seen[n.Inode] = true
			s.Inodes++
			if n.Inode.Type() == TypeReg {
				s.Bytes += n.Inode.Size
			}
		}
		return nil
	})
	return s
}
