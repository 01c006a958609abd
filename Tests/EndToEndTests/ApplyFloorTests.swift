import Foundation
import Testing
import TestSupport

/// What the apply path does to stay at the kernel's floor (issue 11), checked with
/// iproute2: containers' links on IPv4-only networks get no IPv6 link-local address
/// (no DAD, no MLD for the kernel to do), IPv6 networks keep theirs; the host ends
/// (bridge ports) have IPv6 off and one queue each way; additions sent several at a
/// time still report the kernel's refusal of the one that failed and roll back.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ApplyFloor {
    static let spec = """
    version: 1
    project: fl
    networks:
      v4: {subnets: [{subnet: 10.61.0.0/24}]}
      v6: {subnets: [{subnet: 10.62.0.0/24}, {subnet: "fd00:62::/64"}]}
    containers:
      a: {networks: [v4]}
      b: {networks: [v4]}
      c: {networks: [v6]}
      d: {networks: [v6]}
    """

    /// Prints, per link, "NS LINK fe80" when it has an IPv6 link-local address and
    /// "NS LINK none" otherwise (host veths by their peer's namespace).
    static let linkLocals = """
    linklocals() {
      for ns in fl.a fl.b fl.c fl.d; do
        ip -j -n "$ns" addr show dev eth0 | python3 -c '
    import json,sys
    a=json.load(sys.stdin)[0]
    ll=[x for x in a.get("addr_info",[]) if x["local"].startswith("fe80:")]
    print(sys.argv[1], "eth0", "fe80" if ll else "none")' "$ns"
      done
      ip -j addr show | python3 -c '
    import json,sys
    for a in json.load(sys.stdin):
        if a.get("link_type") != "ether" or "link_netnsid" not in a: continue
        ll=[x for x in a.get("addr_info",[]) if x["local"].startswith("fe80:")]
        print("host", a["ifname"], "fe80" if ll else "none")'
    }

    """

    /// An IPv6 subnet added to a network whose containers were made IPv4-only: they
    /// keep no link-local address (README), yet IPv6 works between them and to the
    /// gateway, with forwarding on, and the plan converges.
    @Test func anIPv6SubnetAddedLaterWorksWithoutLinkLocalAddresses() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        printf 'version: 1\\nproject: late\\nnetworks:\\n  n: {subnets: [{subnet: 10.63.0.0/24}]}\\ncontainers:\\n  a: {networks: [n]}\\n  b: {networks: [n]}\\n' > $T/v4.yaml
        printf 'version: 1\\nproject: late\\nnetworks:\\n  n: {subnets: [{subnet: 10.63.0.0/24}, {subnet: "fd00:63::/64"}]}\\ncontainers:\\n  a: {networks: [n]}\\n  b: {networks: [n]}\\n' > $T/v6.yaml
        netform apply --yes $T/v4.yaml | tail -1
        netform apply --yes $T/v6.yaml | tail -1
        ip -j -n late.a addr show dev eth0 | python3 -c 'import json,sys; print(sorted(x["local"] for x in json.load(sys.stdin)[0]["addr_info"] if x["family"] == "inet6"))'
        sysctl -qw net.ipv6.conf.all.forwarding=1
        eventually ip netns exec late.a ping -6 -c1 -W1 fd00:63::3 >/dev/null && echo "a reaches b over IPv6"
        eventually ip netns exec late.a ping -6 -c1 -W1 fd00:63::1 >/dev/null && echo "a reaches the gateway over IPv6"
        netform plan --detailed-exitcode $T/v6.yaml >/dev/null && echo "no changes"
        netform destroy --yes --project late | tail -1
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("['fd00:63::2']\na reaches b over IPv6\na reaches the gateway over IPv6\nno changes\n"), "\(r.stdout)")
    }

    @Test func linksOnIPv4OnlyNetworksHaveNoLinkLocalAddressAndIPv6NetworksKeepTheirs() throws {
        let r = try sandboxed(Self.linkLocals + """
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; sbefore=$(sentinel_state)
        cat > $T/s.yaml <<'EOF'
        \(Self.spec)
        EOF
        netform apply --yes $T/s.yaml | tail -1
        # Give DAD time to have made the link-local addresses it would make.
        eventually bash -c '[ -z "$(for n in fl.c fl.d; do ip -n $n -6 addr show tentative; done)" ]'
        sleep 1
        echo "== ll"; linklocals
        echo "== v6off"
        for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^nfv'); do echo "$l $(cat /proc/sys/net/ipv6/conf/$l/disable_ipv6)"; done
        ip -6 route show table local | grep -c ' dev nfv' || true
        echo "== queues"
        { ip -d -j link show; ip -d -j -n fl.a link show dev eth0; ip -d -j -n fl.c link show dev eth0; } | python3 -c '
        import json,sys
        for doc in sys.stdin:
            for l in json.loads(doc):
                if l.get("linkinfo", {}).get("info_kind") == "veth" and (l["ifname"].startswith("nfv") or l["ifname"] == "eth0"):
                    print(l["ifname"], l["num_tx_queues"], l["num_rx_queues"])'
        echo "== ping"
        eventually ip netns exec fl.a ping -c1 -W1 10.61.0.3 >/dev/null && echo ok4
        eventually ip netns exec fl.c ping -c1 -W1 fd00:62::3 >/dev/null && echo ok6
        echo "== plan"
        netform plan --detailed-exitcode $T/s.yaml >/dev/null && echo "no changes"
        echo "== end"
        netform destroy --yes --project fl | tail -1
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let ll = text(after: "== ll", in: r.stdout, until: "== ping")
        #expect(ll.contains("fl.a eth0 none"), "\(ll)")
        #expect(ll.contains("fl.b eth0 none"), "\(ll)")
        #expect(ll.contains("fl.c eth0 fe80"), "an IPv6 network keeps its link-local addresses: \(ll)")
        #expect(ll.contains("fl.d eth0 fe80"), "\(ll)")
        // Host ends are bridge ports: no IPv6 of their own on either kind of network
        // (IPv6 off, so no route of theirs in the host's table), yet the ping over
        // IPv6 below crosses them.
        let host = ll.split(separator: "\n").filter { $0.hasPrefix("host nfv") }
        #expect(host.count == 4 && host.allSatisfy { $0.hasSuffix(" none") }, "\(ll)")
        let v6off = text(after: "== v6off", in: r.stdout, until: "== queues").split(separator: "\n")
        #expect(v6off.count == 5, "\(v6off)")
        #expect(v6off.dropLast().allSatisfy { $0.hasPrefix("nfv") && $0.hasSuffix(" 1") }, "disable_ipv6 on every host end: \(v6off)")
        #expect(v6off.last == "0", "no host end has a route in the local table: \(v6off)")
        // Every veth end netform made has the one queue each way a veth uses (made so,
        // not shrunk to it after an RCU grace period each).
        let queues = text(after: "== queues", in: r.stdout, until: "== ping").split(separator: "\n")
        #expect(queues.count == 6, "4 host ends and 2 container ends: \(queues)")
        #expect(queues.allSatisfy { $0.hasSuffix(" 1 1") }, "\(queues)")
        let ping = text(after: "== ping", in: r.stdout, until: "== plan")
        #expect(ping.contains("ok4") && ping.contains("ok6"), "\(ping)")
        #expect(r.stdout.contains("no changes"), "verification and a new plan agree: \(r.stdout)")
        #expect(text(after: "== end", in: r.stdout).contains("sentinels unchanged"), "\(r.stdout)")
    }

    @Test func anAdditionRefusedInABatchReportsTheKernelsWordsAndRollsBack() throws {
        // IPv6 disabled on the host's new links (in the sandbox's own namespace): the
        // kernel refuses the IPv6 gateway address on the bridge. The container
        // addresses and routes sent with it in one run succeed, and must be undone.
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; sbefore=$(sentinel_state)
        before=$(netstate)
        cat > $T/s.yaml <<'EOF'
        \(Self.spec)
        EOF
        sysctl -qw net.ipv6.conf.default.disable_ipv6=1
        set +e; netform apply --yes $T/s.yaml >$T/out 2>$T/err; echo "exit=$?"; set -e
        sysctl -qw net.ipv6.conf.default.disable_ipv6=0
        echo "== stderr"; cat $T/err
        echo "== state"
        [ "$before" = "$(netstate)" ] && echo "host as before"
        ip netns list | grep -c '^fl\\.' || true
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(text(after: "exit=", in: r.stdout, until: "\n") == "1", "\(r.stdout)")
        let stderr = text(after: "== stderr", in: r.stdout, until: "== state")
        #expect(stderr.contains("fd00:62::1"), "names the refused address: \(stderr)")
        #expect(stderr.contains("Permission denied") || stderr.contains("IPv6 is disabled"), "the kernel's words: \(stderr)")
        #expect(stderr.contains("The host was rolled back to its state before this apply"), "\(stderr)")
        // The additions after the refused one went out with it and succeeded: more
        // steps were undone than came before the failed one.
        let failed = Int(text(after: "error: step ", in: stderr, until: " of")) ?? 0
        let undone = Int(text(after: "this apply (", in: stderr, until: " completed")) ?? 0
        #expect(failed > 1 && undone >= failed, "\(stderr)")
        let state = text(after: "== state", in: r.stdout)
        #expect(state.contains("host as before"), "\(r.stdout)")
        #expect(state.contains("\n0\n"), "no namespaces left: \(state)")
        #expect(state.contains("sentinels unchanged"), "\(r.stdout)")
    }
}
