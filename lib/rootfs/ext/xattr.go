package ext

import (
	"errors"
	"fmt"

	"github.com/gouml/gouml/lib/extfmt"
)

// xattrBlock builds the attribute block holding xs (full names, ACLs in the xattr form).
func xattrBlock(xs map[string][]byte) ([]byte, error) {
	var ents []extfmt.Xattr
	for full, v := range xs {
		idx, name, err := extfmt.SplitXattrName(full)
		if errors.Is(err, extfmt.ErrXattrNamespace) {
			return nil, fmt.Errorf("xattr %q: namespace not storable in ext2/ext4", full)
		}
		if err != nil {
			return nil, fmt.Errorf("xattr %q: %w", full, err)
		}
		if idx == extfmt.XattrIndexPosixACLAccess || idx == extfmt.XattrIndexPosixACLDefault {
			if v, err = extfmt.ACLToDisk(v); err != nil {
				return nil, fmt.Errorf("xattr %s: %w", full, err)
			}
		}
		ents = append(ents, extfmt.Xattr{Index: idx, Name: name, Value: v})
	}
	return extfmt.XattrBlock(blockSize, ents)
}
