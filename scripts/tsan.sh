#!/usr/bin/env bash
# ThreadSanitizer: builds echod with clang's -fsanitize=thread in build-tsan/ (coroutine switches
# are annotated, runtime/fiber_switch.hpp) and runs the suites whose code runs on several threads.
# By default (and in CI): the scheduler pool, its mailbox and stacks (runtime, and over the real
# backends in scheduler_over_backends), worker threads (server_unit), echoload's threads
# (client_integration), and the real echod with its workers' threads and the master's admin
# endpoint (server_integration, server_fault, server_admin and server_stop, which also start
# echoload, server_systemd, and server_upgrade, where a master forks a new master from its
# scheduler). Plus the reactors (io): one thread, but a thousand
# coroutines switching under the annotations. The single-threaded suites (config, http_engine,
# client_unit) and the loadtest sweep, which measures speed, stay out.
# Any TSan report fails the run, from the test binaries or from any echod or echoload they start:
# each process writes its reports to build-tsan/tsan/report.PID, printed at the end.
# Usage: scripts/tsan.sh [BUILD_DIR]   (ECHOD_TSAN_TESTS: the `meson test` names to run instead)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=${1:-build-tsan}
tests=(${ECHOD_TSAN_TESTS:-runtime scheduler_over_backends io server_unit client_integration
  server_integration server_fault server_admin server_stop server_systemd server_upgrade})
# clang, not gcc: gcc 12's TSan runtime dies past 8128 live threads and fibers, and echod runs a
# fiber per connection (tests hold 10,000); clang 14's runtime has no such limit.
if [[ ! -f $dir/build.ninja ]]; then
  cxx=clang++
  command -v ccache >/dev/null && cxx="ccache clang++"
  # No -Dwerror: the gcc builds hold warnings to zero, and clang rejects gcc-only pragmas.
  # Line tables only (all a report's stacks need): the build is most of this step's time, and
  # full debug info costs a fifth of it. Not -O0, which would halve it: there echod's workers
  # die with SIGSEGV (not yet looked into; larger frames on 64 KiB coroutine stacks, likely).
  CXX=$cxx meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Dbenchmarks=disabled \
    -Dcpp_args=-gline-tables-only >/dev/null
fi
# Only what these tests run (their executables, echod, echoload): the single-threaded suites stay
# out of this build, which is the slowest of CI's.
meson compile -C "$dir" echod echoload \
  $(meson introspect "$dir" --tests | python3 -c '
import json, os, sys
wanted = set(sys.argv[1:])
print(" ".join(os.path.basename(t["cmd"][0]) for t in json.load(sys.stdin) if t["name"] in wanted))
' "${tests[@]}") >/dev/null
reports=$PWD/$dir/tsan
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error: a race ends the process at once (a worker's race would otherwise be one line in
# a log nobody reads); second_deadlock_stack: both stacks of a lock-order inversion.
# die_after_fork=0: the master runs on one thread, but its coroutines carry TSan fiber
# annotations, and TSan counts each fiber as a thread. Once the master has coroutines (every fork
# after the first generation's: a reload, a respawn), it would take the fork for a multi-threaded
# one and kill the child as soon as the new worker starts its threads (exit 66). The check it
# stands for (no other thread holds a lock at the fork) is kept by process_test instead, which
# asserts that the master runs a single OS thread.
export TSAN_OPTIONS="log_path=$reports/report halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 ${TSAN_OPTIONS:-}"
# TSan maps its shadow memory at fixed addresses: with the high mmap randomisation of newer
# kernels (vm.mmap_rnd_bits > 28) clang 14's runtime fails at start. Without ASLR it always fits;
# where personality() is not allowed (some containers), run as is.
run=()
setarch "$(uname -m)" -R true 2>/dev/null && run=(setarch "$(uname -m)" -R)
status=0
"${run[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
  --timeout-multiplier "${ECHOD_TIMEOUT_MULTIPLIER:-4}" "${tests[@]}" || status=$?
python3 scripts/test_summary.py "$dir/meson-logs/testlog.junit.xml" || status=1
shopt -s nullglob
found=("$reports"/report.*)
if [[ ${#found[@]} -gt 0 ]]; then
  echo "tsan: ${#found[@]} process(es) reported:" >&2
  for f in "${found[@]}"; do
    echo "==== $f" >&2
    head -n 80 "$f" >&2
  done
  status=1
fi
exit $status
