#!/usr/bin/env bash
# Read-by-id under concurrent keep-alive load: lhcr vs nginx serving the same
# bytes as a static file, measured back to back in one run on one machine.
#
#   bench/read_load.sh [LHCR_BIN]
#
# Environment: DURATION (s per wrk run, default 10), REPS (alternating
# nginx/lhcr pairs, default 2), THREADS (wrk, 2), CONNECTIONS (wrk, 32),
# RESOURCES (resources stored before the run, default 200), STORES
# ("sqlite", the default, or "sqlite postgres").
# Prints "READ nginx_rps=.. lhcr_rps=.. ratio=.." (ratio = lhcr / nginx,
# the median over the pairs). Loopback only; every process it starts is
# stopped and its temp dir removed on exit, whatever happens.
#
# With STORES="sqlite postgres" it also starts a throwaway PostgreSQL
# (Debian's initdb and pg_ctl, as the postgres user when run as root, in the
# temp dir, listening on 127.0.0.1 only, PostgreSQL's default settings:
# fsync=on, shared_buffers=128MB) and a second `lhcr serve --store
# postgres://...` on it holding the same Patients; each rep is then the
# triple nginx, lhcr on SQLite, lhcr on PostgreSQL, and it prints
# "READ_PG nginx_rps=.. lhcr_pg_rps=.. ratio=.. vs_sqlite=.." (ratio =
# lhcr-on-PostgreSQL / nginx, vs_sqlite = lhcr-on-PostgreSQL / lhcr-on-SQLite,
# each the median over the reps).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${LHCR_BIN:-$ROOT/build-g/src/app/lhcr}}
DURATION=${DURATION:-10}
REPS=${REPS:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
RESOURCES=${RESOURCES:-200}
STORES=${STORES:-sqlite}
WITH_PG=0
[[ " $STORES " == *" postgres "* ]] && WITH_PG=1

[[ -x $BIN ]] || { echo "read_load: no lhcr binary at $BIN" >&2; exit 2; }
command -v wrk >/dev/null || { echo "read_load: wrk not installed" >&2; exit 2; }
command -v nginx >/dev/null || NGINX=/usr/sbin/nginx
NGINX=${NGINX:-$(command -v nginx)}

TMP=$(mktemp -d /tmp/lhcr-readload-XXXXXX)
LHCR_PID=""
LHCR_PG_PID=""
NGINX_PID=""
PG_STARTED=0
as_pg() {  # runs a PostgreSQL program as the postgres user when root
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
  [[ -n $LHCR_PID ]] && kill "$LHCR_PID" 2>/dev/null && wait "$LHCR_PID" 2>/dev/null || true
  [[ -n $LHCR_PG_PID ]] && kill "$LHCR_PG_PID" 2>/dev/null && wait "$LHCR_PG_PID" 2>/dev/null || true
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  if [[ $PG_STARTED == 1 ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# nginx workers and PostgreSQL run as unprivileged users when started as root.
chmod 755 "$TMP"

source "$ROOT/bench/load_common.sh"

# --- lhcr ---------------------------------------------------------------
"$BIN" serve --data "$TMP/data" --listen 127.0.0.1:0 --no-fsync --no-auth >"$TMP/lhcr.out" 2>&1 &
LHCR_PID=$!
BASE=$(wait_base "$TMP/lhcr.out" "$LHCR_PID")

# --- PostgreSQL and lhcr on it --------------------------------------------
if [[ $WITH_PG == 1 ]]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -x $PG_BIN/initdb ]] || { echo "read_load: PostgreSQL not installed" >&2; exit 2; }
  mkdir -p "$TMP/pg"
  [[ $(id -u) == 0 ]] && chown postgres: "$TMP/pg"
  as_pg "$PG_BIN/initdb" -D "$TMP/pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$TMP/pg/initdb.log" 2>&1 ||
    { cat "$TMP/pg/initdb.log" >&2; exit 1; }
  PGPORT_=$(free_port)
  PG_STARTED=1
  as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w -t 60 \
    -o "-p $PGPORT_ -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
    { cat "$TMP/pg/server.log" >&2; exit 1; }
  as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT_" -U postgres -qAt -c 'CREATE DATABASE lhcr' postgres >/dev/null
  PG_SETTINGS=$(as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT_" -U postgres -qAt -c \
    "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('server_version','fsync','synchronous_commit','shared_buffers')" postgres)
  "$BIN" serve --store "postgres://postgres@127.0.0.1:$PGPORT_/lhcr" --listen 127.0.0.1:0 --no-auth >"$TMP/lhcr-pg.out" 2>&1 &
  LHCR_PG_PID=$!
  BASE_PG=$(wait_base "$TMP/lhcr-pg.out" "$LHCR_PG_PID")
fi

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
store_patients() {  # base URL -> prints the id of the last Patient created
  local loc="" id
  for _ in $(seq 1 "$RESOURCES"); do
    loc=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/fhir+json' \
          --data-binary @"$TMP/patient.json" "$1/Patient" | tr -d '\r' |
          awk 'tolower($1)=="location:"{print $2}')
  done
  id=$(echo "$loc" | sed -E 's#.*/Patient/([^/]+).*#\1#')
  [[ -n $id ]] || { echo "read_load: could not create a Patient at $1" >&2; return 1; }
  echo "$id"
}
ID=$(store_patients "$BASE")
URL_LHCR="$BASE/Patient/$ID"
if [[ $WITH_PG == 1 ]]; then
  ID_PG=$(store_patients "$BASE_PG")
  URL_LHCR_PG="$BASE_PG/Patient/$ID_PG"
  # The same resource but for its id and meta: the same length.
  PG_BYTES=$(curl -s "$URL_LHCR_PG" | wc -c)
  SQ_BYTES=$(curl -s "$URL_LHCR" | wc -c)
  [[ $PG_BYTES == "$SQ_BYTES" ]] || { echo "read_load: lhcr on PostgreSQL returned $PG_BYTES bytes, on SQLite $SQ_BYTES" >&2; exit 1; }
fi

# --- nginx with the same bytes ------------------------------------------
mkdir -p "$TMP/www/fhir/Patient" "$TMP/nginx-tmp"
curl -s -o "$TMP/www/fhir/Patient/$ID" "$URL_LHCR"
BYTES=$(stat -c %s "$TMP/www/fhir/Patient/$ID")
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
if [[ $WITH_PG == 1 ]]; then
  echo "READ_PG setup: $PG_SETTINGS; lhcr --store postgres://postgres@127.0.0.1:$PGPORT_/lhcr $URL_LHCR_PG"
  run_wrk "$URL_LHCR_PG" >/dev/null
fi
RATIOS=()
NG=()
LH=()
PGR=()
PGRATIOS=()
PGVS=()
for rep in $(seq 1 "$REPS"); do
  n=$(run_wrk "$URL_NGINX")
  l=$(run_wrk "$URL_LHCR")
  r=$(python3 -c "print(f'{$l/$n:.3f}')")
  echo "READ rep=$rep nginx_rps=$n lhcr_rps=$l ratio=$r"
  NG+=("$n"); LH+=("$l"); RATIOS+=("$r")
  if [[ $WITH_PG == 1 ]]; then
    p=$(run_wrk "$URL_LHCR_PG")
    pr=$(python3 -c "print(f'{$p/$n:.3f}')")
    pv=$(python3 -c "print(f'{$p/$l:.3f}')")
    echo "READ_PG rep=$rep nginx_rps=$n lhcr_sqlite_rps=$l lhcr_pg_rps=$p ratio=$pr vs_sqlite=$pv"
    PGR+=("$p"); PGRATIOS+=("$pr"); PGVS+=("$pv")
  fi
done
python3 - "${NG[*]}" "${LH[*]}" "${RATIOS[*]}" "${PGR[*]:-}" "${PGRATIOS[*]:-}" "${PGVS[*]:-}" <<'EOF'
import statistics, sys
ng, lh, r, pg, pr, pv = ([float(x) for x in a.split()] for a in sys.argv[1:7])
print(f"READ nginx_rps={statistics.median(ng):.0f} lhcr_rps={statistics.median(lh):.0f} ratio={statistics.median(r):.3f}")
if pg:
    print(f"READ_PG nginx_rps={statistics.median(ng):.0f} lhcr_pg_rps={statistics.median(pg):.0f} "
          f"ratio={statistics.median(pr):.3f} vs_sqlite={statistics.median(pv):.3f}")
EOF
