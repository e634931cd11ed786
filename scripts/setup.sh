#!/usr/bin/env bash
# Installs what echod needs to build, test and benchmark on Debian 12, quietly, and only what is
# missing (so a second run is a no-op). Runs apt-get as root, or through sudo when not root.
set -euo pipefail

packages=(
  g++ pkg-config meson ninja-build python3
  liburing-dev libboost-context-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev libspdlog-dev
  # echod's master: sd_notify and socket activation under systemd
  libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl netcat-openbsd procps
  # loadtest/: the reference servers (nginx, a C epoll loop built with gcc), plots, taskset
  nginx-light gnuplot-nox gcc util-linux
  # echoload: zlib for --hdr-log (node and npm, for the test that decodes that log: below)
  zlib1g-dev
  # tests/deploy: the seccomp helper that denies io_uring to echod; the systemd unit check
  # (systemd-analyze verify, and the calls echod makes, under strace, against its filter)
  libseccomp-dev systemd strace
  # fuzz/ (scripts/fuzz.sh): clang and its compiler-rt, which holds libFuzzer (a Recommends of
  # clang-14 only, so --no-install-recommends would leave it out)
  clang libclang-rt-14-dev
)
# The Docker image, built and run with no engine (scripts/docker-base.sh, scripts/docker-check.sh):
# only when asked (CI's docker step sets ECHOD_SETUP_DOCKER=1), as buildah is large.
[[ ${ECHOD_SETUP_DOCKER:-} != 1 ]] || packages+=(debootstrap debian-archive-keyring buildah iproute2)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs and npm, unless a node with its own npm is there already (NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# Test-only node modules, each pinned by its package-lock.json: the HdrHistogram log test's decoder
# (hdr-histogram-js), and the deploy checks' Kubernetes schemas and YAML parser.
install_test_node_modules() {
  local dir_module dir module
  for dir_module in tests/client/hdr:hdr-histogram-js tests/deploy:kubernetes-models; do
    dir="$(dirname "$0")/../${dir_module%%:*}" module=${dir_module#*:}
    [[ -d $dir/node_modules/$module ]] || (cd "$dir" && npm ci --no-audit --no-fund --silent)
  done
}
if [[ ${#missing[@]} -eq 0 ]]; then
  install_test_node_modules
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The loadtest runs nginx itself, on a loopback port; keep the package from starting a system
# nginx on port 80 (policy-rc.d exit 101 = "do not start services"), unless one is configured.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_test_node_modules
