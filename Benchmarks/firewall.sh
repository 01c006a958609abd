#!/usr/bin/env bash
# Benchmark: the firewall at scale — N containers on M networks with P published
# ports and R rules. Reports the table's rule count (read back with nft -j), the
# firewall step's share of apply time (NETFORM_PROFILE), that step next to loading
# the same batch with `nft -j -f` (the floor), and the no-op plan with the rules
# next to the no-op plan of the same topology without rules and ports. Runs inside
# Scripts/sandbox (never in the machine's namespace).
#
#   Benchmarks/firewall.sh [CONTAINERS] [NETWORKS] [PORTS] [RULES]   (default 1000 100 50 50)
#
# NETFORM_BIN=PATH measures that binary instead of this tree's release build.
# NOPLAN_RUNS=N sets how many no-op plans each figure is the minimum of (default 5;
# the median of the same runs is printed too). On a loaded machine, wall times
# wander; the instruction counts do not:
#
#   Benchmarks/firewall.sh --callgrind [CONTAINERS] [NETWORKS] [PORTS] [RULES]
#
# runs one no-op plan of each spec under valgrind's callgrind instead, prints the
# instructions executed (Ir) for each and their difference, and leaves the profiles
# in CALLGRIND_DIR (default: a new directory under /tmp) for callgrind_annotate.
#
#   Benchmarks/firewall.sh --interleaved [CONTAINERS] [NETWORKS] [PORTS] [RULES]
#
# keeps both topologies applied at once, each in a network and mount namespace of
# its own inside the sandbox, and times their no-op plans in turns (plain, rules,
# plain, rules, … NOPLAN_RUNS each), so both see the same load: on a shared machine
# the difference of the two minima is then the figure to trust. With
# NETFORM_BIN_B=PATH, a second binary takes turns too (A and B on both topologies).
set -euo pipefail
cd "$(dirname "$0")/.."
callgrind=0
interleaved=0
if [ "${1:-}" = "--callgrind" ]; then callgrind=1; shift; fi
if [ "${1:-}" = "--interleaved" ]; then interleaved=1; shift; fi
n="${1:-1000}"; m="${2:-100}"; p="${3:-50}"; r="${4:-50}"
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  [ -n "${NETFORM_BIN:-}" ] || swift build -c release --product netform >/dev/null
  if [ "$callgrind" = 1 ]; then
    CALLGRIND_DIR="${CALLGRIND_DIR:-$(mktemp -d)}"; export CALLGRIND_DIR
    exec Scripts/sandbox "$0" --callgrind "$@"
  fi
  [ "$interleaved" = 1 ] && exec Scripts/sandbox "$0" --interleaved "$@"
  exec Scripts/sandbox "$0" "$@"
fi
bin="${NETFORM_BIN:-$(swift build -c release --show-bin-path)/netform}"  # NETFORM_BIN: another build to measure
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
per=$(( (n + m - 1) / m ))
sysctl -qw net.ipv4.ip_forward=1

spec() { # $1: with rules and ports (1) or without (0)
  echo "version: 1"; echo "project: fw"; echo "networks:"
  for i in $(seq 0 $((m - 1))); do echo "  n$i: {subnets: [{subnet: 10.$((i / 200 + 100)).$((i % 200)).0/24}]}"; done
  echo "containers:"
  for c in $(seq 0 $((n - 1))); do
    ports=""
    if [ "$1" = 1 ] && [ "$c" -lt "$p" ]; then ports=", ports: [\"$((20000 + c)):80/tcp\"]"; fi
    echo "  c$c: {networks: [n$((c / per))], labels: {tier: t$((c % 10))}$ports}"
  done
  if [ "$1" = 1 ]; then
    echo "rules:"
    for k in $(seq 0 $((r - 1))); do
      case $((k % 3)) in
        0) echo "  - allow: {from: c$k, to: c$((k + per)), ports: [$((8000 + k))/tcp]}" ;;
        1) echo "  - deny: {from: \"label:tier=t$((k % 10))\", to: \"network:n$((k % m))\", ports: [22]}" ;;
        2) echo "  - allow: {from: \"network:n$((k % m))\", to: \"label:tier=t$(((k + 1) % 10))\", protocols: [icmp]}" ;;
      esac
    done
  fi
}
spec 1 > "$work/rules.yaml"
spec 0 > "$work/plain.yaml"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
ms() { echo "$1 * 1000" | bc -l; }

runs="${NOPLAN_RUNS:-5}"
noop() { # no-op plans, seconds: "MIN MEDIAN MIN-CPU" (CPU: user + system, all threads)
  local TIMEFORMAT='%R %U %S'
  for _ in $(seq 1 "$runs"); do
    { time "$bin" plan --detailed-exitcode "$1" >/dev/null 2>&1; } 2>&1 | awk '{ print $1, $2 + $3 }'
  done > "$work/times"
  echo "$(cut -d' ' -f1 "$work/times" | sort -n | sed -n 1p)" \
       "$(cut -d' ' -f1 "$work/times" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")" \
       "$(cut -d' ' -f2 "$work/times" | sort -n | sed -n 1p)"
}

if [ "$interleaved" = 1 ]; then
  # Two "hosts": a network + mount namespace each (with its own /run), held open
  # by a sleeping process, entered with nsenter.
  host() {
    unshare --net --mount --propagation private -- /bin/sh -c '
      mount -t tmpfs -o mode=0755 netform-bench-run /run && mkdir -p /run/netns /run/netform &&
      ip link set lo up && sysctl -qw net.ipv4.ip_forward=1 && echo ready && exec sleep 100000' > "$work/$1.ready" &
    echo $! > "$work/$1.pid"
  }
  host plain; host rules
  trap 'kill "$(cat "$work/plain.pid")" "$(cat "$work/rules.pid")" 2>/dev/null; rm -rf "$work"' EXIT
  for h in plain rules; do until grep -q ready "$work/$h.ready" 2>/dev/null; do sleep 0.1; done; done
  in_host() { local h=$1; shift; nsenter -t "$(cat "$work/$h.pid")" -n -m -- "$@"; }
  in_host plain "$bin" apply --yes "$work/plain.yaml" >/dev/null 2>&1
  in_host rules "$bin" apply --yes "$work/rules.yaml" >/dev/null 2>&1
  bins=("$bin"); [ -n "${NETFORM_BIN_B:-}" ] && bins+=("$NETFORM_BIN_B")
  for b in "${bins[@]}"; do  # converged, and warm
    in_host plain "$b" plan --detailed-exitcode "$work/plain.yaml" >/dev/null
    in_host rules "$b" plan --detailed-exitcode "$work/rules.yaml" >/dev/null
  done
  TIMEFORMAT='%R'
  for _ in $(seq 1 "$runs"); do
    for i in "${!bins[@]}"; do
      for h in plain rules; do
        { time in_host "$h" "${bins[$i]}" plan --detailed-exitcode "$work/$h.yaml" >/dev/null 2>&1; } 2>> "$work/t.$i.$h"
      done
    done
  done
  printf '\n%d containers on %d networks, %d published ports, %d rules; no-op plans in turns, %d each\n' "$n" "$m" "$p" "$r" "$runs"
  for i in "${!bins[@]}"; do
    pmin=$(sort -n "$work/t.$i.plain" | sed -n 1p); rmin=$(sort -n "$work/t.$i.rules" | sed -n 1p)
    pmed=$(sort -n "$work/t.$i.plain" | sed -n "$(( (runs + 1) / 2 ))p"); rmed=$(sort -n "$work/t.$i.rules" | sed -n "$(( (runs + 1) / 2 ))p")
    printf '%s\n  min:    without rules and ports %.1f ms, with them %.1f ms (%+.1f ms)\n' "${bins[$i]}" "$(ms "$pmin")" "$(ms "$rmin")" "$(ms "$(echo "$rmin - $pmin" | bc -l)")"
    printf '  median: without rules and ports %.1f ms, with them %.1f ms (%+.1f ms)\n' "$(ms "$pmed")" "$(ms "$rmed")" "$(ms "$(echo "$rmed - $pmed" | bc -l)")"
  done
  exit 0
fi

if [ "$callgrind" = 1 ]; then
  # valgrind cannot read Swift's DWARF ("possibly corrupted debuginfo"): profile a
  # copy without it (the symbol table, hence function names, stays).
  # And valgrind 3.19 crashes on libdispatch's sigsuspend (see the shim's comment).
  objcopy --strip-debug "$bin" "$work/netform"
  cc -shared -fPIC -O2 -o "$work/sigsuspend.so" Benchmarks/valgrind-sigsuspend.c
  ir() { # instructions of one no-op plan of spec $1, profile in $2
    LD_PRELOAD="$work/sigsuspend.so" valgrind --tool=callgrind --callgrind-out-file="$2" "$work/netform" plan --detailed-exitcode "$1" >/dev/null 2>"$2.log"
    sed -n 's/^summary: //p' "$2"
  }
  "$bin" apply --yes "$work/plain.yaml" >/dev/null 2>&1
  "$bin" plan --detailed-exitcode "$work/plain.yaml" >/dev/null  # warm, and converged
  plainir=$(ir "$work/plain.yaml" "$CALLGRIND_DIR/plain.out")
  "$bin" destroy --yes --project fw >/dev/null 2>&1
  "$bin" apply --yes "$work/rules.yaml" >/dev/null 2>&1
  "$bin" plan --detailed-exitcode "$work/rules.yaml" >/dev/null
  rulesir=$(ir "$work/rules.yaml" "$CALLGRIND_DIR/rules.out")
  "$bin" destroy --yes --project fw >/dev/null 2>&1
  printf '\n%d containers on %d networks, %d published ports, %d rules (callgrind, one no-op plan each)\n' "$n" "$m" "$p" "$r"
  printf 'instructions, without rules and ports:    %d\n' "$plainir"
  printf 'instructions, with them:                  %d (+%d, x%.3f)\n' "$rulesir" "$((rulesir - plainir))" "$(echo "$rulesir / $plainir" | bc -l)"
  echo "profiles: $CALLGRIND_DIR/plain.out $CALLGRIND_DIR/rules.out (callgrind_annotate --inclusive=yes FILE)"
  exit 0
fi

# Without rules and ports first (the same topology, a table with the defaults only).
"$bin" apply --yes "$work/plain.yaml" >/dev/null 2>&1
sleep 2
read -r plainnoop plainmed plaincpu <<<"$(noop "$work/plain.yaml")"
"$bin" destroy --yes --project fw >/dev/null 2>&1

t0=$(now)
NETFORM_PROFILE=1 "$bin" apply --yes "$work/rules.yaml" >/dev/null 2>"$work/profile"
t1=$(now); apply=$(elapsed "$t0" "$t1")
fwstep=$(grep "profile: replaceFirewallTable:" "$work/profile" | sed 's/.*= //')
execute=$(grep "profile: phase execute:" "$work/profile" | sed 's/.*execute: //')
sleep 2
read -r rulesnoop rulesmed rulescpu <<<"$(noop "$work/rules.yaml")"
rules=$(nft -j list table inet netform_fw | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin)["nftables"] if "rule" in x))')

# The floor for the firewall step: the same table loaded by nft itself, from its own
# listing (add table; flush; the listed chains and rules), median of 5.
nft -j list table inet netform_fw > "$work/listing.json"
python3 - "$work/listing.json" > "$work/batch.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["nftables"]
t = {"family": "inet", "name": "nftfloor"}
out = [{"add": {"table": t}}, {"delete": {"table": t}}, {"add": {"table": t}}]
for x in items:
    if "chain" in x:
        c = {k: v for k, v in x["chain"].items() if k != "handle"}; c["table"] = "nftfloor"
        out.append({"add": {"chain": c}})
for x in items:
    if "rule" in x:
        r = {k: v for k, v in x["rule"].items() if k != "handle"}; r["table"] = "nftfloor"
        out.append({"add": {"rule": r}})
print(json.dumps({"nftables": out}))
PY
floor=$(for _ in 1 2 3 4 5; do t0=$(now); nft -j -f "$work/batch.json"; t1=$(now); elapsed "$t0" "$t1"; done | sort -n | sed -n 3p)
nft delete table inet nftfloor

"$bin" destroy --yes --project fw >/dev/null 2>&1

printf '\n%d containers on %d networks, %d published ports, %d rules\n' "$n" "$m" "$p" "$r"
printf 'rules in inet netform_fw (nft -j):        %d\n' "$rules"
printf 'apply (from empty):                       %.3f s (execute phase %s)\n' "$apply" "$execute"
printf 'firewall step (replaceFirewallTable):     %s\n' "$fwstep"
printf 'nft -j -f of the same table (floor):      %.1f ms\n' "$(ms "$floor")"
printf 'no-op plan, without rules and ports:      %.1f ms min of %d (median %.1f ms)\n' "$(ms "$plainnoop")" "$runs" "$(ms "$plainmed")"
printf 'no-op plan, with them:                    %.1f ms (%+.1f ms) min of %d (median %.1f ms, %+.1f ms)\n' "$(ms "$rulesnoop")" \
  "$(ms "$(echo "$rulesnoop - $plainnoop" | bc -l)")" "$runs" "$(ms "$rulesmed")" "$(ms "$(echo "$rulesmed - $plainmed" | bc -l)")"
printf 'no-op plan CPU (user+sys), min of %d:     %.1f ms without, %.1f ms with them (%+.1f ms)\n' "$runs" "$(ms "$plaincpu")" \
  "$(ms "$rulescpu")" "$(ms "$(echo "$rulescpu - $plaincpu" | bc -l)")"
