import Synchronization
import Addressing
import Foundation
import Testing
@testable import Netlink

/// Each link mutation of the netlink layer, checked back with `ip -j`.
@Suite("Kernel: links", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct KernelLinkTests {
    @Test("create a bridge, change MTU/alias/up/name/MAC, delete")
    func bridgeLifecycle() throws {
        let br = uniqueName("lbr"), renamed = uniqueName("lrn")
        defer { cleanupLinks(br, renamed) }
        let h = try testHandle()
        let created = try #require(try h.createLink(NewLink(name: br, kind: .bridge, mtu: 1400,
                                                            alias: "netform:lab/net/a", up: true)))
        var ip = try #require(try ipLink(br))
        #expect(ip["ifindex"] as? Int == Int(created.index))
        #expect(ip["mtu"] as? Int == 1400)
        #expect(ip["ifalias"] as? String == "netform:lab/net/a")
        #expect(flagsOf(ip).contains("UP"))
        #expect(linkInfo(ip)["info_kind"] as? String == "bridge")
        #expect(created.alias == "netform:lab/net/a")

        let mac = MACAddress("02:42:ac:11:00:01")!
        try h.setLink(.index(created.index), LinkChange(mtu: 1300, up: false, mac: mac, alias: "netform:lab/net/b"))
        ip = try #require(try ipLink(br))
        #expect(ip["mtu"] as? Int == 1300)
        #expect(!flagsOf(ip).contains("UP"))
        #expect(ip["address"] as? String == "02:42:ac:11:00:01")
        #expect(ip["ifalias"] as? String == "netform:lab/net/b")

        try h.setLink(.index(created.index), LinkChange(name: renamed, alias: ""))
        #expect(try ipLink(br) == nil)
        ip = try #require(try ipLink(renamed))
        #expect(ip["ifalias"] == nil)

        try h.deleteLink(.name(renamed))
        #expect(try ipLink(renamed) == nil)
    }

    @Test("veth with its peer created directly in a namespace, enslaved and up, port isolated")
    func vethIntoNamespace() throws {
        let br = uniqueName("vbr"), host = uniqueName("vh"), nsName = uniqueName("vns")
        defer {
            cleanupLinks(host, br)
            cleanupNamespace(nsName)
        }
        let h = try testHandle()
        let bridge = try #require(try h.createLink(NewLink(name: br, kind: .bridge, up: true)))
        let ns = try NetworkNamespace.create(name: nsName)
        let mac = MACAddress("02:42:ac:11:00:02")!
        let hostLink = try #require(try h.createLink(NewLink(
            name: host, kind: .veth(peer: VethPeer(name: "eth0", namespace: ns, mac: mac, mtu: 1450)),
            mtu: 1450, master: bridge.index, alias: "netform:lab/ep/c1", up: true)))
        #expect(hostLink.master == bridge.index)
        #expect(hostLink.linkNetnsID != nil)

        var ip = try #require(try ipLink(host))
        #expect(ip["master"] as? String == br)
        #expect(flagsOf(ip).contains("UP"))
        #expect(ip["mtu"] as? Int == 1450)
        #expect(ip["ifalias"] as? String == "netform:lab/ep/c1")
        #expect(try ipLink("eth0") == nil, "the peer must not appear in the test's own namespace")

        // Inside the namespace: the peer exists, is down, has our MAC and MTU.
        let peerIP = try #require(try ipLink("eth0", netns: nsName))
        #expect(peerIP["address"] as? String == mac.description)
        #expect(peerIP["mtu"] as? Int == 1450)
        #expect(!flagsOf(peerIP).contains("UP"))

        // Bring eth0 and lo up from a handle opened inside the namespace.
        let inside = try NetlinkHandle(namespace: ns)
        #expect(inside.namespaceID == ns.id)
        try inside.setLink(.name("eth0"), LinkChange(up: true))
        try inside.setLink(.name("lo"), LinkChange(up: true))
        #expect(flagsOf(try ipLink("eth0", netns: nsName)).contains("UP"))
        #expect(flagsOf(try ipLink("lo", netns: nsName)).contains("UP"))
        let insideLinks = try inside.links()
        #expect(Set(insideLinks.map(\.name)) == ["lo", "eth0"])

        // Bridge port flags.
        try h.setBridgePort(.index(hostLink.index), isolated: true, learning: false)
        ip = try #require(try ipLink(host))
        #expect(slaveData(ip)["isolated"] as? Bool == true)
        #expect(slaveData(ip)["learning"] as? Bool == false)
        let read = try #require(try h.link(.index(hostLink.index)))
        #expect(read.bridgePort == BridgePortInfo(isolated: true, learning: false))
        try h.setBridgePort(.name(host), isolated: false)
        #expect(slaveData(try ipLink(host))["isolated"] as? Bool == false)

        // Release from the bridge.
        try h.setLink(.index(hostLink.index), LinkChange(master: 0))
        #expect(try ipLink(host)?["master"] == nil)

        // Deleting the named namespace takes the veth with it (asynchronously).
        try NetworkNamespace.delete(name: nsName)
        _ = consume ns
        _ = consume inside
        #expect(try h.waitForLinkRemoval(.index(hostLink.index), timeout: kernelDeadline), "veth should disappear with its namespace")
        #expect(try ipLink(host) == nil)
    }

    @Test("set master on an existing link, then move it into a namespace with a new name")
    func masterAndMove() throws {
        let br = uniqueName("mbr"), a = uniqueName("ma"), b = uniqueName("mb"), nsName = uniqueName("mns")
        defer {
            cleanupLinks(a, br)
            cleanupNamespace(nsName)
        }
        let h = try testHandle()
        let bridge = try #require(try h.createLink(NewLink(name: br, kind: .bridge)))
        let link = try #require(try h.createLink(NewLink(name: a, kind: .veth(peer: VethPeer(name: b)))))
        try h.setLink(.index(link.index), LinkChange(master: bridge.index))
        #expect(try ipLink(a)?["master"] as? String == br)

        let ns = try NetworkNamespace.create(name: nsName)
        try h.moveLink(.name(b), to: ns)
        #expect(try ipLink(b) == nil)
        #expect(try ipLink(b, netns: nsName) != nil)
        let inside = try NetlinkHandle(namespace: ns)
        let moved = try #require(try inside.link(named: b))
        try inside.moveLink(.index(moved.index), to: try testNamespace(), newName: uniqueName("mc"))
        // It came back (to the test's namespace) under a new name.
        #expect(try inside.link(named: b) == nil)
        let back = try h.links().filter { $0.kind == "veth" && $0.parent == link.index }
        #expect(back.count == 1)
    }

    @Test("vxlan: VNI, local, port, learning off")
    func vxlan() throws {
        let vx = uniqueName("lvx")
        defer { cleanupLinks(vx) }
        let vni = UInt32(10_000 + uniqueNumber())
        let h = try testHandle()
        let link = try #require(try h.createLink(NewLink(
            name: vx, kind: .vxlan(VXLANConfig(vni: vni, local: IPAddress("127.0.0.1"), port: 4789, learning: false)),
            mtu: 1450)))
        let data = infoData(try ipLink(vx))
        #expect(data["id"] as? Int == Int(vni))
        #expect(data["local"] as? String == "127.0.0.1")
        #expect(data["port"] as? Int == 4789)
        #expect(data["learning"] as? Bool == false)
        #expect(link.vxlan?.vni == vni)
        #expect(link.vxlan?.port == 4789)
        #expect(link.vxlan?.learning == false)
        #expect(link.vxlan?.local == IPAddress("127.0.0.1"))
    }

    @Test("macvlan in bridge mode on a parent")
    func macvlan() throws {
        let parent = uniqueName("mvp"), mv = uniqueName("mvl")
        defer { cleanupLinks(mv, parent) }
        let h = try testHandle()
        let p = try #require(try h.createLink(NewLink(name: parent, kind: .bridge)))
        let link = try #require(try h.createLink(NewLink(name: mv, kind: .macvlan(parent: p.index, mode: .bridge))))
        #expect(infoData(try ipLink(mv))["mode"] as? String == "bridge")
        #expect(link.macvlanMode == .bridge)
        #expect(link.parent == p.index)
    }

    @Test("dummy (when the kernel has it)")
    func dummy() throws {
        let d = uniqueName("ldm")
        defer { cleanupLinks(d) }
        let h = try testHandle()
        do {
            try h.createLink(NewLink(name: d, kind: .dummy))
            #expect(linkInfo(try ipLink(d))["info_kind"] as? String == "dummy")
        } catch let error as NetlinkError where error.errno == EOPNOTSUPP {
            // This machine's kernel is built without the dummy driver ("Unknown
            // device type"); the request itself is the one iproute2 sends.
            #expect(error.extAckMessage?.contains("Unknown device type") ?? true)
        }
    }

    @Test("delete a whole interface group at once; other groups survive")
    func deleteGroup() throws {
        let group = UInt32(100_000 + uniqueNumber())
        let names = (0..<3).map { _ in uniqueName("g") }
        let keep = uniqueName("gk")
        defer { cleanupLinks(keep); for n in names { cleanupLinks(n) } }
        let h = try testHandle()
        for n in names {
            try h.createLink(NewLink(name: n, kind: .veth(peer: VethPeer(name: n + "p")), group: group))
        }
        try h.createLink(NewLink(name: keep, kind: .bridge, group: group + 1))
        #expect(try linksInGroup(group).count == 3)
        try h.deleteLinkGroup(group)
        #expect(try eventually { try linksInGroup(group).isEmpty })
        for n in names { #expect(try ipLink(n + "p") == nil) }
        #expect(try ipLink(keep) != nil)
    }

    /// `ip -j link show group G` prints `{}` for links outside the group: filter here.
    func linksInGroup(_ group: UInt32) throws -> [[String: Any]] {
        try json("ip", "-j", "link", "show").filter { $0["group"] as? String == "\(group)" }
    }

    @Test("errors: EEXIST for a duplicate name, extended ACK text for an invalid request, ENODEV")
    func errors() throws {
        let br = uniqueName("ebr")
        defer { cleanupLinks(br) }
        let h = try testHandle()
        try h.createLink(NewLink(name: br, kind: .bridge))
        do {
            try h.createLink(NewLink(name: br, kind: .bridge))
            Issue.record("duplicate create succeeded")
        } catch {
            #expect(error.errno == EEXIST)
            #expect(error.request == "RTM_NEWLINK bridge \(br)")
            #expect(error.description.contains("File exists"))
        }
        do {
            try h.createLink(NewLink(name: uniqueName("emt"), kind: .bridge, mtu: 10))
            Issue.record("MTU 10 accepted")
        } catch {
            #expect(error.errno == EINVAL)
            #expect(error.extAckMessage == "mtu less than device minimum")
        }
        do {
            try h.setLink(.index(999_999), LinkChange(up: true))
            Issue.record("set on a missing link succeeded")
        } catch {
            #expect(error.errno == ENODEV)
        }
    }

    @Test("batch: several requests before their ACKs; the first failure names its request")
    func batch() throws {
        let a = uniqueName("ba"), b = uniqueName("bb"), c = uniqueName("bc")
        defer { cleanupLinks(a, b, c) }
        let h = try testHandle()
        try h.batch([
            try .newLink(NewLink(name: a, kind: .bridge)),
            try .newLink(NewLink(name: b, kind: .bridge)),
            try .setLink(.name(a), LinkChange(mtu: 1200, alias: "batched")),
        ])
        #expect(try ipLink(a)?["mtu"] as? Int == 1200)
        #expect(try ipLink(a)?["ifalias"] as? String == "batched")
        #expect(try ipLink(b) != nil)

        do {
            try h.batch([
                try .newLink(NewLink(name: c, kind: .bridge)),
                try .newLink(NewLink(name: a, kind: .bridge)),  // duplicate
                try .setLink(.name(c), LinkChange(mtu: 1300)),
            ])
            Issue.record("batch with a duplicate succeeded")
        } catch {
            #expect(error.errno == EEXIST)
            #expect(error.request == "RTM_NEWLINK bridge \(a)")
            #expect(error.detail == "request 2 of 3 in batch")
        }
        // The requests around the failed one were applied.
        #expect(try ipLink(c)?["mtu"] as? Int == 1300)

        // A large batch spans several windows.
        let many = (0..<150).map { _ in uniqueName("bm") }
        defer { for n in many { cleanupLinks(n) } }
        try h.batch(many.map { try NetlinkRequest.newLink(NewLink(name: $0, kind: .bridge)) })
        let names = Set(try h.links().map(\.name))
        #expect(many.allSatisfy(names.contains))
        try h.batch(many.map { NetlinkRequest.deleteLink(.name($0)) })
        let after = Set(try h.links().map(\.name))
        #expect(!many.contains(where: after.contains))
    }
}

@Suite("Kernel: dumps under change", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"),
       .ownNetworkNamespace)
struct KernelDumpTests {
    /// Links are created and deleted on one thread while another dumps: every
    /// multipart dump must complete (NLM_F_DUMP_INTR is retried), with no duplicate
    /// index, and always include the links that are not touched.
    ///
    /// The writer makes a bounded number of changes per dump (`changesPerDump`, fewer
    /// than the netlink layer's retries), started as the reader begins that dump, and
    /// the reader waits for them before its next dump. So a dump is interrupted at
    /// most `changesPerDump` times and must always complete, however slow the machine
    /// (free-running churn every 3 ms used to outpace dumps on a loaded machine:
    /// "dump interrupted ... 10 times"). Whether a change lands mid-dump is up to the
    /// scheduler, so the reader repeats until the kernel has flagged a dump, with a
    /// generous deadline.
    @Test("link dumps stay consistent while links change")
    func dumpWhileChanging() throws {
        // Enough links that a dump spans many messages, so changes land mid-dump.
        let stable = (0..<200).map { _ in uniqueName("ds") }
        let churn = (0..<20).map { _ in uniqueName("dc") }
        let changesPerDump = 3
        // The test's own namespace (the trait): nothing else changes links in it, and
        // the kernel's dump sequence is per namespace.
        let h = try testHandle()
        try h.batch(stable.map { try NetlinkRequest.newLink(NewLink(name: $0, kind: .bridge)) })
        let writer = try testHandle()
        let go = DispatchSemaphore(value: 0)       // reader → writer: a dump starts
        let changed = DispatchSemaphore(value: 0)  // writer → reader: its changes are done
        let finished = DispatchSemaphore(value: 0)
        let stop = Atomic<Bool>(false)
        nonisolated(unsafe) var writerError: NetlinkError?
        let creates = try churn.map { try NetlinkRequest.newLink(NewLink(name: $0, kind: .bridge)) }
        Thread.detachNewThread {
            defer { finished.signal() }
            var next = 0   // churn[next / 2] is created (even) or deleted (odd)
            while true {
                go.wait()
                if stop.load(ordering: .relaxed) { return }
                do throws(NetlinkError) {
                    for _ in 0..<changesPerDump {
                        let i = (next / 2) % churn.count
                        if next % 2 == 0 { try writer.execute(creates[i]) } else { try writer.deleteLink(.name(churn[i])) }
                        next += 1
                    }
                } catch {
                    writerError = error
                    stop.store(true, ordering: .relaxed)
                }
                changed.signal()
            }
        }
        var dumps = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while !stop.load(ordering: .relaxed)
                && (dumps < 20 || (h.interruptedDumpCount == 0 && ContinuousClock.now < deadline)) {
            go.signal()
            let links: [Link]
            do {
                links = try h.links()
            } catch {
                changed.wait()
                throw error
            }
            changed.wait()
            dumps += 1
            #expect(Set(links.map(\.index)).count == links.count, "duplicate index in a dump")
            let names = Set(links.map(\.name))
            #expect(stable.allSatisfy(names.contains), "a stable link is missing from a dump")
        }
        stop.store(true, ordering: .relaxed)
        go.signal()
        finished.wait()
        #expect(writerError == nil)
        #expect(dumps >= 20)
        // The kernel did flag some dumps as interrupted, and they were repeated.
        #expect(h.interruptedDumpCount > 0, "\(dumps) dumps, none interrupted")
    }
}
