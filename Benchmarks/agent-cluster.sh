#!/usr/bin/env bash
# Benchmark: cross-host reachability with `netform agent` (issue 10's target: p50
# under 1 s, p99 under 2 s). Three simulated hosts (Tests/Support/cluster-rig.sh)
# share a real etcd on the underlay; an agent runs on each, all watching one spec
# file. A trial adds a container placed on host A (a static address, so the prober
# knows it) by rewriting the spec (atomically, with mv), and times until a container
# on host B pings it: A's agent sees the spec change, builds the container, claims
# its address and publishes its endpoint; B's agent learns it from the store watch
# and programs the FDB and neighbour entries. No command is run on either host.
#
# The baseline, in the same run: the agents stopped, the same change made by running
# `netform apply` on A and then on B (what a person or a CI job does), timed the same
# way, from the spec's rewrite to the first answered ping.
#
#   Benchmarks/agent-cluster.sh [TRIALS] [BASELINE_TRIALS]   (default 50 20)
# Runs inside Scripts/sandbox (never in the machine's namespace); release build.
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-50}"; base_trials="${2:-20}"
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  swift build -c release --product netform >/dev/null
  exec Scripts/sandbox --private-tmp "$0" "$@"
fi
export PATH="$(swift build -c release --show-bin-path):$PATH"
source Tests/Support/cluster-rig.sh 3
AGENTS=""
trap 'for p in $AGENTS $HOLDERS $ETCDS; do kill $p 2>/dev/null || true; done' EXIT
etcd_start nf 23790 23800 nf=http://127.0.0.1:23800 new
STORE=etcd://192.168.77.254:23790
etcd_wait http://192.168.77.254:23790

# spec K: the three probes plus trial containers t1..tK (tI on host (I mod 3) + 1).
spec() {
  local k=$1 i
  {
    echo "version: 1"; echo "project: swarm"; echo "networks:"
    echo "  front: {driver: overlay, vni: 4100, mtu: 1450, subnets: [{subnet: 10.3.0.0/24}]}"
    echo "containers:"
    for h in 1 2 3; do echo "  p$h: {host: node$h, networks: {front: {ipv4: 10.3.0.1$h}}}"; done
    for i in $(seq 1 "$k"); do echo "  t$i: {host: node$((i % 3 + 1)), networks: {front: {ipv4: 10.3.0.$((100 + i))}}}"; done
  } > "$T/spec.next"
  mv "$T/spec.next" "$T/spec.yaml"
}
now() { date +%s%N; }
# reach B ADDR: pings from probe pB until ADDR answers (10 s at most); prints ms
# since $t0, or "miss".
reach() {
  local b=$1 addr=$2 deadline=$(( $(now) + 10000000000 ))
  while [ "$(now)" -lt $deadline ]; do
    if onhost $b ip netns exec swarm.p$b ping -c1 -W0.2 "$addr" >/dev/null 2>&1; then
      echo $(( ($(now) - t0) / 1000000 )); return
    fi
  done
  echo miss
}
agents() {
  for h in 1 2 3; do
    nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h netform agent "$T/spec.yaml" --resync 0 \
      --metrics 127.0.0.1:9109 --host-name node$h --cluster-store $STORE --cluster-advertise 192.168.77.$h >>$T/agent$h.log 2>&1 &
    AGENTS="$AGENTS $!"
  done
}

spec 0
agents
t0=$(now)
for b in 1 2 3; do
  for a in 1 2 3; do [ $a = $b ] || [ "$(reach $b 10.3.0.1$a)" != miss ] || { echo "probes never met" >&2; tail $T/agent*.log >&2; exit 1; }; done
done
: > "$T/agent.ms"
for i in $(seq 1 "$trials"); do
  a=$((i % 3 + 1)); b=$(( (i + 1) % 3 + 1 ))
  t0=$(now); spec "$i"
  echo "$(reach $b 10.3.0.$((100 + i)))" >> "$T/agent.ms"
done
for p in $AGENTS; do kill -TERM $p; wait $p 2>/dev/null || true; done
AGENTS=""

: > "$T/apply.ms"
for j in $(seq 1 "$base_trials"); do
  i=$((trials + j)); a=$((i % 3 + 1)); b=$(( (i + 1) % 3 + 1 ))
  t0=$(now); spec "$i"
  nf $a apply --yes "$T/spec.yaml" >/dev/null
  nf $b apply --yes "$T/spec.yaml" >/dev/null
  echo "$(reach $b 10.3.0.$((100 + i)))" >> "$T/apply.ms"
done

python3 - "$T/agent.ms" "$T/apply.ms" <<'PY'
import statistics, sys
def load(p):
    v = [l.strip() for l in open(p) if l.strip()]
    return sorted(int(x) for x in v if x != "miss"), sum(1 for x in v if x == "miss")
def pct(v, q): return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]
def line(name, v, miss):
    print(f"  {name:48s} n={len(v)} p50={pct(v,50)} ms p90={pct(v,90)} ms p99={pct(v,99)} ms max={v[-1]} ms; not reached in 10 s: {miss}")
agent, am = load(sys.argv[1]); base, bm = load(sys.argv[2])
print("cross-host reachability: spec rewritten -> a container on another host pings the new container")
line("one-shot apply on A, then on B (baseline)", base, bm)
line("agents on all hosts, no command run", agent, am)
print(f"  agent p50 / baseline p50 = {pct(agent,50)/pct(base,50):.2f}; agent p99 / baseline p99 = {pct(agent,99)/pct(base,99):.2f}")
PY
grep -h "reconcile failed" $T/agent*.log | head -5 || true
