#!/usr/bin/env bash
# The one list of Debian packages that the tests, the VM test and the bench use.
# .ci/run calls it; so can a person on a fresh Debian 12 machine (as root).
# Add a package here, never in a second list.
set -euo pipefail
PACKAGES=(
  # readers, writers and peers used as oracles
  cpio libarchive-tools busybox-static zstd xz-utils lz4 lzop bzip2 pigz file python3
  dracut-core initramfs-tools linux-image-amd64 kmod binutils
  # filesystems, block devices, labels and ACLs
  e2fsprogs xfsprogs btrfs-progs util-linux fdisk gdisk attr acl lvm2 cryptsetup-bin
  # the rescue and sandbox tests
  whois iproute2 procps psmisc systemd python3-jsonschema time
  # ELF fixtures
  gcc gcc-multilib libc6-dev
  # the VM test and UKIs
  qemu-system-x86 systemd-boot-efi ovmf
  # packaging, the man page and shell completion
  rpm rpmlint lintian man-db dpkg-dev zsh fish
)
export DEBIAN_FRONTEND=noninteractive
if [ "${1:-}" = "--list" ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi
# --check (run by `npm test` before the first test): name what is missing and the one line that fixes it.
if [ "${1:-}" = "--check" ]; then
  fix="the fix, as root: npm run test:fresh"
  if [ "$(id -u)" != 0 ]; then
    echo "rdrescue tests: they must run as root (loop devices, mounts, chroot, namespaces); $fix" >&2; exit 1
  fi
  missing=()
  if command -v dpkg-query >/dev/null; then
    installed=" $(dpkg-query -W -f='${db:Status-Status}=${Package} ' "${PACKAGES[@]}" 2>/dev/null || true) "
    for p in "${PACKAGES[@]}"; do [[ $installed == *" installed=$p "* ]] || missing+=("$p"); done
  else
    echo "rdrescue tests: not a Debian system; the packages in $0 (--list) must be installed by hand" >&2
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "rdrescue tests: missing Debian packages: ${missing[*]}; $fix" >&2; exit 1
  fi
  if [ ! -x node_modules/.bin/tap ]; then
    echo "rdrescue tests: node_modules is not installed; $fix" >&2; exit 1
  fi
  exit 0
fi
apt-get update -qq
apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
