package rootfs

import (
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"strings"
)

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// SHA512Crypt hashes a password the way glibc's crypt(3) does for "$6$" (Ulrich Drepper's
// SHA-crypt, 5000 rounds), so /etc/shadow works with login, su and passwd in the guest.
// An empty salt picks 16 random characters.
func SHA512Crypt(password, salt string) string {
	if salt == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = cryptAlphabet[int(b[i])%64]
		}
		salt = string(b)
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	const rounds = 5000
	pw, s := []byte(password), []byte(salt)

	b := sha512.New()
	b.Write(pw)
	b.Write(s)
	b.Write(pw)
	sumB := b.Sum(nil)

	a := sha512.New()
	a.Write(pw)
	a.Write(s)
	for n := len(pw); n > 0; n -= 64 {
		a.Write(sumB[:min(n, 64)])
	}
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(pw)
		}
	}
	sumA := a.Sum(nil)

	dp := sha512.New()
	for range len(pw) {
		dp.Write(pw)
	}
	sumDP := dp.Sum(nil)
	p := make([]byte, 0, len(pw))
	for n := len(pw); n > 0; n -= 64 {
		p = append(p, sumDP[:min(n, 64)]...)
	}

	ds := sha512.New()
	for range 16 + int(sumA[0]) {
		ds.Write(s)
	}
	sumDS := ds.Sum(nil)
	sp := make([]byte, 0, len(s))
	for n := len(s); n > 0; n -= 64 {
		sp = append(sp, sumDS[:min(n, 64)]...)
	}

	c := sumA
	for i := range rounds {
		h := sha512.New()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sp)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(nil)
	}

	out := []byte("$6$" + salt + "$")
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	order := [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26},
		{6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32},
		{12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38},
		{18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
	for _, o := range order {
		enc(c[o[0]], c[o[1]], c[o[2]], 4)
	}
	enc(0, 0, c[63], 2)
	return string(out)
}

// checkCryptHash accepts what can stand in /etc/shadow's password field: a crypt(3) hash
// ($id$...), or a locked or disabled entry ("!", "*", "!$6$..."). The field is stored as
// given, so it must not break the line apart; the scheme itself is the guest's libc's to
// know.
func checkCryptHash(h string) error {
	for _, r := range h {
		if r == ':' || r <= ' ' || r > '~' {
			return errors.New("a shadow password field has no ':', spaces or control characters (make one with openssl passwd -6)")
		}
	}
	if s := strings.TrimPrefix(h, "!"); strings.HasPrefix(s, "$") && strings.Count(s, "$") < 3 {
		return errors.New("not a crypt(3) hash: want $ID$SALT$HASH (make one with openssl passwd -6)")
	}
	return nil
}
