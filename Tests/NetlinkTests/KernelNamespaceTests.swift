import Addressing
import Foundation
import Testing
@testable import Netlink

/// Named namespaces shared with iproute2, handles per namespace, namespace threads.
@Suite("Kernel: namespaces", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct KernelNamespaceTests {
    @Test("a namespace created by the library works with ip netns list/exec")
    func libraryToIproute() throws {
        let name = uniqueName("nsl")
        defer { cleanupNamespace(name) }
        let ns = try NetworkNamespace.create(name: name)
        #expect(ns.name == name)
        #expect(ns.id != (try NetworkNamespace.current()).id)
        let list = try sh("ip", "netns", "list")
        #expect(list.split(separator: "\n").contains { $0.split(separator: " ").first.map(String.init) == name })
        let links = try json("ip", "netns", "exec", name, "ip", "-j", "link")
        #expect(links.compactMap { $0["ifname"] as? String } == ["lo"])
        // ip netns exec runs in the very namespace we hold open.
        let inode = try sh("ip", "netns", "exec", name, "stat", "-L", "-c", "%i", "/proc/self/ns/net")
        #expect(inode.trimmingCharacters(in: .whitespacesAndNewlines) == "\(ns.id.inode)")
        #expect(try NetworkNamespace.listNamed().contains(name))

        // Creating the same name twice fails with EEXIST.
        #expect { try NetworkNamespace.create(name: name) } throws: { ($0 as? NetlinkError)?.errno == EEXIST }

        try NetworkNamespace.delete(name: name)
        #expect(!(try NetworkNamespace.listNamed()).contains(name))
        #expect(!(try sh("ip", "netns", "list")).contains(name))
    }

    @Test("a namespace created by ip netns add is listed, opened by name/path/pid and used")
    func iprouteToLibrary() throws {
        let name = uniqueName("nsi")
        defer { cleanupNamespace(name) }
        try sh("ip", "netns", "add", name)
        try sh("ip", "-n", name, "link", "add", "br-in", "type", "bridge")
        #expect(try NetworkNamespace.listNamed().contains(name))
        let byName = try NetworkNamespace.open(name: name)
        let byPath = try NetworkNamespace.open(path: "/run/netns/\(name)")
        #expect(byName.id == byPath.id)
        #expect(byName.id == (try NamespaceID(path: "/run/netns/\(name)")))

        let h = try NetlinkHandle(namespace: byName)
        #expect(Set(try h.links().map(\.name)) == ["lo", "br-in"])
        // The test's own namespace is unchanged, and has no br-in.
        #expect(try testHandle().link(named: "br-in") == nil)

        // Open by PID: a process started inside the namespace.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        // Lives until the defer below ends it: a short `sleep` could end before the test
        // is done with it on a loaded machine.
        p.arguments = ["netns", "exec", name, "sleep", "300"]
        try p.run()
        // SIGKILL, not terminate(): the child inherits the spawning thread's signal mask,
        // in which SIGTERM is blocked.
        defer { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        let sameNamespace = eventually(30) {
            guard let ns = try? NetworkNamespace.open(pid: p.processIdentifier) else { return false }
            return ns.id == byName.id
        }
        #expect(sameNamespace)

        // Move a link into that process's namespace by PID.
        let moving = uniqueName("nsp")
        defer { cleanupLinks(moving, moving + "p") }
        let here = try testHandle()
        // (A bridge could not move: its netns is immutable. A veth end can.)
        let link = try #require(try here.createLink(NewLink(name: moving, kind: .veth(peer: VethPeer(name: moving + "p")))))
        try here.moveLink(.index(link.index), toProcess: p.processIdentifier)
        #expect(try here.link(named: moving) == nil)
        #expect(try h.link(named: moving) != nil)
    }

    @Test("namespace threads enter the namespace; the calling thread never changes")
    func threads() throws {
        let name = uniqueName("nst")
        defer { cleanupNamespace(name) }
        let ns = try NetworkNamespace.create(name: name)
        let before = try NetworkNamespace.current().id
        let inside = try NamespaceThread.run(in: ns) { () throws(NetlinkError) -> NamespaceID in
            try NetworkNamespace.current().id
        }
        #expect(inside == ns.id)
        #expect(try NetworkNamespace.current().id == before)
        // Errors thrown inside come back typed.
        #expect(throws: NetlinkError.self) {
            try NamespaceThread.run(in: ns) { () throws(NetlinkError) in
                throw NetlinkError(errno: EPERM, request: "inside")
            }
        }
        // Many handles on many namespaces, used concurrently from tasks.
        let names = (0..<8).map { _ in uniqueName("nsc") }
        defer { for n in names { cleanupNamespace(n) } }
        let handles = try names.map { n throws(NetlinkError) in try NetlinkHandle(namespace: NetworkNamespace.create(name: n)) }
        try runConcurrently(handles)
        for n in names {
            #expect(flagsOf(try ipLink("lo", netns: n)).contains("UP"))
        }
    }

    func runConcurrently(_ handles: [NetlinkHandle]) throws {
        let group = DispatchGroup()
        let failures = NSLock()
        nonisolated(unsafe) var errors: [NetlinkError] = []
        for h in handles {
            DispatchQueue.global().async(group: group) {
                do throws(NetlinkError) {
                    try h.setLink(.name("lo"), LinkChange(up: true))
                    _ = try h.links()
                } catch {
                    failures.lock()
                    errors.append(error)
                    failures.unlock()
                }
            }
        }
        group.wait()
        #expect(errors.isEmpty, "\(errors)")
    }
}

/// The test support itself: a test with `.ownNetworkNamespace` runs its handles and
/// its iproute2 commands in one namespace of its own, not the sandbox's shared one.
@Suite("Kernel: each test's own namespace", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct OwnNamespaceTests {
    @Test("handles and commands run in the test's namespace, which is neither the process's nor named")
    func handlesAndCommandsShareTheTestsNamespace() throws {
        let netns = try #require(TestNetns.current)
        let process = try NamespaceID(path: "/proc/self/ns/net")
        #expect(netns.namespace.id != process)
        #expect(try testHandle().namespaceID == netns.namespace.id)
        #expect(try testNamespace().id == netns.namespace.id)
        let inode = try sh("stat", "-L", "-c", "%i", "/proc/self/ns/net").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(inode == "\(netns.namespace.id.inode)")
        // Not under /run/netns: netform's observer must not see test namespaces.
        #expect(!netns.path.hasPrefix(NetworkNamespace.namedDirectory + "/"))
        #expect(flagsOf(try ipLink("lo")).contains("UP"))
        // A link made through the handle is seen by ip, and not in the process's namespace.
        let br = uniqueName("own")
        try testHandle().createLink(NewLink(name: br, kind: .bridge))
        #expect(try ipLink(br) != nil)
        #expect(try NetlinkHandle().link(named: br) == nil)
    }
}
