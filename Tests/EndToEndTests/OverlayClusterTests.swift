import Foundation
import Testing
import TestSupport

/// Overlays across hosts: two simulated hosts (each a network namespace with a mount
/// namespace and /run of its own, kept in files so every command re-enters them),
/// joined by an underlay bridge, sharing the embedded file store. Checked with ping
/// from inside the containers and `bridge -j fdb` / `ip -j neigh`.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct OverlayAcrossHosts {
    /// The same with the embedded file store and with a real etcd (started by the
    /// test on the underlay, stopped by PID).
    @Test(arguments: ["file", "etcd"])
    func containersOnTwoHostsReachEachOtherOverVXLAN(_ store: String) throws {
        let r = try sandboxed("""
        T=$(mktemp -d)
        ip link add underlay type bridge; ip link set underlay up
        ip addr add 192.168.77.254/24 dev underlay
        if [ \(store) = etcd ]; then
          etcd --name nf --data-dir $T/etcd --listen-client-urls http://192.168.77.254:23790 --advertise-client-urls http://192.168.77.254:23790 \\
               --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \\
               --initial-cluster nf=http://127.0.0.1:23800 >$T/etcd.log 2>&1 &
          echo $! > $T/etcd.pid
          for i in $(seq 100); do etcdctl --endpoints=http://192.168.77.254:23790 endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
          STORE=etcd://192.168.77.254:23790
        else
          STORE=file:$T/store.json
        fi
        for h in 1 2; do
          ip netns add host$h
          ip link add u$h type veth peer name eth0 netns host$h
          ip link set u$h master underlay up
          ip -n host$h addr add 192.168.77.$h/24 dev eth0
          ip -n host$h link set eth0 up; ip -n host$h link set lo up
          # The host's own mount namespace with its own /run, held by a process of ours.
          unshare --mount --propagation private sh -c 'mount -t tmpfs host /run && mount -t tmpfs host-etc-netns /etc/netns && mkdir -p /run/netns /run/netform && touch /run/ready && exec sleep 600' &
          echo $! > $T/holder$h
          for i in $(seq 200); do [ -e /proc/$(cat $T/holder$h)/root/run/ready ] && break; sleep 0.05; done
        done
        trap 'kill $(cat $T/holder1) $(cat $T/holder2) 2>/dev/null || true; [ -e $T/etcd.pid ] && kill $(cat $T/etcd.pid) 2>/dev/null || true' EXIT
        onhost() { local h=$1; shift; nsenter -t "$(cat $T/holder$h)" --mount --net=/run/netns/host$h "$@"; }
        nf() { local h=$1; shift; onhost $h netform "$@" --host-name node$h --cluster-store $STORE --cluster-advertise 192.168.77.$h; }
        cat > $T/ov.yaml <<'EOF'
        version: 1
        project: swarm
        networks:
          front: {driver: overlay, vni: 4100, mtu: 1450, subnets: [{subnet: 10.3.0.0/24}]}
          back: {driver: overlay, vni: 4200, mtu: 1450, subnets: [{subnet: 10.4.0.0/24}]}
        containers:
          web1: {host: node1, networks: [front]}
          web2: {host: node2, networks: [front]}
          db2: {host: node2, networks: [back]}
        EOF
        nf 1 apply --yes $T/ov.yaml | tail -1
        nf 2 apply --yes $T/ov.yaml | tail -1
        nf 1 apply --yes $T/ov.yaml | tail -1
        addr() { onhost $1 ip netns exec swarm.$2 ip -j -4 addr show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])'; }
        a1=$(addr 1 web1); a2=$(addr 2 web2); d2=$(addr 2 db2)
        echo "== addresses"; echo "$a1 $a2 $d2"
        ping_ok() { local i; for i in $(seq 30); do onhost $1 ip netns exec swarm.$2 ping -c1 -W1 $3 >/dev/null 2>&1 && { echo "$2 -> $3 ok"; return; }; done; echo "$2 -> $3 FAILED"; }
        echo "== ping"
        ping_ok 1 web1 $a2
        ping_ok 2 web2 $a1
        # The MTU is right: 1422 bytes of payload with don't-fragment pass, 1423 do not.
        onhost 1 ip netns exec swarm.web1 ping -c1 -W2 -M do -s 1422 $a2 >/dev/null 2>&1 && echo "1422 ok" || echo "1422 FAILED"
        onhost 1 ip netns exec swarm.web1 ping -c1 -W2 -M do -s 1423 $a2 >/dev/null 2>&1 && echo "1423 passed" || echo "1423 refused"
        echo "== other overlay"
        onhost 1 ip netns exec swarm.web1 ping -c2 -W1 $d2 >/dev/null 2>&1 && echo "web1 -> db2 reached" || echo "web1 -> db2 blocked"
        echo "== fdb"
        onhost 1 bridge -j fdb show | python3 -c 'import json,sys; print(sorted(("flood" if e["mac"] == "00:00:00:00:00:00" else "mac", e["dst"]) for e in json.load(sys.stdin) if e.get("dst")))'
        echo "== converged"
        nf 1 plan --detailed-exitcode $T/ov.yaml >/dev/null && echo "node1 converged"
        nf 2 plan --detailed-exitcode $T/ov.yaml >/dev/null && echo "node2 converged"
        echo "== status"
        onhost 1 netform cluster status --cluster-store $STORE | grep -E "^project|node[12] |on node|claims"
        onhost 1 netform cluster status --json --cluster-store $STORE | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(h["name"] for h in d["projects"][0]["hosts"]))'
        echo "== node2 leaves"
        nf 2 destroy --yes $T/ov.yaml | tail -1
        nf 1 plan $T/ov.yaml | grep -c "fdb\\|neighbour" || true
        nf 1 apply --yes $T/ov.yaml >/dev/null
        onhost 1 bridge -j fdb show | python3 -c 'import json,sys; print(sorted(e["dst"] for e in json.load(sys.stdin) if e.get("dst")))'
        nf 1 destroy --yes $T/ov.yaml >/dev/null
        onhost 1 netform cluster status --json --cluster-store $STORE | python3 -c 'import json,sys; p=json.load(sys.stdin)["projects"][0]; print(p["hosts"], len(p["claims"]), sorted(n["name"] for n in p["networks"]), [e for n in p["networks"] for e in n["endpoints"]])' 
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.hasPrefix("Apply complete:"), "\(r.stdout)")
        let addresses = section(r.stdout, "addresses").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(Set(addresses).count == 3, "three containers, three addresses: \(addresses)")
        guard addresses.count == 3 else { return }
        #expect(section(r.stdout, "ping") == "web1 -> \(addresses[1]) ok\nweb2 -> \(addresses[0]) ok\n1422 ok\n1423 refused\n")
        #expect(section(r.stdout, "other overlay") == "web1 -> db2 blocked\n")
        #expect(section(r.stdout, "fdb") == "[('flood', '192.168.77.2'), ('flood', '192.168.77.2'), ('mac', '192.168.77.2'), ('mac', '192.168.77.2')]\n",
                "static entries only: web2's MAC (front) and db2's (back, node1 has the network too) at node2's VTEP, and one flood entry per overlay towards node2")
        #expect(section(r.stdout, "converged") == "node1 converged\nnode2 converged\n")
        let status = section(r.stdout, "status")
        #expect(status.hasPrefix("project swarm\n    node1  192.168.77.1  lease 86"), "\(status)")
        #expect(status.contains("\n    node2  192.168.77.2  lease 86"), "registered on a lease of a day (kv.ttl's default): \(status)")
        #expect(status.contains("    web2 on node2 (vtep 192.168.77.2)") && status.contains("    db2 on node2 (vtep 192.168.77.2)")
                && status.contains("    web1 on node1 (vtep 192.168.77.1)") && status.contains("  claims: 3\n"), "\(status)")
        #expect(status.hasSuffix("['node1', 'node2']\n"))
        #expect(section(r.stdout, "node2 leaves") == """
            Destroy complete: 0 added, 0 changed, \(text(after: "Destroy complete: 0 added, 0 changed, ", in: r.stdout, until: "\n"))
            5
            []
            [] 0 ['back', 'front'] []

            """, "node1 forgets node2's endpoint (FDB and neighbour), destroy leaves only the shared network definitions")
    }
}

/// Rules hold across hosts: a rule naming a container of another host is enforced
/// by the host its traffic arrives at (over VXLAN), and a few MB of TCP cross the
/// overlay intact. Two simulated hosts on the embedded file store.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct RulesAcrossHosts {
    @Test func aRuleNamingAContainerOfAnotherHostIsEnforcedWhereItsTrafficArrives() throws {
        let r = try sandboxed(clusterHosts(2) + """
        STORE=file:$T/store.json
        cat > $T/ov.yaml <<'EOF'
        version: 1
        project: swarm
        networks:
          front: {driver: overlay, vni: 4100, mtu: 1450, subnets: [{subnet: 10.3.0.0/24}]}
        containers:
          web1: {host: node1, networks: [front]}
          web3: {host: node1, networks: [front]}
          api2: {host: node2, networks: [front], labels: {role: api}}
        rules:
          - allow: {from: web1, to: "label:role=api", ports: [8080/tcp]}
          - deny: {to: "label:role=api"}
        EOF
        for h in 1 2 1; do nf $h apply --yes $T/ov.yaml >/dev/null; done
        api=$(addr 2 api2); w1=$(addr 1 web1)
        # listen H CONTAINER PORT: a TCP server that counts the bytes it receives into $T/got.
        # (nsenter run directly, not through the onhost function: $! must be the server's PID.)
        listen() {
          nsenter -t "$(cat $T/holder$1)" --mount --net=/run/netns/host$1 ip netns exec swarm.$2 python3 -c '
        import socket,sys
        s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
        open(sys.argv[2] + ".up", "w").close()
        while True:
            c,_=s.accept(); n=0
            while True:
                b=c.recv(65536)
                if not b: break
                n+=len(b)
            c.close(); open(sys.argv[2], "w").write(str(n))' $3 $T/got.$3 &
          echo $! >> $T/listeners
          eventually test -e $T/got.$3.up
        }
        # send H CONTAINER ADDR PORT BYTES: connects (3 s timeout) and sends BYTES.
        send() {
          onhost $1 ip netns exec swarm.$2 python3 -c '
        import socket,sys
        s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
        s.sendall(b"x" * int(sys.argv[3])); s.close()' $3 $4 $5 >/dev/null 2>&1
        }
        trap 'for p in $(cat $T/listeners 2>/dev/null) $HOLDERS; do kill $p 2>/dev/null || true; done' EXIT
        listen 2 api2 8080; listen 2 api2 8081
        echo "== allowed"
        eventually send 1 web1 $api 8080 4194304 && echo "web1 -> api2:8080 sent"
        eventually test -e $T/got.8080 && echo "received $(cat $T/got.8080) bytes"
        echo "== denied"
        send 1 web1 $api 8081 1000 && echo "web1 -> api2:8081 reached" || echo "web1 -> api2:8081 blocked"
        send 1 web3 $api 8080 1000 && echo "web3 -> api2:8080 reached" || echo "web3 -> api2:8080 blocked"
        onhost 1 ip netns exec swarm.web1 ping -c2 -W1 $api >/dev/null 2>&1 && echo "web1 -> api2 ping reached" || echo "web1 -> api2 ping blocked"
        echo "== unaffected"
        ping_ok 2 api2 $w1
        echo "== end"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(section(r.stdout, "allowed") == "web1 -> api2:8080 sent\nreceived 4194304 bytes\n", "\(r.stdout)\n\(r.stderr)")
        #expect(section(r.stdout, "denied") == """
            web1 -> api2:8081 blocked
            web3 -> api2:8080 blocked
            web1 -> api2 ping blocked

            """, "\(r.stdout)\n\(r.stderr)")
        #expect(section(r.stdout, "unaffected").hasSuffix(" ok\n"), "the rule is about traffic to api2; api2's own traffic out is not denied: \(r.stdout)")
    }
}
