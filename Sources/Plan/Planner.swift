import Addressing
import Model

/// Desired − Observed → Plan.
///
/// Rules: only objects marked as this project's are changed or deleted; anything
/// foreign that stands in the way is a conflict. Changes happen in place when the
/// kernel allows it; a link is recreated only when its kind or creation-time settings
/// differ. A container is removed by deleting its namespace (one operation, and its
/// veths go with it). Steps are emitted deletions first, then creations in dependency
/// order, so the list is topologically sorted; `dependsOn` names the exact edges.
public enum Planner {
    /// `fingerprinted: false` leaves the fingerprint empty: only a plan that is saved
    /// (`plan --out`) or printed as JSON needs it, and it hashes every file in scope —
    /// each container's hosts file names its network's containers, so the bytes grow
    /// with the square of the containers (over 40 MB at 5000 on 10 networks).
    ///
    /// `blocked` says what stands at `/run/netns/NAME` when it is not a namespace
    /// (nil when nothing does): a namespace the plan creates there is a conflict.
    /// `alsoConflicting`: conflicts found before planning, outside the planner (a
    /// container whose address the cluster store gives another host), listed after
    /// the planner's.
    ///
    /// With `streaming`, the steps are handed over as they are made and the plan
    /// returned has none (see `StepStream`).
    public static func plan(_ desired: DesiredState, observed: HostState, fingerprinted: Bool = true,
                            blocked: (_ namespace: String) -> String? = { _ in nil }, alsoConflicting extra: [Conflict] = [],
                            streaming: StepStream? = nil) -> Plan {
        let scope = Fingerprint.scope(desired, observed: observed)
        let fingerprint = fingerprinted ? Fingerprint.of(observed, scope: scope) : ""
        var b = built(desired, observed: observed, inventory: true, blocked: blocked, extra: extra,
                      streaming: streaming.map { ($0, fingerprint, scope) })
        return Plan(project: desired.project, steps: b.chunks.joined(), conflicts: b.conflicts, fingerprint: fingerprint,
                    scope: scope, existing: b.existing, unmanaged: b.unmanaged)
    }

    /// The changes still needed, and the conflicts, alone: what verification after
    /// an apply asks (an empty result means the host matches). No one saves or
    /// shows this plan, so it carries no fingerprint, scope, nor inventory of the
    /// existing and unmanaged objects; hashing the whole host took a quarter of a
    /// verification's planning at 2000 containers.
    public static func changesStillNeeded(_ desired: DesiredState, observed: HostState) -> Plan {
        var b = built(desired, observed: observed, inventory: false)
        return Plan(project: desired.project, steps: b.chunks.joined(), conflicts: b.conflicts, fingerprint: "", scope: [], existing: [], unmanaged: [])
    }

    /// What a builder found, without the builder: its indexes and dependency keys are
    /// gone before the steps are joined into one array (at 50,000 containers that
    /// moment was the plan's peak).
    private struct Built {
        var chunks: StepChunks
        var conflicts: [Conflict]
        /// With `inventory` only: the existing resources and the unmanaged objects.
        var existing: [Resource]
        var unmanaged: [ForeignObject]
    }

    private static func built(_ desired: DesiredState, observed: HostState, inventory: Bool, blocked: (String) -> String? = { _ in nil },
                              extra: [Conflict] = [], streaming: (StepStream, fingerprint: String, scope: [NamespaceRef])? = nil) -> Built {
        // A reading without neighbours plans as one with them only when the desired
        // state cannot use them (the reconciler reads accordingly).
        assert(observed.neighbourReading == .read || !desired.usesNeighbours, "planned against a reading without the neighbours it needs")
        var b = PlanBuilder(desired: desired, observed: observed)
        b.findConflicts()
        // The existing resources never depend on the steps: known before the first.
        let existing = inventory ? b.existingResources() : []
        func conflicts(_ b: PlanBuilder) -> [Conflict] { b.conflicts + b.blockedNamespaces + extra }
        b.build(blocked: blocked) { b in
            // Every conflict is known by now: what a plan's JSON says before its steps.
            guard let (stream, fingerprint, scope) = streaming else { return }
            stream.head(Plan(project: desired.project, steps: [], conflicts: conflicts(b), fingerprint: fingerprint, scope: scope,
                             existing: existing))
            b.streamSteps(to: stream.steps)
        }
        // A file at /run/netns in the way does not make the foreign objects on the
        // project's objects conflicts: they are listed all the same.
        let unmanaged = inventory && b.conflicts.isEmpty ? b.unmanagedObjects() : []
        return Built(chunks: b.takeSteps(), conflicts: conflicts(b), existing: existing, unmanaged: unmanaged)
    }
}

/// Where the steps of a plan go while it is made, instead of into the plan.
///
/// Why it exists: `plan --json` of 50,000 containers is 350,000 steps, 180 MB of
/// them in memory at once, only to be written out in order and dropped. Streamed,
/// each chunk of steps is written and released while the next is made.
public struct StepStream {
    /// Called once, before any step, with the plan as it is apart from its steps
    /// and `unmanaged` (found after them): every conflict, the existing resources,
    /// the fingerprint and scope.
    public var head: (Plan) -> Void
    /// Called with the steps in order, some at a time; the last ones come before
    /// `Planner.plan` returns.
    public var steps: ([Step]) -> Void

    public init(head: @escaping (Plan) -> Void, steps: @escaping ([Step]) -> Void) {
        self.head = head
        self.steps = steps
    }
}

/// The steps a builder emits, in fixed-size chunks, joined once at the end into an
/// array of exactly their number.
///
/// Why it exists: one array grown by doubling held the old and the new buffer at
/// once when it grew; at 50,000 containers (350,000 steps of 96 bytes) that moment
/// was the plan's peak, 75 MB for 34 MB of steps. Joined chunk by chunk, each
/// released as it is copied, the steps are held about once.
struct StepChunks {
    static let chunkSize = 4096
    private(set) var count = 0
    private var full: [[Step]] = []
    private var current: [Step] = []
    /// Where full chunks go instead of `full`, once set (see `StepStream`).
    private var sink: (([Step]) -> Void)?

    mutating func append(_ step: Step) {
        // The first chunk grows as an array does: a plan of a few steps keeps a
        // buffer of its size, not one of 4096 steps.
        if current.isEmpty, !full.isEmpty || sink != nil && count > 0 { current.reserveCapacity(Self.chunkSize) }
        current.append(step)
        count += 1
        if current.count == Self.chunkSize {
            if let sink { sink(current) } else { full.append(current) }
            current = []
        }
    }

    /// From now on, hands every full chunk to `sink` (the full ones held so far at
    /// once); `joined` hands over the rest.
    mutating func stream(to sink: @escaping ([Step]) -> Void) {
        for chunk in full { sink(chunk) }
        full = []
        self.sink = sink
    }

    /// All the steps in order; leaves the chunks empty. When streaming, the steps
    /// not handed over yet go to the sink, and the result is empty.
    mutating func joined() -> [Step] {
        if let sink {
            if !current.isEmpty { sink(current) }
            current = []
            count = 0
            return []
        }
        if full.isEmpty {
            defer { current = []; count = 0 }
            return current
        }
        var out: [Step] = []
        out.reserveCapacity(count)
        full.append(current)
        current = []
        full.reverse()
        while let chunk = full.popLast() { out.append(contentsOf: chunk) }
        count = 0
        return out
    }
}

struct PlanBuilder {
    let desired: DesiredState
    let observed: HostState
    var project: String { desired.project }
    private(set) var steps = StepChunks()
    var conflicts: [Conflict] = []
    /// Conflicts of namespaces to create whose name under /run/netns is taken
    /// (`findBlockedNamespaces`); they follow `conflicts`.
    private(set) var blockedNamespaces: [Conflict] = []

    /// Hands the steps emitted so far, and every later one, to `sink`.
    mutating func streamSteps(to sink: @escaping ([Step]) -> Void) { steps.stream(to: sink) }

    /// The emitted steps, taken out of the builder (which then has none).
    mutating func takeSteps() -> StepChunks {
        defer { steps = StepChunks() }
        return steps
    }

    /// What each step makes exist (or gone), for dependency edges.
    private var provides: [String: Int] = [:]
    private var removes: [String: Int] = [:]
    /// Links that disappear because of earlier steps (namespace or link deletions).
    var vanishing: Set<String> = []
    /// Namespaces deleted by this plan.
    var deletedNamespaces: Set<NamespaceRef> = []
    /// Routes removed (and to be re-added) because an address they rely on changes.
    private var reinstalledRoutes: Set<String> = []

    /// Links by namespace and name, so lookups in a host namespace with thousands
    /// of veths stay O(1).
    private let observedLinks: [NamespaceRef: LinkIndex]
    private let desiredLinks: [NamespaceRef: LinkIndex]

    /// A namespace's links and where each name is among them. The array is the
    /// namespace's own (shared, not copied): a dictionary of `LinkState` values held
    /// a second copy of every link, 60 MB of a 50,000-container plan. A namespace of
    /// a few links (a container's lo and eth0) is searched in order: a dictionary
    /// each for 50,000 of them was 12 MB.
    struct LinkIndex {
        static let searchedInOrder = 8
        let links: [LinkState]
        let positions: [String: Int]

        init(_ links: [LinkState]) {
            self.links = links
            var positions: [String: Int] = [:]
            if links.count > Self.searchedInOrder {
                positions.reserveCapacity(links.count)
                for (i, l) in links.enumerated() where positions[l.name] == nil { positions[l.name] = i }
            }
            self.positions = positions
        }

        subscript(name: String) -> LinkState? {
            if links.count <= Self.searchedInOrder { return links.first { $0.name == name } }
            return positions[name].map { links[$0] }
        }
    }
    /// Namespaces in a stable order, sorted once.
    let observedSorted: [NamespaceState]
    private let desiredSorted: [NamespaceState]
    /// Marked links in every observed namespace, by mark (both veth ends share one).
    private let observedByMark: [OwnerMark: [(ref: NamespaceRef, link: LinkState)]]
    /// The namespaces to create, sorted once (three passes walk them).
    private let createdSorted: [NamespaceRef]
    /// Namespaces to create that exist with another owner (or none): a conflict,
    /// and nothing is planned in them.
    private let ownedByAnother: Set<NamespaceRef>

    init(desired: DesiredState, observed: HostState) {
        self.desired = desired
        self.observed = observed
        func index(_ s: HostState) -> [NamespaceRef: LinkIndex] {
            s.namespaces.mapValues { ns in LinkIndex(ns.links) }
        }
        observedLinks = index(observed)
        desiredLinks = index(desired.state)
        observedSorted = observed.sortedNamespaces
        desiredSorted = desired.state.sortedNamespaces
        var byMark: [OwnerMark: [(ref: NamespaceRef, link: LinkState)]] = [:]
        for ns in observedSorted {
            for l in ns.links { if let m = l.owner { byMark[m, default: []].append((ns.ref, l)) } }
        }
        observedByMark = byMark
        createdSorted = desired.createdNamespaces.sorted()
        ownedByAnother = Set(desired.createdNamespaces.filter { ref in
            observed.namespaces[ref].map { $0.owner != desired.state.namespaces[ref]?.owner } ?? false
        })
    }

    func observedLink(_ ref: NamespaceRef, _ name: String) -> LinkState? { observedLinks[ref]?[name] }
    func desiredLink(_ ref: NamespaceRef, _ name: String) -> LinkState? { desiredLinks[ref]?[name] }

    // MARK: ownership helpers

    func isOurs(_ mark: OwnerMark?) -> Bool { mark?.project == project }

    /// Who owns a link: its alias mark; failing that, links in the project's
    /// interface group (set in the creating request) whose creation was interrupted
    /// before the alias was set. A link without either is foreign, also inside a
    /// namespace this project created (someone moved it there): never changed or
    /// deleted, listed as unmanaged, and named as collateral when the namespace goes.
    /// Such a link belongs to the resource the spec puts there under its name (a
    /// bridge left without its alias is its network's, a veth end its container's),
    /// or to the container at its other end; only when neither is known is it an
    /// `orphan/NAME` of the project (still ours to delete, never an add).
    func ownerOf(_ link: LinkState, in ns: NamespaceState?) -> OwnerMark? { ownerOf(link, in: ns?.ref) }

    /// `ownerOf(_:in:)` by the namespace's ref (no copy of its state).
    func ownerOf(_ link: LinkState, in ref: NamespaceRef?) -> OwnerMark? {
        if let o = link.owner { return o }
        guard link.kind != .loopback else { return nil }
        guard link.group == OwnerMark.linkGroup(project: project) else { return nil }
        if let ref, let wanted = desiredLink(ref, link.name)?.owner, isOurs(wanted) { return wanted }
        if case .veth(let peer?) = link.kind, let other = observed[peer.namespace]?.owner, isOurs(other) { return other }
        return OwnerMark(project: project, path: "orphan/\(link.name)")
    }

    /// The resource a mark's path names: `net/NAME` a network, `ctr/NAME` and
    /// `ep/NAME/…` a container, anything else the host. Asked for every marked link
    /// of the host, so the path's non-empty `/`-separated components are walked on
    /// its bytes, not split into an array.
    func resource(for mark: OwnerMark?, fallback: NamespaceRef) -> Resource {
        guard let mark else { return Resource(.host, fallback.description) }
        let path = mark.path
        let bytes = path.utf8
        let slash = UInt8(ascii: "/")
        var i = bytes.startIndex
        func nextComponent() -> Substring? {
            while i < bytes.endIndex, bytes[i] == slash { i = bytes.index(after: i) }
            guard i < bytes.endIndex else { return nil }
            let start = i
            while i < bytes.endIndex, bytes[i] != slash { i = bytes.index(after: i) }
            return path[start..<i]
        }
        switch nextComponent() {
        case "net"?:
            var names: [Substring] = []
            while let name = nextComponent() { names.append(name) }
            return Resource(.network, names.count == 1 ? String(names[0]) : names.joined(separator: "/"))
        case "ctr"?, "ep"?: return Resource(.container, nextComponent().map(String.init) ?? "?")
        default: return Resource(.host, path)
        }
    }

    func linkKey(_ ns: NamespaceRef, _ name: String) -> String { "link:\(ns)/\(name)" }

    /// Whether an earlier step takes the link away (its key is made only when
    /// something vanishes at all: a no-op plan asks this for every link).
    func isVanishing(_ ref: NamespaceRef, _ name: String) -> Bool { !vanishing.isEmpty && vanishing.contains(linkKey(ref, name)) }

    func nsKey(_ ns: NamespaceRef) -> String { "ns:\(ns)" }

    /// Resources with at least one object on the host already.
    func existingResources() -> [Resource] {
        var out = Set<Resource>()
        for ns in observed.namespaces.values {
            if isOurs(ns.owner) { out.insert(resource(for: ns.owner, fallback: ns.ref)) }
            for t in ns.firewall where t.belongs(to: project) { out.insert(firewallResource(t)) }
            if !ns.sysctls.isEmpty, ns.ref == .host { out.insert(Resource(.host, "sysctls")) }
            for f in ns.netnsFiles where f.project == project { out.insert(fileResource(f.namespace)) }
            // This host's registration in the cluster store.
            if let mine = desired.storeHost, ns.clusterStore?[StoreLayout.host(project: project, host: mine)] != nil {
                out.insert(Resource(.host, "cluster"))
            }
            for l in ns.links { if let o = ownerOf(l, in: ns), isOurs(o) { out.insert(resource(for: o, fallback: ns.ref)) } }
        }
        return out.sorted()
    }

    // MARK: conflicts

    mutating func findConflicts() {
        for ref in createdSorted {
            guard let obs = observed[ref], let want = desired.state[ref] else { continue }
            if obs.owner != want.owner {
                let res = resource(for: want.owner, fallback: ref)
                if let o = obs.owner {
                    conflicts.append(Conflict(res, "namespace \(ref) belongs to \(o.alias), not \(want.owner?.alias ?? "?")"))
                } else {
                    conflicts.append(Conflict(res, "namespace \(ref) exists and is not netform's; remove or rename it"))
                }
            }
        }
        findFileConflicts()
        for ref in desired.adoptedNamespaces.sorted() where !observed.has(ref) {
            conflicts.append(Conflict(Resource(.host, ref.description), "namespace \(ref) to adopt does not exist"))
        }
        for want in desiredSorted {
            guard let obs = observed[want.ref], conflictsFree(want.ref) else { continue }
            for link in want.links where link.kind != .loopback {
                guard let have = observedLink(obs.ref, link.name) else { continue }
                // Another mark of this project (a container moving between networks
                // keeps its interface name) is ours to change, not a conflict.
                let haveOwner = ownerOf(have, in: obs)
                if !isOurs(haveOwner) {
                    let who = have.owner.map { "belongs to \($0.alias)" } ?? "is not netform's"
                    conflicts.append(Conflict(resource(for: link.owner, fallback: want.ref),
                                              "link \(link.name) in namespace \(want.ref) exists and \(who)"))
                }
            }
        }
        // A macvlan is stacked on a host device netform does not create: it must exist.
        for want in desiredSorted {
            for link in want.links {
                guard case .macvlan(let parent, _) = link.kind, observedLink(.host, parent) == nil,
                      desiredLink(.host, parent) == nil else { continue }
                conflicts.append(Conflict(resource(for: link.owner, fallback: want.ref),
                                          "macvlan parent \(parent) does not exist on this host (\(link.name) in namespace \(want.ref))"))
            }
        }
        // Foreign addresses or routes in the host namespace that overlap our subnets.
        guard let hostWant = desired.state[.host], let hostHave = observed[.host] else { return }
        let ourLinks = Set(hostHave.links.filter { isOurs(ownerOf($0, in: hostHave)) }.map(\.name))
        for a in hostWant.addresses {
            guard let subnet = a.subnet, let link = desiredLink(.host, a.link) else { continue }
            let res = resource(for: link.owner, fallback: .host)
            for other in hostHave.addresses where !ourLinks.contains(other.link) && other.link != a.link {
                if let s = other.subnet, s.overlaps(subnet) {
                    // Another netform project's network is named as such, not as "foreign".
                    let whose = hostHave.link(named: other.link)?.owner.map { "netform project '\($0.project)' (\($0.alias))" } ?? "foreign"
                    conflicts.append(Conflict(res, "\(whose == "foreign" ? "foreign address" : "address") \(other.address)/\(other.prefixLength) on \(other.link)"
                        + (whose == "foreign" ? "" : ", of \(whose),") + " overlaps subnet \(subnet)"))
                }
            }
            // Protocol 78 alone does not make a route ours (another tool or project may
            // use the number): only one over this project's links is.
            for r in hostHave.routes where !isOurs(r, in: hostHave) && !(r.device.map(ourLinks.contains) ?? false) && r.device != a.link {
                if let d = r.destination, d.overlaps(subnet), d.prefixLength > 0 {
                    conflicts.append(Conflict(res, "foreign route \(r) overlaps subnet \(subnet)"))
                }
            }
        }
    }

    /// A namespace to create whose name under /run/netns is taken by a file that is
    /// not a namespace (and not a placeholder netform left) is a conflict: that file
    /// is someone else's, never reused nor removed.
    mutating func findBlockedNamespaces(_ blocked: (String) -> String?) {
        for ref in createdSorted where !observed.has(ref) {
            guard case .named(let name) = ref, let owner = desired.state[ref]?.owner, let what = blocked(name) else { continue }
            blockedNamespaces.append(Conflict(resource(for: owner, fallback: ref),
                                              "\(what) is at /run/netns/\(name) and is not a namespace; netform did not create it: remove or rename it"))
        }
    }

    func conflictsFree(_ ref: NamespaceRef) -> Bool { !ownedByAnother.contains(ref) }

    // MARK: steps

    @discardableResult
    mutating func emit(_ resource: Resource, _ change: ChangeKind, _ op: Operation, inverse: [Operation],
                       requires: [String] = [], provides: [String] = [], removes removed: [String] = [],
                       disruption: Disruption, collateral: [ForeignObject] = [], details: [AttributeChange] = [],
                       awaitGone: [String] = []) -> Int {
        let id = steps.count + 1
        var deps = Set<Int>()
        for r in requires {
            if let p = self.provides[r] { deps.insert(p) }
            if let p = self.removes[r] { deps.insert(p) }
        }
        steps.append(Step(id: id, resource: resource, change: change, operation: op, inverse: inverse,
                          dependsOn: deps.sorted(), disruption: disruption, details: details, awaitGone: awaitGone,
                          collateral: collateral))
        for p in provides { self.provides[p] = id }
        for r in removed { self.removes[r] = id }
        return id
    }

    /// Emits every step. `conflictsKnown` runs once no conflict can be found any
    /// more: after the cluster store's claims, the last place one is found.
    mutating func build(blocked: (String) -> String? = { _ in nil }, conflictsKnown: (inout PlanBuilder) -> Void = { _ in }) {
        // The firewall is installed (or changed) first, so isolation holds from the
        // moment the first container can send; it goes last, after the containers.
        claimInStore()
        findBlockedNamespaces(blocked)
        conflictsKnown(&self)
        installFirewall()
        deleteUnwantedFiles()
        deleteUnwantedNamespaces()
        deleteUnwantedObjects()
        createNamespaces()
        reconcileLinks()
        addAddressesAndRoutes()
        reconcileNeighboursAndFDB()
        writeFiles()
        publishInStore()
        removeFirewall()
        setSysctls()
    }

    // MARK: sysctls

    /// Global settings the project needs, set when they differ; never reset (other
    /// tools rely on them: a destroy leaves them). A key the host does not report is
    /// not touched.
    mutating func setSysctls() {
        for want in desiredSorted {
            for (key, value) in want.sysctls.sorted(by: { $0.key < $1.key }) {
                if let bridge = HostSysctl.bridge(of: key) {
                    // A bridge's own setting: set after the bridge exists; it goes with
                    // the bridge (a rollback that deletes a new bridge needs no inverse).
                    let live = currentLink(bridge, in: want.ref) != nil
                    let have = live ? observed[want.ref]?.sysctls[key] : nil
                    if have == value { continue }
                    let res = resource(for: desiredLink(want.ref, bridge)?.owner, fallback: want.ref)
                    emit(res, live ? .update : .create, .setSysctl(namespace: want.ref, key: key, value: value),
                         inverse: have.map { [.setSysctl(namespace: want.ref, key: key, value: $0)] } ?? [],
                         requires: [linkKey(want.ref, bridge)], disruption: .none,
                         details: [AttributeChange(key.split(separator: "/").last.map(String.init) ?? key, old: have, new: value)])
                    continue
                }
                guard let have = observed[want.ref]?.sysctls[key], have != value else { continue }
                emit(Resource(.host, "sysctls"), .update, .setSysctl(namespace: want.ref, key: key, value: value),
                     inverse: [.setSysctl(namespace: want.ref, key: key, value: have)], disruption: .inPlace,
                     details: [AttributeChange(key, old: have, new: value + " (a host-wide setting; netform never resets it)")])
            }
        }
    }

    // MARK: firewall

    /// The project's tables in a namespace (only ever those: other tables are
    /// another tool's, or another project's).
    func ownTables(_ ns: NamespaceState?) -> [FirewallTable] {
        (ns?.firewall ?? []).filter { $0.belongs(to: project) }.map { $0.normalized() }
    }

    func firewallResource(_ t: FirewallTable) -> Resource { Resource(.firewall, t.qualifiedName) }

    /// Creates or replaces the project's tables that differ from the spec's. A replace
    /// is one atomic batch; its inverse puts back the table as it was read.
    mutating func installFirewall() {
        for want in desiredSorted where conflictsFree(want.ref) {
            let have = ownTables(observed[want.ref])
            for table in want.firewall {
                let t = table.normalized()
                let old = have.first { $0.family == t.family && $0.name == t.name }
                if old == t { continue }
                let inverse: [Operation] = old.map { [.replaceFirewallTable(namespace: want.ref, table: $0)] }
                    ?? [.deleteFirewallTable(namespace: want.ref, family: t.family, name: t.name)]
                let details = t.changes(from: old).map { c in
                    c.kind == .added ? AttributeChange(c.chain, old: nil, new: c.text) : AttributeChange(c.chain, old: c.text, new: nil)
                }
                emit(firewallResource(t), old == nil ? .create : .update, .replaceFirewallTable(namespace: want.ref, table: t),
                     inverse: inverse, requires: [nsKey(want.ref)], provides: ["nft:\(want.ref)/\(t.qualifiedName)"],
                     disruption: old == nil ? .none : .inPlace, details: details)
            }
        }
    }

    /// Deletes the project's tables the spec no longer has (all of them on destroy),
    /// after everything else.
    mutating func removeFirewall() {
        for ns in observedSorted where !deletedNamespaces.contains(ns.ref) {
            let wanted = desired.state[ns.ref]?.firewall ?? []
            for t in ownTables(ns) where !wanted.contains(where: { $0.family == t.family && $0.name == t.name }) {
                emit(firewallResource(t), .delete, .deleteFirewallTable(namespace: ns.ref, family: t.family, name: t.name),
                     inverse: [.replaceFirewallTable(namespace: ns.ref, table: t)], removes: ["nft:\(ns.ref)/\(t.qualifiedName)"],
                     disruption: .destroy,
                     details: [AttributeChange("table", old: "\(t.qualifiedName) (\(t.chains.count) chains, \(t.ruleCount) rules)", new: nil)])
            }
        }
    }

    /// Host veth ends by their endpoint mark (both ends of a pair carry the same).
    var hostVethsByMark: [OwnerMark: [String]] {
        var out: [OwnerMark: [String]] = [:]
        for l in observed[.host]?.links ?? [] {
            if case .veth = l.kind, let mark = l.owner { out[mark, default: []].append(l.name) }
        }
        return out
    }

    /// Namespaces this project created that the spec no longer has: delete whole.
    mutating func deleteUnwantedNamespaces() {
        let hostVethsByMark = self.hostVethsByMark
        for ns in observedSorted {
            guard case .named(let name) = ns.ref, let owner = ns.owner, owner.project == project,
                  !desired.createdNamespaces.contains(ns.ref) else { continue }
            deletedNamespaces.insert(ns.ref)
            // The host ends of its veths go with it.
            var gone = Set<String>()
            for l in ns.links where l.kind != .loopback {
                if let mark = l.owner, isOurs(mark), mark.path.hasPrefix("ep/") { gone.formUnion(hostVethsByMark[mark] ?? []) }
                if case .veth(let peer?) = l.kind, peer.namespace == .host { gone.insert(peer.name) }
            }
            for g in gone { vanishing.insert(linkKey(.host, g)) }
            let goneSorted = gone.sorted()
            emit(resource(for: owner, fallback: ns.ref), .delete, .deleteNamespace(name: name),
                 inverse: rebuildNamespace(ns), removes: [nsKey(ns.ref)] + goneSorted.map { linkKey(.host, $0) },
                 disruption: .destroy, collateral: collateral(ofNamespace: ns, hostEnds: goneSorted),
                 details: [AttributeChange("namespace", old: name, new: nil)], awaitGone: goneSorted)
        }
    }

    /// Owned links, addresses and routes in surviving namespaces that the spec no
    /// longer wants (or that must be recreated because their kind changed).
    mutating func deleteUnwantedObjects() {
        let surviving = observedSorted.filter { !deletedNamespaces.contains($0.ref) && conflictsFree($0.ref) }
        for ns in surviving {
            let want = desired.state[ns.ref]
            // Addresses that go away: routes of that family over their links are
            // reinstalled after (the kernel may drop them with the address; an IPv6
            // change never touches IPv4 routes, nor the other way round).
            let changingLinks = Set(ns.addresses.filter { a in
                isOurs(a, in: ns) && !(want?.addresses.contains { $0.sameAddress(as: a) } ?? false)
            }.map { "\($0.link)/\($0.address.family.rawValue)" })
            // Routes first, then links, then addresses.
            for r in ns.routes where isOurs(r, in: ns) {
                let wanted = want?.routes.contains(r) ?? false
                let reinstall = wanted && r.device.map { changingLinks.contains("\($0)/\(r.family.rawValue)") } == true
                if wanted && !reinstall { continue }
                if let d = r.device, isVanishing(ns.ref, d) { continue }
                if reinstall { reinstalledRoutes.insert(routeKey(ns.ref, r)) }
                emit(routeResource(ns, r), .update, .deleteRoute(namespace: ns.ref, route: r), inverse: [.addRoute(namespace: ns.ref, route: r)],
                     removes: [routeKey(ns.ref, r)],
                     disruption: .inPlace, details: [AttributeChange("route", old: r.description, new: nil)])
            }
            deleteUnwantedLinks(in: ns, bridges: false)
        }
        // Bridges after every port, in whatever namespace its other end is: a
        // rollback (newest first) recreates a bridge before the ports that go back
        // into it.
        for ns in surviving { deleteUnwantedLinks(in: ns, bridges: true) }
        for ns in surviving {
            let want = desired.state[ns.ref]
            for a in ns.addresses {
                // Only the project's addresses: an address someone else put on one of
                // its links (no IFA_PROTO mark) is left alone, and listed as unmanaged.
                guard isOurs(a, in: ns), let link = observedLink(ns.ref, a.link), !isVanishing(ns.ref, a.link) else { continue }
                if want?.addresses.contains(where: { $0.sameAddress(as: a) }) ?? false { continue }
                emit(resource(for: ownerOf(link, in: ns), fallback: ns.ref), .update, .deleteAddress(namespace: ns.ref, address: a),
                     inverse: [.addAddress(namespace: ns.ref, address: a)], removes: ["addr:\(ns.ref)/\(a.address)"],
                     disruption: .inPlace, details: [AttributeChange("address", old: a.description, new: nil)])
            }
        }
    }

    /// The project's links in `ns` the spec no longer wants or wants of another
    /// kind: bridges only, or everything but bridges.
    mutating func deleteUnwantedLinks(in ns: NamespaceState, bridges: Bool) {
        for link in ns.links where isOurs(ownerOf(link, in: ns)) && link.kind != .loopback && (link.kind == .bridge) == bridges {
            let wanted = desiredLink(ns.ref, link.name)
            let replace = wanted.map { !$0.kind.sameKind(as: link.kind) } ?? false
            guard wanted == nil || replace else { continue }
            // A veth pair is deleted once, from whichever end comes first.
            if isVanishing(ns.ref, link.name) { continue }
            var removed = [linkKey(ns.ref, link.name)]
            if case .veth = link.kind, let peer = peerOf(link, in: ns.ref) {
                removed.append(linkKey(peer.namespace, peer.name))
            }
            for r in removed { vanishing.insert(r) }
            emit(resource(for: ownerOf(link, in: ns), fallback: ns.ref), replace ? .replace : .delete,
                 .deleteLink(namespace: ns.ref, name: link.name), inverse: rebuildLink(link, in: ns.ref),
                 removes: removed, disruption: replace ? .recreate : .destroy,
                 collateral: collateral(ofLink: link.name, in: ns.ref),
                 details: [AttributeChange("link", old: "\(link.name) (\(replace ? settings(link.kind) : link.kind.name))",
                                           new: replace ? "\(link.name) (\(settings(wanted!.kind)))" : nil)])
        }
    }

    mutating func createNamespaces() {
        for ref in createdSorted where !observed.has(ref) || deletedNamespaces.contains(ref) {
            guard case .named(let name) = ref, let owner = desired.state[ref]?.owner else { continue }
            emit(resource(for: owner, fallback: ref), .create, .createNamespace(name: name, owner: owner),
                 inverse: [.deleteNamespace(name: name)], requires: [nsKey(ref)], provides: [nsKey(ref)], disruption: .none,
                 details: [AttributeChange("namespace", old: nil, new: name)])
        }
    }

    /// Creates missing links and changes existing ones in place. Host-namespace
    /// bridges come first, then VXLAN ports, then veth pairs and macvlans.
    mutating func reconcileLinks() {
        let order: [NamespaceState] = desiredSorted.filter { conflictsFree($0.ref) }
        func rank(_ l: LinkState) -> Int {
            switch l.kind {
            case .loopback: 0
            case .bridge: 1
            case .vxlan: 2
            default: 3
            }
        }
        for want in order {
            for link in want.links.sorted(by: { (rank($0), $0.name) < (rank($1), $1.name) }) {
                var have = currentLink(link.name, in: want.ref)
                // Half a veth pair (the other end was deleted by hand, or its namespace
                // was): delete what is left and create the pair again.
                if let h = have, isOurs(ownerOf(h, in: want.ref)), case .veth(let peer?) = link.kind, link.master != nil,
                   currentLink(peer.name, in: peer.namespace) == nil {
                    vanishing.insert(linkKey(want.ref, link.name))
                    emit(resource(for: link.owner, fallback: want.ref), .replace, .deleteLink(namespace: want.ref, name: link.name),
                         inverse: [], removes: [linkKey(want.ref, link.name)], disruption: .recreate,
                         collateral: collateral(ofLink: link.name, in: want.ref),
                         details: [AttributeChange("link", old: "\(link.name) (its peer \(peer.name) in \(peer.namespace) is gone)", new: nil)])
                    have = nil
                }
                if let have {
                    changeInPlace(link, have: have, in: want.ref)
                } else {
                    create(link, in: want.ref)
                }
            }
        }
    }

    /// The observed link, unless this plan deletes it first.
    func currentLink(_ name: String, in ref: NamespaceRef) -> LinkState? {
        guard !deletedNamespaces.contains(ref), !isVanishing(ref, name) else { return nil }
        return observedLink(ref, name)
    }

    mutating func create(_ link: LinkState, in ref: NamespaceRef) {
        let res = resource(for: link.owner ?? desired.state[ref]?.owner, fallback: ref)
        let alias = link.alias ?? ""
        switch link.kind {
        case .loopback:
            return  // comes with the namespace
        case .bridge:
            emit(res, .create, .createBridge(namespace: ref, name: link.name, mtu: link.mtu, mac: link.mac, alias: alias),
                 inverse: [.deleteLink(namespace: ref, name: link.name)], requires: [nsKey(ref), linkKey(ref, link.name)],
                 provides: [linkKey(ref, link.name)], disruption: .none,
                 details: [AttributeChange("bridge", old: nil, new: "\(link.name) mtu \(link.mtu)")])
        case .vxlan(let settings):
            emit(res, .create, .createVXLAN(namespace: ref, name: link.name, settings: settings, master: link.master, mtu: link.mtu,
                                            mac: link.mac, alias: alias),
                 inverse: [.deleteLink(namespace: ref, name: link.name)],
                 requires: [nsKey(ref), linkKey(ref, link.name)] + (link.master.map { [linkKey(ref, $0)] } ?? []),
                 provides: [linkKey(ref, link.name)], disruption: .none,
                 details: [AttributeChange("vxlan", old: nil, new: "\(link.name) vni \(settings.vni)")])
        case .macvlan(let parent, let mode):
            emit(res, .create, .createMacvlan(namespace: ref, name: link.name, parent: parent, mode: mode, mtu: link.mtu, mac: link.mac, alias: alias),
                 inverse: [.deleteLink(namespace: ref, name: link.name)], requires: [nsKey(ref), linkKey(ref, link.name)],
                 provides: [linkKey(ref, link.name)], disruption: .none,
                 details: [AttributeChange("macvlan", old: nil, new: "\(link.name) on \(parent) mode \(mode)")])
        case .veth(let peer?):
            // Created once, from the end that has a master (the host end); the other
            // end is created with it.
            if link.master == nil, let peerLink = desiredLink(peer.namespace, peer.name), peerLink.master != nil { return }
            guard let peerLink = desiredLink(peer.namespace, peer.name) else { return }
            // A surviving stray other end (drift) must go first.
            if let stray = currentLink(peer.name, in: peer.namespace), isOurs(ownerOf(stray, in: peer.namespace)) {
                vanishing.insert(linkKey(peer.namespace, peer.name))
                emit(res, .replace, .deleteLink(namespace: peer.namespace, name: peer.name), inverse: rebuildLink(stray, in: peer.namespace),
                     removes: [linkKey(peer.namespace, peer.name)], disruption: .recreate,
                     collateral: collateral(ofLink: peer.name, in: peer.namespace),
                     details: [AttributeChange("link", old: "\(peer.name) (half of a veth pair)", new: nil)])
            }
            emit(res, .create,
                 .createVeth(namespace: ref, name: link.name, mac: link.mac, master: link.master, mtu: link.mtu, alias: alias,
                             peer: peer, peerMac: peerLink.mac, peerAlias: peerLink.alias ?? alias),
                 inverse: [.deleteLink(namespace: ref, name: link.name)],
                 requires: [nsKey(ref), nsKey(peer.namespace), linkKey(ref, link.name), linkKey(peer.namespace, peer.name)]
                    + (link.master.map { [linkKey(ref, $0)] } ?? []),
                 provides: [linkKey(ref, link.name), linkKey(peer.namespace, peer.name)], disruption: .none,
                 details: [AttributeChange("veth", old: nil, new: "\(link.name)\(link.master.map { " master \($0)" } ?? "") ↔ \(peer.name) in \(peer.namespace)"
                                           + (peerLink.mac.map { " mac \($0)" } ?? "") + " mtu \(link.mtu)")])
            if link.isolated {
                emit(res, .create, .setLink(namespace: ref, name: link.name, change: LinkChangeSet(isolated: true)),
                     inverse: [], requires: [linkKey(ref, link.name)], disruption: .none,
                     details: [AttributeChange("\(link.name) isolated", old: nil, new: "on (icc: false)")])
            }
        case .veth(nil), .other:
            return  // not something netform creates
        }
    }

    mutating func changeInPlace(_ want: LinkState, have: LinkState, in ref: NamespaceRef) {
        let haveOwner = ownerOf(have, in: ref)
        guard isOurs(haveOwner) || want.kind == .loopback else { return }  // conflict reported
        var change = LinkChangeSet()
        var undo = LinkChangeSet()
        var details: [AttributeChange] = []
        var disruption = Disruption.inPlace
        if want.mtu != have.mtu, want.kind != .loopback {
            change.mtu = want.mtu; undo.mtu = have.mtu
            details.append(AttributeChange("\(want.name) mtu", old: "\(have.mtu)", new: "\(want.mtu)"))
        }
        if want.isUp != have.isUp {
            change.isUp = want.isUp; undo.isUp = have.isUp
            details.append(AttributeChange("\(want.name) state", old: have.isUp ? "up" : "down", new: want.isUp ? "up" : "down"))
        }
        if let mac = want.mac, mac != have.mac {
            change.mac = mac; undo.mac = have.mac
            details.append(AttributeChange("\(want.name) mac", old: have.mac?.description, new: mac.description))
            disruption = .linkFlap
        }
        if want.master != have.master, want.kind != .loopback {
            change.master = .some(want.master); undo.master = .some(have.master)
            details.append(AttributeChange("\(want.name) master", old: have.master, new: want.master))
        }
        if want.isolated != have.isolated, want.master != nil {
            change.isolated = want.isolated; undo.isolated = have.isolated
            details.append(AttributeChange("\(want.name) isolated", old: "\(have.isolated)", new: "\(want.isolated)"))
        }
        if want.kind == .bridge, want.bridgeNetfilter != have.bridgeNetfilter {
            change.bridgeNetfilter = want.bridgeNetfilter; undo.bridgeNetfilter = have.bridgeNetfilter
            details.append(AttributeChange("\(want.name) nf_call_iptables", old: have.bridgeNetfilter ? "on" : "off",
                                           new: want.bridgeNetfilter ? "on" : "off"))
        }
        if let alias = want.alias, alias != have.alias, want.kind != .loopback {
            change.alias = alias; undo.alias = have.alias ?? ""
            details.append(AttributeChange("\(want.name) alias", old: have.alias, new: alias))
        }
        // The group marks a link as the project's from its creating request on, and
        // other projects' firewalls drop traffic to and from netform's groups: one
        // that lost it (`ip link set … group`, a destroy killed while it held a
        // transient group) gets it back.
        if want.kind != .loopback, want.owner != nil, want.group != have.group {
            change.group = want.group; undo.group = have.group
            details.append(AttributeChange("\(want.name) group", old: "0x" + String(have.group, radix: 16), new: "0x" + String(want.group, radix: 16)))
        }
        guard !change.isEmpty else { return }
        emit(resource(for: want.owner ?? desired.state[ref]?.owner, fallback: ref), .update,
             .setLink(namespace: ref, name: want.name, change: change),
             inverse: [.setLink(namespace: ref, name: want.name, change: undo)],
             requires: [linkKey(ref, want.name)] + (want.master.map { [linkKey(ref, $0)] } ?? []),
             disruption: disruption, details: details)
    }

    mutating func addAddressesAndRoutes() {
        for want in desiredSorted where conflictsFree(want.ref) {
            let alive = !deletedNamespaces.contains(want.ref)
            let have = alive ? observed[want.ref] : nil
            for a in want.addresses.sorted(by: { ($0.link, $0.address) < ($1.link, $1.address) }) {
                let present = have?.addresses.contains { $0.sameAddress(as: a) } == true && currentLink(a.link, in: want.ref) != nil
                if present { continue }
                let link = desiredLink(want.ref, a.link)
                // On a link that stays, an address is a change; on a new link, part of its creation.
                let kind: ChangeKind = have != nil && currentLink(a.link, in: want.ref) != nil ? .update : .create
                emit(resource(for: link?.owner ?? want.owner, fallback: want.ref), kind,
                     .addAddress(namespace: want.ref, address: a), inverse: [.deleteAddress(namespace: want.ref, address: a)],
                     requires: [linkKey(want.ref, a.link), "addr:\(want.ref)/\(a.address)"], provides: ["addr:\(want.ref)/\(a.address)", "addrs:\(want.ref)/\(a.link)"],
                     disruption: .none, details: [AttributeChange("address", old: nil, new: a.description)])
            }
            for r in want.routes {
                let present = have?.routes.contains(r) == true && (r.device.map { currentLink($0, in: want.ref) != nil } ?? true)
                if present && (reinstalledRoutes.isEmpty || !reinstalledRoutes.contains(routeKey(want.ref, r))) { continue }
                let key = routeKey(want.ref, r)
                let link = r.device.flatMap { desiredLink(want.ref, $0) }
                var requires = [key]
                if let d = r.device { requires += [linkKey(want.ref, d), "addrs:\(want.ref)/\(d)"] }
                emit(routeResource(want, r, owner: link?.owner), .create, .addRoute(namespace: want.ref, route: r),
                     inverse: [.deleteRoute(namespace: want.ref, route: r)], requires: requires, provides: [key],
                     disruption: .none, details: [AttributeChange("route", old: nil, new: r.description)])
            }
        }
    }

    /// A link kind with the creation-time settings that force a recreation, so a
    /// replacement shows what differs (`macvlan on eth1 mode bridge`).
    func settings(_ kind: LinkKind) -> String {
        switch kind {
        case .macvlan(let parent, let mode): "macvlan on \(parent) mode \(mode)"
        case .vxlan(let s): "vxlan vni \(s.vni) port \(s.port)" + (s.local.map { " local \($0)" } ?? "") + (s.device.map { " dev \($0)" } ?? "")
        default: kind.name
        }
    }

    func routeKey(_ ns: NamespaceRef, _ r: RouteState) -> String {
        "route:\(ns)/\(r.family.rawValue)/\(r.destination?.description ?? "default")"
    }

    /// Whether an observed address is the project's: it sits on one of the project's
    /// links and carries netform's `IFA_PROTO` mark — or it carries no protocol at
    /// all and is exactly an address the spec wants on that link (an address netform
    /// added before it marked addresses: adopted as it is, kept, never re-added).
    /// Anything else on netform's links (`ip addr add` by hand, another tool's) is
    /// foreign: never changed or deleted.
    func isOurs(_ a: AddressState, in ns: NamespaceState) -> Bool {
        guard let link = observedLink(ns.ref, a.link), isOurs(ownerOf(link, in: ns)) else { return false }
        if a.isMarked { return true }
        return a.proto == 0 && (desired.state[ns.ref]?.addresses.contains { $0.sameAddress(as: a) } ?? false)
    }

    /// netform's routes carry its protocol number; they are this project's when they
    /// go over one of its links, or (without a device) live in one of its namespaces.
    func isOurs(_ r: RouteState, in ns: NamespaceState) -> Bool {
        guard r.isOwned else { return false }
        if let d = r.device { return observedLink(ns.ref, d).map { isOurs(ownerOf($0, in: ns)) } ?? false }
        return isOurs(ns.owner)
    }

    func routeResource(_ ns: NamespaceState, _ r: RouteState, owner: OwnerMark? = nil) -> Resource {
        let mark = owner ?? r.device.flatMap { ns.link(named: $0)?.owner } ?? ns.owner
        return resource(for: mark, fallback: ns.ref)
    }

    /// The other end of an observed owned veth: its peer ref if known, else the link
    /// with the same endpoint mark in another namespace.
    func peerOf(_ link: LinkState, in ref: NamespaceRef) -> VethPeerRef? {
        if case .veth(let p?) = link.kind { return p }
        guard let mark = link.owner else { return nil }
        for (otherRef, other) in observedByMark[mark] ?? [] where otherRef != ref {
            if case .veth = other.kind { return VethPeerRef(namespace: otherRef, name: other.name) }
        }
        return nil
    }

    // MARK: inverses

    /// Operations that recreate an observed namespace with everything of ours in it.
    func rebuildNamespace(_ ns: NamespaceState) -> [Operation] {
        guard case .named(let name) = ns.ref, let owner = ns.owner else { return [] }
        var ops: [Operation] = [.createNamespace(name: name, owner: owner)]
        for link in ns.links where isOurs(ownerOf(link, in: ns)) && link.kind != .loopback {
            ops += rebuildLink(link, in: ns.ref)
        }
        for r in ns.routes where isOurs(r, in: ns) && r.device == nil {
            ops.append(.addRoute(namespace: ns.ref, route: r))
        }
        return ops
    }

    /// Operations that recreate an observed link with its addresses and routes (for
    /// a veth, both ends; for a bridge, its ports re-attached).
    func rebuildLink(_ link: LinkState, in ref: NamespaceRef) -> [Operation] {
        let alias = link.alias ?? ""
        var ops: [Operation] = []
        var rebuilt: [(NamespaceRef, String)] = [(ref, link.name)]
        switch link.kind {
        case .bridge:
            ops.append(.createBridge(namespace: ref, name: link.name, mtu: link.mtu, mac: link.mac, alias: alias))
            // Ports that vanish with this plan (veths of deleted namespaces) are
            // re-attached by their own rebuild, which runs after this one in a rollback.
            for port in observed[ref]?.links ?? [] where port.master == link.name && !isVanishing(ref, port.name) {
                ops.append(.setLink(namespace: ref, name: port.name, change: LinkChangeSet(master: .some(link.name))))
            }
        case .vxlan(let s):
            // With its MAC: other hosts' FDB entries and neighbours point at it.
            ops.append(.createVXLAN(namespace: ref, name: link.name, settings: s, master: link.master, mtu: link.mtu, mac: link.mac, alias: alias))
        case .macvlan(let parent, let mode):
            ops.append(.createMacvlan(namespace: ref, name: link.name, parent: parent, mode: mode, mtu: link.mtu, mac: link.mac, alias: alias))
        case .veth:
            guard let peer = peerOf(link, in: ref), let peerLink = observedLink(peer.namespace, peer.name) else { return [] }
            // Recreate from the end with a master (the bridge side).
            let (hostRef, hostLink, otherRef, otherLink) = link.master != nil || peerLink.master == nil
                ? (ref, link, peer.namespace, peerLink) : (peer.namespace, peerLink, ref, link)
            ops.append(.createVeth(namespace: hostRef, name: hostLink.name, mac: hostLink.mac, master: hostLink.master, mtu: hostLink.mtu,
                                   alias: hostLink.alias ?? "", peer: VethPeerRef(namespace: otherRef, name: otherLink.name),
                                   peerMac: otherLink.mac, peerAlias: otherLink.alias ?? ""))
            if hostLink.isolated {
                ops.append(.setLink(namespace: hostRef, name: hostLink.name, change: LinkChangeSet(isolated: true)))
            }
            if otherLink.mtu != hostLink.mtu {
                ops.append(.setLink(namespace: otherRef, name: otherLink.name, change: LinkChangeSet(mtu: otherLink.mtu)))
            }
            rebuilt = [(hostRef, hostLink.name), (otherRef, otherLink.name)]
        case .loopback, .other:
            return []
        }
        // Addresses and routes an earlier step deletes are put back by that step's
        // own inverse (run after this one), not twice.
        for (r, name) in rebuilt {
            guard let ns = observed[r] else { continue }
            for a in ns.addresses where a.link == name && isOurs(a, in: ns) && removes["addr:\(r)/\(a.address)"] == nil {
                var marked = a
                marked.proto = netformAddressProtocol
                ops.append(.addAddress(namespace: r, address: marked))
            }
        }
        for (r, name) in rebuilt {
            for route in observed[r]?.routes ?? [] where route.isOwned && route.device == name && removes[routeKey(r, route)] == nil {
                ops.append(.addRoute(namespace: r, route: route))
            }
        }
        for (r, name) in rebuilt where observedLink(r, name)?.isUp == false {
            ops.append(.setLink(namespace: r, name: name, change: LinkChangeSet(isUp: false)))
        }
        return ops
    }
}

/// A digest of a host state: a saved plan is applied only while the host still has
/// the state the plan was computed from.
public enum Fingerprint {
    /// The namespaces a plan depends on besides the host's: those the project wants
    /// and those it owns now. Changes elsewhere (other projects, other tools) do not
    /// invalidate a saved plan.
    public static func scope(_ desired: DesiredState, observed: HostState) -> [NamespaceRef] {
        var refs = Set(desired.state.namespaces.keys)
        for ns in observed.namespaces.values where ns.owner?.project == desired.project { refs.insert(ns.ref) }
        refs.remove(.host)
        return refs.sorted()
    }

    public static func of(_ state: HostState, scope: [NamespaceRef]) -> String {
        let wanted = Set(scope + [.host])
        // Two streaming hashes over the fields, in the order of `HostState.normalized()`
        // (namespaces by ref, each list sorted), without copying the host state: the
        // lists are visited through sorted indices.
        var digest = StreamDigest()
        func feed(_ s: String) { digest.feed(s) }
        for ref in scope { feed(ref.description) }
        for ref in state.namespaces.keys.filter({ wanted.contains($0) }).sorted() {
            guard let ns = state.namespaces[ref] else { continue }
            feed("ns"); feed(ns.ref.description); feed(ns.owner?.alias ?? "-")
            let links = ns.links
            for i in links.indices.sorted(by: { links[$0].name < links[$1].name }) {
                let l = links[i]
                feed(l.name); feed(l.kind.name); feed(String(l.mtu)); feed(l.isUp ? "up" : "down")
                feed(l.mac?.description ?? "-"); feed(l.master ?? "-"); feed(l.alias ?? "-"); feed(l.isolated ? "iso" : "-")
                feed(l.bridgeNetfilter ? "nf" : "-"); feed(String(l.group))
                if case .vxlan(let v) = l.kind { feed("\(v.vni) \(v.port) \(v.local?.description ?? "-") \(v.device ?? "-")") }
                if case .macvlan(let p, let m) = l.kind { feed(p); feed(m) }
            }
            let addresses = ns.addresses
            for i in addresses.indices.sorted(by: { (addresses[$0].link, addresses[$0].address) < (addresses[$1].link, addresses[$1].address) }) {
                let a = addresses[i]
                feed("a"); feed(a.link); feed(a.address.description); feed(String(a.prefixLength)); feed(String(a.proto))
            }
            for (text, table) in ns.routes.map({ ($0.description, $0.table) }).sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
                feed("r"); feed(text); feed(String(table))
            }
            for x in ns.neighbours.sorted(by: { ($0.link, $0.address) < ($1.link, $1.address) }) {
                feed("n"); feed(x.link); feed(x.address.description); feed(x.mac.description)
            }
            for f in ns.fdb.sorted(by: { ($0.link, $0.mac) < ($1.link, $1.mac) }) {
                feed("f"); feed(f.link); feed(f.mac.description); feed(f.destination?.description ?? "-")
            }
            // netform's tables (any project's: a saved plan must not run over a table
            // another apply changed meanwhile); foreign tables change on their own.
            for t in ns.firewall.filter(\.isNetforms).map({ $0.normalized() }).sorted(by: { ($0.family, $0.name) < ($1.family, $1.name) }) {
                feed("t"); t.digest(into: &digest)
            }
            for (k, v) in ns.sysctls.sorted(by: { $0.key < $1.key }) { feed("s"); feed(k); feed(v) }
            for (k, v) in (ns.clusterStore ?? [:]).sorted(by: { $0.key < $1.key }) { feed("k"); feed(k); feed(v) }
            if ns.clusterStoreUnreachable != nil { feed("u") }
            // Files of the namespaces in scope, and every file netform wrote.
            for f in ns.netnsFiles.filter({ $0.project != nil || wanted.contains(.named($0.namespace)) }).sortedByKey() {
                feed("e"); feed(f.key); feed(f.content)
            }
        }
        return digest.hex
    }
}
