#if canImport(Glibc)
import Glibc
#endif
import CNetlink
import Model
import Netlink
import Synchronization

/// What reading one namespace gave.
enum WalkOutcome {
    /// What the namespace holds, and its identity (two refs with one identity are
    /// two names of one namespace).
    case read(ObservedNamespace, NamespaceID)
    /// The ref is another name of the walk's home namespace (the host's): a file
    /// under /run/netns that `ip netns attach X <host pid>`, a symlink to
    /// `/proc/PID/ns/net` or `ip netns exec X netform …` made. Not read.
    case home
    /// The namespace disappeared (or the path is not a namespace any more).
    case vanished(ObserveError)
    case failed(ObserveError)
}

/// Reads many namespaces on a few dedicated pthreads.
///
/// Why not `NetlinkHandle(namespace:)` per namespace: that starts and joins one
/// thread per namespace, which at 1000 namespaces costs more than the reading
/// itself. Here each worker is a plain pthread that takes the next namespace from a
/// shared counter, `setns`es into it, opens a socket there (`NetlinkHandle()` binds
/// to the thread's current namespace), reads, and goes on to the next. Threads never
/// leave a namespace "dirty" for anyone else: they are private to this walk and exit
/// at the end (a pthread that exits needs no switching back). No Swift concurrency or
/// Dispatch thread ever calls `setns`.
enum NamespaceWalker {
    /// Workers to use for `jobs` namespaces: one for small sets (a thread costs ~30 µs),
    /// otherwise one per online CPU, at most 4.
    static func defaultParallelism(jobs: Int) -> Int {
        if jobs < 32 { return 1 }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return max(1, min(cpus, 4, jobs / 16))
    }

    /// The shared state of one walk. Each worker writes only its own result slots;
    /// the caller reads them after joining every worker.
    private final class Walk {
        let refs: [NamespaceRef]
        let home: NetworkNamespace
        let skipVanished: Bool
        let neighbours: NeighbourReading
        let next = Atomic<Int>(0)
        let results: UnsafeMutableBufferPointer<WalkOutcome?>

        init(refs: [NamespaceRef], home: NetworkNamespace, skipVanished: Bool, neighbours: NeighbourReading) {
            self.refs = refs
            self.home = home
            self.skipVanished = skipVanished
            self.neighbours = neighbours
            results = .allocate(capacity: refs.count)
            results.initialize(repeating: nil)
        }

        deinit {
            results.deinitialize()
            results.deallocate()
        }

        /// The body of every worker thread.
        func work() {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= refs.count { return }
                results[i] = NamespaceWalker.read(refs[i], home: home, skipVanished: skipVanished, neighbours: neighbours)
            }
        }
    }

    /// Reads `refs` (in any order, on `parallelism` threads) and returns one outcome
    /// per ref, in the order given. `.host` is `home`. `meanwhile` runs on the
    /// calling thread while the workers read (it must not change namespace).
    static func run(_ refs: [NamespaceRef], home: NetworkNamespace, parallelism: Int, skipVanished: Bool,
                    neighbours: NeighbourReading = .read, meanwhile: () -> Void = {}) -> [WalkOutcome] {
        let walk = Walk(refs: refs, home: home, skipVanished: skipVanished, neighbours: neighbours)
        let workers = max(1, min(parallelism, refs.count))
        var threads: [pthread_t] = []
        for _ in 0..<workers {
            let raw = Unmanaged.passRetained(walk).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let w = Unmanaged<Walk>.fromOpaque(arg!).takeRetainedValue()
                w.work()
                return nil
            }, raw)
            if rc != 0 {
                Unmanaged<Walk>.fromOpaque(raw).release()
                break
            }
            threads.append(thread)
        }
        meanwhile()
        for t in threads { pthread_join(t, nil) }
        return refs.indices.map { i in
            walk.results[i] ?? .failed(ObserveError(namespace: refs[i], NetlinkError(
                errno: EAGAIN, request: "pthread_create", detail: "no worker thread could be started")))
        }
    }

    /// Runs on a worker thread: enters the namespace and reads it there.
    static func read(_ ref: NamespaceRef, home: NetworkNamespace, skipVanished: Bool, neighbours: NeighbourReading = .read) -> WalkOutcome {
        let ns: NetworkNamespace
        do {
            switch ref {
            case .host: ns = home
            case .named(let name): ns = try NetworkNamespace.open(name: name)
            case .path(let path): ns = try NetworkNamespace.open(path: path)
            }
        } catch {
            let e = ObserveError(namespace: ref, error)
            return skipVanished && error.errno == ENOENT ? .vanished(e) : .failed(e)
        }
        if ref != .host && ns.id == home.id { return .home }
        let rc = cnl_setns_net(ns.fd)
        if rc < 0 {
            let e = ObserveError(namespace: ref, NetlinkError(errno: -rc, request: "setns(\(ns))"))
            // EINVAL: the file is no longer a namespace (its bind mount was removed
            // between listing and opening).
            return skipVanished && -rc == EINVAL ? .vanished(e) : .failed(e)
        }
        do {
            let handle = try NetlinkHandle()
            let asksHome = ref != .host && handle.namespaceID != home.id
            let dump = try NamespaceReader.read(handle, homeFD: asksHome ? home.fd : nil, neighbours: neighbours)
            return .read(ObservedMapping.namespace(ref, dump), ns.id)
        } catch {
            return .failed(ObserveError(namespace: ref, error))
        }
    }
}
