#!/usr/bin/env bash
# Installs what echod needs to build, test and benchmark on Debian 12, quietly, and only what is
# missing (so a second run is a no-op). Runs apt-get as root, or through sudo when not root.
set -euo pipefail

packages=(
  g++ pkg-config meson ninja-build python3
  liburing-dev libboost-context-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl netcat-openbsd procps
)
# Extra packages for the whole-system benchmarks (loadtest/): reference servers and plots.
if [[ "${ECHOD_SETUP_LOADTEST:-0}" == 1 ]]; then
  packages+=(nginx-light gnuplot-nox gcc util-linux)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
