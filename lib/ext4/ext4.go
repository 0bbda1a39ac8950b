// Package ext4 reads and writes ext2, ext3 and ext4 file systems as e2fsprogs' mke2fs 1.47
// makes them: block maps and extents, 64bit, flex_bg, huge_file, dir_index, metadata_csum,
// inline data, extended attributes (POSIX ACLs included), and jbd2 journal replay at mount.
//
// The API is inode-number based, like FUSE's low-level interface, so an emulator can map guest
// system calls onto it directly: Lookup turns a (directory, name) pair into an Ino, and every
// other call takes an Ino. All methods are safe for concurrent use (one mutex serialises them).
// Errors are syscall.Errno values, or *Error (which unwraps to an Errno: EUCLEAN for a corrupt
// image, EIO for a failing device) with a message naming what was wrong.
//
// Writing is not journaled. Data goes to the device first, metadata is kept in a bounded
// write-back cache and written afterwards (at Fsync, Sync, Unmount or when the cache is full), and
// the superblock is marked not-clean while the file system is mounted read-write, so a crash at
// any moment leaves an image that e2fsck -fy repairs without losing data whose Fsync returned.
// Writing to an htree directory clears its index flag (the directory stays valid as a linear
// one; lookups use an in-memory name cache instead of the hash tree). Modifying an
// inline-data file or directory first moves its contents into ordinary blocks.
//
// With metadata_csum every checksum is computed on write, and checked on read for the
// superblock, group descriptors, inodes, directory leaf blocks, extent tree blocks, attribute
// blocks and the journal (htree index blocks and bitmaps are not checked).
//
// Unlink and Rmdir free an inode as soon as its link count reaches zero, unless the caller holds
// it with Open; then it is freed at the last Release (or at Unmount). Unlinked-but-open inodes
// are not put on an on-disk orphan list: after a crash e2fsck reclaims them.
//
// The operations:
//
//	Mount(dev, Options) (*FS, error)           Unmount() error        Sync() error
//	Root() Ino                                  Statfs() (Statfs, error)
//	Lookup(dir, name) (Ino, error)              Getattr(ino) (Attr, error)
//	Setattr(ino, SetAttr) (Attr, error)         ReadDir(dir, cookie, max) ([]DirEntry, error)
//	ReadAt(ino, p, off) (int, error)            WriteAt(ino, p, off) (int, error)
//	SeekData(ino, off, hole) (int64, error)     Fsync(ino) error
//	Create(dir, name, mode, uid, gid, rdev)     Mkdir(dir, name, mode, uid, gid)
//	Symlink(dir, name, target, uid, gid)        Readlink(ino) (string, error)
//	Link(ino, newdir, newname) error            Unlink(dir, name) / Rmdir(dir, name) error
//	Rename(olddir, oldname, newdir, newname, RenameNoReplace|RenameExchange) error
//	Getxattr / Setxattr(ino, name, value, XattrCreate|XattrReplace) / Listxattr / Removexattr
//	Open(ino) / Release(ino) error
//
// The on-disk encodings (structures, checksums, hashes) are lib/extfmt's, which mkrootfs's
// image writer (lib/rootfs/ext) shares, so the two cannot drift apart.
//
// Access times are not updated on reads (as with noatime). ReadDir returns "." and ".." and
// uses byte positions as cookies, which stay valid while the directory changes.
package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Ino is an inode number. The root directory is inode 2.
type Ino uint32

// RootIno is the root directory's inode number.
const RootIno Ino = 2

// Device is the block device the file system lives on.
type Device interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
	Sync() error
}

// FileDevice is a Device backed by an *os.File (an image file or a block device).
type FileDevice struct {
	F    *os.File
	size int64
}

// OpenFile opens path as a Device, read-only or read-write.
func OpenFile(path string, readOnly bool) (*FileDevice, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &FileDevice{F: f, size: size}, nil
}

// ReadAt implements io.ReaderAt.
func (d *FileDevice) ReadAt(p []byte, off int64) (int, error) { return d.F.ReadAt(p, off) }

// WriteAt implements io.WriterAt.
func (d *FileDevice) WriteAt(p []byte, off int64) (int, error) { return d.F.WriteAt(p, off) }

// Size is the device size in bytes, as it was when opened.
func (d *FileDevice) Size() int64 { return d.size }

// Sync flushes the file to stable storage.
func (d *FileDevice) Sync() error { return d.F.Sync() }

// Close closes the file.
func (d *FileDevice) Close() error { return d.F.Close() }

// Error is a failure with a description; it unwraps to its Errno, so errors.Is(err,
// syscall.EUCLEAN) tells a corrupt image apart.
type Error struct {
	Errno syscall.Errno
	Msg   string
}

func (e *Error) Error() string { return "ext4: " + e.Msg }

// Unwrap returns the Errno.
func (e *Error) Unwrap() error { return e.Errno }

func corrupt(format string, a ...any) error {
	return &Error{Errno: syscall.EUCLEAN, Msg: fmt.Sprintf(format, a...)}
}

func ioErr(format string, a ...any) error {
	return &Error{Errno: syscall.EIO, Msg: fmt.Sprintf(format, a...)}
}

var le = binary.LittleEndian
var be = binary.BigEndian

// Mkdev and the major/minor split follow Linux's dev_t encoding (as golang.org/x/sys/unix does).
func Mkdev(major, minor uint32) uint64 {
	return uint64(major&0xfff)<<8 | uint64(major&^0xfff)<<32 | uint64(minor&0xff) | uint64(minor&^0xff)<<12
}

// Major is the major number of a Linux dev_t.
func Major(dev uint64) uint32 { return uint32(dev>>8&0xfff | dev>>32&^0xfff) }

// Minor is the minor number of a Linux dev_t.
func Minor(dev uint64) uint32 { return uint32(dev&0xff | dev>>12&^0xff) }
