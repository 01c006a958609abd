import Foundation
import Testing
import TestSupport

/// Issue 8, items 4, 6 and 7, with the built binary in a fresh sandbox: saved plans
/// that were edited, truncated or come from another format are refused; deletes of
/// what is already gone succeed, placeholders an interrupted run left are removed
/// and foreign files are not; the lock and plan files are never written through a
/// symlink. Foreign sentinels must come out byte-identical every time.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct HardeningEndToEnd {
    @Test func aTamperedSavedPlanIsRefusedAndChangesNothing() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        netform plan --out $T/p.json Examples/seed.yaml >/dev/null 2>&1
        echo "mode $(stat -c %a $T/p.json)"
        # Append a delete of the foreign bridge, as an attacker editing the file would.
        python3 - <<'PY'
        import json, os
        T = os.environ["T"]
        d = json.load(open(T + "/p.json"))
        steps = d["plan"]["steps"]
        ns = next(s["operation"]["create_bridge"]["namespace"] for s in steps if "create_bridge" in s["operation"])
        steps.append({"id": len(steps) + 1, "resource": {"kind": "network", "name": "bridge"}, "change": "+",
                      "operation": {"delete_link": {"namespace": ns, "name": "br-sentinel"}}, "inverse": [],
                      "depends_on": [], "disruption": "none", "details": [], "await_gone": []})
        json.dump(d, open(T + "/tampered.json", "w"))
        d = json.load(open(T + "/p.json")); d["plan"]["format_version"] = 99
        json.dump(d, open(T + "/v99.json", "w"))
        PY
        head -c 3000 $T/p.json > $T/truncated.json
        for f in tampered v99 truncated; do
          echo "== $f"
          set +e; netform apply --yes $T/$f.json >$T/out 2>$T/err; echo "exit=$?"; set -e
          cat $T/out $T/err
          echo "stderr-bytes=$(wc -c <$T/err) stderr-lines=$(wc -l <$T/err)"
        done
        echo "== state"
        ip netns list | grep -c '^seed\\.' || true
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        echo "== genuine"
        netform apply --yes $T/p.json | tail -1
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("mode 600"), "plan files are private")
        let tampered = text(after: "== tampered", in: out, until: "== v99")
        #expect(tampered.contains("exit=1"))
        #expect(tampered.contains("the file was edited"), "\(tampered)")
        #expect(!tampered.contains("Apply complete"))
        let v99 = text(after: "== v99", in: out, until: "== truncated")
        #expect(v99.contains("exit=1") && v99.contains("format_version 99 is not supported"), "\(v99)")
        let truncated = text(after: "== truncated", in: out, until: "== state")
        #expect(truncated.contains("exit=1") && truncated.contains("corrupt plan file"), "\(truncated)")
        #expect(truncated.contains("stderr-lines=1"), "one short line, not the file: \(truncated)")
        let bytes = Int(text(after: "stderr-bytes=", in: truncated, until: " ")) ?? .max
        #expect(bytes < 300, "\(truncated)")
        let state = text(after: "== state", in: out, until: "== genuine")
        #expect(state.hasPrefix("\n0\n"), "nothing was created: \(state)")
        #expect(state.contains("sentinels unchanged"))
        let genuine = text(after: "== genuine", in: out)
        #expect(genuine.contains("Apply complete: 6 added") || genuine.contains("Apply complete:"), "\(genuine)")
        #expect(genuine.contains("sentinels unchanged"))
    }

    @Test func planFilesAndTheLockAreNeverWrittenThroughASymlink() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        echo precious > $T/victim
        ln -s $T/victim $T/plan.json
        netform plan --out $T/plan.json Examples/seed.yaml >/dev/null 2>&1
        echo "victim: $(cat $T/victim)"
        echo "plan.json: $(stat -c '%F %a' $T/plan.json)"
        echo "== lock"
        rm -f /run/netform/apply.lock
        echo keep > $T/lockvictim
        ln -s $T/lockvictim /run/netform/apply.lock
        set +e; netform apply --yes Examples/seed.yaml >$T/out 2>&1; echo "exit=$?"; set -e
        cat $T/out
        echo "lockvictim: $(cat $T/lockvictim)"
        ip netns list | grep -c '^seed\\.' || true
        rm /run/netform/apply.lock
        echo "== stale"
        netform apply --yes Examples/seed.yaml >/dev/null 2>&1
        echo "dir $(stat -c %a /run/netform) file $(stat -c %a /run/netform/apply.lock)"
        # A killed apply's PID stays in the file; another process holds the lock now.
        echo 99999999 > /run/netform/apply.lock
        # The holder says when it holds the lock (a file), instead of a guessed sleep.
        python3 -c 'import fcntl, sys, time
        f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(300)' \\
          /run/netform/apply.lock $T/held >/dev/null 2>&1 &
        holder=$!
        for i in $(seq 600); do [ -e $T/held ] && break; sleep 0.05; done
        set +e; netform apply --yes --lock-timeout 0.3 Examples/seed.yaml >$T/out 2>&1; echo "exit=$?"; set -e
        cat $T/out
        echo "holder=$holder"
        kill "$holder"; wait "$holder" 2>/dev/null || true
        netform destroy --yes --project seed >/dev/null
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("victim: precious"), "the symlink's target is untouched")
        #expect(out.contains("plan.json: regular file 600"))
        let lock = text(after: "== lock", in: out, until: "== stale")
        #expect(lock.contains("exit=1") && lock.contains("symbolic link"), "\(lock)")
        #expect(lock.contains("lockvictim: keep"))
        #expect(lock.contains("\n0\n"), "nothing was applied without the lock: \(lock)")
        let stale = text(after: "== stale", in: out)
        #expect(stale.contains("dir 700 file 600"), "\(stale)")
        #expect(stale.contains("exit=1") && stale.contains("another netform apply holds"), "\(stale)")
        #expect(!stale.contains("99999999"), "a dead PID is never named: \(stale)")
        let holder = text(after: "holder=", in: stale, until: "\n")
        #expect(!holder.isEmpty && stale.contains("(PID \(holder))"), "the live holder is named: \(stale)")
        #expect(out.contains("sentinels unchanged"))
    }

    @Test func placeholdersAreCleanedUpAndForeignFilesAreLeftAlone() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null 2>&1
        netform destroy --yes --project seed >/dev/null 2>&1
        # What a destroy killed between umount and unlink leaves (as `ip netns add` makes it).
        : > /run/netns/seed.container1; chmod 000 /run/netns/seed.container1
        : > /run/netns/other.c1; chmod 000 /run/netns/other.c1
        # Someone else's file where netform would put container3's namespace.
        echo mine > /run/netns/seed.container3
        echo "== list"; ip netns list 2>&1 | grep -c 'invalid' || true
        echo "== apply"
        set +e; netform apply --yes Examples/seed.yaml >$T/out 2>&1; echo "exit=$?"; set -e
        cat $T/out
        echo "foreign: $(cat /run/netns/seed.container3)"
        echo "== destroy"
        : > /run/netns/seed.container4; chmod 000 /run/netns/seed.container4
        netform destroy --yes --project seed 2>&1 | tail -3
        ls /run/netns | sort | tr '\\n' ' '; echo
        echo "foreign: $(cat /run/netns/seed.container3)"
        echo "== reuse"
        rm /run/netns/seed.container3 /run/netns/other.c1
        : > /run/netns/seed.container2; chmod 000 /run/netns/seed.container2
        netform apply --yes Examples/seed.yaml 2>&1 | tail -1
        ip netns list 2>&1 | grep -c 'invalid' || true
        netform plan --detailed-exitcode Examples/seed.yaml >/dev/null 2>&1 && echo converged
        netform destroy --yes --project seed >/dev/null 2>&1
        ls /run/netns | tr '\\n' ' '; echo "<end"
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(text(after: "== list", in: out, until: "== apply") != "\n0\n", "the placeholders upset iproute2: \(out)")
        let apply = text(after: "== apply", in: out, until: "== destroy")
        #expect(apply.contains("exit=1") && apply.contains("/run/netns/seed.container3 and is not a namespace"), "\(apply)")
        #expect(apply.contains("foreign: mine"))
        #expect(apply.contains("removed /run/netns/seed.container1"), "\(apply)")
        let destroy = text(after: "== destroy", in: out, until: "== reuse")
        #expect(destroy.contains("removed /run/netns/seed.container4"), "\(destroy)")
        #expect(destroy.contains("other.c1 seed.container3 sentinel-ns"), "only the project's placeholder went: \(destroy)")
        #expect(destroy.contains("foreign: mine"))
        let reuse = text(after: "== reuse", in: out)
        #expect(reuse.contains("Apply complete:") && reuse.contains("\n0\n") && reuse.contains("converged"), "\(reuse)")
        #expect(reuse.contains("sentinel-ns <end"), "destroy left nothing but the sentinel: \(reuse)")
        #expect(out.contains("sentinels unchanged"))
    }

    /// kill -9 at a random moment of apply or destroy, then one run of the same
    /// command must converge (no "No such device", no "Rollback was incomplete"), and
    /// destroy must leave nothing behind, not even a placeholder.
    @Test func aKilledApplyOrDestroyConvergesOnTheNextRun() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        cat > $T/big.yaml <<'SPEC'
        version: 1
        project: seed
        networks:
          a: {subnets: [{subnet: 10.60.0.0/16}]}
          b: {subnets: [{subnet: 10.61.0.0/16}]}
        containers:
        SPEC
        for i in $(seq 1 60); do echo "  c$i: {networks: [a, b]}" >> $T/big.yaml; done
        ok=0; bad=0
        for t in $(seq 1 10); do
          for verb in apply destroy; do
            if [ $verb = destroy ]; then netform apply --yes $T/big.yaml >/dev/null 2>&1; fi
            if [ $verb = apply ]; then cmd="netform apply --yes $T/big.yaml"; else cmd="netform destroy --yes --project seed"; fi
            $cmd >/dev/null 2>&1 & pid=$!
            sleep "0.$(printf %03d $(( RANDOM % 200 )))"
            kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
            if $cmd >$T/out 2>&1; then ok=$((ok+1)); else bad=$((bad+1)); echo "trial $t $verb failed:"; tail -5 $T/out; fi
            if grep -q 'Rollback was incomplete' $T/out; then echo "trial $t $verb: rollback incomplete"; fi
          done
          netform destroy --yes --project seed >/dev/null 2>&1 || echo "trial $t: final destroy failed"
          left="$(ls /run/netns | grep '^seed\\.' || true)$(ip -o link show | grep -c 'netform:seed' | grep -v '^0$' || true)"
          [ -z "$left" ] || echo "trial $t leftovers: $left"
          grep -q invalid <(ip netns list 2>&1) && echo "trial $t: ip netns list complains"
        done
        echo "converged=$ok failed=$bad"
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("converged=20 failed=0"), "\(r.stdout)")
        #expect(!r.stdout.contains("leftovers") && !r.stdout.contains("complains") && !r.stdout.contains("incomplete"), "\(r.stdout)")
        #expect(r.stdout.contains("sentinels unchanged"))
    }
}
