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
        if !plan.conflicts.isEmpty {
            for c in plan.conflicts {
                out += paint("error:", .red) + " \(c.resource): \(c.message)\n"
            }
            out += "\n" + paint("Plan refused:", .bold) + " \(plan.conflicts.count) conflict\(plan.conflicts.count == 1 ? "" : "s") (above); nothing will be changed.\n"
            return out
        }
        if plan.steps.isEmpty {
            return "No changes. The host matches the spec (project '\(plan.project)').\n" + unmanaged(plan)
        }
        for (r, overall, steps) in plan.byResource().sorted(by: { $0.resource < $1.resource }) {
            let worst = steps.map(\.disruption).max() ?? .none
            var header = paint(overall.rawValue.padding(3), style(overall)) + " " + paint(r.description, .bold)
            if worst != .none { header += paint("  (\(worst.rawValue))", .dim) }
            out += header + "\n"
            for s in steps {
                for d in s.details {
                    // A firewall change lists rules added and removed, each as its own line.
                    let change: ChangeKind = r.kind == .firewall && s.change == .update
                        ? (d.new == nil ? .delete : d.old == nil ? .create : .update) : s.change
                    out += "      " + paint(change.rawValue.padding(3), style(change)) + " " + describe(d) + "\n"
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
        out += "\n" + paint("Plan:", .bold) + " \(plan.summary).\n"
        return out
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
