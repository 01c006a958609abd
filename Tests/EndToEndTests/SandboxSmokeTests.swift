import Foundation
import Testing
import TestSupport

/// Proves the sandbox that every kernel test relies on: objects made inside
/// `Scripts/sandbox` exist there and are gone from the caller's namespace afterwards.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct SandboxSmoke {
    @Test func objectsMadeInsideStayInside() throws {
        let sandbox = TestSupport.repoRoot.appendingPathComponent("Scripts/sandbox")
        let inside = try TestSupport.run(sandbox, ["/bin/sh", "-c", """
            set -e
            ip netns add nf-smoke-ns
            ip link add nf-smoke0 type bridge
            ip -j link show nf-smoke0
            echo; ip netns list
            echo; echo "sandbox=$NETFORM_SANDBOX"
            """])
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stdout.contains("\"ifname\":\"nf-smoke0\""))
        #expect(inside.stdout.contains("nf-smoke-ns"))
        #expect(inside.stdout.contains("sandbox=1"))

        let outside = try TestSupport.sh("ip -j link show; echo; ls /run/netns")
        #expect(outside.status == 0)
        #expect(!outside.stdout.contains("nf-smoke0"), "the dummy link leaked out of the sandbox")
        #expect(!outside.stdout.contains("nf-smoke-ns"), "the namespace leaked out of the sandbox")
    }

    @Test func thisTestProcessIsNotInTheMachinesNamespace() throws {
        let mine = try #require(KernelSandbox.namespaceID("/proc/self/ns/net"))
        let outer = try #require(ProcessInfo.processInfo.environment["NETFORM_OUTER_NETNS"])
        #expect(mine != outer)
        // A sandbox starts with nothing but its own loopback. (This test process's
        // sandbox is shared with concurrent kernel tests, so look at a fresh one.)
        let fresh = try TestSupport.run(TestSupport.repoRoot.appendingPathComponent("Scripts/sandbox"),
                                        ["/bin/sh", "-c", "ip -o link show | wc -l; ls /run/netns | wc -l"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["1", "0"],
                "only lo and no named namespace in a fresh sandbox: \(fresh.stdout)")
    }
}
