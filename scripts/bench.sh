#!/usr/bin/env bash
# Runs the three lhcr benchmarks and prints their figures, each as a ratio to
# a floor or baseline measured in the same run on the same machine
# (docs/BENCHMARKS.md explains each):
#   INGEST  transaction Bundles through Interactions::Bundle vs plain SQLite inserts
#   READ    GET /fhir/Patient/<id> under wrk keep-alive load vs nginx, same bytes
#   SEARCH  patient-scoped search p50/p99 vs a read by id, over a large store
# and each of them again on the PostgreSQL store beside SQLite, in the same
# run (a throwaway PostgreSQL server, fsync on; PostgreSQL search at a smaller
# scale than the 1M SQLite one: both stores loaded with the same patients):
#   INGEST_PG  ..., READ_PG  ..., SEARCH_PG  ...  (STORES=sqlite skips them)
#
#   BENCH_SCALE=small scripts/bench.sh   # quick (a few minutes): 5k resources, 30k-resource search store
#   scripts/bench.sh                     # full: 20k resources ingested, search at 1M resources
#
# The search store is kept under /tmp (SEARCH_DIR) and reused when it holds a
# complete load; delete it after a schema change. BUILD_DIR picks the build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-g}
SCALE=${BENCH_SCALE:-full}
STORES=${STORES:-sqlite postgres}
WITH_PG=0
[[ " $STORES " == *" postgres "* ]] && WITH_PG=1

if [[ ! -f $BUILD/build.ninja ]]; then
  # RelWithDebInfo (-O2 -g): symbols for perf; g++ 12 -O3 trips -Wrestrict in validator.cc.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$BUILD" lhcr ingest_bench search_bench >/dev/null

if [[ $SCALE == small ]]; then
  INGEST_ARGS=(--patients 50 --reps 3)
  READ_ENV=(DURATION=3 REPS=1 RESOURCES=50)
  SEARCH_ARGS=(--patients 300 --queries 300)
  SEARCH_DIR=${SEARCH_DIR:-/tmp/lhcr-search-bench-small}
  PG_SEARCH_ARGS=(--patients 100 --queries 300)
  PG_SEARCH_DIR=${PG_SEARCH_DIR:-/tmp/lhcr-search-pg-small}
else
  INGEST_ARGS=(--patients 200 --reps 3 --stages)
  READ_ENV=(DURATION=10 REPS=3 RESOURCES=200)
  SEARCH_ARGS=(--patients 10000 --queries 2000)
  SEARCH_DIR=${SEARCH_DIR:-/tmp/lhcr-search-1m}
  PG_SEARCH_ARGS=(--patients 1000 --queries 1000)
  PG_SEARCH_DIR=${PG_SEARCH_DIR:-/tmp/lhcr-search-100k}
fi
if [[ $WITH_PG == 1 ]]; then
  INGEST_ARGS+=(--store both)
  READ_ENV+=(STORES="sqlite postgres")
fi

OUT=$(mktemp /tmp/lhcr-bench-XXXXXX.log)
trap 'rm -f "$OUT"' EXIT
echo "== ingest: $BUILD/bench/ingest_bench ${INGEST_ARGS[*]}"
timeout 1800 "$BUILD/bench/ingest_bench" "${INGEST_ARGS[@]}" | tee -a "$OUT"
echo "== read: ${READ_ENV[*]} bench/read_load.sh $BUILD/src/app/lhcr"
env "${READ_ENV[@]}" timeout 600 "$ROOT/bench/read_load.sh" "$BUILD/src/app/lhcr" | tee -a "$OUT"
echo "== search: $BUILD/bench/search_bench --dir $SEARCH_DIR ${SEARCH_ARGS[*]}"
timeout 3600 "$BUILD/bench/search_bench" --dir "$SEARCH_DIR" "${SEARCH_ARGS[@]}" | grep -v '^LOAD [0-9]' | tee -a "$OUT"
if [[ $WITH_PG == 1 ]]; then
  # The same patients in both stores, the same query rounds alternating
  # between them; the SQLite lines go to a separate log (SEARCH_SQ).
  echo "== search, PostgreSQL beside SQLite: $BUILD/bench/search_bench --dir $PG_SEARCH_DIR ${PG_SEARCH_ARGS[*]} --store both"
  timeout 3600 "$BUILD/bench/search_bench" --dir "$PG_SEARCH_DIR" "${PG_SEARCH_ARGS[@]}" --store both |
    grep -v -E '^LOAD(_PG)? [0-9]' | sed -E 's/^SEARCH /SEARCH_SQ /' | tee -a "$OUT"
fi
echo
echo "== summary (ratios: ingest lhcr/floor, read lhcr/nginx, search latency/read latency;"
echo "   _PG: PostgreSQL store, SEARCH_SQ: SQLite at the PostgreSQL search's scale)"
grep -E '^(INGEST|READ nginx|READ_PG nginx|SEARCH |SEARCH_SQ |SEARCH_PG |SEARCH_VS)' "$OUT"
