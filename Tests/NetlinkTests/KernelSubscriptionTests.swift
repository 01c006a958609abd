import Foundation
import Synchronization
import Testing
@testable import Netlink

/// Subscriptions on the real kernel: each test subscribes in its own fresh namespace
/// (`.ownNetworkNamespace`), changes it with iproute2 and waits, on a deadline, for
/// the matching events; the objects are checked with `ip -j` too.
@Suite("Kernel: subscriptions", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace, .timeLimit(.minutes(3)))
struct KernelSubscriptionTests {
    /// A bridge in the test's namespace (the sandbox's kernel has no dummy driver),
    /// up, without IPv6 (so that bringing it up adds no routes or neighbours of its
    /// own); returns its index per `ip -j`.
    private func quietBridge(_ name: String) throws -> Int32 {
        try sh("ip", "link", "add", name, "type", "bridge")
        try sh("sysctl", "-q", "-w", "net.ipv6.conf.\(name).disable_ipv6=1")
        try sh("ip", "link", "set", name, "up")
        return try ifindex(name)
    }

    private func ifindex(_ name: String) throws -> Int32 {
        let j = try #require(try ipLink(name))
        return Int32(try #require(j["ifindex"] as? Int))
    }

    @Test("a link created and deleted with ip arrives as link events with its name and index")
    func links() async throws {
        let ns = try #require(TestNetns.current)
        let sub = try NetlinkSubscription.open(in: ns.namespace, kinds: [.link])
        defer { sub.cancel() }
        let log = EventLog(sub)
        let name = uniqueName("sl")
        try sh("ip", "link", "add", name, "type", "bridge")
        let index = try ifindex(name)
        let created = await log.first { $0.kind == .link && $0.interfaceName == name && !$0.isDeletion }
        #expect(created?.interfaceIndex == index)
        try sh("ip", "link", "del", name)
        let deleted = await log.first { $0.kind == .link && $0.isDeletion && $0.interfaceIndex == index }
        #expect(deleted?.interfaceName == name)
        #expect(try ipLink(name) == nil)
        // Only link events were asked for (a bridge's creation also adds IPv6 state).
        #expect(log.events.allSatisfy { $0.kind == .link })
    }

    @Test("an address added and removed with ip arrives as address events on its interface")
    func addresses() async throws {
        let ns = try #require(TestNetns.current)
        let name = uniqueName("sa")
        let index = try quietBridge(name)
        let sub = try NetlinkSubscription.open(in: ns.namespace, kinds: [.address])
        defer { sub.cancel() }
        let log = EventLog(sub)
        let (a, b) = uniqueSubnet()
        try sh("ip", "addr", "add", "10.\(a).\(b).1/24", "dev", name)
        #expect(try json("ip", "-j", "addr", "show", "dev", name).description.contains("10.\(a).\(b).1"))
        let added = await log.first { $0.kind == .address && !$0.isDeletion }
        #expect(added?.interfaceIndex == index)
        try sh("ip", "addr", "del", "10.\(a).\(b).1/24", "dev", name)
        let removed = await log.first { $0.kind == .address && $0.isDeletion }
        #expect(removed?.interfaceIndex == index)
    }

    @Test("a route added with ip arrives as a route event naming its output interface")
    func routes() async throws {
        let ns = try #require(TestNetns.current)
        let name = uniqueName("sr")
        let index = try quietBridge(name)
        let sub = try NetlinkSubscription.open(in: ns.namespace, kinds: [.route])
        defer { sub.cancel() }
        let log = EventLog(sub)
        try sh("ip", "route", "add", "192.0.2.0/24", "dev", name)
        #expect(try json("ip", "-j", "route", "show", "dev", name).contains { $0["dst"] as? String == "192.0.2.0/24" })
        let added = await log.first { $0.kind == .route && !$0.isDeletion }
        #expect(added?.interfaceIndex == index)
        try sh("ip", "route", "del", "192.0.2.0/24", "dev", name)
        let removed = await log.first { $0.kind == .route && $0.isDeletion }
        #expect(removed?.interfaceIndex == index)
    }

    @Test("a neighbour and a bridge FDB entry added with ip/bridge arrive as neighbour events")
    func neighbours() async throws {
        let ns = try #require(TestNetns.current)
        let bridge = uniqueName("sb")
        let port = uniqueName("sp")
        let bridgeIndex = try quietBridge(bridge)
        try sh("ip", "link", "add", port, "type", "veth", "peer", "name", port + "p")
        let portIndex = try ifindex(port)
        try sh("ip", "link", "set", port, "master", bridge)
        let sub = try NetlinkSubscription.open(in: ns.namespace, kinds: [.neighbour])
        defer { sub.cancel() }
        let log = EventLog(sub)
        let (a, b) = uniqueSubnet()
        try sh("ip", "neigh", "add", "10.\(a).\(b).2", "lladdr", "02:00:00:00:0a:02", "dev", bridge, "nud", "permanent")
        #expect(try json("ip", "-j", "neigh", "show", "dev", bridge).contains { $0["dst"] as? String == "10.\(a).\(b).2" })
        let neighbour = await log.first { $0.kind == .neighbour && !$0.isDeletion && $0.interfaceIndex == bridgeIndex }
        #expect(neighbour != nil)
        try sh("bridge", "fdb", "add", "02:00:00:00:0a:03", "dev", port, "master", "static")
        let fdb = await log.first { $0.kind == .neighbour && !$0.isDeletion && $0.interfaceIndex == portIndex }
        #expect(fdb != nil)
        try sh("ip", "neigh", "del", "10.\(a).\(b).2", "dev", bridge)
        let removed = await log.first { $0.kind == .neighbour && $0.isDeletion && $0.interfaceIndex == bridgeIndex }
        #expect(removed != nil)
    }

    @Test("events of another namespace do not arrive")
    func otherNamespace() async throws {
        let ns = try #require(TestNetns.current)
        let other = try TestNetns.create()
        defer { other.remove() }
        let sub = try NetlinkSubscription.open(in: ns.namespace)
        defer { sub.cancel() }
        let log = EventLog(sub)
        let foreign = uniqueName("so")
        try TestNetns.$current.withValue(other) {
            try sh("ip", "link", "add", foreign, "type", "bridge")
            #expect(try ipLink(foreign) != nil)
        }
        // A change here, made after the other namespace's: once it has arrived, the
        // other's would have too (each notification is queued before `ip` returns).
        let marker = uniqueName("sm")
        try sh("ip", "link", "add", marker, "type", "bridge")
        #expect(await log.first { $0.interfaceName == marker } != nil)
        #expect(!log.events.contains { $0.interfaceName == foreign })
        #expect(sub.namespaceID == ns.namespace.id)
    }

    @Test("cancel() finishes the sequence and closes the socket")
    func cancelCloses() async throws {
        let ns = try #require(TestNetns.current)
        let sub = try NetlinkSubscription.open(in: ns.namespace)
        let fd = try #require(sub.descriptor)
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        let socketLink = "socket:[\(st.st_ino)]"
        #expect(openDescriptors().contains(socketLink))
        let log = EventLog(sub)
        sub.cancel()
        #expect(await log.waitForEnd())
        #expect(sub.descriptor == -1)
        // Not the fd number (another test may reuse it at once): the socket itself.
        #expect(!openDescriptors().contains(socketLink))
        #expect(sub.error == nil)
        sub.cancel()  // idempotent
    }

    @Test("a subscription whose namespace is deleted keeps working and still cancels")
    func deletedNamespace() async throws {
        let doomed = try TestNetns.create()
        let sub = try NetlinkSubscription.open(in: doomed.namespace, kinds: [.link])
        let log = EventLog(sub)
        let name = uniqueName("sd")
        try TestNetns.$current.withValue(doomed) { try sh("ip", "link", "add", name, "type", "bridge") }
        #expect(await log.first { $0.interfaceName == name } != nil)
        doomed.remove()
        #expect(!FileManager.default.fileExists(atPath: doomed.path))
        // The reader is still running (it neither crashed nor ended on its own) ...
        #expect(!log.ended)
        #expect(sub.error == nil)
        // ... and cancel() ends it.
        sub.cancel()
        #expect(await log.waitForEnd())
        #expect(sub.descriptor == -1)
    }
}

/// The link targets of /proc/self/fd ("socket:[123]", paths ...).
private func openDescriptors() -> Set<String> {
    let dir = "/proc/self/fd"
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return Set(entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)") })
}

/// Collects a subscription's events on a task of its own, so a test can wait for
/// one on a deadline (not a fixed sleep).
final class EventLog: Sendable {
    private struct State {
        var events: [NetlinkEvent] = []
        var ended = false
    }
    private let state = Mutex(State())

    init(_ subscription: NetlinkSubscription) {
        Task {
            for await event in subscription { self.state.withLock { $0.events.append(event) } }
            self.state.withLock { $0.ended = true }
        }
    }

    var events: [NetlinkEvent] { state.withLock { $0.events } }
    var ended: Bool { state.withLock { $0.ended } }

    /// The first event matching, waiting up to `seconds` for it.
    func first(within seconds: Double = 30, where match: (NetlinkEvent) -> Bool) async -> NetlinkEvent? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let e = events.first(where: match) { return e }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Whether the sequence ended within `seconds`.
    func waitForEnd(within seconds: Double = 30) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !ended {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
