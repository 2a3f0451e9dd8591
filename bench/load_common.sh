# Shared by the wire-load benches (read_load.sh, auth_load.sh); source it.

wait_base() {  # lhcr output file, pid -> prints its base URL
  local base=""
  for _ in $(seq 1 100); do
    base=$(grep -o 'http://127.0.0.1:[0-9]*/fhir' "$1" | head -1 || true)
    [[ -n $base ]] && break
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  [[ -n $base ]] || { echo "$(basename "$0" .sh): lhcr did not start" >&2; return 1; }
  echo "$base"
}
