#if canImport(Glibc)
import Glibc
#endif
import CNftables
import Model
import Netlink
import Synchronization

/// Why an nftables command failed: the operation, the command text given to
/// libnftables, and nft's own error text (or the system error that stopped us first).
///
/// A kernel rejection of a batch does not say which command failed (nft reports
/// `internal:0:0-0`); the whole batch is in `command`.
public struct FirewallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done: "run batch", "list table inet netform_seed", …
    public var operation: String
    /// The text handed to libnftables (JSON), empty when it never got that far.
    public var command: String
    /// nft's error buffer (trimmed), or the system error.
    public var message: String

    public init(operation: String, command: String, message: String) {
        self.operation = operation
        self.command = command
        self.message = message
    }

    public var description: String {
        let shown = command.count > 400 ? command.prefix(400) + "…" : Substring(command)
        return command.isEmpty ? "nftables: \(operation): \(message)"
                               : "nftables: \(operation): \(message)\n  command: \(shown)"
    }
}

/// A libnftables context bound to one network namespace, speaking JSON.
///
/// The context is created on a dedicated pthread that has entered the namespace
/// (`NamespaceThread.run(in:)`): libnftables binds its netlink socket when the context
/// is created, so creating it anywhere else would program the wrong namespace. Every
/// command also runs on such a thread, so the result does not depend on whether a
/// libnftables version opens its socket eagerly or lazily. No Swift concurrency or
/// Dispatch thread ever calls `setns`.
///
/// The context is configured once: JSON output (in libnftables 1.0.6 this is also
/// what makes it parse JSON *input*) and buffered output and error streams, both
/// read after every command. Calls are serialized by a lock; the type is `Sendable`.
public final class Nftables: Sendable {
    /// The namespace this context programs (nil: the creator's namespace).
    public let namespace: NetworkNamespace?
    private let context: Mutex<Context>

    /// The `nft_ctx *`, only touched under the lock.
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Creates a JSON context inside `namespace` (nil: the caller's namespace, still
    /// from a dedicated thread).
    public init(namespace: NetworkNamespace?) throws(FirewallError) {
        self.namespace = namespace
        let pointer: OpaquePointer = try Nftables.onNamespaceThread(namespace, operation: "create context") { () throws(FirewallError) in
            guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
                throw FirewallError(operation: "create context", command: "", message: "nft_ctx_new failed")
            }
            nft_ctx_output_set_flags(ctx, UInt32(NFT_CTX_OUTPUT_JSON))
            if nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0 {
                nft_ctx_free(ctx)
                throw FirewallError(operation: "create context", command: "", message: "cannot buffer nft output")
            }
            return ctx
        }
        context = Mutex(Context(pointer: pointer))
    }

    deinit {
        context.withLock { nft_ctx_free($0.pointer) }
    }

    /// What one command printed.
    public struct Output: Sendable, Equatable {
        /// The output buffer (JSON for list commands, empty for a batch of changes).
        public var output: String
        /// The error buffer: warnings on success.
        public var errors: String
    }

    /// Runs one command text (a JSON document `{"nftables": [...]}`; a batch of
    /// changes is atomic: on failure nothing is applied) and returns what nft printed.
    @discardableResult
    public func run(_ command: String, operation: String = "run batch") throws(FirewallError) -> Output {
        let namespace = self.namespace
        return try context.withLock { (ctx: inout Context) throws(FirewallError) -> Output in
            let pointer = ctx.pointer
            return try Nftables.onNamespaceThread(namespace, operation: operation) { () throws(FirewallError) -> Output in
                let rc = nft_run_cmd_from_buffer(pointer, command)
                let output = nft_ctx_get_output_buffer(pointer).map { String(cString: $0) } ?? ""
                let errors = nft_ctx_get_error_buffer(pointer).map { String(cString: $0) } ?? ""
                guard rc == 0 else {
                    let message = errors.trimmingWhitespace()
                    throw FirewallError(operation: operation, command: command,
                                        message: message.isEmpty ? "nft_run_cmd_from_buffer returned \(rc)" : message)
                }
                return Output(output: output, errors: errors)
            }
        }
    }

    /// Runs a batch given as JSON commands (`{"add": …}`, `{"delete": …}`, …).
    @discardableResult
    public func run(commands: [JSONValue], operation: String = "run batch") throws(FirewallError) -> Output {
        try run(JSONValue.object(["nftables": .array(commands)]).rendered, operation: operation)
    }

    /// Replaces the table atomically (one batch: on failure the previous table, or
    /// none, stays in force).
    public func apply(_ table: FirewallTable) throws(FirewallError) {
        try run(table.batch.rendered, operation: "replace table \(table.qualifiedName)")
    }

    /// Every table in the namespace with its chains and rules (`nft -j list ruleset`).
    public func ruleset() throws(FirewallError) -> [FirewallTable] {
        FirewallTable.tables(fromListing: try parse(run(commands: [["list": ["ruleset": nil]]], operation: "list ruleset").output))
    }

    /// The tables in the namespace as (family, name), in nft's order.
    public func tables() throws(FirewallError) -> [(family: String, name: String)] {
        let out = try run(commands: [["list": ["tables": nil]]], operation: "list tables")
        return try parse(out.output)["nftables"]?.arrayValue.compactMap { item in
            guard let t = item["table"], let f = t["family"]?.stringValue, let n = t["name"]?.stringValue else { return nil }
            return (f, n)
        } ?? []
    }

    /// `nft -j list table FAMILY NAME` as parsed JSON (the `nftables` array: metainfo,
    /// the table, its chains and rules); nil when there is no such table.
    public func listTable(family: String, name: String) throws(FirewallError) -> JSONValue? {
        guard try tables().contains(where: { $0.family == family && $0.name == name }) else { return nil }
        let out = try run(commands: [["list": ["table": ["family": .string(family), "name": .string(name)]]]],
                          operation: "list table \(family) \(name)")
        return try parse(out.output)["nftables"]
    }

    /// Deletes the table when it exists (one batch: `add table; delete table`, so a
    /// missing table is not an error).
    public func deleteTable(family: String, name: String) throws(FirewallError) {
        let table: JSONValue = ["table": ["family": .string(family), "name": .string(name)]]
        try run(commands: [["add": table], ["delete": table]], operation: "delete table \(family) \(name)")
    }

    private func parse(_ text: String) throws(FirewallError) -> JSONValue {
        do { return try JSONValue.parse(text) } catch {
            throw FirewallError(operation: "parse nft JSON output", command: "", message: error.message)
        }
    }

    /// Runs `body` on a dedicated pthread inside `namespace` (or the caller's
    /// namespace), mapping namespace errors to `FirewallError`.
    private static func onNamespaceThread<T>(_ namespace: NetworkNamespace?, operation: String,
                                             _ body: @escaping () throws(FirewallError) -> T) throws(FirewallError) -> T {
        // NamespaceThread speaks NetlinkError; carry our own error through it.
        let box = ErrorBox()
        let result: T?
        do {
            result = try NamespaceThread.run(in: namespace) { () throws(NetlinkError) -> T? in
                do throws(FirewallError) {
                    return try body()
                } catch {
                    box.error = error
                    return nil
                }
            }
        } catch {
            throw FirewallError(operation: operation, command: "", message: "\(error)")
        }
        if let error = box.error { throw error }
        guard let result else {
            throw FirewallError(operation: operation, command: "", message: "no result")
        }
        return result
    }
}

/// Carries a `FirewallError` out of a `NamespaceThread` body (which the caller joins).
private final class ErrorBox: @unchecked Sendable {
    var error: FirewallError?
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
