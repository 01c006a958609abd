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

/// Runs a command (argv, no shell) and returns its status and output.
@discardableResult
func run(_ args: [String]) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
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
