#!/usr/bin/env bash
# Installs every Debian package poolflow needs (idempotent: apt-get runs only when
# something is missing) and configures the meson build directory.
#   scripts/setup.sh [BUILD_DIR]      default BUILD_DIR: build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  g++ meson ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libdpdk-dev libusrsctp-dev libtbb-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev libpcap-dev libgtest-dev libgmock-dev libbenchmark-dev
  # independent checkers, traffic generators and test tools
  tshark libfixbuf-tools softflowd nfdump tcpreplay dpdk-dev python3 iproute2 procps time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${1:-build}
if [[ ! -f $build_dir/build.ninja ]]; then
  meson setup "$build_dir" --buildtype=release
fi
