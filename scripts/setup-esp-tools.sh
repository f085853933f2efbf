#!/usr/bin/env bash
# Debian packages the chip builds need, installed only where missing (CI runs as root):
#   libudev-dev, pkg-config   to build espflash (`cargo install espflash --locked`)
#   binutils-xtensa-lx106     to assemble and link the ESP8266 (lx106) build of the engine
#   gcc-xtensa-lx106          the linker driver and libgcc of the ESP8266 link
# The Rust toolchain itself comes from scripts/setup-riscv.sh.
set -euo pipefail
wanted=(libudev-dev pkg-config binutils-xtensa-lx106 gcc-xtensa-lx106)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "esp tools: all packages present"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -q --no-install-recommends "${missing[@]}"
