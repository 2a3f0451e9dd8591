#!/usr/bin/env bash
# Builds lhcr and serves it on a fresh data directory (the embedded SQLite
# store), printing the base URL. Stop with Ctrl-C.
# env: LHCR_DATA (default ./lhcr-data), LHCR_LISTEN (default 127.0.0.1:8080)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/install-deps.sh
./scripts/build.sh lhcr
exec ./build/src/app/lhcr serve --data "${LHCR_DATA:-lhcr-data}" --listen "${LHCR_LISTEN:-127.0.0.1:8080}"
