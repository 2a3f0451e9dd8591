#!/usr/bin/env bash
# The cost of authentication on the wire (issue 7): read by id and a search
# under concurrent keep-alive load, with security off (`--no-auth`) and on
# (`--dev-issuer`, every request carrying the same ES256 bearer token), two
# lhcr processes holding the same Patients, measured alternately in one run.
#
#   bench/auth_load.sh [LHCR_BIN]
#
# Environment: DURATION (s per wrk run, default 8), REPS (alternating
# off/on pairs, default 3), THREADS (wrk, 2), CONNECTIONS (wrk, 32),
# RESOURCES (Patients stored, default 200).
# Prints per rep and as medians:
#   AUTH read  off_rps=.. on_rps=.. ratio=..   (ratio = on / off)
#   AUTH search off_rps=.. on_rps=.. ratio=..
# Loopback only; both servers are stopped and the temp dir removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${LHCR_BIN:-$ROOT/build/src/app/lhcr}}
DURATION=${DURATION:-8}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
RESOURCES=${RESOURCES:-200}

[[ -x $BIN ]] || { echo "auth_load: no lhcr binary at $BIN" >&2; exit 2; }
command -v wrk >/dev/null || { echo "auth_load: wrk not installed" >&2; exit 2; }

TMP=$(mktemp -d /tmp/lhcr-authload-XXXXXX)
OFF_PID=""
ON_PID=""
cleanup() {
  [[ -n $OFF_PID ]] && kill "$OFF_PID" 2>/dev/null && wait "$OFF_PID" 2>/dev/null || true
  [[ -n $ON_PID ]] && kill "$ON_PID" 2>/dev/null && wait "$ON_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

source "$ROOT/bench/load_common.sh"

# Two data directories, one per server (each process keeps its own audit
# chain, so two must not share one), holding the same Patients.
"$BIN" serve --data "$TMP/off" --listen 127.0.0.1:0 --no-fsync --no-auth >"$TMP/off.out" 2>&1 &
OFF_PID=$!
OFF=$(wait_base "$TMP/off.out" "$OFF_PID")
"$BIN" serve --data "$TMP/on" --listen 127.0.0.1:0 --no-fsync --dev-issuer >"$TMP/on.out" 2>&1 &
ON_PID=$!
ON=$(wait_base "$TMP/on.out" "$ON_PID")
TOKEN=$("$BIN" token --data "$TMP/on" --professional 555021 --org RX1 --role R8000 --ttl 3600)
AUTH="Authorization: Bearer $TOKEN"

python3 - "$TMP/patient.json" <<'PY'
import json, sys
words = "reviewed in clinic with patient and carer discussed results plan follow-up".split()
div = " ".join(words[i % len(words)] for i in range(290))
p = {"resourceType": "Patient",
     "text": {"status": "generated",
              "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>' + div + "</p></div>"},
     "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
     "name": [{"use": "official", "family": "Smith", "given": ["Ann"]}],
     "gender": "female", "birthDate": "1950-03-04"}
open(sys.argv[1], "w").write(json.dumps(p))
PY
store_patients() {  # base URL, extra curl header -> prints the id of the last Patient created
  local loc="" id
  for _ in $(seq 1 "$RESOURCES"); do
    loc=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/fhir+json' -H "$2" \
          --data-binary @"$TMP/patient.json" "$1/Patient" | tr -d '\r' |
          awk 'tolower($1)=="location:"{print $2}')
  done
  id=$(echo "$loc" | sed -E 's#.*/Patient/([^/]+).*#\1#')
  [[ -n $id ]] || { echo "auth_load: could not create a Patient at $1" >&2; return 1; }
  echo "$id"
}
ID_OFF=$(store_patients "$OFF" "X-Bench: off")
ID_ON=$(store_patients "$ON" "$AUTH")
# The same resource both ways (but for its id and time: the same length),
# and nothing without the token.
[[ $(curl -s "$OFF/Patient/$ID_OFF" | wc -c) == $(curl -s -H "$AUTH" "$ON/Patient/$ID_ON" | wc -c) ]] ||
  { echo "auth_load: the two servers answer differently" >&2; exit 1; }
code=$(curl -s -o /dev/null -w "%{http_code}" "$ON/Patient/$ID_ON")
[[ $code == 401 ]] || { echo "auth_load: the secured server answered $code without a token" >&2; exit 1; }

run_wrk() {  # url [header] -> requests/s (fails on non-2xx responses)
  local out
  if [[ $# -gt 1 ]]; then
    out=$(timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -H "$2" "$1")
  else
    out=$(timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$1")
  fi
  if grep -q "Non-2xx" <<<"$out"; then echo "auth_load: non-2xx responses from $1" >&2; echo "$out" >&2; curl -s -i "$1" | head -12 >&2; exit 1; fi
  awk '/Requests\/sec:/{print $2}' <<<"$out"
}

SEARCH="Patient?family=Smith&gender=female&_count=10"
echo "AUTH setup: $RESOURCES Patients; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; token ${#TOKEN} bytes (ES256); load $(cut -d' ' -f1-3 /proc/loadavg)"
run_wrk "$OFF/Patient/$ID_OFF" >/dev/null
run_wrk "$ON/Patient/$ID_ON" "$AUTH" >/dev/null
declare -A R
for rep in $(seq 1 "$REPS"); do
  for kind in read search; do
    off_path="Patient/$ID_OFF"
    on_path="Patient/$ID_ON"
    [[ $kind == search ]] && off_path=$SEARCH && on_path=$SEARCH
    # Alternate which goes first, so a drift in the machine's load falls on both.
    if ((rep % 2)); then
      off=$(run_wrk "$OFF/$off_path")
      on=$(run_wrk "$ON/$on_path" "$AUTH")
    else
      on=$(run_wrk "$ON/$on_path" "$AUTH")
      off=$(run_wrk "$OFF/$off_path")
    fi
    r=$(python3 -c "print(f'{$on/$off:.3f}')")
    echo "AUTH $kind rep=$rep off_rps=$off on_rps=$on ratio=$r"
    R[$kind]+="$off,$on,$r "
  done
done
python3 - "${R[read]}" "${R[search]}" <<'PY'
import statistics, sys
for kind, arg in zip(("read", "search"), sys.argv[1:3]):
    rows = [tuple(float(v) for v in x.split(",")) for x in arg.split()]
    off = statistics.median(r[0] for r in rows)
    on = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[2] for r in rows)
    print(f"AUTH {kind} off_rps={off:.0f} on_rps={on:.0f} ratio={ratio:.3f}")
PY
echo "AUTH load after: $(cut -d' ' -f1-3 /proc/loadavg)"
