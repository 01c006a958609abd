import Model

/// Foreign objects inside or on the project's objects: listed as unmanaged, and
/// named as the collateral of the steps that take them away.
///
/// The rule (README, "How netform owns things"): netform changes and deletes only
/// objects carrying the project's mark. What someone else put inside a container's
/// namespace or on a netform link is left alone; a plan lists it, and when a delete
/// of the project's own object takes it along (the kernel deletes a namespace's links
/// with the namespace, a link's addresses and routes with the link), the step names
/// every such object before anyone confirms.
extension PlanBuilder {
    /// Route protocols whose routes follow from something else (the kernel's prefix
    /// routes of an address): they go with their address and are not listed.
    static let derivedRouteProtocols: Set<UInt8> = [2]

    func isLoopback(_ l: LinkState) -> Bool { l.kind == .loopback }

    /// Whether an observed link is the project's (its lo included: the namespace's mark).
    func linkIsOurs(_ l: LinkState, in ns: NamespaceState) -> Bool {
        isLoopback(l) ? isOurs(l.owner) : isOurs(ownerOf(l, in: ns))
    }

    func describe(_ l: LinkState) -> String {
        if case .veth(let peer?) = l.kind { return "\(l.name) (veth, peer \(peer.name) in \(peer.namespace))" }
        return "\(l.name) (\(l.kind.name))"
    }

    /// Foreign routes that sit on `link` (or, with `link` nil, device-less ones).
    func foreignRoutes(on link: String?, in ns: NamespaceState) -> [RouteState] {
        ns.routes.filter { $0.device == link && !isOurs($0, in: ns) && !Self.derivedRouteProtocols.contains($0.proto) }
    }

    /// What deleting the link `name` in `ref` takes along that is not the project's:
    /// the foreign addresses and routes on it (and on its veth peer), and, for a
    /// bridge, its foreign ports, which the kernel detaches.
    func collateral(ofLink name: String, in ref: NamespaceRef) -> [ForeignObject] {
        guard let ns = observed[ref], let link = observedLink(ref, name) else { return [] }
        let res = resource(for: ownerOf(link, in: ns), fallback: ref)
        var out: [ForeignObject] = []
        var ends: [(NamespaceState, String)] = [(ns, name)]
        if case .veth = link.kind, let peer = peerOf(link, in: ref), let peerNS = observed[peer.namespace] {
            ends.append((peerNS, peer.name))
        }
        for (n, end) in ends {
            for a in n.addresses where a.link == end && !isOurs(a, in: n) {
                out.append(ForeignObject(res, .address, in: n.ref, a.description, fate: .deletedWithLink))
            }
            for r in foreignRoutes(on: end, in: n) {
                out.append(ForeignObject(res, .route, in: n.ref, r.description, fate: .deletedWithLink))
            }
        }
        if link.kind == .bridge {
            for port in ns.links where port.master == name && !linkIsOurs(port, in: ns) {
                out.append(ForeignObject(res, .port, in: ref, describe(port), fate: .detached))
            }
        }
        return out
    }

    /// What deleting a namespace the project created takes along: every foreign link
    /// in it (a veth's other end, wherever it is, goes too), every foreign address
    /// (also on its own eth0 and lo) and route; and whatever foreign sits on the host
    /// ends of its veths, which go with it.
    func collateral(ofNamespace ns: NamespaceState, hostEnds: [String]) -> [ForeignObject] {
        let res = resource(for: ns.owner, fallback: ns.ref)
        var out: [ForeignObject] = []
        let foreignLinks = ns.links.filter { !linkIsOurs($0, in: ns) }
        for l in foreignLinks {
            out.append(ForeignObject(res, .link, in: ns.ref, describe(l), fate: .deletedWithNamespace))
        }
        // A foreign veth whose peer is known from the other side only.
        // (Only when it has foreign links: otherwise nothing can match, and the walk
        // over every namespace's links, for each namespace deleted, made a destroy of
        // 5000 containers spend seconds here.)
        let named = Set(foreignLinks.map(\.name))
        for other in named.isEmpty ? [] : observedSorted where other.ref != ns.ref {
            for l in other.links {
                guard case .veth(let peer?) = l.kind, peer.namespace == ns.ref, named.contains(peer.name), !linkIsOurs(l, in: other) else { continue }
                if case .veth(let back?) = ns.link(named: peer.name)?.kind, back.name == l.name, back.namespace == other.ref { continue }
                out.append(ForeignObject(res, .link, in: other.ref, "\(describe(l)): the peer of \(peer.name)", fate: .deletedWithNamespace))
            }
        }
        for a in ns.addresses where !isOurs(a, in: ns) {
            out.append(ForeignObject(res, .address, in: ns.ref, a.description, fate: .deletedWithNamespace))
        }
        for r in ns.routes where !isOurs(r, in: ns) && !Self.derivedRouteProtocols.contains(r.proto) {
            out.append(ForeignObject(res, .route, in: ns.ref, r.description, fate: .deletedWithNamespace))
        }
        if let host = observed[.host] {
            for end in hostEnds {
                for a in host.addresses where a.link == end && !isOurs(a, in: host) {
                    out.append(ForeignObject(res, .address, in: .host, a.description, fate: .deletedWithNamespace))
                }
                for r in foreignRoutes(on: end, in: host) {
                    out.append(ForeignObject(res, .route, in: .host, r.description, fate: .deletedWithNamespace))
                }
            }
        }
        return out
    }

    /// Foreign objects inside the project's namespaces or on its links that this plan
    /// leaves where they are (those a step takes along are its collateral instead).
    func unmanagedObjects() -> [ForeignObject] {
        var out: [ForeignObject] = []
        for ns in observedSorted where !deletedNamespaces.contains(ns.ref) {
            let nsIsOurs = isOurs(ns.owner)
            let nsRes = resource(for: ns.owner, fallback: ns.ref)
            if nsIsOurs {
                for l in ns.links where !linkIsOurs(l, in: ns) {
                    out.append(ForeignObject(nsRes, .link, in: ns.ref, describe(l)))
                }
                for r in foreignRoutes(on: nil, in: ns) { out.append(ForeignObject(nsRes, .route, in: ns.ref, r.description)) }
            }
            for l in ns.links where linkIsOurs(l, in: ns) && !isVanishing(ns.ref, l.name) {
                let res = isLoopback(l) ? nsRes : resource(for: ownerOf(l, in: ns), fallback: ns.ref)
                for a in ns.addresses where a.link == l.name && !isOurs(a, in: ns) {
                    out.append(ForeignObject(res, .address, in: ns.ref, a.description))
                }
                for r in foreignRoutes(on: l.name, in: ns) { out.append(ForeignObject(res, .route, in: ns.ref, r.description)) }
                if l.kind == .bridge {
                    for port in ns.links where port.master == l.name && !linkIsOurs(port, in: ns) {
                        out.append(ForeignObject(res, .port, in: ns.ref, describe(port)))
                    }
                }
            }
        }
        return out
    }
}
