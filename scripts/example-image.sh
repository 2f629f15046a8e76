#!/usr/bin/env bash
# Builds the example image that `rdrescue info` shows on a machine with no
# initramfs at all, from the tree in fixtures/example-image (an early microcode
# part and a main part), with rdrescue's own repack. Usage: example-image.sh OUT
# The result is committed as fixtures/example-image.img and carried in the
# bundle; test/image/example-image.test.ts checks it is what this script makes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A checkout's modes and times depend on the umask and the clock, the image's must not.
cp -r "$root/fixtures/example-image" "$tmp/tree"
chmod -R u=rwX,go=rX "$tmp/tree"
SOURCE_DATE_EPOCH=1735689600 node "$root/dist/rdrescue.cjs" repack "$tmp/tree" -o "$out" --owner 0:0 --compress gzip --level 9
