import Foundation
import Testing
import TestSupport
@testable import Execute
import Model

/// The kernel driver deletes a run of link deletions in one namespace (a destroy's
/// bridges) with one `RTM_DELLINK` by a transient group of its own. That group must
/// never reach a link it was not asked to delete: one already in use is never
/// chosen, and a link that joins it before the delete stops the batch. Each
/// scenario runs in a namespace of its own, checked with `ip -j -d link`.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"))
struct DeleteTogether {
    /// A fresh namespace with bridges `br0…brN-1` in the project's group (as netform
    /// makes them) and a foreign bridge `foreign` in `foreignGroup`.
    final class Scene {
        let name: String
        init(bridges: Int, foreignGroup: UInt32) throws {
            name = "xt-\(UInt32.random(in: 0...UInt32.max))"
            try sh("ip netns add \(name)")
            let group = OwnerMark.linkGroup(project: "lab")
            for i in 0..<bridges {
                try sh("ip -n \(name) link add br\(i) group \(group) type bridge && ip -n \(name) link set br\(i) alias netform:lab/net/n\(i) up")
            }
            try sh("ip -n \(name) link add foreign group \(foreignGroup) type bridge && ip -n \(name) link set foreign alias \"someone else's\" up")
        }
        deinit { _ = try? sh("ip netns delete \(name)") }

        /// Link name → group, as iproute2 reads them.
        func groups() throws -> [String: String] {
            let r = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["ip", "-n", name, "-j", "-d", "link", "show"])
            let links = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
            var out: [String: String] = [:]
            for l in links { if let n = l["ifname"] as? String { out[n] = "\(l["group"] ?? "?")" } }
            return out
        }
    }

    @discardableResult
    static func sh(_ script: String) throws -> String {
        let r = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
        guard r.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(script): \(r.stderr)"]) }
        return r.stdout
    }

    static let projectGroup = "\(OwnerMark.linkGroup(project: "lab"))"

    @Test func theLinksGoInOneRequestAndAForeignLinkStays() throws {
        let scene = try Scene(bridges: 3, foreignGroup: KernelDriver.transientGroupBase | 0x0042)
        let driver = KernelDriver()
        // One name is already gone: a delete done, as for one delete.
        var used: UInt32?
        let results = try #require(driver.deleteTogether(["br0", "br1", "gone", "br2"], in: .named(scene.name), groupsSet: { used = $0 }))
        #expect(results.count == 4 && results.allSatisfy { $0 == nil })
        let g = try #require(used)
        #expect(g & 0xffff_0000 == KernelDriver.transientGroupBase && g != KernelDriver.transientGroupBase | 0x0042)
        #expect(try scene.groups() == ["lo": "default", "foreign": "\(KernelDriver.transientGroupBase | 0x0042)"])
        // Through the executor's entry point too, for a second run of bridges.
        let again = try Scene(bridges: 2, foreignGroup: 7)
        let run: [Model.Operation] = ["br0", "br1"].map { .deleteLink(namespace: .named(again.name), name: $0) }
        #expect(driver.performIndependent(run).allSatisfy { $0 == nil })
        #expect(try again.groups() == ["lo": "default", "foreign": "7"])
    }

    @Test func aGroupInUseIsNeverUsed() throws {
        let taken = KernelDriver.transientGroupBase | 0x0101
        let scene = try Scene(bridges: 2, foreignGroup: taken)
        let driver = KernelDriver()
        #expect(driver.deleteTogether(["br0", "br1"], in: .named(scene.name), group: taken) == nil)
        // Nothing changed: the caller deletes one by one.
        #expect(try scene.groups() == ["lo": "default", "br0": Self.projectGroup, "br1": Self.projectGroup, "foreign": "\(taken)"])
    }

    @Test func aLinkThatJoinsTheGroupStopsTheDeleteAndTheGroupsComeBack() throws {
        let scene = try Scene(bridges: 2, foreignGroup: 9)
        let driver = KernelDriver()
        let results = driver.deleteTogether(["br0", "br1"], in: .named(scene.name)) { group in
            // Someone else puts a link in the group in the moment after it is set.
            _ = try? Self.sh("ip -n \(scene.name) link set foreign group \(group)")
        }
        #expect(results == nil)
        let after = try scene.groups()
        #expect(after["br0"] == Self.projectGroup && after["br1"] == Self.projectGroup, "\(after)")
        #expect(after["foreign"].flatMap { UInt32($0) }.map { $0 & 0xffff_0000 } == KernelDriver.transientGroupBase, "\(after)")
        // The executor's path then deletes them one by one: the foreign link stays.
        let ops: [Model.Operation] = ["br0", "br1"].map { .deleteLink(namespace: .named(scene.name), name: $0) }
        #expect(ops.allSatisfy { op in (try? driver.perform(op)) != nil })
        #expect(try Set(scene.groups().keys) == ["lo", "foreign"])
    }
}
