#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs every test suite (unit, integration,
# fault) over both reactor backends. Usage: scripts/test.sh [BUILD_DIR] [meson options...]
# Exits non-zero when any test fails; the last line is "Tests: N passed, N failed, N skipped".
# ECHOD_TEST_ARGS adds arguments to `meson test` (e.g. "--no-suite loadtest").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=${1:-build}
shift || true
scripts/build.sh "$dir" "$@"
status=0
meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "${ECHOD_TIMEOUT_MULTIPLIER:-1}" \
  ${ECHOD_TEST_ARGS:-} || status=$?
python3 scripts/test_summary.py "$dir/meson-logs/testlog.junit.xml" || status=1
exit $status
