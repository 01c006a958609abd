# Debian's Docker engine (docker.io 20.10: containerd + dockerd) for end-to-end tests,
# sourced by a bash scenario that runs
#   inside Scripts/sandbox (its own network and mount namespace, tmpfs on /run), and
#   as PID 1 of a PID namespace of its own: unshare --pid --fork --kill-child --mount-proc,
# so that every process the engine starts (containerd's shims, the containers) dies
# with the scenario even when the test is killed: the shims re-parent to the PID
# namespace's init, never to the machine's.
# (Checked: a SIGKILL of that unshare takes containerd, dockerd, the shims and the
# containers with it; what is left is the empty cgroup parent, netform-docker-test-*.)
#
#   engine_start [DOCKERD OPTIONS...]  tmpfs on /var/lib/docker, /var/lib/containerd and
#                                      /etc/docker (in this mount namespace only), then
#                                      containerd and dockerd on sockets under /run;
#                                      engine_stop runs on EXIT
#   engine_stop                        removes every container, stops dockerd, then
#                                      containerd, by PID, and waits for them to exit
#   busybox_image NAME                 `docker import` of busybox-static as /bin/busybox
#                                      and its applets as symlinks (no registry)
#   engine_state                       what Docker owns in this namespace (below), to
#                                      compare before and after netform runs
#   docker ...                         Debian's client on this engine's socket
#
# No registry and no network: the image is built locally, and the engine's iptables
# rules go into the sandbox's network namespace.

ENGINE_DIR=/tmp/docker-engine
export DOCKER_HOST=unix:///run/docker-test.sock
# Debian's client (a newer one may stand earlier on PATH).
docker() { /usr/bin/docker "$@"; }

engine_start() {
  if [ "${NETFORM_SANDBOX:-0}" != 1 ] || [ "$$" != 1 ]; then
    echo "docker-engine.sh: refusing to start an engine outside Scripts/sandbox and a PID namespace of its own" >&2
    return 1
  fi
  local tool
  for tool in /usr/sbin/dockerd /usr/bin/containerd /usr/bin/docker /bin/busybox; do
    [ -x "$tool" ] || { echo "docker-engine.sh: $tool is missing (Scripts/install-deps installs docker.io and busybox-static)" >&2; return 1; }
  done
  local d
  for d in /var/lib/docker /var/lib/containerd /etc/docker; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0711 netform-docker-test "$d"
  done
  mkdir -p "$ENGINE_DIR"
  # Containers' cgroups (cgroup v1, cgroupfs driver) under a parent of this run's own,
  # removed by engine_stop once it is empty.
  ENGINE_CGROUP=netform-docker-test-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  trap engine_stop EXIT
  containerd --address /run/containerd-test/containerd.sock --root /var/lib/containerd \
    --state /run/containerd-test >"$ENGINE_DIR/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  local deadline=$((SECONDS + 30))
  until [ -S /run/containerd-test/containerd.sock ]; do
    kill -0 "$CONTAINERD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ] ||
      { echo "containerd did not start:" >&2; cat "$ENGINE_DIR/containerd.log" >&2; return 1; }
    sleep 0.05
  done
  dockerd --host "$DOCKER_HOST" --containerd /run/containerd-test/containerd.sock \
    --data-root /var/lib/docker --exec-root /run/docker-test --pidfile /run/docker-test.pid \
    --storage-driver vfs --cgroup-parent "/$ENGINE_CGROUP" "$@" >"$ENGINE_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  until docker version >/dev/null 2>&1; do
    kill -0 "$DOCKERD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ] ||
      { echo "dockerd did not start:" >&2; cat "$ENGINE_DIR/dockerd.log" >&2; return 1; }
    sleep 0.1
  done
}

# Each PID is one this script started; `wait` would not see them from a subshell, so
# poll until they are gone (bounded: SIGKILL after 20 s).
_engine_kill() {
  local pid=$1 deadline=$((SECONDS + 20))
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then kill -9 "$pid" 2>/dev/null; fi
    sleep 0.05
  done
}

engine_stop() {
  set +e
  trap - EXIT
  if [ -n "${DOCKERD_PID:-}" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    # Containers first (SIGKILL): dockerd would otherwise give each 10 s to stop.
    local ids
    ids=$(docker ps -aq)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
  fi
  _engine_kill "${DOCKERD_PID:-}"
  _engine_kill "${CONTAINERD_PID:-}"
  DOCKERD_PID= CONTAINERD_PID=
  local c
  for c in /sys/fs/cgroup/*/"${ENGINE_CGROUP:-none}"; do
    [ -d "$c" ] && rmdir "$c" 2>/dev/null
  done
  return 0
}

busybox_image() {
  local root=$ENGINE_DIR/rootfs applet
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh ping ip sleep nc cat; do ln -sf busybox "$root/bin/$applet"; done
  tar -C "$root" -c . | docker import - "$1" >/dev/null
}

# What Docker owns in this namespace, as independent tools read it: every link that
# does not carry a netform alias (docker0, aislada's br-…, the containers' veths) with
# its addresses, routes, static neighbours and FDB entries (netstate.py), iptables-save,
# and `nft -j list ruleset` without netform's tables and with counters zeroed.
engine_state() {
  python3 Tests/Support/netstate.py --only '(host)' | python3 -c '
import json,sys
h=json.load(sys.stdin)["(host)"]
keep={l["ifname"] for l in h["links"] if not l.get("ifalias","").startswith("netform:")}
h["links"]=[l for l in h["links"] if l["ifname"] in keep]
h["addresses"]=[a for a in h["addresses"] if a["dev"] in keep]
h["routes"]=[r for r in h["routes"] if r.get("dev") in keep]
h["neighbours"]=[n for n in h["neighbours"] if n["dev"] in keep]
h["fdb"]=[e for e in h["fdb"] if e.get("ifname") in keep and e.get("master") in keep | {None}]
print(json.dumps(h, sort_keys=True))'
  iptables-save | grep -v '^#'
  nft -j list ruleset | python3 -c '
import json,sys
def zero(v):
    if isinstance(v, dict): return {k: ({"packets": 0, "bytes": 0} if k == "counter" and isinstance(x, dict) else zero(x)) for k, x in v.items()}
    if isinstance(v, list): return [zero(x) for x in v]
    return v
items=json.load(sys.stdin)["nftables"]
ours=lambda o: any(isinstance(v, dict) and (v.get("table", v.get("name", "")) or "").startswith("netform_") for v in o.values())
print(json.dumps([zero(o) for o in items if "metainfo" not in o and not ours(o)], sort_keys=True))'
  sysctl -n net.ipv4.ip_forward
}
