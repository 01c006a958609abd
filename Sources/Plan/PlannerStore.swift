import Model

/// The cluster store as state: the keys this host must hold (its registration, the
/// overlay networks it uses, its address claims and endpoints) are compared with the
/// keys the store has, and the difference becomes plan steps with inverses, rolled
/// back with everything else. Only this host's keys are changed or deleted (a record
/// names its host); a network definition is created if absent and never deleted by
/// one host; another host's claim on an address we want is a conflict. The claims
/// and endpoints of a host whose registration is gone (its lease expired) are
/// collected by whichever host reconciles next, guarded by that absence.
extension PlanBuilder {
    func storeResource(_ key: String) -> Resource {
        switch StoreLayout.parse(key, project: project) {
        case .network(let n)?, .claim(let n, _)?, .endpoint(let n, _)?: Resource(.network, n)
        default: Resource(.host, "cluster")
        }
    }

    static func short(_ key: String, project: String) -> String {
        String(key.dropFirst(StoreLayout.prefix(project: project).count))
    }

    /// Registration, network definitions and claims: before any kernel change, so an
    /// address another host claimed meanwhile stops the apply before it is used.
    mutating func claimInStore() {
        guard let mine = desired.storeHost else { return }
        let want = desired.state[.host]?.clusterStore ?? [:]
        let have = observed[.host]?.clusterStore ?? [:]
        // The registration first: another host that reads the store between two of
        // these steps sees this host's claims only with the host registered, and so
        // never collects them as a vanished host's.
        func isHost(_ key: String) -> Bool { if case .host? = StoreLayout.parse(key, project: project) { true } else { false } }
        for (key, value) in want.sorted(by: { (isHost($0.key) ? 0 : 1, $0.key) < (isHost($1.key) ? 0 : 1, $1.key) }) {
            let label = Self.short(key, project: project)
            switch StoreLayout.parse(key, project: project) {
            case .network(let n)?:
                if let old = have[key] {
                    if old != value {
                        conflicts.append(Conflict(Resource(.network, n),
                                                  "overlay network \(n) is defined differently in the cluster store: \(old), this spec: \(value)"))
                    }
                    continue
                }
                emit(storeResource(key), .create, .claimStoreKey(key: key, value: value), inverse: [.deleteStoreKey(key: key)],
                     disruption: .none, details: [AttributeChange("store \(label)", old: nil, new: value)])
            case .claim(let n, let address)?:
                if let old = have[key] {
                    let owner = StoreLayout.owner(of: old)
                    if owner != mine {
                        conflicts.append(Conflict(Resource(.network, n), "address \(address) on \(n) is claimed by host \(owner ?? "?") in the cluster store"))
                    } else if old != value {
                        emit(storeResource(key), .update, .putStoreKey(key: key, value: value), inverse: [.putStoreKey(key: key, value: old)],
                             disruption: .none, details: [AttributeChange("store \(label)", old: old, new: value)])
                    }
                    continue
                }
                emit(storeResource(key), .create, .claimStoreKey(key: key, value: value), inverse: [.deleteStoreKey(key: key)],
                     disruption: .none, details: [AttributeChange("store \(label)", old: nil, new: value)])
            case .host?:
                if have[key] == value { continue }
                emit(storeResource(key), have[key] == nil ? .create : .update, .putStoreKey(key: key, value: value),
                     inverse: [have[key].map { .putStoreKey(key: key, value: $0) } ?? .deleteStoreKey(key: key)],
                     disruption: .none, details: [AttributeChange("store \(label)", old: have[key], new: value)])
            default:
                continue
            }
        }
    }

    /// Endpoint records (once the kernel objects exist) and the removal of this
    /// host's keys the spec no longer has.
    mutating func publishInStore() {
        guard let mine = desired.storeHost else { return }
        let want = desired.state[.host]?.clusterStore ?? [:]
        let have = observed[.host]?.clusterStore ?? [:]
        for (key, value) in want.sorted(by: { $0.key < $1.key }) {
            guard case .endpoint? = StoreLayout.parse(key, project: project), have[key] != value else { continue }
            emit(storeResource(key), have[key] == nil ? .create : .update, .putStoreKey(key: key, value: value),
                 inverse: [have[key].map { .putStoreKey(key: key, value: $0) } ?? .deleteStoreKey(key: key)],
                 disruption: .none, details: [AttributeChange("store \(Self.short(key, project: project))", old: have[key], new: value)])
        }
        // A host that leaves (destroy) removes its own keys and nothing else.
        let leaving = want[StoreLayout.host(project: project, host: mine)] == nil
        for (key, value) in have.sorted(by: { $0.key < $1.key }) where want[key] == nil {
            let ours: Bool
            switch StoreLayout.parse(key, project: project) {
            case .host(let h)?: ours = h == mine
            case .claim?, .endpoint?:
                let owner = StoreLayout.owner(of: value)
                ours = owner == mine
                if !leaving, let owner, owner != mine, case let registration = StoreLayout.host(project: project, host: owner), have[registration] == nil {
                    // A vanished host's garbage (no registration: its lease expired).
                    emit(storeResource(key), .delete, .collectStoreKey(key: key, whileAbsent: registration), inverse: [.putStoreKey(key: key, value: value)],
                         disruption: .none, details: [AttributeChange("store \(Self.short(key, project: project)) (host \(owner) is gone)", old: value, new: nil)])
                }
            default: ours = false
            }
            guard ours else { continue }
            emit(storeResource(key), .delete, .deleteStoreKey(key: key), inverse: [.putStoreKey(key: key, value: value)],
                 disruption: .destroy, details: [AttributeChange("store \(Self.short(key, project: project))", old: value, new: nil)])
        }
    }
}
