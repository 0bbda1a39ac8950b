#!/usr/bin/env bash
# make dist: build/gouml-VERSION.tar.gz, the committed files of HEAD plus vendor/ (the Go
# modules, from the module cache, or the module proxy when the cache lacks them), so that the
# package builds without a network. The same commit gives the same bytes: names sorted,
# owner 0:0, modes normalised, every mtime the commit's time, GNU tar headers (no pax
# atimes), gzip -n. Uncommitted changes are not part of it. VERSION is debian/changelog's.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
name=gouml-$version
out=build/$name.tar.gz
epoch=$(git log -1 --format=%ct HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive --format=tar --prefix="$name/" HEAD | tar -x -C "$tmp"
# GOFLAGS of the caller (say -mod=vendor) must not change what is vendored.
(cd "$tmp/$name" && GOFLAGS= go mod vendor)
mkdir -p build
# LC_ALL=C: --sort=name orders by bytes, not by the locale's collation.
LC_ALL=C tar -C "$tmp" --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
  --mode='u+rwX,go+rX,go-w' --mtime="@$epoch" -cf - "$name" | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
