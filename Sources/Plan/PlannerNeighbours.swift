import Addressing
import Model

/// Static neighbour (ARP/NDP) and FDB entries: what an overlay needs to reach the
/// endpoints of other hosts without flooding or learning. The desired set is
/// compared in full with what the kernel holds on the project's links, so a stale
/// entry (a container that moved, a host that left) cannot survive a reconcile.
extension PlanBuilder {
    /// Whether entries on `link` in `ref` are the project's to change: the link is
    /// the project's and stays (its entries go with it when it is deleted).
    func ownsEntries(on link: String, in ref: NamespaceRef) -> Bool {
        guard let l = currentLink(link, in: ref) else { return false }
        return isOurs(ownerOf(l, in: ref))
    }

    /// The subnets of the project's overlay networks (bridges with a VXLAN port):
    /// netform programs neighbours only for addresses there. A static neighbour for
    /// any other address, even on one of netform's interfaces, is someone else's.
    var overlaySubnets: [IPNetwork] {
        let host = desired.state[.host]
        let overlayBridges = Set((host?.links ?? []).compactMap { l -> String? in
            if case .vxlan = l.kind { return l.master } else { return nil }
        })
        return (host?.addresses ?? []).filter { overlayBridges.contains($0.link) }.compactMap(\.subnet)
    }

    /// A neighbour entry netform may change: on one of its links, for an overlay address.
    func ownsNeighbour(_ n: NeighbourState, in ref: NamespaceRef, subnets: [IPNetwork]) -> Bool {
        ownsEntries(on: n.link, in: ref) && subnets.contains { $0.contains(n.address) }
    }

    /// An FDB entry netform may change: on one of its VXLAN devices (netform programs
    /// every remote MAC there; a bridge's or a veth's entries are the kernel's or
    /// someone else's).
    func ownsFDB(_ e: FDBEntryState, in ref: NamespaceRef) -> Bool {
        guard ownsEntries(on: e.link, in: ref), let l = currentLink(e.link, in: ref), case .vxlan = l.kind else { return false }
        return true
    }

    func entryResource(_ link: String, in ref: NamespaceRef) -> Resource {
        resource(for: desiredLink(ref, link)?.owner ?? observedLink(ref, link)?.owner ?? desired.state[ref]?.owner, fallback: ref)
    }

    static func describe(_ n: NeighbourState) -> String { "\(n.address) lladdr \(n.mac) dev \(n.link)" }
    static func describe(_ e: FDBEntryState) -> String { "\(e.mac) dev \(e.link)" + (e.destination.map { " dst \($0)" } ?? "") }

    mutating func reconcileNeighboursAndFDB() {
        var refs = Set(desired.state.namespaces.keys)
        for ns in observed.namespaces.values where !ns.neighbours.isEmpty || !ns.fdb.isEmpty { refs.insert(ns.ref) }
        let subnets = overlaySubnets
        for ref in refs.sorted() where conflictsFree(ref) {
            let want = desired.state[ref]
            let have = observed[ref]
            // Entries of ours the spec (or the cluster) no longer has.
            for n in have?.neighbours ?? [] where ownsNeighbour(n, in: ref, subnets: subnets) && !(want?.neighbours.contains(n) ?? false) {
                emit(entryResource(n.link, in: ref), .update, .deleteNeighbour(namespace: ref, neighbour: n),
                     inverse: [.addNeighbour(namespace: ref, neighbour: n)], requires: [linkKey(ref, n.link)], disruption: .inPlace,
                     details: [AttributeChange("neighbour", old: Self.describe(n), new: nil)])
            }
            for e in have?.fdb ?? [] where ownsFDB(e, in: ref) && !(want?.fdb.contains(e) ?? false) {
                emit(entryResource(e.link, in: ref), .update, .deleteFDBEntry(namespace: ref, entry: e),
                     inverse: [.addFDBEntry(namespace: ref, entry: e)], requires: [linkKey(ref, e.link)], disruption: .inPlace,
                     details: [AttributeChange("fdb", old: Self.describe(e), new: nil)])
            }
            // Entries to add: missing, or on a link this plan creates (again).
            for n in want?.neighbours ?? [] {
                if have?.neighbours.contains(n) == true, currentLink(n.link, in: ref) != nil { continue }
                let existing = currentLink(n.link, in: ref) != nil
                emit(entryResource(n.link, in: ref), existing ? .update : .create, .addNeighbour(namespace: ref, neighbour: n),
                     inverse: [.deleteNeighbour(namespace: ref, neighbour: n)], requires: [linkKey(ref, n.link), "addrs:\(ref)/\(n.link)"],
                     disruption: .none, details: [AttributeChange("neighbour", old: nil, new: Self.describe(n))])
            }
            for e in want?.fdb ?? [] {
                if have?.fdb.contains(e) == true, currentLink(e.link, in: ref) != nil { continue }
                let existing = currentLink(e.link, in: ref) != nil
                emit(entryResource(e.link, in: ref), existing ? .update : .create, .addFDBEntry(namespace: ref, entry: e),
                     inverse: [.deleteFDBEntry(namespace: ref, entry: e)], requires: [linkKey(ref, e.link)],
                     disruption: .none, details: [AttributeChange("fdb", old: nil, new: Self.describe(e))])
            }
        }
    }
}
