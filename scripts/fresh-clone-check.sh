#!/usr/bin/env bash
# The README's first command on a machine like a container or a CI runner:
# a fresh clone, `npm install`, then `npx rdrescue info`, in a private mount
# namespace whose /boot is an empty tmpfs. It must exit 0 with a real report.
# Usage (as root): scripts/fresh-clone-check.sh [REPO]   (default: this checkout's HEAD)
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
exec unshare -m --propagation private bash -euo pipefail -c '
  mount -t tmpfs rdrescue-empty-boot /boot
  git clone -q "$1" "$2/rdrescue"
  cd "$2/rdrescue"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
  echo "+ npx rdrescue info   (/boot: $(ls -A /boot | wc -l) entries)" >&2
  npx rdrescue info
  echo "+ exit status $?" >&2
' fresh-clone-check "$repo" "$work"
