// Package deb holds the acceptance test of the Debian packages that make deb builds: they
// are installed, replaced, removed and purged in scratch Debian bookworm trees (see
// deb_test.go and testdata/inside.sh). It has no code of its own.
package deb
