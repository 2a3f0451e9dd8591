#!/usr/bin/env bash
# Builds lhcr, synthesises a region (LHCR_PEOPLE people, seed 1), ingests it
# into a data directory (the embedded SQLite store) the first time, then
# serves the FHIR API, the ingest API (/sources, /ingest) and an MLLP
# listener, printing where. Stop with Ctrl-C.
# env: LHCR_DATA (default ./lhcr-data), LHCR_LISTEN (default 127.0.0.1:8080),
#      LHCR_MLLP (default 127.0.0.1:2575), LHCR_PEOPLE (default 2000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/install-deps.sh
./scripts/build.sh lhcr
lhcr=./build/src/app/lhcr
data="${LHCR_DATA:-lhcr-data}"
people="${LHCR_PEOPLE:-2000}"
region="$data-region"
if [[ ! -f "$data/lhcr.db" ]]; then
  if [[ ! -f "$region/sources.json" ]]; then
    "$lhcr" synth --people "$people" --seed 1 --out "$region"
  fi
  # Exit 3: some items were rejected (held in quarantine, see /quarantine).
  "$lhcr" ingest --data "$data" "$region" || [[ $? -eq 3 ]]
  # The master patient index over the whole region: Persons and review Tasks.
  "$lhcr" mpi relink --data "$data"
fi
# Deny by default: every /fhir route but metadata needs a bearer token. The
# development issuer (its key in $data/dev-issuer/) signs them.
echo "a token: TOKEN=\$($lhcr token --data $data --professional 555021 --org RX1 --role R8000)"
echo "  (or --system, or --patient NHS_NUMBER); then curl -H \"Authorization: Bearer \$TOKEN\" ..."
echo "data quality per source: http://${LHCR_LISTEN:-127.0.0.1:8080}/sources"
echo "persons (MPI): http://${LHCR_LISTEN:-127.0.0.1:8080}/fhir/Person"
exec "$lhcr" serve --data "$data" --listen "${LHCR_LISTEN:-127.0.0.1:8080}" \
  --mllp "${LHCR_MLLP:-127.0.0.1:2575}" --dev-issuer
