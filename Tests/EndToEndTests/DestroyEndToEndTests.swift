import Foundation
import Testing
import TestSupport

/// A destroy deletes the project's bridges in one request (one RCU grace period for
/// all of them instead of one each) through a transient interface group of its own;
/// killed at that request, it leaves bridges the next apply recognises and gives
/// their group back. A foreign bridge that sits in the transient groups' range, and
/// the usual sentinels, come through unchanged.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct DestroyEndToEnd {
    @Test func theBridgesGoInOneRequestAndAKillThereIsRepaired() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels
        ip link add br-transient group $((0x4e440042)) type bridge
        ip link set br-transient alias "someone else's, in a transient-looking group"
        before=$(sentinel_state; ip -j -d link show br-transient)
        \(mainThreadStrace)
        groups() { ip -j -d link show | python3 -c '
        import json,sys
        for l in json.load(sys.stdin):
            if (l.get("ifalias") or "").startswith("netform:shop/net/"): print(l["ifname"], hex(int(l["group"])))'; }
        netform apply --yes Examples/multi-network.yaml >/dev/null 2>&1
        echo "== bridges $(groups | wc -l)"
        main_thread_strace "-o $T/trace -s 300 -e trace=sendto" destroy --yes --project shop >/dev/null
        echo "== dellinks $(grep -c 'RTM_DELLINK' $T/trace)"
        grep 'RTM_DELLINK' $T/trace | grep -o 'ifi_index=0, .*IFLA_GROUP' | cut -c1-11
        k=$(awk '/^sendto/ { n++; if (/RTM_DELLINK/) { print n; exit } }' $T/trace)
        echo "== left $(ip -o link show | grep -c 'netform:' || true)"
        netform apply --yes Examples/multi-network.yaml >/dev/null 2>&1
        set +e
        main_thread_strace "-o /dev/null -e trace=sendto -e inject=sendto:signal=SIGKILL:when=$k" destroy --yes --project shop >/dev/null 2>&1
        echo "== killed exit=$?"
        set -e
        groups | awk '{ print $2 }' | cut -c1-6 | sort | uniq -c | sed 's/^ */== kept /'
        set +e; netform plan --detailed-exitcode Examples/multi-network.yaml > $T/plan 2>&1; echo "== plan exit=$?"; set -e
        grep -c ' group: 0x4e44[0-9a-f]* → 0x4e46' $T/plan | sed 's/^/== group changes /'
        netform apply --yes Examples/multi-network.yaml >/dev/null 2>&1
        groups | awk '{ print $2 }' | sort -u | sed 's/^/== group now /'
        set +e; netform plan --detailed-exitcode Examples/multi-network.yaml >/dev/null 2>&1; echo "== replan exit=$?"; set -e
        netform destroy --yes --project shop >/dev/null
        echo "== end $(ip -o link show | grep -c 'netform:' || true)"
        [ "$before" = "$(sentinel_state; ip -j -d link show br-transient)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("== bridges 3\n"), "\(out)")
        #expect(text(after: "== dellinks ", in: out, until: "== left") == "1\nifi_index=0\n", "one RTM_DELLINK, by group: \(out)")
        #expect(out.contains("== left 0\n"), "\(out)")
        #expect(out.contains("== killed exit=137\n"), "\(out)")
        #expect(out.contains("== kept 3 0x4e44\n"), "the three bridges, marked, in the transient group: \(out)")
        #expect(out.contains("== plan exit=2\n== group changes 3\n"), "\(out)")
        #expect(out.contains("== group now 0x4e46") && text(after: "== group now", in: out, until: "== replan").split(separator: "\n").count == 1,
                "all three in the project's group again: \(out)")
        #expect(out.contains("== replan exit=0\n"), "\(out)")
        #expect(out.contains("== end 0\nsentinels unchanged\n"), "\(out)")
    }
}
