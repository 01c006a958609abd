import Foundation
import Testing
import TestSupport

/// Runs a bash script in a fresh sandbox of its own (new network + mount namespace,
/// tmpfs on /run and on /tmp, so two scenarios that run at once never share a fixed
/// path such as /tmp/changed.yaml), with the built `netform` first on PATH and the repository as the
/// working directory. Every scenario starts from an empty host and leaves nothing.
func sandboxed(_ script: String) throws -> TestSupport.Output {
    let prelude = """
    set -euo pipefail
    export PATH="\(TestSupport.productsDir.path):$PATH"
    cd "\(TestSupport.repoRoot.path)"
    netstate() { python3 Tests/Support/netstate.py "$@"; }
    # Runs a command until it succeeds, or fails after a deadline (default 30 s).
    # For pings that must get through: one packet with a fixed -W is no test of
    # reachability on a loaded machine (a link still coming up, ARP, a late reply).
    # Never for checks that traffic is dropped: those must not be retried into a pass.
    eventually() {
      local deadline=$((SECONDS + ${EVENTUALLY_SECONDS:-30}))
      until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
      done
    }
    # Foreign sentinels: objects netform does not own, made with iproute2.
    sentinels() {
      ip link add br-sentinel type bridge
      ip link set br-sentinel alias "someone else's bridge" up
      ip addr add 10.254.0.1/24 dev br-sentinel
      ip netns add sentinel-ns
      ip link add vsent0 type veth peer name eth0 netns sentinel-ns
      ip link set vsent0 master br-sentinel up
      ip -n sentinel-ns addr add 10.254.0.2/24 dev eth0
      ip -n sentinel-ns link set eth0 up
      ip route add 10.253.0.0/16 via 10.254.0.2 proto static
      # Settled before anyone takes a "before" dump: carrier up on both ends, IPv6
      # duplicate address detection done (the kernel changes state until then).
      settled() {
        grep -q LOWER_UP <(ip -j link show vsent0) && grep -q LOWER_UP <(ip -n sentinel-ns -j link show eth0) &&
          [ -z "$(ip -6 addr show tentative; ip -n sentinel-ns -6 addr show tentative)" ]
      }
      eventually settled
    }
    sentinel_state() { netstate --only '(host),sentinel-ns' | python3 -c '
    import json,sys
    s=json.load(sys.stdin)
    h=s["(host)"]
    keep=lambda n: n in ("br-sentinel","vsent0","lo")
    h["links"]=[l for l in h["links"] if keep(l.get("ifname"))]
    h["addresses"]=[a for a in h["addresses"] if keep(a["dev"])]
    h["routes"]=[r for r in h["routes"] if r.get("dev") in ("br-sentinel","vsent0")]
    h["neighbours"]=[n for n in h["neighbours"] if keep(n["dev"])]
    h["fdb"]=[e for e in h["fdb"] if keep(e.get("ifname")) or e.get("master") == "br-sentinel"]
    print(json.dumps(s, sort_keys=True))'; }

    """
    return try TestSupport.run(TestSupport.repoRoot.appendingPathComponent("Scripts/sandbox"),
                               ["--private-tmp", "/bin/bash", "-c", prelude + script])
}

/// The text after the first `marker` (up to the next `until`, if given); empty
/// when the marker is missing, so a failed script fails the expectations instead of
/// crashing the test process.
func text(after marker: String, in s: String, until: String? = nil) -> String {
    guard let r = s.range(of: marker) else { return "" }
    var rest = s[r.upperBound...]
    if let until, let e = rest.range(of: until) { rest = rest[..<e.lowerBound] }
    return String(rest)
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ApplySeed {
    @Test func seedScenarioPingsAndHasDockersAddresses() throws {
        let r = try sandboxed("""
        sentinels
        before=$(sentinel_state)
        netform apply --yes Examples/seed.yaml
        echo "== addr2"; ip -n seed.container2 -j addr show eth0
        echo "== ping12"; eventually ip netns exec seed.container1 ping -c1 -W1 172.17.0.3 >/dev/null && echo ok12
        echo "== ping21"; eventually ip netns exec seed.container2 ping -c1 -W1 172.17.0.2 >/dev/null && echo ok21
        echo "== gw"; eventually ip netns exec seed.container3 ping -c1 -W1 172.18.0.1 >/dev/null && echo okgw
        echo "== route1"; ip -n seed.container1 -j route show default
        echo "== plan2"; netform plan --detailed-exitcode Examples/seed.yaml && echo "exit0"
        echo "== apply2"; netform apply --yes Examples/seed.yaml
        after=$(sentinel_state)
        [ "$before" = "$after" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("\"address\":\"02:42:ac:11:00:03\""))
        #expect(r.stdout.contains("\"local\":\"172.17.0.3\",\"prefixlen\":16"))
        #expect(r.stdout.contains("ok12") && r.stdout.contains("ok21") && r.stdout.contains("okgw"))
        #expect(r.stdout.contains("\"gateway\":\"172.17.0.1\""))
        #expect(r.stdout.contains("No changes. The host matches the spec (project 'seed').\nexit0"))
        #expect(r.stdout.contains("Apply complete:"))
        #expect(r.stdout.contains("sentinels unchanged"))
    }
}

/// The seed with changes of every kind: a container removed (namespace deleted), two
/// added (one on two networks), a static address changed, an MTU changed in place.
let changedSeed = """
version: 1
project: seed
networks:
  bridge:
    bridge: docker0
    subnets: [{subnet: 172.17.0.0/16, gateway: 172.17.0.1}]
    mtu: 1400
  aislada:
    subnets: [{subnet: 172.18.0.0/16}]
  extra:
    subnets: [{subnet: 172.19.0.0/24}]
containers:
  container1: {}
  container2: {networks: {bridge: {ipv4: 172.17.0.33}}}
  container4: {networks: [aislada, bridge]}
  container5: {networks: [extra]}
  container6: {networks: [extra, aislada]}
  loner: {networks: [none]}
"""

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ApplyLifecycle {
    @Test func driftIsShownAndRepaired() throws {
        let r = try sandboxed("""
        sentinels; before=$(sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null
        veth=$(ip -o link show | awk -F': ' '/netform:seed\\/ep\\/container1\\/bridge/ {print $2}' | cut -d@ -f1)
        echo "== veth $veth"
        ip link delete "$veth"
        set +e; netform plan --detailed-exitcode Examples/seed.yaml; echo "plan-exit=$?"; set -e
        netform apply --yes Examples/seed.yaml | tail -1
        eventually ip netns exec seed.container1 ping -c1 -W1 172.17.0.3 >/dev/null && echo "repaired-veth"
        echo "== address"
        ip -n seed.container2 addr del 172.17.0.3/16 dev eth0
        set +e; netform plan --detailed-exitcode Examples/seed.yaml; echo "plan-exit=$?"; set -e
        netform apply --yes Examples/seed.yaml | tail -1
        ip -n seed.container2 -br addr show eth0
        echo "== namespace"
        ip netns delete seed.container3
        set +e; netform plan --detailed-exitcode Examples/seed.yaml; echo "plan-exit=$?"; set -e
        netform apply --yes Examples/seed.yaml | tail -1
        eventually ip netns exec seed.container3 ping -c1 -W1 172.18.0.1 >/dev/null && echo "repaired-ns"
        netform plan --detailed-exitcode Examples/seed.yaml >/dev/null && echo "converged"
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let sections = r.stdout.components(separatedBy: "== ") + ["", "", "", ""]
        // Each drift shows up as exactly that change, on exactly that container.
        #expect(sections[1].contains("~   container.container1") && sections[1].contains("plan-exit=2"))
        #expect(!sections[1].contains("container.container2") && !sections[1].contains("network."))
        #expect(sections[1].contains("repaired-veth"))
        #expect(sections[2].contains("address 172.17.0.3/16 dev eth0") && sections[2].contains("plan-exit=2"))
        #expect(sections[2].contains("Plan: 0 to add, 1 to change, 0 to destroy.") || sections[2].contains("Plan: 1 to add"))
        #expect(sections[2].contains("172.17.0.3/16"))
        #expect(sections[3].contains("container.container3") && sections[3].contains("namespace seed.container3"))
        #expect(sections[3].contains("repaired-ns") && sections[3].contains("converged"))
        #expect(r.stdout.contains("sentinels unchanged"))
    }

    @Test func changesInPlaceAndByRecreation() throws {
        let r = try sandboxed("""
        sentinels; before=$(sentinel_state)
        cat > /tmp/changed.yaml <<'SPEC'
        \(changedSeed)
        SPEC
        netform apply --yes Examples/seed.yaml >/dev/null
        idx_before=$(ip -j link show docker0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')
        netform plan Examples/seed.yaml >/dev/null
        netform apply --yes /tmp/changed.yaml
        echo "== checks"
        ip -j link show docker0 | python3 -c 'import json,sys; l=json.load(sys.stdin)[0]; print("docker0 mtu", l["mtu"], "index", l["ifindex"])'
        echo "index before $idx_before"
        ip -n seed.container1 -j link show eth0 | python3 -c 'import json,sys; print("c1 eth0 mtu", json.load(sys.stdin)[0]["mtu"])'
        ip -n seed.container2 -br addr show eth0
        ip -n seed.container2 -j link show eth0 | python3 -c 'import json,sys; print("c2 mac", json.load(sys.stdin)[0]["address"])'
        ip netns list | awk '{print $1}' | sort | tr '\\n' ' '; echo
        ip -n seed.container4 -br addr show | sort
        eventually ip netns exec seed.container4 ping -c1 -W1 172.17.0.2 >/dev/null && echo "c4 reaches c1"
        eventually ip netns exec seed.container6 ping -c1 -W1 172.19.0.2 >/dev/null && echo "c6 reaches c5"
        netform plan --detailed-exitcode /tmp/changed.yaml >/dev/null && echo "converged"
        echo "== destroy"
        netform destroy --yes --project seed | tail -1
        ip netns list | grep -c '^seed\\.' || true
        ip -o link show | grep -c 'netform:seed' || true
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("~   network.bridge  (in-place)"))
        #expect(out.contains("-   container.container3  (destroy)"))
        let checks = text(after: "== checks", in: out)
        #expect(!checks.isEmpty, "\(out)\n\(r.stderr)")
        let idx = checks.split(separator: "\n").first { $0.hasPrefix("index before") }?.split(separator: " ").last
        #expect(checks.contains("docker0 mtu 1400 index \(idx ?? "?")"), "MTU changed in place, same interface")
        #expect(checks.contains("c1 eth0 mtu 1400"))
        #expect(checks.contains("172.17.0.33/16"))
        #expect(checks.contains("c2 mac 02:42:ac:11:00:21"))
        #expect(checks.contains("seed.container1 seed.container2 seed.container4 seed.container5 seed.container6 seed.loner"))
        #expect(checks.contains("eth0@") && checks.contains("172.18.0.") && checks.contains("eth1@"))
        #expect(checks.contains("c4 reaches c1") && checks.contains("c6 reaches c5") && checks.contains("converged"))
        let destroy = text(after: "== destroy", in: out)
        #expect(destroy.contains("Destroy complete:"))
        #expect(destroy.contains("\n0\n0\n"), "no seed namespace or link left: \(destroy)")
        #expect(destroy.contains("sentinels unchanged"))
    }

    @Test func aFailureAtEveryStepRollsTheHostBack() throws {
        let r = try sandboxed("""
        sentinels
        cat > /tmp/changed.yaml <<'SPEC'
        \(changedSeed)
        SPEC
        netform apply --yes Examples/seed.yaml >/dev/null
        before=$(netstate)
        steps=$(netform plan --json /tmp/changed.yaml | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
        echo "steps=$steps"
        for k in $(seq 1 "$steps"); do
          set +e
          NETFORM_FAILPOINT=step:$k netform apply --yes /tmp/changed.yaml >/tmp/out 2>/tmp/err
          code=$?
          set -e
          grep -q "The host was rolled back" /tmp/err || { echo "step $k: no rollback message"; cat /tmp/err; }
          if [ "$code" = 1 ] && [ "$before" = "$(netstate)" ]; then echo "step $k: same"; else echo "step $k: DIFFERENT (exit $code)"; fi
        done
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let steps = Int(r.stdout.split(separator: "\n").first { $0.hasPrefix("steps=") }?.dropFirst(6) ?? "0") ?? 0
        #expect(steps >= 25, "a plan of about 30 steps")
        for k in 1...max(steps, 1) {
            #expect(r.stdout.contains("step \(k): same\n"), "step \(k):\n\(r.stdout)")
        }
        #expect(!r.stdout.contains("DIFFERENT") && !r.stdout.contains("no rollback message"), "\(r.stdout)")
    }

    @Test func dryRunAndStalePlansChangeNothing() throws {
        let r = try sandboxed("""
        sentinels; sbefore=$(sentinel_state)
        before=$(netstate)
        dry=$(netform apply --dry-run Examples/seed.yaml); grep -E '^  ip' <<<"$dry" | head -3
        [ "$before" = "$(netstate)" ] && echo "dry run changed nothing"
        netform plan --out /tmp/seed.plan Examples/seed.yaml >/dev/null
        ip link add late0 type bridge
        set +e; netform apply --yes /tmp/seed.plan; echo "stale-exit=$?"; set -e
        ip link delete late0
        netform apply --yes /tmp/seed.plan | tail -1
        printf 'version: 1\\nnetworks: {bridge: {subnets: [{subnet: 172.17.0.0/16}], mtu: 5}}\\n' > /tmp/bad.yaml
        before=$(netstate)
        set +e; netform apply --yes /tmp/bad.yaml; echo "bad-exit=$?"; set -e
        [ "$before" = "$(netstate)" ] && echo "bad spec changed nothing"
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("  ip netns add seed.container1"))
        #expect(r.stdout.contains("dry run changed nothing"))
        #expect(r.stderr.contains("the host changed since this plan was made"))
        #expect(r.stdout.contains("stale-exit=1"))
        #expect(r.stdout.contains("Apply complete: 7 added"))
        #expect(r.stderr.contains("/tmp/bad.yaml:2:62: error: 'mtu' in network 'bridge' must be from 68 to 65535, got 5"))
        #expect(r.stdout.contains("bad-exit=1") && r.stdout.contains("bad spec changed nothing"))
        #expect(r.stdout.contains("sentinels unchanged"))
    }

    @Test func concurrentAppliesWaitOrNameTheHolder() throws {
        let r = try sandboxed("""
        sentinels; sbefore=$(sentinel_state)
        mkdir -p /run/netform
        # The holder keeps the lock until told to let go (no timing: on a loaded
        # machine a fixed `sleep` may end before, or start after, the checks below).
        ( echo $BASHPID > /run/netform/apply.lock
          exec flock /run/netform/apply.lock sh -c 'touch /run/held; until [ -e /run/release ]; do sleep 0.05; done' ) &
        holder=$!
        until [ -e /run/held ]; do sleep 0.05; done
        set +e; netform apply --yes --lock-timeout 0.5 Examples/seed.yaml >/dev/null; echo "busy-exit=$?"; set -e
        echo "holder=$holder"
        # An apply that waits for the lock, then gets it when the holder lets go.
        netform apply --yes --lock-timeout 120 Examples/seed.yaml > /run/waiting.out &
        waiting=$!
        sleep 0.5
        touch /run/release
        wait $waiting; tail -1 /run/waiting.out
        wait $holder
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let holder = r.stdout.split(separator: "\n").first { $0.hasPrefix("holder=") }?.dropFirst(7) ?? "?"
        #expect(r.stderr.contains("another netform apply holds /run/netform/apply.lock (PID \(holder))"))
        #expect(r.stdout.contains("busy-exit=1"))
        #expect(r.stdout.contains("sentinels unchanged"))
        #expect(r.stdout.contains("Apply complete: 7 added"))
    }

    @Test func killedApplyConvergesOnTheNextRun() throws {
        let r = try sandboxed("""
        sentinels; sbefore=$(sentinel_state)
        python3 - > /tmp/big.yaml <<'PY'
        print("version: 1\\nproject: big\\nnetworks:")
        for i in range(4): print(f"  n{i}: {{subnets: [{{subnet: 10.{60+i}.0.0/16}}]}}")
        print("containers:")
        for c in range(200): print(f"  c{c}: {{networks: [n{c % 4}]}}")
        PY
        for at in 1 60 150; do
          netform apply --yes /tmp/big.yaml >/dev/null 2>&1 &
          pid=$!
          # Kill it once it has made $at namespaces: somewhere in the middle.
          for _ in $(seq 1 3000); do
            [ "$(ls /run/netns 2>/dev/null | grep -c '^big\\.' || true)" -ge "$at" ] && break
            sleep 0.005
          done
          kill -9 $pid 2>/dev/null || true
          wait $pid 2>/dev/null || true
          echo "killed after $at: $(ip netns list | grep -c '^big\\.' || true) namespaces"
          netform apply --yes /tmp/big.yaml | tail -1
          netform plan --detailed-exitcode /tmp/big.yaml >/dev/null && echo "converged"
          echo "namespaces: $(ip netns list | grep -c '^big\\.')"
          eventually ip netns exec big.c5 ping -c1 -W1 10.61.0.1 >/dev/null && echo "c5 up"
          netform destroy --yes --project big >/dev/null
          while grep -q nfv <(ip -o link show); do sleep 0.1; done
        done
        [ "$sbefore" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.components(separatedBy: "converged").count == 4, "\(r.stdout)")
        #expect(r.stdout.components(separatedBy: "namespaces: 200").count == 4)
        #expect(r.stdout.components(separatedBy: "c5 up").count == 4)
        // At least one kill landed in the middle of the apply.
        let partial = r.stdout.split(separator: "\n").filter { $0.hasPrefix("killed after") }
            .compactMap { Int($0.split(separator: " ")[3]) }.filter { $0 > 0 && $0 < 200 }
        #expect(!partial.isEmpty, "\(r.stdout)")
        #expect(r.stdout.contains("sentinels unchanged"))
    }
}

/// The README's main quick-start command runs the demo: it must keep working.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct QuickStartDemo {
    @Test func demoAppliesPingsAndDestroys() throws {
        let r = try TestSupport.run(TestSupport.repoRoot.appendingPathComponent("Scripts/demo"), [],
                                    environment: ["NETFORM_BIN": TestSupport.netformBinary.path])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("Examples/seed.yaml: valid (project 'seed')"))
        #expect(r.stdout.contains("Apply complete: 7 added, 0 changed, 0 destroyed"))
        #expect(r.stdout.contains("1 packets transmitted, 1 received, 0% packet loss"))
        #expect(r.stdout.contains("3 packets transmitted, 0 received, 100% packet loss"), "the seed document's isolated network")
        #expect(r.stdout.contains("drop comment \"between the project's networks\""))
        #expect(r.stdout.contains("No changes. The host matches the spec (project 'seed')."))
        #expect(r.stdout.contains("Destroy complete: 0 added, 0 changed, 7 destroyed"))
        #expect(!r.stdout.contains("\u{1B}["), "no colour when piped")
    }
}

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct ApplyMoves {
    /// Moving container3 from `aislada` to `bridge` replaces only its veth: every
    /// other interface keeps its index (nothing else is recreated or renamed).
    @Test func movingAContainerTouchesNothingElse() throws {
        let r = try sandboxed("""
        sentinels; before=$(sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null
        indexes() { for ns in seed.container1 seed.container2 seed.container3; do ip -n $ns -j link show | python3 -c "import json,sys; print('$ns', sorted((l['ifname'], l['ifindex']) for l in json.load(sys.stdin)))"; done; ip -j link show | python3 -c "import json,sys; print('host', sorted((l['ifname'], l['ifindex']) for l in json.load(sys.stdin) if l['ifname']!='lo'))"; }
        indexes > /tmp/before-idx
        sed 's/    networks: \\[aislada\\]/    networks: [bridge]/' Examples/seed.yaml > /tmp/moved.yaml
        grep -A1 'container3:' /tmp/moved.yaml
        netform apply --yes /tmp/moved.yaml
        indexes > /tmp/after-idx
        echo "== diff"; diff /tmp/before-idx /tmp/after-idx || true
        echo "== c3"; ip -n seed.container3 -br addr show eth0
        ip -j link show | python3 -c 'import json,sys; print("c3 master", [l.get("master") for l in json.load(sys.stdin) if l.get("ifalias")=="netform:seed/ep/container3/bridge"])'
        eventually ip netns exec seed.container3 ping -c1 -W1 172.17.0.2 >/dev/null && echo "c3 reaches c1"
        netform plan --detailed-exitcode /tmp/moved.yaml >/dev/null && echo "converged"
        echo "== exec"; netform exec container1 -- ip -br addr show eth0
        set +e; netform exec nosuch -- true; echo "exec-unknown=$?"; set -e
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let diff = text(after: "== diff", in: r.stdout, until: "== c3")
        // Only container3's line and the host's line (its veth) differ.
        let changed = diff.split(separator: "\n").filter { $0.hasPrefix("<") || $0.hasPrefix(">") }
        #expect(changed.allSatisfy { $0.contains("seed.container3") || $0.contains("host") }, "\(diff)")
        #expect(!diff.contains("seed.container1") && !diff.contains("seed.container2"))
        #expect(r.stdout.contains("172.17.0.4/16"), "moved container gets the next free address on its new network")
        #expect(r.stdout.contains("c3 master ['docker0']"))
        #expect(r.stdout.contains("c3 reaches c1") && r.stdout.contains("converged"))
        #expect(r.stdout.contains("-/+ container.container3") || r.stdout.contains("~   container.container3"))
        let exec = text(after: "== exec", in: r.stdout)
        #expect(!exec.isEmpty, "\(r.stdout)\n\(r.stderr)")
        #expect(exec.contains("172.17.0.2/16"))
        #expect(r.stderr.contains("error: no container 'nosuch' on this host"))
        #expect(r.stdout.contains("exec-unknown=1"))
        #expect(r.stdout.contains("sentinels unchanged"))
    }
}
