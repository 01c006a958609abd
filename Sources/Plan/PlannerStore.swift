import Model

/// The cluster store as state: the keys this host must hold (its registration, the
/// overlay networks it uses, its address claims and endpoints) are compared with the
/// keys the store has, and the difference becomes plan steps with inverses, rolled
/// back with everything else. Only this host's keys are changed or deleted (a record
/// names its host); a network definition is created if absent and never deleted by
/// one host; another host's claim on an address we want is a conflict. The claims
/// and endpoints of a host whose registration is gone (its lease expired) are
/// collected by whichever host reconciles next, guarded by that absence.
///
/// Claims, endpoints and the removal of this host's own keys are written in
/// transactions of up to `StoreTransaction.maxKeys` keys per network (one step each):
/// a handful of round trips per apply, not one per container.
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

    /// One step per chunk of a network's keys: `make` builds the operation and its
    /// inverse from a chunk.
    mutating func emitBatched(_ keys: [String], _ change: ChangeKind, disruption: Disruption,
                              details: (String) -> AttributeChange,
                              _ make: ([String]) -> (StoreTransaction, StoreTransaction)) {
        var byResource: [Resource: [String]] = [:]
        for k in keys { byResource[storeResource(k), default: []].append(k) }
        for resource in byResource.keys.sorted() {
            let all = byResource[resource]!
            for start in stride(from: 0, to: all.count, by: StoreTransaction.maxKeys) {
                let chunk = Array(all[start..<min(start + StoreTransaction.maxKeys, all.count)])
                let (op, inverse) = make(chunk)
                emit(resource, change, .storeTransaction(op), inverse: [.storeTransaction(inverse)], disruption: disruption,
                     details: chunk.map(details))
            }
        }
    }

    /// Registration, network definitions and claims: before any kernel change, so an
    /// address another host claimed meanwhile stops the apply before it is used.
    mutating func claimInStore() {
        guard let mine = desired.storeHost else { return }
        let want = desired.state[.host]?.clusterStore ?? [:]
        let have = observed[.host]?.clusterStore ?? [:]
        let project = project
        // The registration first: another host that reads the store between two of
        // these steps sees this host's claims only with the host registered, and so
        // never collects them as a vanished host's.
        func isHost(_ key: String) -> Bool { if case .host? = StoreLayout.parse(key, project: project) { true } else { false } }
        var newClaims: [String] = []
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
                newClaims.append(key)
            case .host?:
                if have[key] == value { continue }
                emit(storeResource(key), have[key] == nil ? .create : .update, .putStoreKey(key: key, value: value),
                     inverse: [have[key].map { .putStoreKey(key: key, value: $0) } ?? .deleteStoreKey(key: key)],
                     disruption: .none, details: [AttributeChange("store \(label)", old: have[key], new: value)])
            default:
                continue
            }
        }
        // Claims: create-if-absent, all of a chunk or none.
        emitBatched(newClaims, .create, disruption: .none,
                    details: { AttributeChange("store \(Self.short($0, project: project))", old: nil, new: want[$0]) }) { chunk in
            (StoreTransaction(creates: chunk.map { .init(key: $0, value: want[$0]!) }), StoreTransaction(deletes: chunk))
        }
    }

    /// Endpoint records (once the kernel objects exist) and the removal of this
    /// host's keys the spec no longer has.
    mutating func publishInStore() {
        guard let mine = desired.storeHost else { return }
        let want = desired.state[.host]?.clusterStore ?? [:]
        let have = observed[.host]?.clusterStore ?? [:]
        let project = project
        let endpoints = want.keys.sorted().filter { key in
            guard case .endpoint? = StoreLayout.parse(key, project: project) else { return false }
            return have[key] != want[key]
        }
        emitBatched(endpoints.filter { have[$0] == nil }, .create, disruption: .none,
                    details: { AttributeChange("store \(Self.short($0, project: project))", old: nil, new: want[$0]) }) { chunk in
            (StoreTransaction(puts: chunk.map { .init(key: $0, value: want[$0]!) }), StoreTransaction(deletes: chunk))
        }
        emitBatched(endpoints.filter { have[$0] != nil }, .update, disruption: .none,
                    details: { AttributeChange("store \(Self.short($0, project: project))", old: have[$0], new: want[$0]) }) { chunk in
            (StoreTransaction(puts: chunk.map { .init(key: $0, value: want[$0]!) }), StoreTransaction(puts: chunk.map { .init(key: $0, value: have[$0]!) }))
        }
        // A host that leaves (destroy) removes its own keys and nothing else.
        let leaving = want[StoreLayout.host(project: project, host: mine)] == nil
        var ownGone: [String] = []
        var registration: String?
        for (key, value) in have.sorted(by: { $0.key < $1.key }) where want[key] == nil {
            switch StoreLayout.parse(key, project: project) {
            case .host(let h)?:
                if h == mine { registration = key }
            case .claim?, .endpoint?:
                let owner = StoreLayout.owner(of: value)
                if owner == mine {
                    ownGone.append(key)
                } else if !leaving, let owner, case let guardKey = StoreLayout.host(project: project, host: owner), have[guardKey] == nil {
                    // A vanished host's garbage (no registration: its lease expired).
                    emit(storeResource(key), .delete, .collectStoreKey(key: key, whileAbsent: guardKey), inverse: [.putStoreKey(key: key, value: value)],
                         disruption: .none, details: [AttributeChange("store \(Self.short(key, project: project)) (host \(owner) is gone)", old: value, new: nil)])
                }
            default:
                continue
            }
        }
        emitBatched(ownGone, .delete, disruption: .destroy,
                    details: { AttributeChange("store \(Self.short($0, project: project))", old: have[$0], new: nil) }) { chunk in
            (StoreTransaction(deletes: chunk), StoreTransaction(puts: chunk.map { .init(key: $0, value: have[$0]!) }))
        }
        // The registration last: the host leaves the cluster once its keys are gone.
        if let key = registration, let value = have[key] {
            emit(storeResource(key), .delete, .deleteStoreKey(key: key), inverse: [.putStoreKey(key: key, value: value)],
                 disruption: .destroy, details: [AttributeChange("store \(Self.short(key, project: project))", old: value, new: nil)])
        }
    }
}
