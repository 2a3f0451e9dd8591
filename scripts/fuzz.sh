#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/*_fuzz.cc, wired in fuzz/CMakeLists.txt)
# with clang-14 in build-fuzz/ and runs each for SECONDS (default 30) on a
# temporary copy of its seed corpus fuzz/corpus/<target>/, so the checked-in
# seeds are never modified. Exits non-zero if a build fails or any target
# finds a crash, leak, timeout or sanitizer report; crash inputs are kept in
# build-fuzz/artifacts/<target>/.
#
# usage: scripts/fuzz.sh [SECONDS]
# env:   FUZZ_JOBS (ninja -j, default 2), FUZZ_TARGETS (default: all *_fuzz),
#        FUZZ_WNO_ERROR=1 (do not fail the build on warnings),
#        FUZZ_RUNS=N (run exactly N inputs from FUZZ_SEED, default seed 1, instead
#        of SECONDS: the same inputs every time, as CI wants; exploring for new
#        bugs is what the timed mode is for).
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
jobs="${FUZZ_JOBS:-2}"

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLHCR_FUZZ=ON -DLHCR_BENCH=OFF \
  -DLHCR_FUZZ_WNO_ERROR="$([[ "${FUZZ_WNO_ERROR:-0}" == 1 ]] && echo ON || echo OFF)" >/dev/null

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(ninja -C "$build" -t targets all |
    sed -n 's|^\(fuzz/\)\{0,1\}\([A-Za-z0-9_]*_fuzz\): .*|\2|p' | grep -v '^cmake_' | sort -u)
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no *_fuzz targets found in $build" >&2
  exit 1
fi
echo "building: ${targets[*]}"
ninja -C "$build" -j "$jobs" "${targets[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  corpus="$work/$t"
  mkdir -p "$corpus" "$build/artifacts/$t"
  if [[ -d "$root/fuzz/corpus/$t" ]]; then
    cp -r "$root/fuzz/corpus/$t/." "$corpus/"
  else
    echo "warning: no seed corpus at fuzz/corpus/$t" >&2
  fi
  if [[ -n "${FUZZ_RUNS:-}" ]]; then
    budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
    echo "=== $t: ${FUZZ_RUNS} runs from seed ${FUZZ_SEED:-1} on $(ls "$corpus" | wc -l) seeds"
  else
    budget=(-max_total_time="$seconds")
    echo "=== $t: ${seconds}s on $(ls "$corpus" | wc -l) seeds"
  fi
  if "$build/fuzz/$t" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
       "$corpus" >"$work/$t.log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
      "$work/$t.log" || true
    echo "=== $t: ok, corpus grew to $(ls "$corpus" | wc -l) inputs"
  else
    tail -n 60 "$work/$t.log"
    echo "=== $t: FAILED (artifacts in build-fuzz/artifacts/$t/)"
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz failures: ${failed[*]}" >&2
  exit 1
fi
if [[ -n "${FUZZ_RUNS:-}" ]]; then ran="$FUZZ_RUNS runs"; else ran="${seconds}s"; fi
echo "all fuzz targets ran $ran without a finding: ${targets[*]}"
