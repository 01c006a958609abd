#!/usr/bin/env bash
# Benchmark: N containers over M bridge networks — netform apply from empty, a no-op
# plan, destroy — next to the same topology built and torn down with `ip -batch` in
# the same run. Runs inside Scripts/sandbox (never in the machine's namespace).
#
#   Benchmarks/apply.sh [CONTAINERS] [NETWORKS]      (default 1000 10)
#
# Prints wall times, per-container costs, ratios against ip -batch, and netform's
# peak RSS (from /usr/bin/time when present, else from /proc).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
m="${2:-10}"
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  swift build -c release --product netform >/dev/null
  exec Scripts/sandbox "$0" "$@"
fi
bin="$(swift build -c release --show-bin-path)/netform"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
per=$(( (n + m - 1) / m ))

# The spec: M networks 10.(100+i).0.0/16, containers spread evenly.
{
  echo "version: 1"; echo "project: bench"; echo "networks:"
  for i in $(seq 0 $((m - 1))); do echo "  n$i: {subnets: [{subnet: 10.$((100 + i)).0.0/16}]}"; done
  echo "containers:"
  for c in $(seq 0 $((n - 1))); do echo "  c$c: {networks: [n$((c / per))]}"; done
} > "$work/bench.yaml"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# Baseline: ip -batch. One batch for the host side, one `ip -n` batch per container.
t0=$(now)
{
  for i in $(seq 0 $((m - 1))); do
    echo "link add br$i type bridge"; echo "link set br$i up"; echo "addr add 10.$((100 + i)).0.1/16 dev br$i"
  done
  for c in $(seq 0 $((n - 1))); do
    echo "netns add b$c"
    echo "link add vb$c type veth peer name eth0 netns b$c"
    echo "link set vb$c master br$((c / per)) up"
  done
} > "$work/host.batch"
ip -batch "$work/host.batch"
for c in $(seq 0 $((n - 1))); do
  i=$((c / per)); k=$((c % per + 2))
  printf 'link set lo up\nlink set eth0 up\naddr add 10.%d.%d.%d/16 dev eth0\nroute add default via 10.%d.0.1\n' \
    $((100 + i)) $((k / 256)) $((k % 256)) $((100 + i)) | ip -n "b$c" -batch -
done
t1=$(now)
ipbuild=$(elapsed "$t0" "$t1")
t0=$(now)
for c in $(seq 0 $((n - 1))); do echo "netns delete b$c"; done > "$work/del.batch"
for i in $(seq 0 $((m - 1))); do echo "link delete br$i"; done >> "$work/del.batch"
ip -batch "$work/del.batch"
t1=$(now)
ipdestroy=$(elapsed "$t0" "$t1")
# The namespaces' veths go asynchronously; netform destroy waits for them (so a
# following apply can reuse the names): time the same for ip.
while grep -q ' vb' <(ip -o link show); do sleep 0.01; done
t2=$(now)
ipdestroyall=$(elapsed "$t0" "$t2")

rss() { # peak RSS in MB of a command
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null; echo "scale=1; $(cat "$work/rss") / 1024" | bc -l
  else
    "$@" >/dev/null; echo "n/a"
  fi
}

t0=$(now); applyrss=$(rss "$bin" apply --yes "$work/bench.yaml" 2>/dev/null); t1=$(now); apply=$(elapsed "$t0" "$t1")
sleep 2  # let the kernel's asynchronous work after the apply (IPv6 DAD, timers) settle
t0=$(now); "$bin" plan --detailed-exitcode "$work/bench.yaml" >/dev/null 2>&1; t1=$(now); noop=$(elapsed "$t0" "$t1")
t0=$(now); "$bin" destroy --yes --project bench >/dev/null 2>&1; t1=$(now); destroy=$(elapsed "$t0" "$t1")

printf '\n%d containers over %d bridge networks\n' "$n" "$m"
printf '%-28s %10s %14s\n' "" "seconds" "ms/container"
printf '%-28s %10.3f %14.3f\n' "ip -batch build" "$ipbuild" "$(echo "$ipbuild * 1000 / $n" | bc -l)"
printf '%-28s %10.3f %14.3f\n' "netform apply (from empty)" "$apply" "$(echo "$apply * 1000 / $n" | bc -l)"
printf '%-28s %10.3f\n' "netform plan (no-op)" "$noop"
printf '%-28s %10.3f %14.3f\n' "ip -batch teardown" "$ipdestroy" "$(echo "$ipdestroy * 1000 / $n" | bc -l)"
printf '%-28s %10.3f %14.3f\n' "  + until the veths are gone" "$ipdestroyall" "$(echo "$ipdestroyall * 1000 / $n" | bc -l)"
printf '%-28s %10.3f %14.3f\n' "netform destroy" "$destroy" "$(echo "$destroy * 1000 / $n" | bc -l)"
printf 'apply speed-up vs ip -batch:   %.2fx\n' "$(echo "$ipbuild / $apply" | bc -l)"
printf 'destroy speed-up vs ip -batch: %.2fx (%.2fx counting the asynchronous teardown)\n' "$(echo "$ipdestroy / $destroy" | bc -l)" "$(echo "$ipdestroyall / $destroy" | bc -l)"
printf 'netform apply peak RSS:        %s MB\n' "$applyrss"
