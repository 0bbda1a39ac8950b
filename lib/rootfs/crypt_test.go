package rootfs

import "testing"

// Vectors from Drepper's SHA-crypt specification (the default-rounds cases).
func TestSHA512CryptSpecVectors(t *testing.T) {
	for _, c := range []struct{ salt, pw, want string }{
		{"saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	} {
		if got := SHA512Crypt(c.pw, c.salt); got != c.want {
			t.Errorf("SHA512Crypt(%q, %q) = %q, want %q", c.pw, c.salt, got, c.want)
		}
	}
}
