#!/usr/bin/env bash
# Benchmark: what the cluster store costs an apply. In the same run, each round:
#   - one simulated host applies N containers on an overlay with no store at all
#     (a local overlay), and with the embedded file store (`file:`);
#   - three simulated hosts (each a network + mount namespace on an underlay bridge)
#     apply the same N containers each, one after the other, against one real etcd
#     on the underlay (started here, stopped by PID).
# Host 1 of the etcd run does the same kernel work as the single host (N containers,
# no remote endpoint yet), so host1/file and host1/none are the store's cost; hosts 2
# and 3 also program the FDB and neighbour entries of the hosts before them (N×N and
# 2N×N neighbours), which is the overlay's work, not the store's.
# Store round trips come from NETFORM_PROFILE=1 (EtcdStore counts its requests).
# Runs inside Scripts/sandbox (never in the machine's namespace); release build.
#
#   Benchmarks/cluster.sh [CONTAINERS] [ROUNDS]      (default 100 3)
#   NETFORM_BIN=PATH: that binary instead of the release build (a check of the script).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
rounds="${2:-3}"
if [ "${NETFORM_SANDBOX:-}" != "1" ]; then
  [ -n "${NETFORM_BIN:-}" ] || swift build -c release --product netform >/dev/null
  exec Scripts/sandbox "$0" "$@"
fi
bin="${NETFORM_BIN:-$(swift build -c release --show-bin-path)/netform}"
T=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; done; rm -rf "$T"' EXIT

ip link add underlay type bridge; ip link set underlay up
ip addr add 192.168.77.254/24 dev underlay
for h in 0 1 2 3; do   # host 0: the single host of the baselines
  ip netns add host$h
  ip link add u$h type veth peer name eth0 netns host$h
  ip link set u$h master underlay up
  ip -n host$h addr add 192.168.77.$((h + 10))/24 dev eth0
  ip -n host$h link set eth0 up; ip -n host$h link set lo up
  unshare --mount --propagation private sh -c 'mount -t tmpfs host /run && mount -t tmpfs host-etc-netns /etc/netns && mkdir -p /run/netns /run/netform && touch /run/ready && exec sleep 3600' &
  echo $! > $T/holder$h; PIDS="$PIDS $!"
  for i in $(seq 200); do [ -e /proc/$(cat $T/holder$h)/root/run/ready ] && break; sleep 0.05; done
done
onhost() { local h=$1; shift; nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h "$@"; }

etcd --name bench --data-dir $T/etcd --listen-client-urls http://192.168.77.254:23790 --advertise-client-urls http://192.168.77.254:23790 \
     --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
     --initial-cluster bench=http://127.0.0.1:23800 >$T/etcd.log 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 150); do etcdctl --endpoints=http://192.168.77.254:23790 endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

spec() {  # spec HOSTS: N containers on each of hosts node1..HOSTS
  echo "version: 1"; echo "project: bench"; echo "networks:"
  echo "  front: {driver: overlay, vni: 4100, subnets: [{subnet: 10.3.0.0/20}]}"
  echo "containers:"
  for h in $(seq "$1"); do for i in $(seq 0 $((n - 1))); do echo "  c${h}x$i: {host: node$h, networks: [front]}"; done; done
}
spec 1 > $T/one.yaml
spec 3 > $T/three.yaml

now() { date +%s.%N; }
# run LABEL HOST ARGS...: times one netform process on HOST, keeps its profile lines.
run() {
  local label=$1 h=$2; shift 2
  local t0 t1
  t0=$(now)
  onhost "$h" env NETFORM_PROFILE=1 "$bin" "$@" > $T/out 2> $T/err || { cat $T/out $T/err >&2; exit 1; }
  t1=$(now)
  echo "$label $(echo "$t1 - $t0" | bc -l)" >> $T/times
  grep -h "profile: cluster store\|profile: phase execute" $T/err | sed "s/^/$label /" >> $T/profile || true
  [ -e $T/err.$label ] || cp $T/err $T/err.$label
}
ETCD="--cluster-store etcd://192.168.77.254:23790"

for r in $(seq "$rounds"); do
  run none 0 apply --yes --host-name node1 $T/one.yaml
  run none-destroy 0 destroy --yes --host-name node1 $T/one.yaml
  rm -f $T/store.json
  run file 0 apply --yes --host-name node1 --cluster-store file:$T/store.json --cluster-advertise 192.168.77.10 $T/one.yaml
  run file-destroy 0 destroy --yes --host-name node1 --cluster-store file:$T/store.json --cluster-advertise 192.168.77.10 $T/one.yaml
  for h in 1 2 3; do
    run etcd-host$h $h apply --yes --host-name node$h $ETCD --cluster-advertise 192.168.77.$((h + 10)) $T/three.yaml
  done
  for h in 3 2 1; do
    run etcd-destroy$h $h destroy --yes --host-name node$h $ETCD --cluster-advertise 192.168.77.$((h + 10)) $T/three.yaml
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m() { grep "^$1 " $T/times | awk '{print $2}' | median; }
lo() { grep "^$1 " $T/times | awk '{print $2}' | sort -n | head -1; }
none=$(m none); file=$(m file); e1=$(m etcd-host1); e2=$(m etcd-host2); e3=$(m etcd-host3)
trips() { grep "^$1 profile: cluster store" $T/profile | sed 's/.*store: \([0-9]*\) etcd round trips.*, \([0-9]*\) to renew.*/\1 \2/' | head -1; }
echo "netform apply, $n containers per host on one overlay, median of $rounds rounds (release build, $(nproc) cores)"
printf '  one host, no store (local overlay)         %6.3f s\n' "$none"
printf '  one host, embedded file store              %6.3f s   %.2fx no store\n' "$file" "$(echo "$file / $none" | bc -l)"
printf '  etcd, host 1 (no remote endpoints yet)     %6.3f s   %.2fx file store, %.2fx no store\n' "$e1" "$(echo "$e1 / $file" | bc -l)" "$(echo "$e1 / $none" | bc -l)"
printf '  etcd, host 2 (+%d remote endpoints)        %6.3f s   %.2fx file store\n' "$n" "$e2" "$(echo "$e2 / $file" | bc -l)"
printf '  etcd, host 3 (+%d remote endpoints)        %6.3f s   %.2fx file store\n' "$((2 * n))" "$e3" "$(echo "$e3 / $file" | bc -l)"
printf '  minima (a loaded machine inflates medians): none %.3f s, file %.3f s, etcd host 1 %.3f s: %.2fx file store, %.2fx no store\n' \
  "$(lo none)" "$(lo file)" "$(lo etcd-host1)" "$(echo "$(lo etcd-host1) / $(lo file)" | bc -l)" "$(echo "$(lo etcd-host1) / $(lo none)" | bc -l)"
for h in 1 2 3; do
  read -r a b <<< "$(trips etcd-host$h)"
  printf '  etcd round trips, host %d: %d for the apply (%.2f per container) + %d to renew the lease\n' "$h" "$a" "$(echo "$a / $n" | bc -l)" "$b"
done
echo "  execute phase (profile), first round:"
grep "profile: phase execute" $T/profile | awk '!seen[$1]++' | sed 's/^\([^ ]*\) profile: phase execute: /    \1: /' || true
for l in file etcd-host1; do
  echo "  phases of the first '$l' apply:"; grep "profile: phase" $T/err.$l | sed 's/^profile: phase /    /'
done
echo "raw times (s):"; sort $T/times | awk '{printf "  %s %.3f\n", $1, $2}'
