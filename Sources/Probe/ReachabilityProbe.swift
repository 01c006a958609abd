import Addressing
import Compile
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Explain
import Model
import Netlink

/// `explain --probe` and `apply --probe`: the connection an answer is about, tried
/// for real from inside the source container's namespace.
public struct ReachabilityProbe: Sendable {
    /// The namespace of each container placed on this host (from the compiled spec).
    public var namespaces: [String: NamespaceRef]
    public var timeout: Duration

    public init(endpoints: [Endpoint], timeout: Duration = .milliseconds(1500)) {
        var map: [String: NamespaceRef] = [:]
        for ep in endpoints where map[ep.container] == nil { map[ep.container] = ep.namespace }
        namespaces = map
        self.timeout = timeout
    }

    /// What the kernel said about one answer.
    public struct Result: Sendable {
        public var answer: ReachabilityAnswer
        /// nil when the question cannot be probed (from `outside`, nothing to send to).
        public var probed: Bool?
        public var note: String?
        public var agrees: Bool { probed.map { $0 == answer.reachable } ?? true }
    }

    func open(_ party: Party) throws(ProbeError) -> NetworkNamespace? {
        switch party {
        case .host: return nil
        case .outside: throw ProbeError("no namespace stands for the outside")
        case .container(let c):
            guard let ref = namespaces[c] else { throw ProbeError("container \(c) has no namespace on this host") }
            do {
                switch ref {
                case .host: return nil
                case .named(let n): return try NetworkNamespace.open(name: n)
                case .path(let p): return try NetworkNamespace.open(path: p)
                }
            } catch {
                throw ProbeError("open the namespace of \(c) (\(ref)): \(error)")
            }
        }
    }

    public func run(_ answer: ReachabilityAnswer) -> Result {
        let q = answer.question
        guard let target = answer.target else {
            return Result(answer: answer, probed: nil, note: "nothing to send to")
        }
        do throws(ProbeError) {
            let source = try open(q.from)
            let listener = try open(q.to)
            let kind: Probe.Kind = switch (q.port, q.proto) {
            case (nil, _): .icmp
            case (let p?, .udp): .udp(port: p)
            case (let p?, _): .tcp(port: p)
            }
            if case .container(let a) = q.from, case .container(let b) = q.to, a == b {
                return Result(answer: answer, probed: nil, note: "the same namespace")
            }
            let ok = try Probe.reaches(from: source, to: target, kind: kind, listenerNamespace: listener, timeout: timeout)
            return Result(answer: answer, probed: ok, note: nil)
        } catch {
            return Result(answer: answer, probed: nil, note: error.message)
        }
    }

    /// The ICMP matrix of every ordered pair of the spec's containers on this host,
    /// each answer tried for real.
    public func verify(_ explainer: Explainer) throws(ExplainError) -> [Result] {
        runAll(try explainer.matrix())
    }

    /// Probes many answers: those with different targets at the same time (a
    /// blocked probe waits for its timeout), those with the same target one after
    /// another (their listeners would share a port). Results in the answers' order.
    /// Dispatch threads only poll sockets here; every namespace is entered by a
    /// dedicated pthread (`NamespaceThread`).
    public func runAll(_ answers: [ReachabilityAnswer]) -> [Result] {
        var groups: [Party: [Int]] = [:]
        var order: [Party] = []
        for (i, a) in answers.enumerated() {
            if groups[a.question.to] == nil { order.append(a.question.to) }
            groups[a.question.to, default: []].append(i)
        }
        let results = Mutex<[Int: Result]>([:])
        let batches = order.map { groups[$0]! }
        // One plain thread per target: a probe mostly waits, so more threads than
        // cores is the point (a Dispatch pool would run only as many as there are cores).
        let probe = self
        onThreads(batches.count) { g in
            for i in batches[g] {
                let r = probe.run(answers[i])
                results.withLock { $0[i] = r }
            }
        }
        let done = results.withLock { $0 }
        return answers.indices.map { done[$0]! }
    }
}

/// Runs `body(0..<count)` on `count` new pthreads and joins them (falls back to the
/// calling thread for an index whose thread could not be started).
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job: @unchecked Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(_ index: Int, _ body: @escaping @Sendable (Int) -> Void) { self.index = index; self.body = body }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        let raw = Unmanaged.passRetained(Job(i, body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
            job.body(job.index)
            return nil
        }, raw)
        if rc == 0 { threads.append(t) } else {
            Unmanaged<Job>.fromOpaque(raw).release()
            body(i)
        }
    }
    for t in threads { pthread_join(t, nil) }
}
