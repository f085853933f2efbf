#!/usr/bin/env bash
# Unpacks Debian's qemu-system-misc (riscv32 and Xtensa system emulators) into a private
# prefix, because it can conflict with an installed (e.g. backports) QEMU; installs only the
# shared libraries it needs that the machine lacks. Needs root for apt-get.
set -euo pipefail
PREFIX=${PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/tc-at/qemu-7.2}
if [ -x "$PREFIX/usr/bin/qemu-system-riscv32" ]; then
  echo "qemu already in $PREFIX"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -q --no-install-recommends \
  libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 libaio1 \
  libfuse3-3 liburing2 libpixman-1-0 libbpf1 libnuma1
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
( cd "$dl" && apt-get download -q qemu-system-misc qemu-system-data )
mkdir -p "$PREFIX"
for f in "$dl"/*.deb; do dpkg -x "$f" "$PREFIX"; done
"$PREFIX/usr/bin/qemu-system-riscv32" --version | head -1
