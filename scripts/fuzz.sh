#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan in build-fuzz/, and runs each
# for SECONDS (default 60) from its seed corpus and dictionary. Exits non-zero when any target
# crashes, leaks, times out on one input or breaks its property; the input that did it is saved as
# build-fuzz/artifacts/TARGET-crash-... (rerun: build-fuzz/fuzz/fuzz_TARGET FILE).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   targets: http_engine config report host_port
# New inputs the fuzzer finds go to build-fuzz/corpus/TARGET (kept between runs), never into
# the committed seeds; copy one to fuzz/corpus/TARGET/ when it is worth keeping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(http_engine config report host_port)
declare -A dicts=([http_engine]=http [config]=json [report]=json [host_port]=)

dir=build-fuzz
if [[ ! -f $dir/build.ninja ]]; then
  cxx=clang++
  command -v ccache >/dev/null && cxx="ccache clang++"
  CXX=$cxx meson setup "$dir" -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
    -Dtests=disabled -Dbenchmarks=disabled >/dev/null
fi
ninja -C "$dir" "${targets[@]/#/fuzz/fuzz_}" >/dev/null

mkdir -p "$dir/artifacts"
failed=()
for t in "${targets[@]}"; do
  [[ -d fuzz/corpus/$t ]] || { echo "fuzz: no target $t" >&2; exit 2; }
  mkdir -p "$dir/corpus/$t"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/$t-")
  [[ -n ${dicts[$t]} ]] && args+=(-dict="fuzz/dict/${dicts[$t]}.dict")
  log=$dir/fuzz-$t.log
  echo "fuzz: $t for ${seconds}s"
  if "$dir/fuzz/fuzz_$t" "${args[@]}" "$dir/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t: ${runs:-?} inputs, no failure"
  else
    echo "fuzz: $t FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]} (inputs in $dir/artifacts/)" >&2
  exit 1
fi
