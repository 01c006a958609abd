#!/usr/bin/env bash
# Benchmark: `netform plan --json` and the text plan of a very large spec (default 50,000
# containers over 50 bridge networks, 1000 a network) against an empty host, inside
# Scripts/sandbox. Prints, for each: wall time, peak RSS (/usr/bin/time) and the size of
# the output. Nothing is applied.
#
#   Benchmarks/plan-json.sh [CONTAINERS [NETWORKS]]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  swift build -c release --product netform >/dev/null
  exec Scripts/sandbox "$0" "$@"
fi
bin="$(swift build -c release --show-bin-path)/netform"
n="${1:-50000}"; m="${2:-50}"
per=$(( (n + m - 1) / m ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "version: 1"; echo "project: big"; echo "networks:"
  for i in $(seq 0 $((m - 1))); do echo "  n$i: {subnets: [{subnet: 10.$((i + 1)).0.0/16}]}"; done
  echo "containers:"
  for c in $(seq 0 $((n - 1))); do echo "  c$c: {networks: [n$((c / per))]}"; done
} > "$work/big.yaml"
now() { date +%s.%N; }
for mode in json text; do
  flag=(); [ "$mode" = json ] && flag=(--json)
  t0=$(now)
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" plan "${flag[@]}" "$work/big.yaml" > "$work/out" 2> "$work/err" || { tail -5 "$work/err" "$work/out" | cut -c1-300 >&2; exit 1; }
  t1=$(now)
  printf '%-5s N=%d: %.1f s, peak RSS %.0f MB, output %d bytes\n' "$mode" "$n" "$(echo "$t1 - $t0" | bc -l)" \
    "$(echo "$(tail -1 "$work/rss") / 1024" | bc -l)" "$(stat -c %s "$work/out")"
done
