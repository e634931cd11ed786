#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs echod on its default config
# (config/echod.json). Extra arguments go to echod, e.g. scripts/run.sh --set processes=4
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec build/server/echod -c config/echod.json "$@"
