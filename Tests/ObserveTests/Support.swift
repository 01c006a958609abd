import Foundation
import Synchronization
import TestSupport

/// Thrown when an iproute2 command used to build a test scene fails.
struct CommandFailed: Error, CustomStringConvertible {
    var command: String
    var output: TestSupport.Output
    var description: String { "\(command) → exit \(output.status): \(output.stderr)\(output.stdout)" }
}

/// Runs a program found on PATH (ip, bridge) and throws unless it exits 0.
@discardableResult
func run(_ args: String...) throws -> String {
    try run(args)
}

@discardableResult
func run(_ args: [String]) throws -> String {
    let out = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), args)
    guard out.status == 0 else { throw CommandFailed(command: args.joined(separator: " "), output: out) }
    return out.stdout
}

/// The JSON array an `ip -j` / `bridge -j` command prints.
func json(_ args: String...) throws -> [[String: Any]] {
    let text = try run(args)
    if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [] }
    return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
}

/// `ip [-n NS] ARGS` as JSON (details, numeric protocols).
func ipJSON(_ netns: String?, _ args: String...) throws -> [[String: Any]] {
    var all = ["ip"]
    if let netns { all += ["-n", netns] }
    all += ["-j", "-d", "-N"] + args
    let text = try run(all)
    if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [] }
    return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
}

/// Names unique within the test process and across processes sharing a sandbox.
/// Link names stay within 15 bytes and start with `nf-` (the sandbox smoke test
/// expects every foreign link in the sandbox to carry that prefix).
struct Names {
    let id: String

    init() {
        id = "\(getpid() % 100)\(Counter.next())"
    }

    /// A link name: `nf-o<ID><suffix>` (suffix one or two characters).
    func link(_ suffix: String) -> String { "nf-o\(id)\(suffix)" }
    /// A named namespace.
    func netns(_ suffix: String) -> String { "nfo-\(id)-\(suffix)" }
    /// A project name.
    var project: String { "lab\(id)" }
    /// Two octets for test subnets (10.A.B.0/24, fd00:A:B::/64), unique per test.
    var octets: (Int, Int) {
        let n = Int(id) ?? 0
        return (100 + (n / 250) % 100, n % 250)
    }
}

enum Counter {
    private static let value = Mutex(0)
    static func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

/// Deletes namespaces and links by name, ignoring those already gone.
func deleteObjects(netns: [String] = [], links: [String] = []) {
    for l in links { _ = try? TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["ip", "link", "del", "dev", l]) }
    for n in netns { _ = try? TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["ip", "netns", "del", n]) }
}

/// Normalizes an `ip -j route` destination: "default", or a CIDR (host routes are
/// printed without their /32 or /128).
func normalizedDestination(_ dst: String, v6: Bool) -> String {
    if dst == "default" || dst.contains("/") { return dst }
    return dst + (v6 ? "/128" : "/32")
}

/// A flag one thread sets and another polls.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
