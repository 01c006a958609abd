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
        /// `unmarked`: the last bridge has the group but no alias, as a creation
        /// interrupted between its two requests leaves it.
        init(bridges: Int, foreignGroup: UInt32, unmarked: Bool = false) throws {
            name = "xt-\(UInt32.random(in: 0...UInt32.max))"
            try sh("ip netns add \(name)")
            let group = OwnerMark.linkGroup(project: "lab")
            for i in 0..<bridges {
                try sh("ip -n \(name) link add br\(i) group \(group) type bridge")
                if !(unmarked && i == bridges - 1) { try sh("ip -n \(name) link set br\(i) alias netform:lab/net/n\(i) up") }
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
        #expect(driver.deleteTogether(["br0", "br1", "gone", "br2"], in: .named(scene.name), groupsSet: { used = $0 }) == .deleted)
        let g = try #require(used)
        #expect(g & 0xffff_0000 == KernelDriver.transientGroupBase && g != KernelDriver.transientGroupBase | 0x0042)
        #expect(try scene.groups() == ["lo": "default", "foreign": "\(KernelDriver.transientGroupBase | 0x0042)"])
        // Through the executor's entry point too, for a second run of bridges (it
        // would pass one by one as well: the request itself is counted by
        // DestroyEndToEnd).
        let again = try Scene(bridges: 2, foreignGroup: 7)
        let run: [Model.Operation] = ["br0", "br1"].map { .deleteLink(namespace: .named(again.name), name: $0) }
        #expect(driver.performIndependent(run).allSatisfy { $0 == nil })
        #expect(try again.groups() == ["lo": "default", "foreign": "7"])
    }

    @Test func aGroupInUseIsNeverUsed() throws {
        let taken = KernelDriver.transientGroupBase | 0x0101
        let scene = try Scene(bridges: 2, foreignGroup: taken)
        let driver = KernelDriver()
        #expect(driver.deleteTogether(["br0", "br1"], in: .named(scene.name), group: taken) == .notTogether(unrestored: [:]))
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
        #expect(results == .notTogether(unrestored: [:]))
        let after = try scene.groups()
        #expect(after["br0"] == Self.projectGroup && after["br1"] == Self.projectGroup, "\(after)")
        #expect(after["foreign"].flatMap { UInt32($0) }.map { $0 & 0xffff_0000 } == KernelDriver.transientGroupBase, "\(after)")
        // The executor's path then deletes them one by one: the foreign link stays.
        let ops: [Model.Operation] = ["br0", "br1"].map { .deleteLink(namespace: .named(scene.name), name: $0) }
        #expect(ops.allSatisfy { op in (try? driver.perform(op)) != nil })
        #expect(try Set(scene.groups().keys) == ["lo", "foreign"])
    }

    @Test func aLinkThatIsOursOnlyByItsGroupIsNotPutInATransientOne() throws {
        // Killed after a transient group was set, it would carry no mark at all.
        let scene = try Scene(bridges: 3, foreignGroup: 11, unmarked: true)
        let driver = KernelDriver()
        var touched = false
        #expect(driver.deleteTogether(["br0", "br1", "br2"], in: .named(scene.name), groupsSet: { _ in touched = true })
            == .notTogether(unrestored: [:]))
        #expect(!touched)
        #expect(try scene.groups() == ["lo": "default", "br0": Self.projectGroup, "br1": Self.projectGroup, "br2": Self.projectGroup,
                                       "foreign": "11"])
        // The executor's entry point then deletes them one by one.
        let ops: [Model.Operation] = ["br0", "br1", "br2"].map { .deleteLink(namespace: .named(scene.name), name: $0) }
        #expect(driver.performIndependent(ops).allSatisfy { $0 == nil })
        #expect(try scene.groups() == ["lo": "default", "foreign": "11"])
    }

    @Test func oneByOneStopsAtTheFirstDeletionThatFails() throws {
        // lo cannot be deleted (and has no mark, so the run is not deleted together):
        // the deletion after it is not run, as on the executor's one-step path.
        let scene = try Scene(bridges: 2, foreignGroup: 12)
        let driver = KernelDriver()
        let ops: [Model.Operation] = ["br0", "lo", "br1"].map { .deleteLink(namespace: .named(scene.name), name: $0) }
        let results = driver.performIndependent(ops)
        #expect(results.count == 3 && results[0] == nil)
        #expect(results[1] != nil)
        #expect(results[2]?.message.hasPrefix("not run") == true, "\(String(describing: results[2]))")
        #expect(try scene.groups() == ["lo": "default", "br1": Self.projectGroup, "foreign": "12"])
    }
}
