#!/usr/bin/env bash
# Configures (once) and builds a tree. Usage: scripts/build.sh [BUILD_DIR] [meson options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [[ ! -f "$dir/build.ninja" ]]; then
  if ! out=$(meson setup "$dir" "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
fi
# Quiet when it works; the whole build log when it does not.
if ! out=$(ninja -C "$dir" 2>&1); then
  printf '%s\n' "$out" >&2
  exit 1
fi
