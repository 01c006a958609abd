import Foundation
import Testing
import TestSupport

/// `netform agent` on a sandboxed host: drift repaired with no command run, the
/// agent settling instead of reacting to its own changes, the last good spec kept
/// on SIGHUP with an invalid one, a new spec picked up from the file, a clean exit
/// on SIGTERM, and a kill -9 in the middle of an apply repaired by the next start.
/// Checked with iproute2, curl and the agent's own metrics; foreign sentinels come
/// through unchanged.
func agentScenario(_ script: String) throws -> TestSupport.Output {
    try sandboxed("""
    T=$(mktemp -d)
    # start_agent SPEC [ARGS...]: runs the agent in the background (log in $T/agent.log)
    # and waits until it has reconciled once (healthz answers 200).
    start_agent() {
      netform agent "$@" --metrics 127.0.0.1:9109 --resync 0 >>"$T/agent.log" 2>&1 &
      AGENT=$!
      eventually curl -sf -o /dev/null 127.0.0.1:9109/healthz || { echo "agent never became healthy"; cat "$T/agent.log"; exit 1; }
    }
    stop_agent() {
      kill -TERM "$AGENT"
      local rc=0; wait "$AGENT" || rc=$?
      echo "agent exit $rc"
    }
    # The number of reconciles so far (every trigger, every result).
    reconciles() { curl -sf 127.0.0.1:9109/metrics | awk '/^netform_agent_reconciles_total/ { n += $2 } END { print n + 0 }'; }
    link_exists() { ip link show "$1" >/dev/null 2>&1; }
    has_addr() { grep -q "\\"$2\\"" <(ip -n "$1" -j addr show dev eth0); }
    veth_of() { ip -j link show | python3 -c "import json,sys; print([l['ifname'] for l in json.load(sys.stdin) if l.get('ifalias') == '$1'][0])"; }

    """ + script)
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct AgentEndToEnd {
    @Test func driftIsRepairedWithoutACommandAndTheAgentSettles() throws {
        let out = try agentScenario("""
        sysctl -qw net.ipv4.ip_forward=1
        sentinels
        # Loopback traffic (the metrics scrapes) makes the kernel add a NOARP
        # neighbour entry on lo: let it exist before the "before" dump.
        curl -s -o /dev/null 127.0.0.1:9 || true
        before=$(sentinel_state)
        cp Examples/seed.yaml "$T/seed.yaml"
        start_agent "$T/seed.yaml"
        # The agent applied the spec at start: container1 reaches container2.
        eventually ip netns exec seed.container1 ping -c1 -W1 172.17.0.3 >/dev/null && echo "== applied"
        # Drift: a host veth and a container address deleted by hand.
        veth=$(veth_of netform:seed/ep/container1/bridge)
        ip link del "$veth"
        ip -n seed.container2 addr flush dev eth0 scope global
        EVENTUALLY_SECONDS=10 eventually link_exists "$veth" && echo "== veth restored"
        EVENTUALLY_SECONDS=10 eventually has_addr seed.container2 172.17.0.3 && echo "== address restored"
        eventually ip netns exec seed.container1 ping -c1 -W1 172.17.0.3 >/dev/null && echo "== reachable again"
        # The same drift again: the repair must not reuse what the first one learnt
        # (the interface index of the veth it recreated).
        ip link del "$veth"
        EVENTUALLY_SECONDS=10 eventually has_addr seed.container1 172.17.0.2 && echo "== repaired twice"
        # Settled: no reconcile happens while nothing changes.
        sleep 1
        a=$(reconciles); sleep 2; b=$(reconciles)
        echo "== idle reconciles $((b - a))"
        echo "== plan exit $(netform plan --detailed-exitcode "$T/seed.yaml" >/dev/null 2>&1; echo $?)"
        after=$(sentinel_state)
        [ "$after" = "$before" ] && echo "== sentinels unchanged" || { echo "$before"; echo "$after"; }
        stop_agent
        flock -n /run/netform/apply.lock true && echo "== lock free"
        grep -c 'result=repaired' "$T/agent.log" | sed 's/^/== repaired reconciles /'
        grep -o 'result=failed' "$T/agent.log" | head -1 || true
        sed 's/^/agent.log: /' "$T/agent.log"
        """)
        #expect(out.stdout.contains("== applied"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== veth restored"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== address restored"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== reachable again"))
        #expect(out.stdout.contains("== repaired twice"), "\(out.stdout)")
        // A repair may fail verification on a loaded machine and be retried; what must
        // never happen is a repair addressed through a stale interface index.
        #expect(!out.stdout.contains("No such device"), "\(out.stdout)")
        #expect(out.stdout.contains("== idle reconciles 0"), "\(out.stdout)")
        #expect(out.stdout.contains("== plan exit 0"))
        #expect(out.stdout.contains("== sentinels unchanged"))
        #expect(out.stdout.contains("agent exit 0"))
        #expect(out.stdout.contains("== lock free"))
    }

    @Test func sighupWithAnInvalidSpecKeepsTheLastGoodOneAndAFixedFileIsPickedUp() throws {
        let out = try agentScenario("""
        cp Examples/seed.yaml "$T/seed.yaml"
        start_agent "$T/seed.yaml"
        # An edit that breaks the spec: a network that does not exist.
        sed -i 's/networks: \\[aislada\\]/networks: [no-such-network]/' "$T/seed.yaml"
        grep -q no-such-network "$T/seed.yaml" || { echo "the edit did not apply"; exit 1; }
        kill -HUP "$AGENT"
        eventually grep -q 'keeping the last good one' "$T/agent.log" && echo "== invalid spec logged"
        grep -o 'seed.yaml:[0-9]*:[0-9]*: error' "$T/agent.log" | head -1 | sed 's/^/== diagnostic /'
        kill -0 "$AGENT" && echo "== still running"
        # The last good spec still holds: drift is repaired against it.
        ip netns del seed.container3
        EVENTUALLY_SECONDS=10 eventually test -e /run/netns/seed.container3 && echo "== container3 restored"
        # A valid spec written to the file (as an editor does: new file, rename) is picked up.
        cp Examples/seed.yaml "$T/next.yaml"
        cat >> "$T/next.yaml" <<'YAML'
          container4:
            networks: [aislada]
        YAML
        mv "$T/next.yaml" "$T/seed.yaml"
        EVENTUALLY_SECONDS=10 eventually test -e /run/netns/seed.container4 && echo "== container4 created"
        stop_agent
        """)
        #expect(out.stdout.contains("== invalid spec logged"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== diagnostic "), "\(out.stdout)")
        #expect(out.stdout.contains("== still running"))
        #expect(out.stdout.contains("== container3 restored"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== container4 created"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("agent exit 0"))
    }

    @Test func aKill9InTheMiddleOfAnApplyIsRepairedByTheNextStart() throws {
        let out = try agentScenario("""
        sentinels
        before=$(sentinel_state)
        # 40 containers: an apply long enough to be killed in the middle.
        {
          printf 'version: 1\\nproject: big\\nnetworks:\\n  front:\\n    subnets: [{subnet: 10.60.0.0/16}]\\ncontainers:\\n'
          for i in $(seq 1 40); do printf '  c%d:\\n    networks: [front]\\n' "$i"; done
        } > "$T/big.yaml"
        netform agent "$T/big.yaml" --resync 0 >"$T/agent.log" 2>&1 &
        AGENT=$!
        # Killed as soon as its first namespace exists.
        eventually test -e /run/netns/big.c1
        kill -9 "$AGENT"; wait "$AGENT" 2>/dev/null || true
        echo "== killed with $(ls /run/netns | grep -c '^big\\.') of 40 namespaces"
        rc=0; netform agent --once "$T/big.yaml" >>"$T/agent.log" 2>&1 || rc=$?; echo "== once exit $rc"
        echo "== plan exit $(netform plan --detailed-exitcode "$T/big.yaml" >/dev/null 2>&1; echo $?)"
        echo "== namespaces $(ls /run/netns | grep -c '^big\\.')"
        [ "$(sentinel_state)" = "$before" ] && echo "== sentinels unchanged"
        """)
        #expect(out.stdout.contains("== once exit 0"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== plan exit 0"))
        #expect(out.stdout.contains("== namespaces 40"))
        #expect(out.stdout.contains("== sentinels unchanged"))
    }

    @Test func onceFailsWhenSomethingForeignIsInTheWay() throws {
        let out = try agentScenario("""
        # Someone else's bridge under the name the spec wants for its network.
        ip link add docker0 type bridge
        rc=0; netform agent --once Examples/seed.yaml >"$T/agent.log" 2>&1 || rc=$?; echo "== once exit $rc"
        grep -o 'result=conflict' "$T/agent.log" | head -1 | sed 's/^/== /'
        grep -q '"ifalias"' <(ip -j link show docker0) && echo "== docker0 was touched" || echo "== docker0 untouched"
        """)
        #expect(out.stdout.contains("== once exit 1"), "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("== result=conflict"))
        #expect(out.stdout.contains("== docker0 untouched"))
    }
}
