import Foundation
import Testing
@testable import Netlink

/// `ip -j -d link show dev NAME` (optionally inside a named namespace), or nil
/// when the link does not exist.
func ipLink(_ name: String, netns: String? = nil) throws -> [String: Any]? {
    var args = ["ip"]
    if let netns { args += ["-n", netns] }
    args += ["-j", "-d", "link", "show", "dev", name]
    let r = try run(args)
    guard r.status == 0 else { return nil }
    let value = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    return (value as? [[String: Any]])?.first
}

func linkInfo(_ j: [String: Any]?) -> [String: Any] { j?["linkinfo"] as? [String: Any] ?? [:] }
func infoData(_ j: [String: Any]?) -> [String: Any] { linkInfo(j)["info_data"] as? [String: Any] ?? [:] }
func slaveData(_ j: [String: Any]?) -> [String: Any] { linkInfo(j)["info_slave_data"] as? [String: Any] ?? [:] }
func flagsOf(_ j: [String: Any]?) -> [String] { j?["flags"] as? [String] ?? [] }

/// Polls until `condition` holds or `seconds` pass (namespace teardown is async).
/// The deadline is generous (it only matters when the condition never holds):
/// teardown waits for the RTNL lock, shared by the whole machine.
func eventually(_ seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Deletes links by name, ignoring those already gone (test cleanup).
func cleanupLinks(_ names: String...) {
    for n in names { _ = try? run(["ip", "link", "del", "dev", n]) }
}

func cleanupNamespace(_ name: String) {
    _ = try? run(["ip", "netns", "del", name])
}

/// A unique number for groups, tables, VNIs and address octets.
func uniqueNumber() -> Int { UniqueCounter.next() }

/// Subnet octet unique per test within a run (10.X.Y.0/24).
func uniqueSubnet() -> (Int, Int) {
    let n = UniqueCounter.next() + 100
    return (100 + n / 250, n % 250)
}

/// How long tests wait for the kernel to finish something asynchronous (a namespace's
/// links going away): a deadline, not a delay; on a loaded machine it can take seconds.
let kernelDeadline: Duration = .seconds(60)
