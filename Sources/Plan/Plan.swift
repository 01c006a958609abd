import Model

/// The ordered changes that turn the observed host into the desired one.
///
/// A plan is a value: it can be printed, saved as JSON (`--out`), reviewed in CI and
/// executed later (`apply PLANFILE`), when the fingerprint of the state it was made
/// from must still match. Its JSON shape is versioned by `formatVersion`.
public struct Plan: Sendable, Equatable, Codable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var project: String
    /// Ordered so that every step comes after the steps it depends on.
    public var steps: [Step]
    /// Reasons the plan must not be applied (foreign objects in the way).
    public var conflicts: [Conflict]
    /// A digest of the observed state the plan was computed from (the host
    /// namespace and the namespaces in `scope`); empty for a plan made with
    /// `fingerprinted: false`, which is never saved (it would always be stale).
    public var fingerprint: String
    /// The namespaces the plan reads or changes besides the host's.
    public var scope: [NamespaceRef]
    /// Resources that exist on the host already (so their creations are repairs).
    public var existing: [Resource]
    /// Objects netform does not own that sit inside or on the project's objects (a
    /// link someone moved into a container's namespace, an address added by hand on
    /// a container's eth0 or on a bridge, a foreign port or route on a bridge): left
    /// alone, listed so nobody mistakes them for the project's. Not changes. Those a
    /// step takes with it are that step's `collateral` instead.
    public var unmanaged: [ForeignObject]

    public init(project: String, steps: [Step], conflicts: [Conflict], fingerprint: String, scope: [NamespaceRef],
                existing: [Resource] = [], unmanaged: [ForeignObject] = []) {
        formatVersion = Self.currentFormatVersion
        self.project = project
        self.steps = steps
        self.conflicts = conflicts
        self.fingerprint = fingerprint
        self.scope = scope
        self.existing = existing
        self.unmanaged = unmanaged
    }

    enum CodingKeys: String, CodingKey { case formatVersion, project, steps, conflicts, fingerprint, scope, existing, unmanaged }

    /// `unmanaged` may be missing (a plan file written before it existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        project = try c.decode(String.self, forKey: .project)
        steps = try c.decode([Step].self, forKey: .steps)
        conflicts = try c.decode([Conflict].self, forKey: .conflicts)
        fingerprint = try c.decode(String.self, forKey: .fingerprint)
        scope = try c.decode([NamespaceRef].self, forKey: .scope)
        existing = try c.decode([Resource].self, forKey: .existing)
        unmanaged = try c.decodeIfPresent([ForeignObject].self, forKey: .unmanaged) ?? []
    }

    /// Every foreign object the plan's steps take with them, with the step.
    public var collateral: [(step: Step, object: ForeignObject)] {
        steps.flatMap { s in s.collateral.map { (s, $0) } }
    }

    public var isEmpty: Bool { steps.isEmpty && conflicts.isEmpty }

    /// What the plan does to a resource as a whole: `+` when it is new, `-` when it
    /// goes entirely, `-/+` when part of it is recreated, `~` otherwise.
    public func change(of resource: Resource) -> ChangeKind {
        Self.change(of: resource, steps: steps.filter { $0.resource == resource }, existing: existing.contains(resource))
    }

    static func change(of resource: Resource, steps mine: some Collection<Step>, existing: Bool) -> ChangeKind {
        if !existing { return .create }
        if !mine.isEmpty, mine.allSatisfy({ $0.change == .delete }), mine.contains(where: { $0.disruption == .destroy && $0.isRootDeletion }) {
            return .delete
        }
        return mine.contains { $0.change == .replace } ? .replace : .update
    }

    /// The steps grouped by resource, in the order resources first appear, with
    /// what happens to each resource as a whole (one pass over the plan).
    public func byResource() -> [(resource: Resource, change: ChangeKind, steps: [Step])] {
        resourceGroups().map { g in (g.resource, g.change, g.indices.map { steps[$0] }) }
    }

    /// `byResource` with the steps' positions in `steps` instead of copies of them:
    /// the summary and the renderer of a plan of 350,000 steps need no second copy.
    func resourceGroups() -> [(resource: Resource, change: ChangeKind, indices: [Int])] {
        var order: [Resource] = []
        var groups: [Resource: [Int]] = [:]
        for (i, s) in steps.enumerated() {
            if groups[s.resource] == nil { order.append(s.resource) }
            groups[s.resource, default: []].append(i)
        }
        let existingSet = Set(existing)
        return order.map { r in
            let indices = groups[r]!
            return (r, Self.change(of: r, steps: indices.lazy.map { steps[$0] }, existing: existingSet.contains(r)), indices)
        }
    }

    /// Resources to add, change and destroy, the way Terraform counts them.
    public var summary: Summary { Self.summary(of: resourceGroups()) }

    static func summary(of groups: [(resource: Resource, change: ChangeKind, indices: [Int])]) -> Summary {
        var out = Summary()
        for g in groups {
            switch g.change {
            case .create: out.add += 1
            case .delete: out.destroy += 1
            case .update, .replace: out.change += 1
            }
        }
        return out
    }

    /// The closing line of a plan: resources to add, change and destroy.
    public struct Summary: Sendable, Equatable, Codable, CustomStringConvertible {
        public var add = 0
        public var change = 0
        public var destroy = 0
        public var description: String { "\(add) to add, \(change) to change, \(destroy) to destroy" }
    }
}

/// One step of a plan: a single operation, its inverse for rollback, and why.
public struct Step: Sendable, Equatable, Codable {
    public var id: Int
    /// The spec-level thing this step belongs to (for grouping in output).
    public var resource: Resource
    public var change: ChangeKind
    public var operation: Operation
    /// Operations that undo this step, run in order during rollback.
    public var inverse: [Operation]
    /// Ids of steps that must run first.
    public var dependsOn: [Int]
    public var disruption: Disruption
    /// Attribute-level detail for display (`mtu: 1500 → 9000`).
    public var details: [AttributeChange]
    /// Host links that disappear asynchronously after this step (a deleted namespace
    /// takes its veths' host ends with it); later steps may reuse their names only
    /// after they are gone.
    public var awaitGone: [String]
    /// Foreign objects this step necessarily takes with it (deleting a namespace
    /// deletes every link and address in it; deleting a bridge detaches its foreign
    /// ports and drops the addresses and routes others put on it), each named so a
    /// person sees them before confirming. netform never deletes them by themselves.
    public var collateral: [ForeignObject]

    public init(id: Int, resource: Resource, change: ChangeKind, operation: Operation, inverse: [Operation],
                dependsOn: [Int] = [], disruption: Disruption, details: [AttributeChange] = [], awaitGone: [String] = [],
                collateral: [ForeignObject] = []) {
        self.collateral = collateral
        self.id = id
        self.resource = resource
        self.change = change
        self.operation = operation
        self.inverse = inverse
        self.dependsOn = dependsOn
        self.disruption = disruption
        self.details = details
        self.awaitGone = awaitGone
    }
}

extension Step {
    enum CodingKeys: String, CodingKey {
        case id, resource, change, operation, inverse, dependsOn, disruption, details, awaitGone, collateral
    }

    /// `collateral` may be missing (a plan file written before it existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(Int.self, forKey: .id), resource: try c.decode(Resource.self, forKey: .resource),
                  change: try c.decode(ChangeKind.self, forKey: .change), operation: try c.decode(Operation.self, forKey: .operation),
                  inverse: try c.decode([Operation].self, forKey: .inverse), dependsOn: try c.decode([Int].self, forKey: .dependsOn),
                  disruption: try c.decode(Disruption.self, forKey: .disruption),
                  details: try c.decode([AttributeChange].self, forKey: .details),
                  awaitGone: try c.decode([String].self, forKey: .awaitGone),
                  collateral: try c.decodeIfPresent([ForeignObject].self, forKey: .collateral) ?? [])
    }

    /// Whether this step removes a resource's root object (a container's namespace,
    /// a network's bridge), which takes the whole resource away.
    var isRootDeletion: Bool {
        switch (resource.kind, operation) {
        case (.container, .deleteNamespace): true
        case (.firewall, .deleteFirewallTable): true
        // The host's registration in the cluster store: the host leaves the cluster.
        case (.host, .deleteStoreKey(let key)): resource.name == "cluster" && key.contains("/hosts/")
        case (.network, .deleteLink): change == .delete && details.contains { $0.attribute == "link" && ($0.old ?? "").hasSuffix("(bridge)") }
        default: false
        }
    }
}

/// A spec-level resource: what a user recognises in plan output.
public struct Resource: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Networks and containers, as in the spec; the project's firewall tables
    /// (`firewall.inet netform_lab`); `host` for anything else.
    public enum Kind: String, Sendable, Codable, Comparable {
        case network, container, firewall, host
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public var kind: Kind
    public var name: String

    public init(_ kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind.rawValue).\(name)" }
    public static func < (a: Resource, b: Resource) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// What a step does to its resource, with Terraform's symbols.
public enum ChangeKind: String, Sendable, Codable, Hashable {
    case create = "+"
    case update = "~"
    case delete = "-"
    case replace = "-/+"
}

/// How much a step disturbs traffic, so users can judge a plan before applying it.
public enum Disruption: String, Sendable, Codable, Comparable {
    /// Adds something new; nothing running is touched.
    case none
    /// Changes a live object without interrupting it (MTU, flags, an address).
    case inPlace = "in-place"
    /// The interface goes down and up (e.g. a MAC change).
    case linkFlap = "link-flap"
    /// The object is deleted and created again: its traffic stops meanwhile.
    case recreate
    /// The object goes away.
    case destroy

    private var rank: Int {
        switch self {
        case .none: 0
        case .inPlace: 1
        case .linkFlap: 2
        case .recreate: 3
        case .destroy: 4
        }
    }

    public static func < (a: Disruption, b: Disruption) -> Bool { a.rank < b.rank }
}

/// One attribute's old and new value, for display.
public struct AttributeChange: Sendable, Equatable, Codable {
    public var attribute: String
    public var old: String?
    public var new: String?

    public init(_ attribute: String, old: String?, new: String?) {
        self.attribute = attribute
        self.old = old
        self.new = new
    }
}

/// Something in the way of the plan that netform must not touch.
public struct Conflict: Sendable, Equatable, Codable, CustomStringConvertible {
    public var resource: Resource
    public var message: String

    public init(_ resource: Resource, _ message: String) {
        self.resource = resource
        self.message = message
    }

    public var description: String { "\(resource): \(message)" }
}

/// An object netform does not own, inside or on one of the project's objects: an
/// unmanaged object of a plan, or the collateral of a step.
public struct ForeignObject: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What kind of kernel object it is.
    public enum Kind: String, Sendable, Codable, Hashable {
        case link, address, route
        /// A foreign link enslaved to one of the project's bridges.
        case port
    }

    /// What happens to a collateral object when its step runs.
    public enum Fate: String, Sendable, Codable, Hashable {
        /// Deleted by the kernel with the namespace it lives in.
        case deletedWithNamespace = "deleted with the namespace"
        /// Deleted by the kernel with the link it sits on (or that it is the peer of).
        case deletedWithLink = "deleted with the link"
        /// A bridge port detached (it stays, unbridged) when its bridge goes.
        case detached = "detached from the bridge"
    }

    /// The project's resource it sits in or on.
    public var resource: Resource
    public var kind: Kind
    public var namespace: NamespaceRef
    /// The object as `ip` shows it (`dbg0 (veth, peer dbg1 in host)`, `10.9.9.9/24 dev eth0`).
    public var object: String
    /// nil for an unmanaged object; what the step does to it for collateral.
    public var fate: Fate?

    public init(_ resource: Resource, _ kind: Kind, in namespace: NamespaceRef, _ object: String, fate: Fate? = nil) {
        self.resource = resource
        self.kind = kind
        self.namespace = namespace
        self.object = object
        self.fate = fate
    }

    public var description: String {
        "foreign \(kind.rawValue) \(object) in \(namespace)" + (fate.map { ": \($0.rawValue)" } ?? "")
    }
}
