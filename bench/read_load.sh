#!/usr/bin/env bash
# Read-by-id under concurrent keep-alive load: lhcr vs nginx serving the same
# bytes as a static file, measured back to back in one run on one machine.
#
#   bench/read_load.sh [LHCR_BIN]
#
# Environment: DURATION (s per wrk run, default 10), REPS (alternating
# nginx/lhcr pairs, default 2), THREADS (wrk, 2), CONNECTIONS (wrk, 32),
# RESOURCES (resources stored before the run, default 200).
# Prints "READ nginx_rps=.. lhcr_rps=.. ratio=.." (ratio = lhcr / nginx,
# the median over the pairs). Loopback only; every process it starts is
# stopped and its temp dir removed on exit, whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${LHCR_BIN:-$ROOT/build-g/src/app/lhcr}}
DURATION=${DURATION:-10}
REPS=${REPS:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
RESOURCES=${RESOURCES:-200}

[[ -x $BIN ]] || { echo "read_load: no lhcr binary at $BIN" >&2; exit 2; }
command -v wrk >/dev/null || { echo "read_load: wrk not installed" >&2; exit 2; }
command -v nginx >/dev/null || NGINX=/usr/sbin/nginx
NGINX=${NGINX:-$(command -v nginx)}

TMP=$(mktemp -d /tmp/lhcr-readload-XXXXXX)
LHCR_PID=""
NGINX_PID=""
cleanup() {
  [[ -n $LHCR_PID ]] && kill "$LHCR_PID" 2>/dev/null && wait "$LHCR_PID" 2>/dev/null || true
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- lhcr ---------------------------------------------------------------
"$BIN" serve --data "$TMP/data" --listen 127.0.0.1:0 --no-fsync >"$TMP/lhcr.out" 2>&1 &
LHCR_PID=$!
BASE=""
for _ in $(seq 1 100); do
  BASE=$(grep -o 'http://127.0.0.1:[0-9]*/fhir' "$TMP/lhcr.out" | head -1 || true)
  [[ -n $BASE ]] && break
  kill -0 "$LHCR_PID" 2>/dev/null || { cat "$TMP/lhcr.out" >&2; exit 1; }
  sleep 0.1
done
[[ -n $BASE ]] || { echo "read_load: lhcr did not start" >&2; exit 1; }

# Some resources of realistic size (about 2.7 KB with narrative); the last
# one is the one read.
python3 - "$TMP/patient.json" <<'EOF'
import json, sys
words = "reviewed in clinic with patient and carer discussed results plan follow-up".split()
div = " ".join(words[i % len(words)] for i in range(290))
p = {"resourceType": "Patient",
     "meta": {"source": "urn:lhcr:bench:gp-B82001"},
     "text": {"status": "generated",
              "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>' + div + "</p></div>"},
     "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
     "active": True,
     "name": [{"use": "official", "family": "Smith", "given": ["Ann"], "prefix": ["Mrs"]}],
     "gender": "female", "birthDate": "1950-03-04",
     "address": [{"use": "home", "line": ["12 High Street"], "city": "Leeds",
                  "postalCode": "LS1 4AB", "country": "GB"}]}
open(sys.argv[1], "w").write(json.dumps(p))
EOF
LOC=""
for _ in $(seq 1 "$RESOURCES"); do
  LOC=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/fhir+json' \
        --data-binary @"$TMP/patient.json" "$BASE/Patient" | tr -d '\r' |
        awk 'tolower($1)=="location:"{print $2}')
done
ID=$(echo "$LOC" | sed -E 's#.*/Patient/([^/]+).*#\1#')
[[ -n $ID ]] || { echo "read_load: could not create a Patient" >&2; exit 1; }
URL_LHCR="$BASE/Patient/$ID"

# --- nginx with the same bytes ------------------------------------------
mkdir -p "$TMP/www/fhir/Patient" "$TMP/nginx-tmp"
curl -s -o "$TMP/www/fhir/Patient/$ID" "$URL_LHCR"
BYTES=$(stat -c %s "$TMP/www/fhir/Patient/$ID")
# nginx workers run as an unprivileged user when started as root.
chmod 755 "$TMP"
chmod -R a+rX "$TMP/www"
NPORT=$(free_port)
cat >"$TMP/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx-tmp/body;
  proxy_temp_path $TMP/nginx-tmp/proxy;
  fastcgi_temp_path $TMP/nginx-tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
  scgi_temp_path $TMP/nginx-tmp/scgi;
  default_type application/fhir+json;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    root $TMP/www;
  }
}
EOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" &
NGINX_PID=$!
URL_NGINX="http://127.0.0.1:$NPORT/fhir/Patient/$ID"
for _ in $(seq 1 50); do
  curl -s -o /dev/null "$URL_NGINX" && break
  sleep 0.1
done
cmp -s <(curl -s "$URL_NGINX") <(curl -s "$URL_LHCR") ||
  { echo "read_load: nginx and lhcr bodies differ" >&2; curl -s -i "$URL_NGINX" | head -5 >&2; cat "$TMP/nginx-error.log" >&2; exit 1; }

run_wrk() {  # url -> requests/s (fails on non-2xx responses or errors)
  local out
  out=$(timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$1")
  if grep -q 'Non-2xx' <<<"$out"; then echo "read_load: non-2xx responses from $1" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec:/{print $2}' <<<"$out"
}

echo "READ setup: $RESOURCES Patients stored; body $BYTES bytes; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s; lhcr $URL_LHCR; nginx $URL_NGINX"
run_wrk "$URL_NGINX" >/dev/null  # warm both
run_wrk "$URL_LHCR" >/dev/null
RATIOS=()
NG=()
LH=()
for rep in $(seq 1 "$REPS"); do
  n=$(run_wrk "$URL_NGINX")
  l=$(run_wrk "$URL_LHCR")
  r=$(python3 -c "print(f'{$l/$n:.3f}')")
  echo "READ rep=$rep nginx_rps=$n lhcr_rps=$l ratio=$r"
  NG+=("$n"); LH+=("$l"); RATIOS+=("$r")
done
python3 - "${NG[*]}" "${LH[*]}" "${RATIOS[*]}" <<'EOF'
import statistics, sys
ng, lh, r = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print(f"READ nginx_rps={statistics.median(ng):.0f} lhcr_rps={statistics.median(lh):.0f} ratio={statistics.median(r):.3f}")
EOF
