import Foundation
import Testing
import TestSupport

/// Isolation as the kernel enforces it: the built `netform` applies a spec in a
/// sandbox of its own, and real traffic (ping, nc) says who reaches whom, with IP
/// forwarding on and off and the host's `bridge-nf-call-iptables` on and off. An
/// `upstream` namespace plays the internet: it knows only its own /24, so a reply
/// reaches a container only when the container's traffic was masqueraded.
func isolation(_ script: String) throws -> TestSupport.Output {
    try sandboxed("""
    # Files of this scenario only (several scenarios run at once and share /tmp).
    T=$(mktemp -d)
    # reach ok|no NS ADDR: prints "NS -> ADDR ok" when a ping gets an answer, else
    # "blocked". Expected to pass (ok): retried until it does or 30 s pass (ARP, DAD
    # and a loaded machine delay first packets). Expected to be dropped (no): one
    # window of three echoes, never retried into a pass.
    reach() {
      local want=$1 ns=$2 addr=$3 deadline=$((SECONDS + 30))
      if [ "$want" = ok ]; then
        until ip netns exec "$ns" ping -c1 -W1 "$addr" >/dev/null 2>&1; do
          [ $SECONDS -ge $deadline ] && { echo "$ns -> $addr blocked"; return; }
          sleep 0.2
        done
        echo "$ns -> $addr ok"
      elif ip netns exec "$ns" ping -c3 -i0.3 -W1 "$addr" >/dev/null 2>&1; then echo "$ns -> $addr ok"
      else echo "$ns -> $addr blocked"; fi
    }
    # tcp ok|no FROM TO ADDR PORT [LISTEN]: listens in TO on LISTEN (default PORT)
    # until the listener is up (or fails loudly), connects from FROM to ADDR:PORT:
    # expected to pass, retried until it does or 30 s pass; expected to be dropped,
    # one attempt.
    tcp() {
      local want=$1 from=$2 to=$3 addr=$4 port=$5 listen=${6:-$5} pid r=blocked fam=-4 deadline=$((SECONDS + 30))
      case $addr in *:*) fam=-6 ;; esac
      ip netns exec "$to" nc $fam -k -l -p "$listen" >/dev/null 2>&1 &
      pid=$!
      until [ -n "$(ip netns exec "$to" ss -ltnH "sport = :$listen")" ]; do
        [ $SECONDS -ge $deadline ] && { echo "listener on $to:$listen never came up" >&2; exit 1; }
        sleep 0.05
      done
      while :; do
        if ip netns exec "$from" nc -z -w2 "$addr" "$port" >/dev/null 2>&1; then r=ok; break; fi
        [ "$want" = ok ] && [ $SECONDS -lt $deadline ] || break
        sleep 0.2
      done
      kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
      echo "$from -> $addr:$port/tcp $r"
    }
    # The internet: a namespace behind a veth, 10.200.0.2/24, no route to any container.
    upstream() {
      ip netns add upstream
      ip link add up0 type veth peer name eth0 netns upstream
      ip addr add 10.200.0.1/24 dev up0; ip link set up0 up
      ip -n upstream addr add 10.200.0.2/24 dev eth0; ip -n upstream link set eth0 up; ip -n upstream link set lo up
    }
    # A user's own nftables table: must come through every scenario byte for byte.
    nft_sentinel() {
      nft add table inet sentinel
      nft add chain inet sentinel input '{ type filter hook input priority 0; policy accept; }'
      nft add rule inet sentinel input tcp dport 23 drop comment '"the user own drop"'
    }
    nft_sentinel_state() { nft -j list table inet sentinel | python3 -c 'import json,sys; print(json.dumps([x for x in json.load(sys.stdin)["nftables"] if "metainfo" not in x], sort_keys=True))'; }

    """ + script)
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct Isolation {
    /// The seed document's promise: container1 and container2 (bridge) reach each
    /// other; container3 (aislada) is unreachable from them and they from it, over
    /// ICMP and TCP — with forwarding and br_netfilter on or off.
    @Test(arguments: ["ip_forward=0 bridge-nf=0", "ip_forward=1 bridge-nf=0", "ip_forward=1 bridge-nf=1", "ip_forward=0 bridge-nf=1"])
    func seedNetworksAreIsolated(_ sysctls: String) throws {
        let fwd = sysctls.contains("ip_forward=1") ? 1 : 0
        let brnf = sysctls.contains("bridge-nf=1") ? 1 : 0
        let r = try isolation("""
        sysctl -qw net.ipv4.ip_forward=\(fwd) net.bridge.bridge-nf-call-iptables=\(brnf) net.bridge.bridge-nf-call-ip6tables=\(brnf)
        sentinels; nft_sentinel
        before=$(sentinel_state); nft_before=$(nft_sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null
        echo "== reach"
        reach ok seed.container1 172.17.0.3
        reach ok seed.container2 172.17.0.2
        reach no seed.container1 172.18.0.2
        reach no seed.container2 172.18.0.2
        reach no seed.container3 172.17.0.2
        reach no seed.container3 172.17.0.3
        tcp ok seed.container1 seed.container2 172.17.0.3 80
        tcp no seed.container1 seed.container3 172.18.0.2 80
        tcp no seed.container3 seed.container1 172.17.0.2 80
        echo "== plan"
        netform plan --detailed-exitcode Examples/seed.yaml >/dev/null && echo "converged"
        echo "== table"
        nft -j list table inet netform_seed | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin)["nftables"] if "rule" in x), "rules")'
        echo "== destroy"
        netform destroy --yes Examples/seed.yaml | tail -1
        nft list tables
        [ "$(sentinel_state)" = "$before" ] && echo "sentinels unchanged"
        [ "$(nft_sentinel_state)" = "$nft_before" ] && echo "nft sentinel unchanged"
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(section(r.stdout, "reach") == """
            seed.container1 -> 172.17.0.3 ok
            seed.container2 -> 172.17.0.2 ok
            seed.container1 -> 172.18.0.2 blocked
            seed.container2 -> 172.18.0.2 blocked
            seed.container3 -> 172.17.0.2 blocked
            seed.container3 -> 172.17.0.3 blocked
            seed.container1 -> 172.17.0.3:80/tcp ok
            seed.container1 -> 172.18.0.2:80/tcp blocked
            seed.container3 -> 172.17.0.2:80/tcp blocked

            """, "\(sysctls)")
        #expect(section(r.stdout, "plan") == "converged\n")
        #expect(section(r.stdout, "table") == "14 rules\n", "checked with nft -j, not netform's reader")
        #expect(section(r.stdout, "destroy") == """
            Destroy complete: 0 added, 0 changed, 7 destroyed in \(text(after: "7 destroyed in ", in: r.stdout, until: "\n"))
            table inet sentinel
            sentinels unchanged
            nft sentinel unchanged

            """)
    }

    /// Rules: first match wins; an allow opens one port one way; replies pass; a deny
    /// between two containers of one network holds although they share a bridge.
    @Test(arguments: [0, 1])
    func rulesOpenOnePortOneWayAndDenyWithinANetwork(_ brnf: Int) throws {
        let r = try isolation("""
        sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=\(brnf) net.bridge.bridge-nf-call-ip6tables=\(brnf)
        cat > $T/rules.yaml <<'EOF'
        version: 1
        project: rules
        networks:
          bridge: {subnets: [{subnet: 172.17.0.0/16}]}
          aislada: {subnets: [{subnet: 172.18.0.0/16}]}
        containers:
          container1: {networks: [bridge]}
          container2: {networks: [bridge]}
          container4: {networks: [bridge]}
          container3: {networks: [aislada]}
        rules:
          - allow: {from: container1, to: container3, ports: [80/tcp]}
          - deny: {from: container4, to: container2}
        EOF
        netform apply --yes $T/rules.yaml >/dev/null
        echo "== reach"
        tcp ok rules.container1 rules.container3 172.18.0.2 80
        tcp no rules.container1 rules.container3 172.18.0.2 81
        tcp no rules.container3 rules.container1 172.17.0.2 80
        reach no rules.container1 172.18.0.2
        reach no rules.container4 172.17.0.3
        tcp no rules.container4 rules.container2 172.17.0.3 80
        reach ok rules.container2 172.17.0.4
        reach ok rules.container4 172.17.0.2
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(section(r.stdout, "reach") == """
            rules.container1 -> 172.18.0.2:80/tcp ok
            rules.container1 -> 172.18.0.2:81/tcp blocked
            rules.container3 -> 172.17.0.2:80/tcp blocked
            rules.container1 -> 172.18.0.2 blocked
            rules.container4 -> 172.17.0.3 blocked
            rules.container4 -> 172.17.0.3:80/tcp blocked
            rules.container2 -> 172.17.0.4 ok
            rules.container4 -> 172.17.0.2 ok

            """, "bridge-nf-call-iptables=\(brnf); the deny is one way: container2's ping to container4 is new traffic no rule denies, and its reply is a reply")
    }

    /// Masquerade: the upstream namespace (no route back to any container) answers
    /// a masqueraded container; an internal network reaches nothing outside it; a
    /// published port is reachable from upstream, from the host, from a neighbour on
    /// its own network (hairpin), from another network and from another project —
    /// whose containers are otherwise cut off, both ways.
    @Test func masqueradeInternalAndPublishedPorts() throws {
        let r = try isolation("""
        sysctl -qw net.ipv4.ip_forward=1
        upstream
        cat > $T/nat.yaml <<'EOF'
        version: 1
        project: nat
        networks:
          bridge: {subnets: [{subnet: 172.17.0.0/16}]}
          plain: {masquerade: false, subnets: [{subnet: 172.19.0.0/16}]}
          db: {internal: true, subnets: [{subnet: 172.20.0.0/16}]}
        containers:
          web: {networks: [bridge], ports: ["8080:80/tcp"]}
          peer: {networks: [bridge]}
          raw: {networks: [plain]}
          store: {networks: [db]}
        EOF
        cat > $T/other.yaml <<'EOF'
        version: 1
        project: other
        networks:
          lan: {subnets: [{subnet: 172.30.0.0/16}]}
        containers:
          x: {networks: [lan]}
        EOF
        netform apply --yes $T/nat.yaml >/dev/null
        netform apply --yes $T/other.yaml >/dev/null
        echo "== reach"
        reach ok nat.web 10.200.0.2
        reach no nat.raw 10.200.0.2
        reach no nat.store 10.200.0.2
        reach no nat.store 172.17.0.2
        reach no nat.web 172.20.0.2
        tcp ok upstream nat.web 10.200.0.1 8080 80
        tcp ok nat.peer nat.web 10.200.0.1 8080 80
        tcp ok nat.raw nat.web 10.200.0.1 8080 80
        tcp no nat.raw nat.web 172.17.0.2 80
        tcp ok other.x nat.web 10.200.0.1 8080 80
        tcp no other.x nat.web 172.17.0.2 80
        reach no other.x 172.17.0.3
        reach no nat.peer 172.30.0.2
        reach ok other.x 10.200.0.2
        echo "== a user's drop wins"
        nft add table inet userfw
        nft add chain inet userfw filtering '{ type filter hook forward priority 10; policy accept; }'
        nft add rule inet userfw filtering ip daddr 172.17.0.2 tcp dport 80 drop
        tcp no upstream nat.web 10.200.0.1 8080 80
        nft delete table inet userfw
        echo "== from the host"
        for addr in 10.200.0.1 127.0.0.1; do
          ip netns exec nat.web nc -l -p 80 >/dev/null 2>&1 & pid=$!
          for i in $(seq 50); do grep -q ":80 " <(ip netns exec nat.web ss -ltn) && break; sleep 0.05; done
          nc -z -w2 $addr 8080 && echo "host -> $addr:8080 ok" || echo "host -> $addr:8080 blocked"
          kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
        done
        br=$(ip -j link show | python3 -c 'import json,sys; print([l["ifname"] for l in json.load(sys.stdin) if l.get("ifalias")=="netform:nat/net/bridge"][0])')
        echo "route_localnet $(sysctl -n net.ipv4.conf.$br.route_localnet)"
        netform plan --detailed-exitcode $T/nat.yaml >/dev/null && echo converged
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(section(r.stdout, "reach") == """
            nat.web -> 10.200.0.2 ok
            nat.raw -> 10.200.0.2 blocked
            nat.store -> 10.200.0.2 blocked
            nat.store -> 172.17.0.2 blocked
            nat.web -> 172.20.0.2 blocked
            upstream -> 10.200.0.1:8080/tcp ok
            nat.peer -> 10.200.0.1:8080/tcp ok
            nat.raw -> 10.200.0.1:8080/tcp ok
            nat.raw -> 172.17.0.2:80/tcp blocked
            other.x -> 10.200.0.1:8080/tcp ok
            other.x -> 172.17.0.2:80/tcp blocked
            other.x -> 172.17.0.3 blocked
            nat.peer -> 172.30.0.2 blocked
            other.x -> 10.200.0.2 ok

            """, "masquerade only where asked; internal: nothing in or out; published ports are public; projects are isolated")
        #expect(section(r.stdout, "a user's drop wins") == "upstream -> 10.200.0.1:8080/tcp blocked\n",
                "a published port does not bypass the user's own table (unlike Docker's with ufw)")
        #expect(section(r.stdout, "from the host") == "host -> 10.200.0.1:8080 ok\nhost -> 127.0.0.1:8080 ok\nroute_localnet 1\nconverged\n",
                "on 127.0.0.1 too: the bridge's route_localnet, set by apply and read back")
    }

    /// Drift in the table is shown and repaired; a failed apply takes the table back
    /// with everything else; destroy removes the project's table and no other.
    @Test func driftFailpointAndDestroy() throws {
        let r = try isolation("""
        sysctl -qw net.ipv4.ip_forward=1
        nft_sentinel; nft_before=$(nft_sentinel_state)
        echo "== failpoint"
        for k in 1 4; do
          # step 1 is the firewall step itself; step 4 comes after it.
          set +e; NETFORM_FAILPOINT=step:$k netform apply --yes Examples/seed.yaml >/dev/null 2>&1; echo "exit $?"; set -e
          nft list tables; ip netns list | wc -l
        done
        netform apply --yes Examples/seed.yaml >/dev/null
        echo "== drift"
        for rule in "between the project" "to other netform projects" "from other netform projects"; do
          h=$(nft -a list chain inet netform_seed project | grep "$rule" | sed 's/.*handle //')
          nft delete rule inet netform_seed project handle "$h"
        done
        reach ok seed.container1 172.18.0.2
        set +e; netform plan --detailed-exitcode Examples/seed.yaml > $T/plan.txt; echo "plan exit $?"; set -e
        grep -E "firewall|between|other netform" $T/plan.txt
        netform apply --yes Examples/seed.yaml | tail -1 | sed 's/ in .*//'
        reach no seed.container1 172.18.0.2
        netform plan --detailed-exitcode Examples/seed.yaml >/dev/null && echo "converged"
        echo "== dry run"
        dry=$(netform destroy --dry-run Examples/seed.yaml); grep -A1 "nft" <<<"$dry" | head -3 | cut -c1-60
        echo "== end"
        netform destroy --yes Examples/seed.yaml >/dev/null
        nft list tables
        [ "$(nft_sentinel_state)" = "$nft_before" ] && echo "nft sentinel unchanged"
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(section(r.stdout, "failpoint") == "exit 1\ntable inet sentinel\n0\nexit 1\ntable inet sentinel\n0\n",
                "rolled back, whether the firewall step itself or a later one failed: no table, no namespace")
        #expect(section(r.stdout, "drift") == """
            seed.container1 -> 172.18.0.2 ok
            plan exit 2
            ~   firewall.inet netform_seed  (in-place)
                  +   project iifname { "docker0", "nf-6623926fcb7c" } oifname { "docker0", "nf-6623926fcb7c" } drop  # between the project's networks
                  +   project iifname { "docker0", "nf-6623926fcb7c" } oifgroup 1313210368/16 drop  # to other netform projects' networks
                  +   project oifname { "docker0", "nf-6623926fcb7c" } iifgroup 1313210368/16 drop  # from other netform projects' networks
            Apply complete: 0 added, 1 changed, 0 destroyed
            seed.container1 -> 172.18.0.2 blocked
            converged

            """)
        #expect(section(r.stdout, "dry run") == "  nft delete table inet netform_seed\n")
        #expect(section(r.stdout, "end") == "table inet sentinel\nnft sentinel unchanged\n")
    }

    /// Docker's situation without Docker: a foreign FORWARD chain with policy drop is
    /// named by plan (with the DOCKER-USER fix); IP forwarding is a plan step, set by
    /// apply and left on by destroy.
    @Test func foreignForwardDropIsNamedAndForwardingIsAStep() throws {
        let r = try isolation("""
        sysctl -qw net.ipv4.ip_forward=0 net.bridge.bridge-nf-call-iptables=1
        # What Docker 20.10 does (iptables, nft backend): FORWARD policy drop, DOCKER-USER.
        iptables -P FORWARD DROP
        iptables -N DOCKER-USER
        iptables -A FORWARD -j DOCKER-USER
        echo "== plan"
        netform plan Examples/seed.yaml 2>&1 | grep -E "warning: table|ip_forward" | cut -c1-120
        netform apply --yes Examples/seed.yaml >/dev/null 2>&1
        sysctl -n net.ipv4.ip_forward
        echo "== blocked by the foreign chain"
        reach no seed.container1 172.17.0.3
        echo "== with the fix plan suggests"
        bridges=$(netform plan Examples/seed.yaml 2>&1 | grep -o "iptables -I DOCKER-USER [^;]*" | sort -u)
        while read -r cmd; do $cmd; done <<< "$bridges"
        reach ok seed.container1 172.17.0.3
        reach no seed.container1 172.18.0.2
        netform destroy --yes Examples/seed.yaml >/dev/null
        sysctl -n net.ipv4.ip_forward
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        let plan = section(r.stdout, "plan").split(separator: "\n").map(String.init)
        #expect(plan == ["warning: table ip filter, chain FORWARD (hook forward, policy drop) belongs to another tool and drops forwarded traffic ",
                         "      ~   net.ipv4.ip_forward: 0 → 1 (a host-wide setting; netform never resets it)", "1"],
                "the warning, the step, and apply set it")
        #expect(section(r.stdout, "blocked by the foreign chain") == "seed.container1 -> 172.17.0.3 blocked\n",
                "the foreign drop wins even within a network (our bridges pass bridged traffic to netfilter)")
        #expect(section(r.stdout, "with the fix plan suggests") == "seed.container1 -> 172.17.0.3 ok\nseed.container1 -> 172.18.0.2 blocked\n1\n",
                "the DOCKER-USER accepts plan prints let the spec's traffic through, isolation still holds; destroy leaves forwarding on")
    }

    /// explain agrees with the kernel for every ordered pair of a spec with 9
    /// containers on 4 networks (two multi-homed, one internal, one with icc off) and allow/deny rules, over ICMP,
    /// TCP and UDP: `--probe` exits 1 on any disagreement.
    @Test func explainAgreesWithTheKernelForEveryPair() throws {
        let r = try isolation("""
        cat > $T/lab.yaml <<'EOF'
        version: 1
        project: lab
        networks:
          front: {subnets: [{subnet: 10.7.0.0/24}]}
          back: {subnets: [{subnet: 10.7.1.0/24}]}
          data: {internal: true, subnets: [{subnet: 10.7.2.0/24}]}
          quiet: {icc: false, subnets: [{subnet: 10.7.3.0/24}]}
        containers:
          lb: {networks: [front], labels: {tier: edge}}
          web1: {networks: [front, back], labels: {tier: web}}
          web2: {networks: [front, back], labels: {tier: web}}
          app: {networks: [back], labels: {tier: app}}
          worker: {networks: [back]}
          db: {networks: [data]}
          cache: {networks: [back, data]}
          q1: {networks: [quiet]}
          q2: {networks: [quiet]}
        rules:
          - allow: {from: "label:tier=edge", to: "label:tier=web", ports: [80/tcp]}
          - deny: {from: "label:tier=edge", to: "label:tier=web"}
          - allow: {from: "label:tier=web", to: app, ports: [80/tcp, 53/udp]}
          - deny: {from: worker, to: "label:tier=web"}
          - deny: {to: cache, ports: [80/tcp]}
          - allow: {from: app, to: "network:data", protocols: [icmp]}
        EOF
        netform apply --yes $T/lab.yaml >/dev/null
        for svc in "" "--port 80" "--port 53/udp"; do
          echo "== matrix ${svc:-icmp}"
          netform explain --matrix --probe $svc $T/lab.yaml; echo "exit $?"
        done
        echo "== one"
        netform explain --probe $T/lab.yaml lb web1:80 | tail -2
        set +e; netform explain $T/lab.yaml lb web1:81 >/dev/null; echo "exit $?"; set -e
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        for svc in ["", "--port 80", "--port 53/udp"] {
            let m = section(r.stdout, "matrix \(svc.isEmpty ? "icmp" : svc)")
            #expect(m.hasSuffix("exit 0\n") && !m.contains("!"), "\(svc): \(m)\n\(r.stderr)")
            #expect(m.contains(" yes ") && m.contains(" no "), "both outcomes occur: \(m)")
        }
        #expect(section(r.stdout, "matrix --port 80").split(separator: "\n").first { $0.hasPrefix("lb ") }?
            .split(separator: " ").map(String.init) == ["lb", "-", "yes", "yes", "no", "no", "no", "no", "no", "no"], "rule 1: lb reaches the web tier on 80 only")
        #expect(section(r.stdout, "matrix icmp").split(separator: "\n").first { $0.hasPrefix("q1 ") }?.split(separator: " ").last == "no",
                "icc: false: q1 does not reach q2")
        #expect(section(r.stdout, "one") == "  decided by: accepted by inet netform_lab chain project: rule 1: allow label:tier=edge -> label:tier=web ports 80/tcp\n"
                + "  probe: reachable — the kernel agrees\nexit 3\n")
    }

    /// `apply --probe` holds the kernel to the spec: with another tool's FORWARD drop
    /// in place it fails and names the pairs; `explain` names the foreign chain.
    @Test func applyProbeFailsWhenAnotherToolDrops() throws {
        let r = try isolation("""
        netform apply --yes --probe Examples/seed.yaml | tail -1
        nft add table ip filter
        nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
        echo "== probe"
        set +e; netform apply --yes --probe Examples/seed.yaml >/dev/null 2>$T/err; echo "exit $?"; set -e
        grep -c "the spec says reachable, the kernel does not" $T/err
        echo "== explain"
        set +e; netform explain Examples/seed.yaml container1 container2 | tail -1; echo "exit $?"; set -e
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("Probe: 6 of 6 container pairs behave as the spec says.\n"), "\(r.stdout)")
        #expect(section(r.stdout, "probe") == "exit 1\n2\n", "container1 ↔ container2 both ways")
        #expect(section(r.stdout, "explain") == "  decided by: dropped by ip filter chain FORWARD: policy drop\nexit 3\n")
    }

    /// The IPv6 counterparts: isolation between networks, NAT66 masquerade to an
    /// upstream that has no route back, a published port on [::], and IPv6
    /// forwarding as a plan step.
    @Test func ipv6IsolationMasqueradeAndPublishedPorts() throws {
        let r = try isolation("""
        sysctl -qw net.ipv6.conf.all.forwarding=0
        ip netns add upstream
        ip link add up0 type veth peer name eth0 netns upstream
        ip -6 addr add fd00:200::1/64 dev up0 nodad; ip link set up0 up
        ip -n upstream -6 addr add fd00:200::2/64 dev eth0 nodad; ip -n upstream link set eth0 up; ip -n upstream link set lo up
        cat > $T/v6.yaml <<'EOF'
        version: 1
        project: six
        networks:
          a: {subnets: [{subnet: "fd00:1::/64"}]}
          b: {subnets: [{subnet: "fd00:2::/64"}]}
        containers:
          c1: {networks: [a]}
          c2: {networks: [a], ports: ["[::]:8080:80/tcp"]}
          c3: {networks: [b]}
        EOF
        netform plan $T/v6.yaml | grep -o "net.ipv6.conf.all.forwarding: 0 → 1" || true
        netform apply --yes $T/v6.yaml >/dev/null
        echo "== reach"
        reach ok six.c1 fd00:1::3
        reach no six.c1 fd00:2::2
        reach no six.c3 fd00:1::2
        reach ok six.c1 fd00:200::2
        reach ok six.c3 fd00:200::2
        tcp ok upstream six.c2 fd00:200::1 8080 80
        tcp no six.c3 six.c2 fd00:1::3 80
        echo "== explain"
        netform explain --probe $T/v6.yaml c1 c3 | tail -2 || true
        echo "== done"
        """)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("net.ipv6.conf.all.forwarding: 0 → 1\n"), "\(r.stdout)")
        #expect(section(r.stdout, "reach") == """
            six.c1 -> fd00:1::3 ok
            six.c1 -> fd00:2::2 blocked
            six.c3 -> fd00:1::2 blocked
            six.c1 -> fd00:200::2 ok
            six.c3 -> fd00:200::2 ok
            upstream -> fd00:200::1:8080/tcp ok
            six.c3 -> fd00:1::3:80/tcp blocked

            """, "NAT66 to the upstream, which has no route to fd00:1::/64 or fd00:2::/64")
        #expect(section(r.stdout, "explain") == "  decided by: dropped by inet netform_six chain project: between the project's networks\n  probe: not reachable — the kernel agrees\n")
    }
}
