import Model

/// Renders a plan for people: grouped by resource, Terraform's symbols (`+`, `~`,
/// `-`, `-/+`), attribute changes and disruption class, and a summary line. Colour
/// is the caller's choice (none when piped or with NO_COLOR).
public struct PlanRenderer: Sendable {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    enum Style: String {
        case green = "32", yellow = "33", red = "31", magenta = "35", bold = "1", dim = "2"
    }

    func paint(_ s: String, _ style: Style) -> String {
        color ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s
    }

    func style(_ c: ChangeKind) -> Style {
        switch c {
        case .create: .green
        case .update: .yellow
        case .delete: .red
        case .replace: .magenta
        }
    }

    public func render(_ plan: Plan) -> String {
        var out = ""
        render(plan) { out += $0 }
        return out
    }

    /// Writes what `render` returns, in pieces of about 64 KiB, without holding the
    /// whole text: a plan of 50,000 containers is 18 MB of it.
    public func render(_ plan: Plan, to write: (String) -> Void) {
        var out = ""
        defer { write(out) }
        if !plan.conflicts.isEmpty {
            for c in plan.conflicts {
                out += paint("error:", .red) + " \(c.resource): \(c.message)\n"
            }
            out += "\n" + paint("Plan refused:", .bold) + " \(plan.conflicts.count) conflict\(plan.conflicts.count == 1 ? "" : "s") (above); nothing will be changed.\n"
            return
        }
        if plan.steps.isEmpty {
            out = "No changes. The host matches the spec (project '\(plan.project)').\n" + unmanaged(plan)
            return
        }
        let groups = plan.resourceGroups().sorted(by: { $0.resource < $1.resource })
        for (r, overall, indices) in groups {
            if out.utf8.count >= 64 * 1024 {
                write(out)
                out = ""
            }
            let steps = indices.lazy.map { plan.steps[$0] }
            var header = paint(overall.rawValue.padding(3), style(overall)) + " " + paint(r.description, .bold)
            if let note = Self.disruptionNote(overall, steps) { header += paint("  (\(note))", .dim) }
            out += header + "\n"
            for s in steps {
                for d in s.details {
                    // A firewall or file change lists rules (lines) added and removed,
                    // each as its own line.
                    let lineWise = s.change == .update && (r.kind == .firewall || s.operation.backend == .files)
                    let change: ChangeKind = lineWise ? (d.new == nil ? .delete : d.old == nil ? .create : .update) : s.change
                    let text = lineWise && s.operation.backend == .files && (d.old == nil) != (d.new == nil)
                        ? "\(d.attribute): \(d.old ?? d.new ?? "")" : describe(d)
                    out += "      " + paint(change.rawValue.padding(3), style(change)) + " " + text + "\n"
                }
                if s.details.isEmpty {
                    out += "      " + paint(s.change.rawValue.padding(3), style(s.change)) + " \(s.operation)\n"
                }
                for f in s.collateral {
                    out += "      " + paint("!".padding(3), .red) + " takes \(f)\n"
                }
            }
        }
        let collateral = plan.steps.reduce(0) { $0 + $1.collateral.count }
        if collateral > 0 {
            out += "\n" + paint("Warning:", .red) + " these steps also take \(collateral) object\(collateral == 1 ? "" : "s") that netform does not own"
                + " with them (marked `!` above: the kernel removes them with the project's namespace or link). Move them first to keep them.\n"
        }
        out += unmanaged(plan)
        out += "\n" + paint("Plan:", .bold) + " \(Plan.summary(of: groups)).\n"
    }

    /// The header's disruption: the worst of the resource's steps. A resource that
    /// stays (`~`, `-/+`) but loses some of its objects — a container moved to
    /// another network loses its old interface — says how many go, rather than
    /// "destroy", which would read as the resource itself going.
    static func disruptionNote(_ overall: ChangeKind, _ steps: some Collection<Step>) -> String? {
        guard overall == .update || overall == .replace else {
            let worst = steps.map(\.disruption).max() ?? .none
            return worst == .none ? nil : worst.rawValue
        }
        let removed = steps.filter { $0.change == .delete || $0.disruption == .destroy }.count
        let worst = steps.filter { !($0.change == .delete || $0.disruption == .destroy) }.map(\.disruption).max() ?? .none
        let parts = (worst == .none ? [] : [worst.rawValue]) + (removed == 0 ? [] : ["\(removed) object\(removed == 1 ? "" : "s") removed"])
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// Foreign objects on or in the project's objects that the plan leaves alone.
    func unmanaged(_ plan: Plan) -> String {
        guard !plan.unmanaged.isEmpty else { return "" }
        var out = "\n" + paint("Unmanaged:", .bold) + " \(plan.unmanaged.count) object\(plan.unmanaged.count == 1 ? "" : "s")"
            + " on or in the project's objects without its mark; netform leaves them alone:\n"
        for f in plan.unmanaged { out += "      " + paint("?".padding(3), .dim) + " \(f.resource): \(f)\n" }
        return out
    }

    func describe(_ d: AttributeChange) -> String {
        switch (d.old, d.new) {
        case (nil, let new?): "\(d.attribute) \(new)"
        case (let old?, nil): "\(d.attribute) \(old)"
        case (let old?, let new?): "\(d.attribute): \(old) → \(new)"
        case (nil, nil): d.attribute
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
