#!/usr/bin/env bash
# Benchmark: N containers over M bridge networks — netform apply from empty, a no-op
# plan, destroy — next to, in the same sandbox run, the raw-netlink C floor
# (../shared/bench/nlsetup.c, `nlsetup N M batch`: one batched send for the host
# veths, one per namespace for its 4 requests) and the same topology built and torn
# down with `ip -batch`. Runs inside Scripts/sandbox (never in the machine's namespace).
#
#   Benchmarks/apply.sh [CONTAINERS [NETWORKS]]
#
# With no CONTAINERS, N = 100, 1000, 2000 and 5000, each over 10 bridges (at most 500
# ports a bridge, under the bridge's 1023). REPEATS (default 3) runs of each; prints
# every run, then min and median per figure. Two times for each build: to the
# command's exit, and to the moment the kernel's IPv6 work is done (no tentative
# IPv6 address left in the host namespace or in a sample of the containers: every
# 50th and the last), since a build can leave DAD and MLD work running after it exits.
# Between builds the machine is let settle until its CPUs are idle (see `settle`).
# Peak RSS of netform apply from /usr/bin/time when present. The no-op plan is timed next
# to its read floor: the same namespaces read over raw rtnetlink from C on one thread
# (Benchmarks/nlread.c: links, addresses, routes, neighbours and /etc/netns files).
# NETFORM_BASELINE=/path/to/an/older/netform also runs that binary's apply, no-op plan
# and destroy in every repetition, after this tree's, so before and after are compared
# in the same run (its ratios in a table of their own).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  swift build -c release --product netform >/dev/null
  exec Scripts/sandbox "$0" "$@"
fi
bin="$(swift build -c release --show-bin-path)/netform"
repeats="${REPEATS:-3}"
if [ "$#" -ge 1 ]; then sizes="$1"; m="${2:-10}"; else sizes="100 1000 2000 5000"; m=10; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_src="${NLSETUP_DIR:-../shared/bench}"
[ -f "$bench_src/nlsetup.c" ] || bench_src=/work/shared/bench
gcc -O2 -I"$bench_src" -o "$work/nlsetup" "$bench_src/nlsetup.c"
gcc -O2 -I"$bench_src" -o "$work/nlread" Benchmarks/nlread.c

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# Waits until no IPv6 address is tentative (DAD running) in the host namespace or in
# the sampled namespaces given; prints the time it was first seen so.
quiet() {
  while :; do
    busy=0
    if [ -n "$(ip -6 -o addr show tentative 2>/dev/null)" ]; then busy=1; fi
    if [ "$busy" = 0 ]; then
      for ns in "$@"; do
        if [ -n "$(ip -n "$ns" -6 -o addr show tentative 2>/dev/null)" ]; then busy=1; break; fi
      done
    fi
    [ "$busy" = 0 ] && break
    sleep 0.05
  done
  now
}
sample() { # prefix N: every 50th container's namespace name, and the last
  local p="$1" n="$2" c
  for c in $(seq 0 50 $((n - 1))); do echo "$p$c"; done
  echo "$p$((n - 1))"
}
veths_gone() { while grep -q "$1" <(ip -o link show); do sleep 0.02; done; }
# Waits until the machine is idle: the kernel tears a deleted namespace down later, on
# its own workqueue, holding the same rtnl lock every build needs; thousands take tens
# of seconds after their delete returned. Idle: three 0.25 s windows in a row with the
# CPUs under 10% busy, as /proc/stat counts (at most 120 s).
cpu_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
settle() {
  sleep 1
  local calm=0 deadline=$(( $(date +%s) + 120 )) b0 t0 b1 t1
  while [ "$calm" -lt 3 ] && [ "$(date +%s)" -lt "$deadline" ]; do
    read -r b0 t0 < <(cpu_busy_ticks); sleep 0.25; read -r b1 t1 < <(cpu_busy_ticks)
    if [ $(( (b1 - b0) * 10 )) -lt $(( t1 - t0 )) ]; then calm=$((calm + 1)); else calm=0; fi
  done
}
# noop_and_destroy BINARY PREFIX: times a no-op plan and the destroy of the bench project
# (records PREFIXnoop, PREFIXdestroy for the current N).
noop_and_destroy() {
  local b=$1 p=$2
  t0=$(now); "$b" plan --detailed-exitcode "$work/bench.yaml" >/dev/null 2>&1; t1=$(now)
  record "$n" "${p}noop" "$(elapsed "$t0" "$t1")"
  t0=$(now); "$b" destroy --yes --project bench >/dev/null 2>&1; t1=$(now)
  record "$n" "${p}destroy" "$(elapsed "$t0" "$t1")"
  settle
}

rss() { # peak RSS in MB of a command (its output discarded)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    echo "scale=1; $(tail -1 "$work/rss") / 1024" | bc -l
  else
    "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    echo "n/a"
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { sort -g | head -1; }

results="$work/results"   # lines: N FIGURE VALUE
: > "$results"
record() { echo "$1 $2 $3" >> "$results"; }

for n in $sizes; do
  per=$(( (n + m - 1) / m ))
  if [ "$per" -ge 1023 ]; then echo "apply.sh: $per ports a bridge is over the bridge's 1023" >&2; exit 2; fi
  {
    echo "version: 1"; echo "project: bench"; echo "networks:"
    for i in $(seq 0 $((m - 1))); do echo "  n$i: {subnets: [{subnet: 10.$((100 + i)).0.0/16}]}"; done
    echo "containers:"
    for c in $(seq 0 $((n - 1))); do echo "  c$c: {networks: [n$((c / per))]}"; done
  } > "$work/bench.yaml"
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
  for c in $(seq 0 $((n - 1))); do echo "netns delete b$c"; done > "$work/del.batch"
  for i in $(seq 0 $((m - 1))); do echo "link delete br$i"; done >> "$work/del.batch"
  for c in $(seq 0 $((n - 1))); do echo "netns delete ns$c"; done > "$work/floor-del.batch"
  for i in $(seq 0 $((m - 1))); do echo "link delete br$i"; done >> "$work/floor-del.batch"

  for r in $(seq 1 "$repeats"); do
    settle
    # The floor: raw netlink from C.
    t0=$(now); "$work/nlsetup" "$n" "$m" batch > "$work/floor.json"; t1=$(now)
    t2=$(quiet $(sample ns "$n"))
    record "$n" floor "$(elapsed "$t0" "$t1")"; record "$n" floor_quiet "$(elapsed "$t0" "$t2")"
    ip -batch "$work/floor-del.batch"; veths_gone ' veth'; settle

    # ip -batch: one batch for the host side, one `ip -n` batch per container.
    t0=$(now)
    ip -batch "$work/host.batch"
    for c in $(seq 0 $((n - 1))); do
      i=$((c / per)); k=$((c % per + 2))
      printf 'link set lo up\nlink set eth0 up\naddr add 10.%d.%d.%d/16 dev eth0\nroute add default via 10.%d.0.1\n' \
        $((100 + i)) $((k / 256)) $((k % 256)) $((100 + i)) | ip -n "b$c" -batch -
    done
    t1=$(now); t2=$(quiet $(sample b "$n"))
    record "$n" ip "$(elapsed "$t0" "$t1")"; record "$n" ip_quiet "$(elapsed "$t0" "$t2")"
    settle
    t0=$(now); ip -batch "$work/del.batch"; t1=$(now)
    veths_gone ' vb'; t2=$(now)
    record "$n" ip_destroy "$(elapsed "$t0" "$t1")"; record "$n" ip_destroy_gone "$(elapsed "$t0" "$t2")"
    settle

    # netform.
    t0=$(now); applyrss=$(rss "$bin" apply --yes "$work/bench.yaml"); t1=$(now)
    t2=$(quiet $(sample bench.c "$n"))
    record "$n" netform "$(elapsed "$t0" "$t1")"; record "$n" netform_quiet "$(elapsed "$t0" "$t2")"
    record "$n" netform_rss "$applyrss"
    settle
    # The read floor of the no-op plan: the same namespaces read from C (Benchmarks/nlread.c).
    t0=$(now); "$work/nlread" > "$work/read.json"; t1=$(now)
    record "$n" read "$(elapsed "$t0" "$t1")"
    noop_and_destroy "$bin" ""
    if [ -n "${NETFORM_BASELINE:-}" ]; then
      t0=$(now); baserss=$(rss "$NETFORM_BASELINE" apply --yes "$work/bench.yaml"); t1=$(now)
      record "$n" base "$(elapsed "$t0" "$t1")"; record "$n" base_rss "$baserss"
      settle
      noop_and_destroy "$NETFORM_BASELINE" base_
      printf 'N=%d run %d baseline: netform %.3f  noop %.3f  destroy %.3f  rss %s MB\n' "$n" "$r" \
        $(awk -v n="$n" '$1 == n {v[$2] = $3} END {print v["base"], v["base_noop"], v["base_destroy"]}' "$results") "$baserss"
    fi
    printf 'N=%d run %d: floor %.3f (quiet %.3f)  ip %.3f (quiet %.3f)  netform %.3f (quiet %.3f)  noop %.3f (read floor %.3f)  destroy %.3f  ip teardown %.3f (gone %.3f)  rss %s MB\n' \
      "$n" "$r" $(awk -v n="$n" '$1 == n {v[$2] = $3} END {print v["floor"], v["floor_quiet"], v["ip"], v["ip_quiet"], v["netform"], v["netform_quiet"], v["noop"], v["read"], v["destroy"], v["ip_destroy"], v["ip_destroy_gone"]}' "$results") "$applyrss"
  done
done

stat() { awk -v n="$1" -v f="$2" '$1 == n && $2 == f {print $3}' "$results" | "$3"; }
mm() { printf '%.3f/%.3f' "$(stat "$1" "$2" minimum)" "$(stat "$1" "$2" median)"; }
ratio() { printf '%.2f/%.2f' "$(echo "$(stat "$1" "$2" minimum) / $(stat "$1" "$3" minimum)" | bc -l)" \
  "$(echo "$(stat "$1" "$2" median) / $(stat "$1" "$3" median)" | bc -l)"; }
perct() { printf '%.3f/%.3f' "$(echo "$(stat "$1" "$2" minimum) * 1000 / $1" | bc -l)" "$(echo "$(stat "$1" "$2" median) * 1000 / $1" | bc -l)"; }
printf '\n%s runs each, %d bridges; seconds as min/median; ratios are netform / floor (or ip) of the same statistic\n' "$repeats" "$m"
printf '%5s %15s %15s %15s %15s %15s %15s %11s %11s %13s %13s %13s %7s %7s %9s %7s %7s %9s %6s\n' \
  N "floor-exit" "floor-quiet" "ip-exit" "ip-quiet" "netform-exit" "netform-quiet" "x-floor" "x-fl-quiet" "ms/ct-netform" "ms/ct-floor" "ms/ct-nf-qt" \
  "no-op" "read" "x-read" "destroy" "ip-tear" "x-ip-tear" "RSS-MB"
for n in $sizes; do
  printf '%5d %15s %15s %15s %15s %15s %15s %11s %11s %13s %13s %13s %7.3f %7.3f %9s %7.3f %7.3f %9s %6s\n' "$n" \
    "$(mm "$n" floor)" "$(mm "$n" floor_quiet)" "$(mm "$n" ip)" "$(mm "$n" ip_quiet)" "$(mm "$n" netform)" "$(mm "$n" netform_quiet)" \
    "$(ratio "$n" netform floor)" "$(ratio "$n" netform_quiet floor_quiet)" "$(perct "$n" netform)" "$(perct "$n" floor)" "$(perct "$n" netform_quiet)" \
    "$(stat "$n" noop median)" "$(stat "$n" read median)" "$(ratio "$n" noop read)" "$(stat "$n" destroy median)" "$(stat "$n" ip_destroy median)" "$(ratio "$n" destroy ip_destroy)" "$(stat "$n" netform_rss median)"
done
if [ -n "${NETFORM_BASELINE:-}" ]; then
  printf '\nbaseline %s, same runs; seconds as min/median\n' "$NETFORM_BASELINE"
  printf '%5s %15s %11s %15s %11s %13s %13s %9s %6s\n' N "base-exit" "x-floor" "this-exit" "x-floor" "base-destroy" "this-destroy" "x-ip-tear" "RSS-MB"
  for n in $sizes; do
    printf '%5d %15s %11s %15s %11s %13s %13s %9s %6s\n' "$n" "$(mm "$n" base)" "$(ratio "$n" base floor)" "$(mm "$n" netform)" \
      "$(ratio "$n" netform floor)" "$(mm "$n" base_destroy)" "$(mm "$n" destroy)" "$(ratio "$n" base_destroy ip_destroy)" "$(stat "$n" base_rss median)"
  done
fi
