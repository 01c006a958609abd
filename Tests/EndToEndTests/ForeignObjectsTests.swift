import Foundation
import Testing
import TestSupport

/// Issue 8, item 3, with the real binary in a sandbox, checked with iproute2 (and
/// raw netlink for `IFA_PROTO`, which Debian's iproute2 6.1 does not show): objects
/// made with plain `ip` inside or on netform's objects — a veth moved into a
/// container's namespace, addresses on its eth0 and lo and on a netform bridge, a
/// route and a port on that bridge — survive a plain apply byte for byte, are listed
/// as unmanaged (not as changes), and a destroy names each one it takes along before
/// it runs. The sentinels stay unchanged throughout.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ForeignObjectsOnNetformObjectsE2E {
    /// Prints `ADDRESS/PREFIX proto N` for every IPv4/IPv6 address of this namespace,
    /// read over raw rtnetlink (attribute IFA_PROTO = 11).
    static let protos = #"""
    python3 -c '
    import socket, struct
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE); s.bind((0, 0))
    s.send(struct.pack("IHHII", 24, 22, 0x301, 1, 0) + struct.pack("BBBBI", 0, 0, 0, 0, 0))
    done = False
    while not done:
        d = s.recv(1 << 16); i = 0
        while i + 16 <= len(d):
            ln, t = struct.unpack_from("IH", d, i)
            if t == 3: done = True; break
            fam, plen = struct.unpack_from("BB", d, i + 16); j = i + 24; a = None; p = 0
            while j + 4 <= i + ln:
                al, at = struct.unpack_from("HH", d, j)
                if at == 11: p = d[j + 4]
                if at in (1, 2) and a is None: a = socket.inet_ntop(socket.AF_INET if fam == 2 else socket.AF_INET6, d[j + 4:j + al])
                j += (al + 3) & ~3
            if fam in (2, 10) and not (a or "").startswith(("127.", "::1", "fe80")): print(f"{a}/{plen} proto {p}")
            i += (ln + 3) & ~3
    ' | sort
    """#

    @Test func foreignObjectsSurviveApplyAndAreNamedBeforeADestroy() throws {
        let r = try sandboxed("""
        sentinels; sbefore=$(sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null
        echo "== protos"; ip netns exec seed.container1 \(Self.protos)
        # Foreign objects, made the way an operator debugging a container would.
        ip link add dbg1 type veth peer name dbg0 netns seed.container1
        ip -n seed.container1 addr add 172.17.99.9/16 dev eth0
        ip -n seed.container1 addr add 10.255.0.1/32 dev lo
        ip addr add 172.17.250.1/16 dev docker0
        ip route add 10.50.0.0/16 dev docker0 proto static
        ip link add fport type veth peer name fport1
        ip link set fport master docker0
        before=$(netstate)
        echo "== plan"; netform plan --detailed-exitcode Examples/seed.yaml; echo "plan exit $?"
        echo "== json"; netform plan --json Examples/seed.yaml | python3 -c '
        import json, sys; p = json.load(sys.stdin)
        print(len(p["steps"]), "steps"); print(sorted(u["kind"] + " " + u["object"] for u in p["unmanaged"]))'
        echo "== apply"; netform apply --yes Examples/seed.yaml | tail -n 1
        [ "$before" = "$(netstate)" ] && echo "apply changed nothing"
        echo "== destroy"; netform destroy --yes --project seed
        for _ in $(seq 1 100); do grep -q ' nfv' <(ip -o link show) || break; sleep 0.1; done
        echo "== after"
        ip -o link show dbg1 >/dev/null 2>&1 || echo "dbg1 gone with its peer"
        ip -j link show fport | python3 -c 'import json,sys; l=json.load(sys.stdin)[0]; print("fport stays, master", l.get("master"))'
        ip -o link show fport1 >/dev/null && echo "fport1 stays"
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        // netform's own addresses carry its protocol number from the creating request.
        #expect(text(after: "== protos\n", in: r.stdout, until: "==") == "172.17.0.2/16 proto 78\n", "\(r.stdout)")
        let plan = text(after: "== plan\n", in: r.stdout, until: "== json")
        #expect(plan.contains("No changes."), "\(plan)")
        #expect(plan.contains("plan exit 0"), "unmanaged objects are not changes: \(plan)")
        for listed in ["foreign link dbg0 (veth, peer dbg1 in host) in seed.container1",
                       "foreign address 172.17.99.9/16 dev eth0 in seed.container1",
                       "foreign address 10.255.0.1/32 dev lo in seed.container1",
                       "foreign address 172.17.250.1/16 dev docker0 in host",
                       "foreign route 10.50.0.0/16 dev docker0 proto 4 in host",
                       "foreign port fport (veth, peer fport1 in host) in host"] {
            #expect(plan.contains(listed), "\(listed) in \(plan)")
        }
        let json = text(after: "== json\n", in: r.stdout, until: "== apply")
        #expect(json.hasPrefix("0 steps\n"), "\(json)")
        #expect(json.contains("'address 172.17.99.9/16 dev eth0'") && json.contains("'port fport (veth, peer fport1 in host)'"), "\(json)")
        #expect(r.stdout.contains("apply changed nothing"), "\(r.stdout)")
        let destroy = text(after: "== destroy\n", in: r.stdout, until: "== after")
        for taken in ["takes foreign link dbg0 (veth, peer dbg1 in host) in seed.container1: deleted with the namespace",
                      "takes foreign address 172.17.99.9/16 dev eth0 in seed.container1: deleted with the namespace",
                      "takes foreign address 10.255.0.1/32 dev lo in seed.container1: deleted with the namespace",
                      "takes foreign address 172.17.250.1/16 dev docker0 in host: deleted with the link",
                      "takes foreign route 10.50.0.0/16 dev docker0 proto 4 in host: deleted with the link",
                      "takes foreign port fport (veth, peer fport1 in host) in host: detached from the bridge"] {
            #expect(destroy.contains(taken), "\(taken) in \(destroy)")
        }
        #expect(destroy.contains("Warning: these steps also take 6 objects that netform does not own"), "\(destroy)")
        let after = text(after: "== after\n", in: r.stdout)
        #expect(after.contains("dbg1 gone with its peer\n"), "\(after)")
        #expect(after.contains("fport stays, master None\n") && after.contains("fport1 stays\n"), "\(after)")
        #expect(after.contains("sentinels unchanged"), "\(r.stdout)")
    }
}
