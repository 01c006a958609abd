import Foundation
import Testing
import TestSupport

/// Agents on two simulated hosts sharing a real etcd: a container started on one host
/// is reached from the other with no command run there (the store watch), and an etcd
/// outage leaves the data plane alone and is followed by reconvergence.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct AgentAcrossHosts {
    @Test func peersAreLearnedFromTheStoreAndAnOutageTouchesNothing() throws {
        let r = try sandboxed("""
        T=$(mktemp -d)
        ip link add underlay type bridge; ip link set underlay up
        ip addr add 192.168.78.254/24 dev underlay
        start_etcd() {
          etcd --name nf --data-dir $T/etcd --listen-client-urls http://192.168.78.254:23790 --advertise-client-urls http://192.168.78.254:23790 \\
               --listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 \\
               --initial-cluster nf=http://127.0.0.1:23801 >>$T/etcd.log 2>&1 &
          echo $! > $T/etcd.pid
          eventually etcdctl --endpoints=http://192.168.78.254:23790 endpoint health >/dev/null 2>&1
        }
        start_etcd
        for h in 1 2; do
          ip netns add host$h
          ip link add u$h type veth peer name eth0 netns host$h
          ip link set u$h master underlay up
          ip -n host$h addr add 192.168.78.$h/24 dev eth0
          ip -n host$h link set eth0 up; ip -n host$h link set lo up
          # The host's own mount namespace with its own /run, held by a process of ours.
          unshare --mount --propagation private sh -c 'mount -t tmpfs host /run && mount -t tmpfs host-etc-netns /etc/netns && mkdir -p /run/netns /run/netform && touch /run/ready && exec sleep 600' &
          echo $! > $T/holder$h
          eventually test -e /proc/$(cat $T/holder$h)/root/run/ready
        done
        cleanup() {
          for f in $T/agent1.pid $T/agent2.pid $T/holder1 $T/holder2 $T/etcd.pid; do
            if [ -e $f ]; then kill $(cat $f) 2>/dev/null || true; fi
          done
        }
        trap cleanup EXIT
        onhost() { local h=$1; shift; nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h "$@"; }
        # The store's settings come from the spec's cluster: section (advertise: eth0
        # resolves to each host's own underlay address); no --cluster-* option.
        cat > $T/ov.yaml <<'EOF'
        version: 1
        project: swarm
        cluster:
          store: etcd://192.168.78.254:23790
          advertise: eth0
          options: {kv.ttl: 5}
        networks:
          front: {driver: overlay, vni: 4100, mtu: 1450, subnets: [{subnet: 10.3.0.0/24}]}
        containers:
          web1: {host: node1, networks: [front]}
          web2: {host: node2, networks: [front]}
        EOF
        # Started as a simple command (nsenter execs netform), so $! is the agent's PID
        # (a backgrounded shell function would give a subshell's, and the agent would
        # outlive its kill).
        agent() {
          local h=$1
          nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h netform agent $T/ov.yaml --resync 0 --metrics 127.0.0.1:9109 --host-name node$h \\
            >>$T/agent$h.log 2>&1 &
          echo $! > $T/agent$h.pid
        }
        hoststate() { onhost $1 python3 $PWD/Tests/Support/netstate.py; }
        healthy() { onhost $1 curl -sf -o /dev/null 127.0.0.1:9109/healthz; }
        addr() { onhost $1 ip netns exec swarm.$2 ip -j -4 addr show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])'; }
        pings() { onhost $1 ip netns exec swarm.$2 ping -c1 -W1 $3 >/dev/null 2>&1; }
        agent 1
        eventually healthy 1 || { echo "agent 1 never healthy"; cat $T/agent1.log; exit 1; }
        # Host 2's agent starts later: host 1 learns web2 from the store, no command run.
        agent 2
        eventually healthy 2 || { echo "agent 2 never healthy"; cat $T/agent2.log; exit 1; }
        a2=$(addr 2 web2)
        eventually pings 1 web1 $a2 && echo "== web1 reaches web2 (learned from the store)"
        # Outage: etcd stopped for 30 s.
        s1=$(hoststate 1); s2=$(hoststate 2)
        kill $(cat $T/etcd.pid); wait $(cat $T/etcd.pid) 2>/dev/null || true
        sleep 30
        kill -0 $(cat $T/agent1.pid) && kill -0 $(cat $T/agent2.pid) && echo "== agents still running"
        [ "$(hoststate 1)" = "$s1" ] && [ "$(hoststate 2)" = "$s2" ] && echo "== data plane untouched during the outage"
        pings 1 web1 $a2 && echo "== web1 reaches web2 during the outage"
        grep -q store_unavailable $T/agent1.log $T/agent2.log || echo "(no reconcile was attempted during the outage)"
        # Drift while the store is down, then the store comes back: repaired.
        v=$(onhost 2 ip -j link show | python3 -c "import json,sys; print([l['ifname'] for l in json.load(sys.stdin) if l.get('ifalias') == 'netform:swarm/ep/web2/front'][0])")
        onhost 2 ip link del $v
        sleep 2
        onhost 2 ip link show $v >/dev/null 2>&1 && echo "== repaired without the store (unexpected)"
        start_etcd
        back=$SECONDS
        EVENTUALLY_SECONDS=30 eventually onhost 2 ip link show $v >/dev/null 2>&1 && echo "== repaired after the store returned"
        echo "reconverged $((SECONDS - back)) s after the store answered"
        eventually pings 1 web1 $a2 && echo "== web1 reaches web2 again"
        # Host 2's agent stopped: its lease (kv.ttl=5, renewed every 1 s while it ran)
        # expires and host 1 forgets web2 on its own; restarted, it comes back.
        kill -TERM $(cat $T/agent2.pid); wait $(cat $T/agent2.pid) || true
        # Output captured first: under pipefail, `cmd | grep -q` can fail on SIGPIPE once grep
        # has quit, and a negated one then passes by accident.
        forgotten() { local f; f=$(onhost 1 bridge fdb show) && ! grep -q 'dst 192.168.78.2 ' <<<"$f"; }
        onhost 1 bridge fdb show | { grep dst || true; } | sed 's/^/fdb1 before: /'
        EVENTUALLY_SECONDS=40 eventually forgotten && echo "== host 2 forgotten after its lease expired"
        onhost 1 bridge fdb show | { grep dst || true; } | sed 's/^/fdb1 after: /'
        etcdctl --endpoints=http://192.168.78.254:23790 get --prefix /netform/ --keys-only | { grep . || true; } | sed 's/^/key: /'

        pings 1 web1 $a2 || echo "== web2 unreachable while its host is gone"
        agent 2
        eventually pings 1 web1 $a2 && echo "== web2 back after its agent restarted"
        [ "$(addr 2 web2)" = "$a2" ] && echo "== web2 kept its address"
        grep -q 'lease_renewals_total{result="ok"} [1-9]' <(onhost 1 curl -sf 127.0.0.1:9109/metrics) && echo "== host 1 renewed its lease"
        for h in 1 2; do { grep -v -e "lease" -e store_unavailable $T/agent$h.log || true; } | sed "s/^/agent$h.log: /" | tail -12; done
        onhost 1 bridge fdb show | { grep dst || true; } | sed 's/^/fdb1 end: /'
        etcdctl --endpoints=http://192.168.78.254:23790 get --prefix /netform/ --keys-only | { grep . || true; } | sed 's/^/key end: /'
        for h in 1 2; do kill -TERM $(cat $T/agent$h.pid); rc=0; wait $(cat $T/agent$h.pid) || rc=$?; echo "== agent $h exit $rc"; rm $T/agent$h.pid; done
        """)
        let out = r.stdout
        #expect(out.contains("== web1 reaches web2 (learned from the store)"), "\(out)\(r.stderr)")
        #expect(out.contains("== agents still running"), "\(out)")
        #expect(out.contains("== data plane untouched during the outage"), "\(out)")
        #expect(out.contains("== web1 reaches web2 during the outage"))
        #expect(!out.contains("repaired without the store"))
        #expect(out.contains("== repaired after the store returned"), "\(out)\(r.stderr)")
        // The retry backoff is capped at 4 s (+25% jitter, TriggerPolicyTests) and the
        // watch's reconnect answers sooner: within 5 s by design; 8 s leaves a loaded
        // machine headroom (bash's SECONDS counts whole seconds).
        let after = Int(text(after: "reconverged ", in: out, until: " s after the store answered").trimmingCharacters(in: .whitespaces)) ?? 99
        #expect(after <= 8, "reconverged \(after) s after the store returned: \(out)")
        #expect(out.contains("== web1 reaches web2 again"))
        #expect(out.contains("== host 2 forgotten after its lease expired"), "\(out)")
        #expect(out.contains("== web2 unreachable while its host is gone"))
        #expect(out.contains("== web2 back after its agent restarted"), "\(out)")
        #expect(out.contains("== web2 kept its address"))
        #expect(out.contains("== host 1 renewed its lease"))
        #expect(out.contains("== agent 1 exit 0") && out.contains("== agent 2 exit 0"), "\(out)")
    }
}
