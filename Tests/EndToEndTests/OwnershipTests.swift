import Foundation
import Testing
import TestSupport

/// Issue 8, items 1, 5 and 8, with the built binary in a fresh sandbox: a second
/// name of the (sandbox's) host namespace or of a container's namespace is the same
/// namespace, never a container to tear down; the host's and init's namespaces are
/// never adopted, by any name; an apply killed while it creates a veth into an
/// adopted namespace leaves links the next apply recognises and repairs. Foreign
/// sentinels must come out byte-identical every time.
/// A bash function: `main_thread_strace "STRACE OPTIONS" NETFORM-ARGS...` runs
/// netform stopped before it starts, attaches strace to its main thread only (the
/// thread that sends the plan's requests; observation and namespace threads are
/// not traced, so `when=k` counts the main thread's calls exactly), then lets it run.
let mainThreadStrace = """
main_thread_strace() {
  ( kill -STOP $BASHPID; exec netform "${@:2}" ) &
  local p=$! s deadline=$((SECONDS + 60))
  until grep -q '^State:.*T' /proc/$p/status; do
    [ $SECONDS -lt $deadline ] || { echo "main_thread_strace: netform never stopped" >&2; kill -9 $p; return 98; }
    sleep 0.01
  done
  # Attach; an strace that gave up without attaching (seen once under load, which
  # hung the suite) is started again, and the whole wait has a deadline.
  while grep -q '^TracerPid:[[:space:]]*0$' /proc/$p/status; do
    strace -qq $1 -p $p &
    s=$!
    while grep -q '^TracerPid:[[:space:]]*0$' /proc/$p/status && kill -0 $s 2>/dev/null; do
      [ $SECONDS -lt $deadline ] || break
      sleep 0.01
    done
    if [ $SECONDS -ge $deadline ]; then
      echo "main_thread_strace: strace never attached" >&2; kill $s 2>/dev/null; kill -9 $p; return 98
    fi
  done
  kill -CONT $p
  local rc=0
  wait $p 2>/dev/null || rc=$?
  wait $s 2>/dev/null || true
  return $rc
}
"""

@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct OwnershipEndToEnd {
    @Test func otherNamesOfTheHostNamespaceAreTheHost() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        # Two more names of this (the sandbox's) namespace, before the first apply.
        ip netns attach hostalias $$
        ln -s /proc/$$/ns/net /run/netns/hostlink
        echo "== apply"; netform apply --yes Examples/seed.yaml | tail -1
        echo "== plan"; set +e; netform plan --detailed-exitcode Examples/seed.yaml; echo "exit=$?"; set -e
        echo "== exec"; set +e; ip netns exec hostalias netform plan --detailed-exitcode Examples/seed.yaml; echo "exit=$?"; set -e
        echo "== reapply"; netform apply --yes Examples/seed.yaml | tail -1
        ip netns exec seed.container1 ping -c1 -W2 172.17.0.3 >/dev/null && echo "ping ok"
        for netns in '{name: hostalias}' '{name: hostlink}' '{path: /run/netns/hostalias}' "{pid: $$}" '{pid: 1}' '{path: /proc/1/ns/net}'; do
          printf 'version: 1\\nproject: grab\\nnetworks:\\n  n: {subnets: [{subnet: 10.77.0.0/24}]}\\ncontainers:\\n  app: {netns: %s, networks: [n]}\\n' "$netns" > $T/grab.yaml
          echo "== adopt $netns"
          set +e; netform apply --yes $T/grab.yaml 2>&1; echo "exit=$?"; set -e
        done
        echo "== end"
        ip -o link show | grep -c 'netform:grab' || true
        netform destroy --yes --project seed | tail -1
        ip -o link show | grep -c 'netform:' || true
        ip netns list | grep -c '^seed\\.' || true
        ip netns delete hostalias; rm /run/netns/hostlink
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(text(after: "== apply", in: out, until: "== plan").contains("Apply complete:"), "the first apply verifies: \(out)")
        #expect(text(after: "== plan", in: out, until: "== exec")
            .contains("No changes. The host matches the spec (project 'seed').\nexit=0"), "\(out)")
        #expect(text(after: "== exec", in: out, until: "== reapply").contains("No changes.") && out.contains("exit=0\n== reapply"),
                "run under `ip netns exec hostalias`: \(out)")
        #expect(text(after: "== reapply", in: out, until: "== adopt").contains("Apply complete: 0 added, 0 changed, 0 destroyed")
                    || text(after: "== reapply", in: out, until: "== adopt").contains("No changes"), "\(out)")
        #expect(out.contains("ping ok"))
        for netns in ["{name: hostalias}", "{name: hostlink}", "{path: /run/netns/hostalias}"] {
            let part = text(after: "== adopt \(netns)", in: out, until: "== ")
            #expect(part.contains("its netns is this host's own namespace") && part.contains("exit=1"), "\(netns): \(part)")
        }
        let pid = text(after: "== adopt {pid: ", in: out, until: "}")
        #expect(!pid.isEmpty && pid != "1")
        #expect(text(after: "== adopt {pid: \(pid)}", in: out, until: "== ").contains("its netns is this host's own namespace"), "\(out)")
        // init's namespace (the machine's own, outside this sandbox) is refused by
        // identity; where even root may not read /proc/1/ns/net (some containers),
        // netform cannot open it either and stops before changing anything.
        for netns in ["{pid: 1}", "{path: /proc/1/ns/net}"] {
            let part = text(after: "== adopt \(netns)", in: out, until: "== ")
            #expect(part.contains("exit=1") && (part.contains("its netns is the network namespace of PID 1 (init)")
                                                 || part.contains("open(/proc/1/ns/net): Permission denied")), "\(netns): \(part)")
        }
        #expect(text(after: "== end", in: out) == "\n0\nDestroy complete: 0 added, 0 changed, 6 destroyed\n0\n0\nsentinels unchanged\n"
                || text(after: "== end", in: out).hasPrefix("\n0\nDestroy complete:"), "\(text(after: "== end", in: out))")
        #expect(text(after: "== end", in: out).hasSuffix("\n0\n0\nsentinels unchanged\n"), "\(text(after: "== end", in: out))")
    }

    @Test func aSecondNameOfAContainerNamespaceIsTheSameNamespace() throws {
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        netform apply --yes Examples/seed.yaml >/dev/null
        # `ip netns attach dbg <pid in seed.container1>`, without a process: a second bind mount.
        touch /run/netns/dbg; mount --bind /run/netns/seed.container1 /run/netns/dbg
        eth0() { ip -n seed.container1 -j link show eth0 | python3 -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l["ifindex"], l["operstate"])'; }
        e0=$(eth0)
        echo "== plan"; set +e; netform plan --detailed-exitcode Examples/seed.yaml; echo "exit=$?"; set -e
        echo "== apply"; netform apply --yes Examples/seed.yaml | tail -1
        ip netns list | grep -c '^dbg' || true
        [ "$(eth0)" = "$e0" ] && echo "eth0 unchanged"
        ip netns exec dbg ping -c1 -W2 172.17.0.3 >/dev/null && echo "ping ok"
        # An adopted namespace that has a second name (sorted before its own).
        ip netns add legacy
        touch /run/netns/aaa; mount --bind /run/netns/legacy /run/netns/aaa
        printf 'version: 1\\nproject: adopt\\nnetworks:\\n  n: {subnets: [{subnet: 10.9.0.0/24}]}\\ncontainers:\\n  app: {netns: {name: legacy}, networks: [n]}\\n' > $T/adopt.yaml
        echo "== adopt"; netform apply --yes $T/adopt.yaml | tail -1
        set +e; netform plan --detailed-exitcode $T/adopt.yaml >/dev/null; echo "exit=$?"; set -e
        ip -n legacy -o link show eth0 | grep -c 'netform:adopt/ep/app/n' || true
        echo "== destroy"
        netform destroy --yes $T/adopt.yaml | tail -1
        ip -n legacy -o link show | grep -vc ': lo:' || true
        # Destroy with dbg still there: netform's name goes, dbg keeps the namespace,
        # emptied of netform's links and unmarked; no host veth end is left waiting.
        netform destroy --yes Examples/seed.yaml | tail -1 | sed 's/ in .*//'
        ip netns list | cut -d' ' -f1 | sort | tr '\\n' ' '; echo
        ip -n dbg -o link show | grep -vc ': lo:' || true
        ip -n dbg -o link show lo | grep -c netform || true
        ip -o link show | grep -c 'netform:' || true
        echo "== again"
        set +e; netform plan --detailed-exitcode Examples/seed.yaml | tail -1; set -e
        umount /run/netns/dbg; rm /run/netns/dbg
        umount /run/netns/aaa; rm /run/netns/aaa; ip netns delete legacy
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(text(after: "== plan", in: out, until: "== apply").contains("No changes. The host matches the spec (project 'seed').\nexit=0"),
                "the second name is not deleted: \(out)")
        #expect(text(after: "== apply", in: out, until: "== adopt").hasSuffix("\n1\neth0 unchanged\nping ok\n"), "\(out)")
        let adopt = text(after: "== adopt", in: out, until: "== destroy")
        #expect(adopt.contains("Apply complete:") && adopt.hasSuffix("exit=0\n1\n"), "planned once, converged: \(adopt)")
        let destroy = text(after: "== destroy", in: out, until: "== again")
        #expect(destroy.contains("\n0\nDestroy complete:") && destroy.hasSuffix(" destroyed\naaa dbg legacy sentinel-ns \n0\n0\n0\n"),
                "the adopted namespace keeps its names and loses netform's veth; dbg keeps container1's namespace without netform in it: \(destroy)")
        #expect(text(after: "== again", in: out) == "\nPlan: 7 to add, 0 to change, 0 to destroy.\nsentinels unchanged\n",
                "dbg is someone else's now: \(text(after: "== again", in: out))")
    }

    @Test func anApplyKilledWhileCreatingAVethIntoAnAdoptedNamespaceIsRepaired() throws {
        // strace kills netform (SIGKILL) at the k-th sendto of its main thread, the one
        // that sends the plan's requests (observation threads are not traced): k =
        // 1...20 covers every request of this apply, including the moment between the
        // veth's RTM_NEWLINK and its aliases. Each trial must converge on the first
        // re-apply and destroy must leave nothing.
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        ip netns add legacy
        printf 'version: 1\\nproject: adopt\\nnetworks:\\n  n: {subnets: [{subnet: 10.9.0.0/24}]}\\ncontainers:\\n  app: {netns: {name: legacy}, networks: [n]}\\n  own: {networks: [n]}\\n' > $T/adopt.yaml
        \(mainThreadStrace)
        halfmade=0; bad=0
        for k in $(seq 1 20); do
          main_thread_strace "-o /dev/null -e trace=sendto -e inject=sendto:signal=SIGKILL:when=$k" apply --yes $T/adopt.yaml >/dev/null 2>&1 || true
          if grep -vq 'netform:' <(ip -n legacy -o link show eth0 2>/dev/null); then halfmade=$((halfmade+1)); fi
          if ! netform apply --yes $T/adopt.yaml >$T/out 2>&1; then echo "trial $k: re-apply failed: $(tail -3 $T/out)"; bad=$((bad+1)); fi
          if ! netform plan --detailed-exitcode $T/adopt.yaml >/dev/null 2>&1; then echo "trial $k: not converged"; bad=$((bad+1)); fi
          netform destroy --yes $T/adopt.yaml >/dev/null 2>&1 || { echo "trial $k: destroy failed"; bad=$((bad+1)); }
          left="$(ip -o link show | grep -c 'netform:\\|nfv\\|nf-' || true)/$(ip -n legacy -o link show | grep -vc ': lo:' || true)/$(ip netns list | grep -c '^adopt\\.' || true)"
          [ "$left" = "0/0/0" ] || { echo "trial $k: leftovers $left"; bad=$((bad+1)); }
        done
        echo "halfmade=$halfmade bad=$bad"
        ip netns delete legacy
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let tally = text(after: "halfmade=", in: r.stdout, until: "\n")
        #expect(tally.hasSuffix(" bad=0"), "\(r.stdout)")
        #expect((Int(tally.prefix { $0 != " " }) ?? 0) >= 1, "some trial was killed between the veth's creation and its aliases: \(r.stdout)")
        #expect(r.stdout.contains("sentinels unchanged"))
    }

    @Test func aBridgeSomeoneElseCreatesDuringTheApplyIsNotDeletedByRollback() throws {
        // The bridge's RTM_NEWLINK is held back 1.5 s; meanwhile another tool makes
        // docker0. The create fails with EEXIST: rollback must leave that bridge alone.
        let r = try sandboxed("""
        export T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
        sentinels; before=$(sentinel_state)
        \(mainThreadStrace)
        main_thread_strace "-o $T/trace -s 256 -e trace=sendto" apply --yes Examples/seed.yaml >/dev/null
        # The first link the plan creates is docker0 (bridges first, by name).
        k=$(awk '/^sendto/ { n++; if (/RTM_NEWLINK.*NLM_F_CREATE/) { print n; exit } }' $T/trace)
        [ "$(awk -v k="$k" '/^sendto/ { n++; if (n == k) print }' $T/trace | grep -c docker0)" = 1 ] && echo "k=$k is docker0's creation"
        netform destroy --yes Examples/seed.yaml >/dev/null
        set +e
        main_thread_strace "-o /dev/null -e trace=sendto -e inject=sendto:delay_enter=1500000:when=$k" apply --yes Examples/seed.yaml >$T/out 2>&1 &
        apply=$!
        until grep -q '^seed\\.container1' <(ip netns list); do sleep 0.01; done
        ip link add docker0 type bridge; ip link set docker0 alias "docker's bridge"
        wait $apply; echo "exit=$?"
        set -e
        grep -m1 -o 'File exists' $T/out
        grep -c 'rolled back' $T/out || true
        echo "== after"
        ip -o link show docker0 | grep -o "alias docker's bridge" || echo "docker0 is gone"
        ip netns list | grep -c '^seed\\.' || true
        ip -o link show | grep -c 'netform:' || true
        ip link delete docker0
        [ "$before" = "$(sentinel_state)" ] && echo "sentinels unchanged"
        """)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("is docker0's creation"), "\(out)")
        #expect(text(after: "exit=", in: out, until: "== after") == "1\nFile exists\n1\n", "failed on EEXIST and rolled back: \(out)")
        #expect(text(after: "== after", in: out) == "\nalias docker's bridge\n0\n0\nsentinels unchanged\n",
                "the foreign bridge survives, nothing of netform's is left: \(out)")
    }
}
