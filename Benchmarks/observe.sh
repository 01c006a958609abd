#!/usr/bin/env bash
# Benchmark of Observe against iproute2 reading the same state.
#
#   Benchmarks/observe.sh [N...]        (default: 100 1000)
#
# Builds `netform` and `netform-bench` in release mode, then, for each N, runs
# itself inside Scripts/sandbox (a throw-away network + mount namespace: nothing is
# created in the machine's own namespace). There it builds N named namespaces, each
# with a veth (`eth0`, host end on one bridge), lo up, an address, a default route
# and netform-style alias marks — with `ip -batch` for the host side and one
# `nsenter --net=... ip -batch -` per namespace (nsenter only does setns, unlike
# `ip -n`/`ip netns exec`, which copy the mount table: ~5 ms per call at N=1000).
#
# It waits for the scene to settle (IPv6 DAD and MLD work on 1000 new interfaces holds
# the RTNL lock for a few seconds), then times, in the same run:
#   observe (in-process)   netform-bench observe: Observer.observe() alone, best of 10
#                          (automatic worker count, and 1 worker)
#   observe (process)      `netform-bench observe --repeat 0`: one cold observe, whole
#                          process (start, observe, exit), best of 7, with its CPU time
#   netform show (process) `netform show --all --json > /dev/null`, whole process, best of 5
#                          (includes building the report and Foundation's JSONEncoder)
# The machine may be shared: every rtnetlink dump takes a global kernel lock, so other
# netlink-heavy work slows single runs a lot; best-of figures are the meaningful ones.
#   iproute2 -n            `ip -j -n NS link; ip -j -n NS addr; ip -j -n NS route` per namespace
#   iproute2 -all          `ip -all netns exec ip -j -batch (link; addr; route)`
# and prints ms total, ms per namespace and the ratio netform/iproute2.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  swift build -c release --product netform >&2
  swift build -c release --product netform-bench >&2
  BIN="$(swift build -c release --show-bin-path)"
  export NETFORM_BENCH_BIN="$BIN"
  [ $# -eq 0 ] && set -- 100 1000
  for n in "$@"; do
    Scripts/sandbox "$0" --inside "$n"
  done
  exit 0
fi

# ---- inside the sandbox ------------------------------------------------------
N="$2"
if [ "${NETFORM_SANDBOX:-0}" != 1 ] || [ "$(stat -L -c '%d:%i' /proc/self/ns/net)" = "${NETFORM_OUTER_NETNS:-}" ]; then
  echo "observe.sh: refusing to build a scene outside Scripts/sandbox" >&2
  exit 1
fi
BIN="$NETFORM_BENCH_BIN"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
ms() { date +%s%N; }
elapsed() { echo $(( ($2 - $1) / 1000 )) | awk '{ printf "%.1f", $1 / 1000 }'; }

echo "== N=$N: building the scene" >&2
t0=$(ms)
{
  for i in $(seq 1 "$N"); do echo "netns add nfb-$i"; done
} > "$TMP/ns.batch"
ip -batch "$TMP/ns.batch"
{
  echo "link add nfb-br type bridge"
  echo "link set nfb-br alias netform:bench/net/n up"
  echo "addr add 10.200.0.1/16 dev nfb-br"
  for i in $(seq 1 "$N"); do
    echo "link add nfb-v$i type veth peer name eth0 netns nfb-$i"
    echo "link set nfb-v$i master nfb-br alias netform:bench/ep/c$i/n up"
  done
} > "$TMP/host.batch"
ip -batch "$TMP/host.batch"
for i in $(seq 1 "$N"); do
  printf 'link set lo alias netform:bench/ctr/c%s up\nlink set eth0 alias netform:bench/ep/c%s/n up\naddr add 10.200.%s.%s/16 dev eth0\nroute add default via 10.200.0.1 dev eth0 proto 78\n' \
    "$i" "$i" $(( 1 + i / 250 )) $(( 1 + i % 250 )) | nsenter --net="/run/netns/nfb-$i" ip -batch -
done
t1=$(ms)
echo "   scene built in $(elapsed "$t0" "$t1") ms" >&2
SETTLE=$(( N / 150 + 2 ))
echo "   settling for ${SETTLE} s (IPv6 DAD/MLD on the new interfaces)" >&2
sleep "$SETTLE"

COUNT=$(( N + 1 ))   # named namespaces + the host (sandbox) namespace

echo "== N=$N: netform-bench (in-process Observer.observe)" >&2
"$BIN/netform-bench" observe --repeat 10 --encode > "$TMP/bench-auto"
"$BIN/netform-bench" observe --repeat 10 --workers 1 > "$TMP/bench-1"
cat "$TMP/bench-auto" "$TMP/bench-1" >&2
inproc=$(awk '/^best/ { sub("ms=", "", $4); print $4 }' "$TMP/bench-auto")
inproc1=$(awk '/^best/ { sub("ms=", "", $4); print $4 }' "$TMP/bench-1")
encode=$(awk '/^encode/ { sub("ms=", "", $2); print $2 }' "$TMP/bench-auto")

# best_of K CMD...: runs CMD K times (stdout to /dev/null); prints the best wall time
# in ms and the CPU time (user+sys, from /usr/bin/time, 10 ms resolution) of that run.
best_of() {
  local k="$1"; shift
  local best="" cpu=""
  for r in $(seq 1 "$k"); do
    local a b t c
    a=$(ms); /usr/bin/time -f "%U %S" -o "$TMP/time" "$@" > /dev/null; b=$(ms)
    t=$(elapsed "$a" "$b")
    c=$(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$TMP/time")
    if [ -z "$best" ] || awk -v x="$t" -v y="$best" 'BEGIN { exit !(x < y) }'; then best=$t; cpu=$c; fi
  done
  echo "$best $cpu"
}

echo "== N=$N: netform-bench observe --repeat 0 (whole process, best of 7)" >&2
read -r process processcpu < <(best_of 7 "$BIN/netform-bench" observe --repeat 0)
read -r process1 process1cpu < <(best_of 7 "$BIN/netform-bench" observe --repeat 0 --workers 1)

echo "== N=$N: netform show --all --json (whole process, best of 5)" >&2
"$BIN/netform" show --all --json > "$TMP/show.json"   # warm-up, and a sanity check
shown=$(grep -c '"type" : "named"' "$TMP/show.json" || true)
[ "$shown" -eq "$N" ] || { echo "show listed $shown named namespaces, expected $N" >&2; exit 1; }
read -r show showcpu < <(best_of 5 "$BIN/netform" show --all --json)
read -r showproj showprojcpu < <(best_of 3 "$BIN/netform" show --project bench --json)

echo "== N=$N: iproute2, ip -j -n NS link/addr/route per namespace" >&2
a=$(ms)
{
  ip -j link show; ip -j addr show; ip -j route show
  for i in $(seq 1 "$N"); do
    ip -j -n "nfb-$i" link show; ip -j -n "nfb-$i" addr show; ip -j -n "nfb-$i" route show
  done
} > /dev/null
b=$(ms)
ipn=$(elapsed "$a" "$b")

echo "== N=$N: iproute2, ip -all netns exec ip -j -batch" >&2
printf 'link show\naddr show\nroute show\n' > "$TMP/read.batch"
a=$(ms)
{
  ip -j -batch "$TMP/read.batch"
  ip -all netns exec ip -j -batch "$TMP/read.batch"
} > /dev/null
b=$(ms)
ipall=$(elapsed "$a" "$b")

awk -v n="$N" -v c="$COUNT" -v inproc="$inproc" -v inproc1="$inproc1" -v encode="$encode" \
    -v process="$process" -v processcpu="$processcpu" -v process1="$process1" -v process1cpu="$process1cpu" \
    -v show="$show" -v showcpu="$showcpu" -v showproj="$showproj" -v showprojcpu="$showprojcpu" \
    -v ipn="$ipn" -v ipall="$ipall" 'BEGIN {
  printf "\nN=%d (%d namespaces incl. the host); wall-clock ms, best run; cpu = user+sys of that run\n", n, c
  printf "  %-44s %9s %12s %10s %11s %11s\n", "", "ms total", "ms/namespace", "cpu ms", "vs ip -n", "vs ip -all"
  row("Observer.observe, in-process (auto workers)", inproc, "")
  row("Observer.observe, in-process (1 worker)", inproc1, "")
  row("observe, whole process (auto workers)", process, processcpu)
  row("observe, whole process (1 worker)", process1, process1cpu)
  row("show: report + JSONEncoder only (in-proc)", encode, "")
  row("netform show --all --json (whole process)", show, showcpu)
  row("netform show --project --json (process)", showproj, showprojcpu)
  row("iproute2: ip -j -n NS link/addr/route", ipn, "")
  row("iproute2: ip -all netns exec ip -j -batch", ipall, "")
}
function row(name, t, cpu) { printf "  %-44s %9.1f %12.4f %10s %10.3fx %10.3fx\n", name, t, t / c, cpu, t / ipn, t / ipall }'
