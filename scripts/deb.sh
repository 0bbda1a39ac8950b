#!/usr/bin/env bash
# make deb: the Debian packages gouml and gouml-utils (debian/README.Debian says why two), built
# from make dist's tarball (so from HEAD, with vendored modules, offline) with
# dpkg-buildpackage, into build/deb/, then checked with lintian. Needs debhelper, dpkg-dev,
# fakeroot and lintian (apt-get install debhelper dpkg-dev fakeroot lintian), and Go >= the
# go.mod version in PATH (Debian bookworm's golang-go is too old, so it is not a
# Build-Depends; see debian/README.Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in dpkg-buildpackage dh fakeroot lintian; do
  command -v "$t" >/dev/null || { echo "make deb: $t not found: apt-get install debhelper dpkg-dev fakeroot lintian" >&2; exit 1; }
done
tarball=$(./scripts/dist.sh)
rm -rf build/deb
mkdir -p build/deb/src
tar -C build/deb/src -xzf "$tarball"
src=$(echo build/deb/src/*/)
# The host's build cache makes the build minutes shorter; debhelper points HOME elsewhere.
GOCACHE=$(go env GOCACHE) GOTOOLCHAIN=local
export GOCACHE GOTOOLCHAIN
(cd "$src" && dpkg-buildpackage -b -us -uc -rfakeroot)
mv build/deb/src/*.deb build/deb/src/*.changes build/deb/src/*.buildinfo build/deb/
rm -rf build/deb/src
# lintian's exit status is 1 for errors only (warnings are listed in debian/README.Debian).
lintian --fail-on error build/deb/*.changes
ls build/deb/*.deb
