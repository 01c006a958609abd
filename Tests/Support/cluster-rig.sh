# Sourced by bash (`source Tests/Support/cluster-rig.sh N`) inside Scripts/sandbox:
# N simulated hosts, each a network namespace `hostI` on the underlay bridge at
# 192.168.77.I with a mount namespace, /run and /etc/netns of its own, held by a process of ours
# (its PID in $T/holderI); helpers `onhost I CMD…`, `nf I netform-args…` (host I's
# cluster options: $STORE, $NFOPTS), etcd_start/etcd_wait/etcd_stop, addr, ping_ok
# and fdb (the VTEPs the FDB sends to). Everything lives in $T; the EXIT trap stops every process started here,
# by PID ($HOLDERS, $ETCDS). Used by the end-to-end cluster tests and
# Benchmarks/agent-cluster.sh: one rig, not one per test.
[ "${NETFORM_SANDBOX:-}" = 1 ] || { echo "cluster-rig.sh: only inside Scripts/sandbox" >&2; return 1 2>/dev/null || exit 1; }
T=$(mktemp -d)
ip link add underlay type bridge; ip link set underlay up
ip addr add 192.168.77.254/24 dev underlay
HOLDERS=""; ETCDS=""
trap 'for p in $HOLDERS $ETCDS; do kill $p 2>/dev/null || true; done' EXIT
for h in $(seq ${1:-2}); do
  ip netns add host$h
  ip link add u$h type veth peer name eth0 netns host$h
  ip link set u$h master underlay up
  ip -n host$h addr add 192.168.77.$h/24 dev eth0
  ip -n host$h link set eth0 up; ip -n host$h link set lo up
  unshare --mount --propagation private sh -c 'mount -t tmpfs host /run && mount -t tmpfs host-etc-netns /etc/netns && mkdir -p /run/netns /run/netform && touch /run/ready && exec sleep 900' &
  echo $! > $T/holder$h; HOLDERS="$HOLDERS $!"
  for i in $(seq 200); do [ -e /proc/$(cat $T/holder$h)/root/run/ready ] && break; sleep 0.05; done
done
onhost() { local h=$1; shift; nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h "$@"; }
NFOPTS=""
nf() { local h=$1; shift; onhost $h netform "$@" --host-name node$h --cluster-store $STORE --cluster-advertise 192.168.77.$h $NFOPTS; }
# etcd member NAME on 192.168.77.254 with client port CPORT, data in $T/NAME
# (its PID in $T/NAME.pid); SCHEME=https for TLS. `etcd_wait URL` waits until it
# answers (ETCDCTL_OPTS: etcdctl's TLS flags).
etcd_start() {
  local name=$1 cport=$2 pport=$3 cluster=$4 state=${5:-new}; shift 5 || true
  etcd --name $name --data-dir $T/$name --listen-client-urls ${SCHEME:-http}://192.168.77.254:$cport --advertise-client-urls ${SCHEME:-http}://192.168.77.254:$cport \
       --listen-peer-urls http://127.0.0.1:$pport --initial-advertise-peer-urls http://127.0.0.1:$pport \
       --initial-cluster $cluster --initial-cluster-state $state --initial-cluster-token $(basename $T) "$@" >>$T/$name.log 2>&1 &
  echo $! > $T/$name.pid; ETCDS="$ETCDS $!"
}
etcd_wait() {
  local deadline=$((SECONDS + 30))
  until etcdctl --endpoints=$1 --dial-timeout=1s --command-timeout=2s ${ETCDCTL_OPTS:-} endpoint health >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "etcd at $1 did not start" >&2; return 1; }
    sleep 0.1
  done
}
etcd_stop() { local p; p=$(cat $T/$1.pid); kill $p; while kill -0 $p 2>/dev/null; do sleep 0.05; done; }
# A container's address and pings from it; P is the project (default swarm).
addr() { onhost $1 ip netns exec ${P:-swarm}.$2 ip -j -4 addr show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])'; }
ping_ok() { local i; for i in $(seq 30); do onhost $1 ip netns exec ${P:-swarm}.$2 ping -c1 -W1 $3 >/dev/null 2>&1 && { echo "$2 -> $3 ok"; return; }; done; echo "$2 -> $3 FAILED"; }
fdb() { onhost $1 bridge -j fdb show | python3 -c 'import json,sys; print(sorted(set(e["dst"] for e in json.load(sys.stdin) if e.get("dst"))))'; }
