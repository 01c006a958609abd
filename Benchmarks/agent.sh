#!/usr/bin/env bash
# Benchmark: netform agent.
#  1. Drift repair latency: a container's host veth deleted by hand, until it is back
#     (polled with `ip link show`, a few ms of resolution), over TRIALS trials — next to
#     the same repair done by running `netform apply --yes` right after the deletion
#     (the one-shot baseline, same run, same host).
#  2. Idle cost: with N containers applied, the agent's CPU over 30 s (utime+stime from
#     /proc/PID/stat) and its RSS.
# Runs inside Scripts/sandbox (never in the machine's namespace).
#
#   Benchmarks/agent.sh [TRIALS] [IDLE_CONTAINERS]   (default 100 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-100}"; n="${2:-1000}"
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  swift build -c release --product netform >/dev/null
  exec Scripts/sandbox "$0" "$@"
fi
bin="$(swift build -c release --show-bin-path)/netform"
work=$(mktemp -d)
agent=
trap '[ -n "$agent" ] && kill "$agent" 2>/dev/null; rm -rf "$work"' EXIT
sysctl -qw net.ipv4.ip_forward=1

# 20 containers on 2 networks for the repair trials.
{
  echo "version: 1"; echo "project: drift"; echo "networks:"
  echo "  a: {subnets: [{subnet: 10.70.0.0/24}]}"; echo "  b: {subnets: [{subnet: 10.71.0.0/24}]}"
  echo "containers:"
  for i in $(seq 0 19); do echo "  c$i: {networks: [$([ $((i % 2)) = 0 ] && echo a || echo b)]}"; done
} > "$work/drift.yaml"

python3 - "$bin" "$work" "$trials" <<'PY'
import json, os, random, statistics, subprocess, sys, time
bin, work, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = f"{work}/drift.yaml"
def veths():
    links = json.loads(subprocess.check_output(["ip", "-j", "link", "show"]))
    return [l["ifname"] for l in links if str(l.get("ifalias", "")).startswith("netform:drift/ep/")]
def exists(name):
    return subprocess.run(["ip", "link", "show", "dev", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
def wait_back(name, t0, limit=10.0):
    while not exists(name):
        if time.monotonic() - t0 > limit: return None
    return time.monotonic() - t0
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
def report(label, xs):
    print(f"{label}: n={len(xs)} p50={pct(xs,50)*1000:.0f} ms p90={pct(xs,90)*1000:.0f} ms p99={pct(xs,99)*1000:.0f} ms max={max(xs)*1000:.0f} ms")

# Baseline: the one-shot CLI repairs the same drift.
subprocess.run([bin, "apply", "--yes", spec], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
names = veths(); assert len(names) == 20, names
random.seed(1)
cli = []
for _ in range(max(10, trials // 5)):
    v = random.choice(names); time.sleep(0.2)
    t0 = time.monotonic(); subprocess.run(["ip", "link", "del", v], check=True)
    subprocess.run([bin, "apply", "--yes", spec], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    d = wait_back(v, t0); assert d is not None; cli.append(d)

log = open(f"{work}/agent.log", "w")
agent = subprocess.Popen([bin, "agent", spec, "--resync", "0", "--metrics", "127.0.0.1:9109"], stdout=log, stderr=log)
lat, missed = [], 0
try:
    time.sleep(1.5)
    for _ in range(trials):
        v = random.choice(names); time.sleep(0.3)   # let the previous repair settle
        if not exists(v):
            missed += 1
            continue
        t0 = time.monotonic(); subprocess.run(["ip", "link", "del", v], check=True)
        d = wait_back(v, t0)
        if d is None: missed += 1
        else: lat.append(d)
finally:
    agent.terminate(); agent.wait()
failed = sum(1 for line in open(f"{work}/agent.log") if "result=failed" in line)
report("one-shot `netform apply --yes` after the deletion (baseline)", cli)
report("agent, no command run", lat)
print(f"agent p50 / baseline p50 = {pct(lat,50)/pct(cli,50):.2f}; not repaired within 10 s: {missed} of {trials}; failed reconciles (rolled back, retried): {failed}")
PY
"$bin" destroy --yes --project drift >/dev/null 2>&1

# Idle: N containers on N/100 networks.
m=$(( (n + 99) / 100 ))
{
  echo "version: 1"; echo "project: idle"; echo "networks:"
  for i in $(seq 0 $((m - 1))); do echo "  n$i: {subnets: [{subnet: 10.$((80 + i / 200)).$((i % 200)).0/24}]}"; done
  echo "containers:"
  for c in $(seq 0 $((n - 1))); do echo "  c$c: {networks: [n$((c / 100))]}"; done
} > "$work/idle.yaml"
t0=$(date +%s.%N)
"$bin" agent "$work/idle.yaml" --resync 0 --metrics 127.0.0.1:9110 > "$work/idle.log" 2>&1 &
agent=$!
until curl -sf -o /dev/null 127.0.0.1:9110/healthz; do sleep 0.2; done
t1=$(date +%s.%N)
# The kernel's own settling after thousands of links (IPv6 DAD and router
# solicitations, the bridges' port notifications 15 s after the ports came up).
sleep 30
ticks() { awk '{print $14 + $15}' /proc/$agent/stat; }
count() { curl -sf 127.0.0.1:9110/metrics | awk '/^netform_agent_reconciles_total/ { n += $2 } END { print n }'; }
r0=$(count); a=$(ticks); sleep 30; b=$(ticks); r1=$(count)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' /proc/$agent/status)
reconciles=$(curl -sf 127.0.0.1:9110/metrics | awk '/^netform_agent_reconciles_total/ { n += $2 } END { print n }')
printf 'idle, %d containers: start to first converged reconcile %.1f s; CPU over 30 s idle (from 30 s after that) %.2f%% of one core, %d reconciles in that window; RSS %d MB; reconciles in all %d\n' \
  "$n" "$(echo "$t1 - $t0" | bc -l)" "$(echo "($b - $a) * 100 / $hz / 30" | bc -l)" $((r1 - r0)) $((rss / 1024)) "$reconciles"
kill "$agent"; wait "$agent" 2>/dev/null || true; agent=
"$bin" destroy --yes --project idle >/dev/null 2>&1
