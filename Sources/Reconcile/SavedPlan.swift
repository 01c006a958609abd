import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Model
import Plan

/// Why a saved plan file cannot be read, written or run: a code a caller can switch
/// on, and one short line for people.
///
/// Why it exists: a plan file is input from outside (a CI artifact, a shared
/// directory); whatever is wrong with it must be refused with a clear, bounded
/// message, never executed and never dumped whole onto the terminal.
public struct SavedPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of refusal this is.
    public enum Code: Sendable, Equatable {
        /// The file cannot be read.
        case unreadable
        /// The file starts like a plan file but is not valid plan JSON (truncated, edited).
        case corrupt
        /// The file was written in a plan format this netform does not read.
        case unsupportedFormat
        /// The steps are not what netform plans for the plan's own desired state on
        /// this host: the file was edited (a plan cannot carry steps of its own).
        case tampered
        /// A delete targets an object that does not carry this project's mark.
        case notOwned
        /// The plan file cannot be written.
        case unwritable
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Reading and writing saved plans (`netform plan --out FILE`, `netform apply FILE`).
///
/// Why it exists: every front end that saves or runs plans must refuse the same
/// files the same way, and write them the same safe way (0600, atomically, never
/// through a symlink), so this lives in the library and the CLI only calls it.
public enum PlanFile {
    /// Whether `data` is meant as a saved plan rather than a spec: its first
    /// non-blank byte is `{` and it names a plan's keys (`"desired"`, `"plan"` or
    /// `"format_version"`; a plan file is written with sorted keys, so even a
    /// truncated one starts with `{"desired"`). A spec written as JSON or as a YAML
    /// flow mapping has none of these and is left to the spec loader.
    public static func isPlan(_ data: Data) -> Bool {
        guard let first = data.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }), first == UInt8(ascii: "{") else { return false }
        return ["\"desired\"", "\"plan\"", "\"format_version\""].contains { data.range(of: Data($0.utf8)) != nil }
    }

    /// Decodes a saved plan, checking its format version first. Errors are one line.
    public static func decode(_ data: Data, path: String) throws(SavedPlanError) -> Reconciler.PlannedChange {
        struct Probe: Decodable {
            struct Head: Decodable { var formatVersion: Int? }
            var plan: Head?
        }
        let remake = "make it again with `netform plan --out`"
        let probe: Probe
        do {
            probe = try PlanJSON.decoder().decode(Probe.self, from: data)
        } catch {
            throw SavedPlanError(.corrupt, "\(path): corrupt plan file (\(reason(error))); \(remake)")
        }
        guard let version = probe.plan?.formatVersion else {
            throw SavedPlanError(.corrupt, "\(path): corrupt plan file (no plan.format_version); \(remake)")
        }
        guard version == Plan.currentFormatVersion else {
            throw SavedPlanError(.unsupportedFormat,
                                 "\(path): plan format_version \(version) is not supported (this netform reads format \(Plan.currentFormatVersion)); \(remake)")
        }
        do {
            return try PlanJSON.decoder().decode(Reconciler.PlannedChange.self, from: data)
        } catch {
            throw SavedPlanError(.corrupt, "\(path): corrupt plan file (\(reason(error))); \(remake)")
        }
    }

    /// Reads `path`: the saved plan in it, or nil when the file is not a plan (a spec).
    public static func read(path: String) throws(SavedPlanError) -> Reconciler.PlannedChange? {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SavedPlanError(.unreadable, "\(path): cannot read the file")
        }
        guard isPlan(data) else { return nil }
        return try decode(data, path: path)
    }

    /// Writes a plan file atomically and privately: a new 0600 file in the same
    /// directory, synced, then renamed over `path`. A symlink at `path` is replaced,
    /// never followed, so its target is never written.
    public static func write(_ planned: Reconciler.PlannedChange, to path: String) throws(SavedPlanError) {
        // A plan made without a fingerprint could never be applied (always stale).
        guard !planned.plan.fingerprint.isEmpty else {
            throw SavedPlanError(.unwritable, "cannot save the plan: it was made without a fingerprint of the host, so it could never be applied")
        }
        let data: Data
        do { data = try PlanJSON.encoder(pretty: false).encode(planned) } catch {
            throw SavedPlanError(.unwritable, "cannot encode the plan: \(error)")
        }
        try writeAtomically(data, to: path)
    }

    static func writeAtomically(_ data: Data, to path: String) throws(SavedPlanError) {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        func fail(_ what: String, _ code: Int32 = errno) -> SavedPlanError {
            SavedPlanError(.unwritable, "cannot write the plan to \(path): \(what): \(String(cString: strerror(code)))")
        }
        guard !base.isEmpty else { throw SavedPlanError(.unwritable, "cannot write the plan to \(path): not a file name") }
        var fd: Int32 = -1
        var temp = ""
        for attempt in 0..<100 {
            temp = "\(dir.isEmpty ? "/" : dir)/.\(base).\(getpid()).\(attempt).tmp"
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw fail("create \(temp)") }
        var ok = fchmod(fd, 0o600) == 0
        var code: Int32 = 0
        if !ok { code = errno }
        if ok {
            ok = data.withUnsafeBytes { raw -> Bool in
                var off = 0
                while off < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        code = errno
                        return false
                    }
                    off += n
                }
                return true
            }
        }
        if ok, fsync(fd) != 0 { ok = false; code = errno }
        close(fd)
        guard ok else {
            unlink(temp)
            throw fail("write \(temp)", code)
        }
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw fail("rename \(temp)", e)
        }
    }

    /// A short reason for a decoding failure (the decoder's own text can quote
    /// kilobytes of input).
    static func reason(_ error: any Error) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case DecodingError.dataCorrupted(let c) where c.codingPath.isEmpty: return "truncated or invalid JSON"
        case DecodingError.dataCorrupted(let c): return "invalid value at \(at(c.codingPath))"
        case DecodingError.keyNotFound(let k, let c): return "missing \(at(c.codingPath + [k]))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): return "wrong type at \(at(c.codingPath))"
        default: return "not a plan"
        }
    }
}

extension Reconciler {
    /// Checks a saved plan against the live host before it runs, and returns the
    /// plan to execute.
    ///
    /// The host is read again (under the apply lock, so at execute time) and the
    /// plan's own desired state is planned against it. The saved steps must be
    /// exactly those: a plan file cannot carry steps of its own invention. The host
    /// must still be in the state the plan was made from (else `StalePlan`), and
    /// every delete must target an object that carries this project's mark in that
    /// fresh reading.
    public func checkSaved(_ saved: PlannedChange) throws -> PlannedChange {
        guard saved.plan.formatVersion == Plan.currentFormatVersion else {
            throw SavedPlanError(.unsupportedFormat,
                                 "plan format_version \(saved.plan.formatVersion) is not supported (this netform reads format \(Plan.currentFormatVersion))")
        }
        guard saved.plan.project == saved.desired.project else {
            throw SavedPlanError(.tampered, "the plan is for project '\(saved.plan.project)' but its desired state is project '\(saved.desired.project)'; the file was edited")
        }
        var refs = Set(saved.desired.adoptedNamespaces)
        for ref in saved.plan.scope { if case .path = ref { refs.insert(ref) } }
        // Read as the plan was made: with neighbours exactly when its desired state uses them.
        let observed = try observe(refs.sorted(), .needed(by: saved.desired))
        guard Fingerprint.of(observed, scope: saved.plan.scope) == saved.plan.fingerprint else { throw StalePlan() }
        // (Its fingerprint is the one just compared: not hashed a second time.)
        var fresh = Planner.plan(saved.desired, observed: observed, fingerprinted: false, blocked: namespaceFiles.blocker)
        fresh.fingerprint = saved.plan.fingerprint
        if fresh.steps != saved.plan.steps {
            let i = zip(fresh.steps, saved.plan.steps).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(fresh.steps.count, saved.plan.steps.count)
            let what = i < saved.plan.steps.count
                ? "step \(i + 1) (\(saved.plan.steps[i].change.rawValue) \(saved.plan.steps[i].resource): \(describe(saved.plan.steps[i].operation)))"
                : "a step is missing after step \(i)"
            throw SavedPlanError(.tampered, "the saved plan's steps are not what its desired state plans on this host: \(what) differs (\(saved.plan.steps.count) saved, \(fresh.steps.count) planned); the file was edited, refusing to run it")
        }
        guard fresh.conflicts == saved.plan.conflicts, fresh.scope == saved.plan.scope, fresh.existing == saved.plan.existing else {
            throw SavedPlanError(.tampered, "the saved plan's conflicts, scope or resources are not what its desired state plans on this host; the file was edited, refusing to run it")
        }
        if let bad = Self.unownedDelete(in: fresh, observed: observed) {
            throw SavedPlanError(.notOwned, "refusing to run the plan: \(bad) does not carry project '\(fresh.project)''s mark")
        }
        var out = saved
        out.plan = fresh
        return out
    }

    /// The first delete in `plan` whose target exists in `observed` without the
    /// project's mark (an object that is gone already is a delete done), if any.
    ///
    /// A safety net under the planner: its deletes come from marks, and this checks
    /// them again on the reading the plan will run against.
    static func unownedDelete(in plan: Plan, observed: HostState) -> String? {
        let project = plan.project
        func ours(_ mark: OwnerMark?) -> Bool { mark?.project == project }
        func linkIsOurs(_ name: String, in ref: NamespaceRef) -> Bool? {
            guard let ns = observed[ref] else { return nil }
            guard let link = ns.link(named: name) else { return nil }
            if ours(link.owner) { return true }
            if link.kind == .loopback { return false }
            // A link without alias or group is foreign, also inside the project's namespace.
            return link.group == OwnerMark.linkGroup(project: project)
        }
        for step in plan.steps {
            switch step.operation {
            case .deleteNamespace(let name):
                if let ns = observed[.named(name)], !ours(ns.owner) { return "namespace \(name)" }
            case .deleteLink(let ref, let name):
                if linkIsOurs(name, in: ref) == false { return "link \(name) in \(ref)" }
            case .deleteAddress(let ref, let a):
                // Only a marked address (IFA_PROTO 78) on one of the project's links:
                // the planner never deletes another one.
                if let have = observed[ref]?.addresses.first(where: { $0.sameAddress(as: a) }),
                   !have.isMarked || linkIsOurs(a.link, in: ref) != true { return "address \(a) in \(ref)" }
            case .deleteRoute(let ref, let r):
                guard let ns = observed[ref], ns.routes.contains(r) else { continue }
                let onOurs = r.device.map { linkIsOurs($0, in: ref) == true } ?? ours(ns.owner)
                if !r.isOwned || !onOurs { return "route \(r) in \(ref)" }
            case .deleteNeighbour(let ref, let n):
                if linkIsOurs(n.link, in: ref) == false { return "neighbour \(n.address) on \(n.link) in \(ref)" }
            case .deleteFDBEntry(let ref, let e):
                if linkIsOurs(e.link, in: ref) == false { return "FDB entry \(e.mac) on \(e.link) in \(ref)" }
            case .deleteFirewallTable(let ref, let family, let name):
                if !FirewallTable(family: family, name: name, chains: []).belongs(to: project) { return "table \(family) \(name) in \(ref)" }
            case .replaceFirewallTable(let ref, let table):
                if !table.belongs(to: project) { return "table \(table.qualifiedName) in \(ref)" }
            default:
                continue
            }
        }
        return nil
    }

    private func describe(_ op: Model.Operation) -> String {
        let s = String(describing: op)
        return s.count > 120 ? String(s.prefix(117)) + "..." : s
    }
}
