import Foundation
import Testing
@testable import Netlink

// The kernel-test guard is TestSupport.KernelSandbox, shared by every test target.
@_exported import TestSupport

/// A unique short name for a test object (interface names are at most 15 bytes).
func uniqueName(_ prefix: String) -> String {
    let n = UniqueCounter.next()
    return "\(prefix)\(getpid() % 1000)x\(n)"
}

enum UniqueCounter {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var value = 0
    static func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command (argv, no shell) and returns its status and output. Inside a test
/// with `.ownNetworkNamespace`, the command runs in the test's namespace
/// (`nsenter --net=`), like the handles from `testHandle()`.
@discardableResult
func run(_ args: [String]) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    if let netns = TestNetns.current {
        p.arguments = ["nsenter", "--net=\(netns.path)", "--"] + args
    } else {
        p.arguments = args
    }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

/// Runs a command that must succeed.
@discardableResult
func sh(_ args: String...) throws -> String {
    let r = try run(args)
    if r.status != 0 {
        Issue.record("command failed (\(r.status)): \(args.joined(separator: " "))\n\(r.stderr)")
    }
    return r.stdout
}

/// Runs a command printing JSON (`ip -j ...`) and parses it as an array of objects.
func json(_ args: String...) throws -> [[String: Any]] {
    let r = try run(args)
    guard r.status == 0 else {
        Issue.record("command failed (\(r.status)): \(args.joined(separator: " "))\n\(r.stderr)")
        return []
    }
    let text = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.isEmpty { return [] }
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return value as? [[String: Any]] ?? []
}

func hexBytes(_ hex: String) -> [UInt8] {
    let clean = hex.filter { !$0.isWhitespace }
    var out: [UInt8] = []
    var i = clean.startIndex
    while i < clean.endIndex {
        let j = clean.index(i, offsetBy: 2)
        out.append(UInt8(clean[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// A network namespace of one test's own, so that what it changes (links, addresses,
/// routes, neighbours) and what it dumps is not shared with the tests running
/// concurrently: dumps of a busy shared namespace are interrupted over and over
/// (`NLM_F_DUMP_INTR`), and one test's objects would show up in another's dumps.
///
/// The namespace is pinned by a bind mount under `/run/netform-tests` (in the
/// sandbox's private /run), not under `/run/netns`: netform's observer and `netform
/// show` read every namespace there, and must not see (or dump) these.
final class TestNetns: Sendable {
    /// The namespace of the running test (set by the `.ownNetworkNamespace` trait).
    @TaskLocal static var current: TestNetns?

    static let directory = "/run/netform-tests"

    let path: String
    let namespace: NetworkNamespace

    private init(path: String, namespace: NetworkNamespace) {
        self.path = path
        self.namespace = namespace
    }

    /// Creates a namespace with `lo` up (as Scripts/sandbox's own).
    static func create() throws -> TestNetns {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(uniqueName("t"))"
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TestNetnsError(message: "cannot create \(path)")
        }
        // The caller of `unshare` must not be inside another test's namespace.
        let r = try TestNetns.$current.withValue(nil) {
            try run(["unshare", "--net=\(path)", "ip", "link", "set", "lo", "up"])
        }
        guard r.status == 0 else {
            unlink(path)
            throw TestNetnsError(message: "unshare --net=\(path) failed (\(r.status)): \(r.stderr)")
        }
        return TestNetns(path: path, namespace: try NetworkNamespace.open(path: path))
    }

    /// Unpins the namespace; the kernel frees it once the last handle is gone.
    func remove() {
        _ = umount2(path, Int32(MNT_DETACH))
        unlink(path)
    }
}

struct TestNetnsError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Runs every test of a suite in a fresh network namespace of its own
/// (`TestNetns.current`), removed afterwards whatever the outcome.
struct OwnNetworkNamespace: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard !test.isSuite, KernelSandbox.isActive else {
            try await function()
            return
        }
        let netns = try TestNetns.create()
        defer { netns.remove() }
        try await TestNetns.$current.withValue(netns) {
            try await function()
        }
    }
}

extension Trait where Self == OwnNetworkNamespace {
    /// Each test in a network namespace of its own (see `TestNetns`).
    static var ownNetworkNamespace: Self { OwnNetworkNamespace() }
}

/// A handle on the test's own namespace (the calling thread's outside such a test).
func testHandle() throws(NetlinkError) -> NetlinkHandle {
    if let netns = TestNetns.current { return try NetlinkHandle(namespace: netns.namespace) }
    return try NetlinkHandle()
}

/// The test's own namespace (the calling thread's outside such a test).
func testNamespace() throws(NetlinkError) -> NetworkNamespace {
    if let netns = TestNetns.current { return netns.namespace }
    return try NetworkNamespace.current()
}
