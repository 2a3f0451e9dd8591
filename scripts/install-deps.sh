#!/usr/bin/env bash
# Installs everything lhcr needs to build, test and benchmark on Debian 12.
# Run as root. Idempotent, and fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  g++ cmake ninja-build ccache pkg-config python3
  libboost-dev libboost-system-dev rapidjson-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3 libssl-dev
  # the openssl command: the HTTPS tests make a throwaway CA with it
  openssl
  # dm+d XML (terminology)
  libxml2-dev
  # the PostgreSQL store (libpq) and the throwaway servers its tests start
  libpq-dev postgresql
  # tests, benchmarks, fuzzers
  libgtest-dev libgmock-dev libbenchmark-dev curl wrk nginx-light
  clang-14 libclang-rt-14-dev
  # the FHIR definitions come from the npm registry
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # node/npm may come from elsewhere on a machine; the commands are what matter.
    if [[ "$p" == nodejs && -x "$(command -v node || true)" ]]; then continue; fi
    if [[ "$p" == npm && -x "$(command -v npm || true)" ]]; then continue; fi
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The official FHIR R4 definitions and examples (SearchParameters,
# StructureDefinitions, example resources): npm package hl7.fhir.r4.examples.
pkg_dir=.deps/hl7.fhir.r4.examples
if [[ ! -f "$pkg_dir/package/SearchParameter-Patient-name.json" ]]; then
  echo "install-deps: fetching hl7.fhir.r4.examples@4.0.1 from the npm registry"
  mkdir -p "$pkg_dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null)
  tar -xzf "$tmp"/hl7.fhir.r4.examples-4.0.1.tgz -C "$pkg_dir"
  rm -rf "$tmp"
fi
# The UCUM unit definitions (prefixes, units with their magnitudes and
# dimensions), as the ucum-lhc library of the US National Library of Medicine
# ships them: npm package @lhncbc/ucum-lhc, data/ucumDefs.min.json
# (terminology/ucum.h parses it; docs/TERMINOLOGY.md).
ucum_dir=.deps/ucum-lhc
if [[ ! -f "$ucum_dir/package/data/ucumDefs.min.json" ]]; then
  echo "install-deps: fetching @lhncbc/ucum-lhc@7.1.9 from the npm registry"
  mkdir -p "$ucum_dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lhncbc/ucum-lhc@7.1.9 >/dev/null)
  tar -xzf "$tmp"/lhncbc-ucum-lhc-7.1.9.tgz -C "$ucum_dir" package/data package/LICENSE.md package/package.json
  rm -rf "$tmp"
fi
echo "install-deps: ok"
