import Foundation

/// Helpers shared by the test targets: where the repository and the built binary
/// are, running a process and capturing its output, and the kernel-test guard.
public enum TestSupport {
    /// The repository root, found from this file's location.
    public static let repoRoot: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// The directory holding the built products (the test bundle sits next to them).
    public static let productsDir: URL = {
        URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent()
    }()

    /// The `netform` executable built with the tests.
    public static var netformBinary: URL { productsDir.appendingPathComponent("netform") }

    /// The output of a finished process.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments` and waits, capturing both streams.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: URL? = nil) throws -> Output {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        if let environment {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        p.currentDirectoryURL = currentDirectory ?? repoRoot
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently so neither can fill up and block the child.
        let errData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Runs a shell command line with /bin/sh -c.
    public static func sh(_ command: String) throws -> Output {
        try run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
    }

    /// Runs the built `netform` binary.
    public static func netform(_ arguments: [String], environment: [String: String]? = nil) throws -> Output {
        try run(netformBinary, arguments, environment: environment)
    }
}

/// Whether kernel tests may run: as root, inside `Scripts/sandbox` (which sets
/// NETFORM_SANDBOX=1), in a network namespace other than the one the sandbox was
/// started from (and other than PID 1's, where that can be read). Kernel tests are
/// gated on this so they can never create objects in the machine's own namespace.
public enum KernelSandbox {
    public static let isActive: Bool = {
        let env = ProcessInfo.processInfo.environment
        guard getuid() == 0, env["NETFORM_SANDBOX"] == "1", let outer = env["NETFORM_OUTER_NETNS"],
              let mine = namespaceID("/proc/self/ns/net") else { return false }
        if mine == outer { return false }
        if let initial = namespaceID("/proc/1/ns/net"), initial == mine { return false }
        return true
    }()

    /// `dev:inode` of a namespace file, as `stat -L -c %d:%i` prints it.
    public static func namespaceID(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return "\(st.st_dev):\(st.st_ino)"
    }

    public static let skipReason = "kernel test: needs root and Scripts/sandbox (unshare --net --mount); run Scripts/test"
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}
