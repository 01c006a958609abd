import Foundation
import Testing
@testable import Netlink

/// Whether kernel tests may run: inside `Scripts/sandbox` (NETFORM_SANDBOX=1), in a
/// network namespace that is not PID 1's, as root. Anything else skips them, so no
/// test ever creates a link, address, route or namespace in the machine's own
/// network namespace.
enum KernelSandbox {
    static let isActive: Bool = {
        guard ProcessInfo.processInfo.environment["NETFORM_SANDBOX"] == "1" else { return false }
        guard geteuid() == 0 else { return false }
        guard let mine = namespaceInode("/proc/self/ns/net") else { return false }
        if let init1 = namespaceInode("/proc/1/ns/net") { return mine != init1 }
        // On this machine PID 1 belongs to the container runtime and its ns links
        // are unreadable even for root (EACCES, no CAP_SYS_PTRACE over it). Then
        // compare with the oldest ancestor whose namespace we can read: the shell
        // that started Scripts/sandbox lives in the machine's namespace, so a
        // sandboxed test differs from it, and an unsandboxed one does not.
        guard let outer = oldestReadableAncestorNamespace() else { return false }
        return mine != outer
    }()

    struct Inode: Equatable {
        var dev: UInt64
        var ino: UInt64
    }

    static func namespaceInode(_ path: String) -> Inode? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Inode(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
    }

    static func parentPID(of pid: Int32) -> Int32? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("PPid:") {
            return Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    static func oldestReadableAncestorNamespace() -> Inode? {
        var pid = getpid()
        var found: Inode?
        var steps = 0
        while let parent = parentPID(of: pid), parent > 1, steps < 64 {
            if let ns = namespaceInode("/proc/\(parent)/ns/net") { found = ns }
            pid = parent
            steps += 1
        }
        return found
    }
}

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
