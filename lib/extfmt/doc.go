// Package extfmt is the on-disk format of ext2, ext3 and ext4: the superblock, group
// descriptors, inodes (with their extra fields and timestamp encoding), extent tree nodes,
// directory entries, extended attribute entries and blocks with their hashes, POSIX ACLs in
// ext4's compact form, and the checksums that metadata_csum and uninit_bg put on all of them.
//
// It is the one place two programs agree on the format: lib/ext4, the kernel's driver that
// reads and writes guest images, and lib/rootfs/ext, mkrootfs's image writer. It is a
// package of its own, beside both rather than inside either, because neither owns the format:
// the image writer should not depend on the driver, and a fix to a field's encoding (as the
// xattr hash once needed) must reach both at once.
//
// The package holds encodings only: no I/O, no allocation policy, no caches. Decoders take
// bytes a guest may have written, so they check every length and offset they use and return
// an error (never panic) on anything out of bounds; what is semantically acceptable (which
// inode numbers a directory may name, say) is left to the caller. Encoders write into caller
// buffers and leave the bytes they do not define untouched, so a structure read from disk,
// changed and written back keeps fields this package does not know.
//
// Neither user needs the htree (dx) name hash: the driver treats indexed directories as
// linear ones and drops the index when it writes them, and the image writer makes only
// linear directories. It is therefore not here.
package extfmt
