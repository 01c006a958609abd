import Model

extension HostState {
    /// The live objects of one project, for `netform show --project` and for anything
    /// else that must look at a project's objects only.
    ///
    /// Why here and not in the CLI: which objects belong to a project is decided by
    /// the ownership marks, the same rules the planner uses, and every front end must
    /// apply them identically.
    ///
    /// Rules:
    /// - a link belongs to the project when its alias is the project's mark
    ///   (`netform:PROJECT/...`); in a namespace netform created, `lo` carries the mark;
    /// - addresses, static neighbours and FDB entries go with their link;
    /// - a route belongs when it carries netform's protocol (78) and goes over one of
    ///   the project's links, or has no device and lives in a namespace the project
    ///   owns (same rule as the planner);
    /// - a namespace is kept when its `lo` mark is the project's or it holds at least
    ///   one of the project's links (the host namespace, adopted namespaces); its own
    ///   `owner` is kept as observed.
    public func owned(by project: String) -> HostState {
        var out = HostState()
        for ns in namespaces.values {
            let ownsNamespace = ns.owner?.project == project
            let links = ns.links.filter { $0.owner?.project == project }
            guard ownsNamespace || !links.isEmpty else { continue }
            let names = Set(links.map(\.name))
            var kept = NamespaceState(ref: ns.ref, owner: ns.owner, links: links)
            kept.addresses = ns.addresses.filter { names.contains($0.link) }
            kept.routes = ns.routes.filter { r in
                guard r.isOwned else { return false }
                if let d = r.device { return names.contains(d) }
                return ownsNamespace
            }
            kept.neighbours = ns.neighbours.filter { names.contains($0.link) }
            kept.fdb = ns.fdb.filter { names.contains($0.link) }
            out.namespaces[ns.ref] = kept
        }
        return out
    }
}
