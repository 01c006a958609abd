import Addressing
import YAML

/// Checks the rules that span several objects of a decoded spec: references,
/// overlaps, duplicates and capacities. Needs no root and reads no kernel state.
struct SpecValidator {
    /// A Linux bridge refuses its 1024th port ("Exchange full").
    static let maxBridgePorts = 1023

    let spec: Spec
    let marks: SpecMarks
    var sink: DiagnosticSink

    mutating func run() {
        checkNetworks()
        checkContainers()
        checkPorts()
        checkRules()
    }

    mutating func checkNetworks() {
        var devices: [String: String] = [:]
        var vnis: [UInt32: String] = [:]
        var seen: [(IPNetwork, String)] = []
        for net in spec.networks {
            let path = "networks.\(net.name)"
            if net.driver != .macvlan {
                if let other = devices[net.device] {
                    sink.error(marks["\(path).bridge"], "bridge name '\(net.device)' is already used by network '\(other)'")
                }
                devices[net.device] = net.name
            }
            if let vni = net.vni {
                if let other = vnis[vni] {
                    sink.error(marks["\(path).vni"], "duplicate VNI \(vni): network '\(other)' uses it too")
                }
                vnis[vni] = net.name
            }
            for (i, s) in net.subnets.enumerated() {
                let m = marks["\(path).subnets.\(i).subnet"]
                if let (other, owner) = seen.first(where: { $0.0.overlaps(s.subnet) }) {
                    let whose = owner == net.name ? "another subnet of the same network" : "network '\(owner)'"
                    sink.error(m, "subnet \(s.subnet) overlaps \(other) of \(whose)")
                }
                seen.append((s.subnet, net.name))
                for (k, a) in s.auxAddresses where a == s.gateway {
                    sink.error(marks["\(path).subnets.\(i).aux_addresses.\(k)"], "aux address \(a) is the gateway")
                }
            }
        }
    }

    mutating func checkContainers() {
        let networksByName = Dictionary(spec.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        struct Used { var owner: String; var mark: Mark }
        var addresses: [String: [IPAddress: Used]] = [:]
        var macs: [String: [MACAddress: Used]] = [:]
        // In file order, so errors name the first container that does not fit.
        var portsOnBridge: [String: [(container: String, mark: Mark)]] = [:]
        var dynamic: [String: [IPFamily: [(container: String, mark: Mark)]]] = [:]

        for c in spec.containers {
            let cpath = "containers.\(c.name)"
            if c.networking == .host {
                if c.netns != nil { sink.error(marks["\(cpath).netns.key"], "container '\(c.name)' uses the host network and cannot adopt a namespace") }
                continue
            }
            for a in c.attachments {
                let apath = "\(cpath).networks.\(a.network)"
                guard let net = networksByName[a.network] else {
                    if marks.byPath["\(cpath).defaulted"] != nil {
                        sink.error(marks[cpath], "container '\(c.name)' has no 'networks', so it joins Docker's default network 'bridge', which this spec does not define; define it or write `networks: []` for loopback only")
                    } else {
                        let hint = closestMatch(a.network, in: spec.networks.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                        sink.error(marks[apath], "unknown network '\(a.network)' in container '\(c.name)'\(hint)")
                    }
                    continue
                }
                if net.driver != .macvlan {
                    let key = net.driver == .overlay ? "\(net.name)@\(c.host ?? "")" : net.name
                    portsOnBridge[key, default: []].append((c.name, marks[apath]))
                }
                var statics: [(IPAddress, String)] = []
                var ipv4Accepted = false
                if let v4 = a.ipv4 { statics.append((.v4(v4), "ipv4")) }
                if let v6 = a.ipv6 { statics.append((.v6(v6), "ipv6")) }
                for family in IPFamily.allCases where !statics.contains(where: { $0.0.family == family }) {
                    if net.primarySubnet(family) != nil { dynamic[net.name, default: [:]][family, default: []].append((c.name, marks[apath])) }
                }
                for (ip, key) in statics {
                    let m = marks["\(apath).\(key)"]
                    let family = ip.family == .v4 ? "IPv4" : "IPv6"
                    guard let sub = net.subnets.first(where: { $0.subnet.contains(ip) }) else {
                        let subs = net.subnets.filter { $0.subnet.family == ip.family }.map { $0.subnet.description }
                        sink.error(m, subs.isEmpty
                            ? "network '\(net.name)' has no \(family) subnet for \(ip)"
                            : "address \(ip) is outside subnet \(subs.joined(separator: ", ")) of network '\(net.name)'")
                        continue
                    }
                    if let problem = hostAddressProblem(ip, in: sub.subnet) {
                        sink.error(m, "address \(ip) \(problem)")
                    } else if ip == sub.gateway {
                        sink.error(m, "address \(ip) is the gateway of network '\(net.name)'")
                    } else if let aux = sub.auxAddresses.first(where: { $0.value == ip }) {
                        sink.error(m, "address \(ip) is reserved as aux address '\(aux.key)' of network '\(net.name)'")
                    } else if let other = addresses[net.name]?[ip] {
                        sink.error(m, "duplicate address \(ip) on network '\(net.name)': container '\(other.owner)' has it (line \(other.mark.line))")
                    } else {
                        addresses[net.name, default: [:]][ip] = Used(owner: c.name, mark: m)
                        if ip.family == .v4 { ipv4Accepted = true }
                    }
                }
                // A MAC derived from a refused address would only repeat that error.
                let mac = a.mac ?? (ipv4Accepted ? a.ipv4.map { MACAddress(derivedFrom: $0) } : nil)
                if let mac {
                    let m = a.mac != nil ? marks["\(apath).mac"] : marks["\(apath).ipv4"]
                    if let other = macs[net.name]?[mac] {
                        sink.error(m, "duplicate MAC \(mac) on network '\(net.name)': container '\(other.owner)' has it too")
                    } else {
                        macs[net.name, default: [:]][mac] = Used(owner: c.name, mark: m)
                    }
                }
            }
        }
        for net in spec.networks {
            for (key, members) in portsOnBridge.sorted(by: { $0.key < $1.key })
            where members.count > Self.maxBridgePorts && (key == net.name || key.hasPrefix("\(net.name)@")) {
                let first = members[Self.maxBridgePorts]
                let host = key.split(separator: "@", omittingEmptySubsequences: false).dropFirst().first.map { $0.isEmpty ? "" : " on host \($0)" } ?? ""
                sink.error(first.mark, "container '\(first.container)' would be port \(Self.maxBridgePorts + 1) of network '\(net.name)'\(host) (\(members.count) containers); a Linux bridge holds at most \(Self.maxBridgePorts) ports")
            }
            for family in IPFamily.allCases {
                guard let members = dynamic[net.name]?[family], let sub = net.primarySubnet(family) else { continue }
                let free = freeAddresses(sub, used: Set((addresses[net.name] ?? [:]).keys))
                if UInt128(members.count) > free {
                    let first = members[Int(free)]
                    sink.error(first.mark, "no free \(family == .v4 ? "IPv4" : "IPv6") address for container '\(first.container)' on network '\(net.name)': ip_range \(sub.ipRange) has \(free) free for \(members.count) containers")
                }
            }
        }
    }

    /// Addresses IPAM may still hand out from a subnet's `ip_range`.
    func freeAddresses(_ sub: SubnetSpec, used: Set<IPAddress>) -> UInt128 {
        var reserved = Set<IPAddress>([sub.subnet.network, sub.gateway])
        if sub.subnet.family == .v4 { reserved.insert(sub.subnet.last) }
        reserved.formUnion(sub.auxAddresses.values)
        reserved.formUnion(used)
        let inRange = reserved.filter { sub.ipRange.contains($0) }.count
        let size = sub.ipRange.size
        return size > UInt128(inRange) ? size - UInt128(inRange) : 0
    }

    mutating func checkPorts() {
        let networksByName = Dictionary(spec.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        struct Binding: Hashable { var ip: IPAddress; var port: UInt16; var proto: TransportProtocol }
        var bound: [Binding: String] = [:]
        for c in spec.containers where !c.ports.isEmpty {
            let cpath = "containers.\(c.name)"
            if c.networking == .host {
                sink.error(marks["\(cpath).ports.0"], "container '\(c.name)' uses the host network; its ports are already the host's, so 'ports' does nothing")
                continue
            }
            let nets = c.attachments.compactMap { networksByName[$0.network] }
            if c.attachments.isEmpty {
                sink.error(marks["\(cpath).ports.0"], "container '\(c.name)' has no networks, so its ports cannot be published")
                continue
            }
            if !nets.isEmpty, nets.allSatisfy(\.isInternal) {
                let names = nets.map { "'\($0.name)'" }.joined(separator: ", ")
                sink.error(marks["\(cpath).ports.0"], "container '\(c.name)' is only on internal network \(names), so it cannot publish ports")
            }
            let binding = nets.first { !$0.isInternal }?.hostBindingIPv4 ?? IPv4Address(0)
            for (i, p) in c.ports.enumerated() {
                let b = Binding(ip: p.hostIP ?? .v4(binding), port: p.hostPort, proto: p.proto)
                let wildcard: IPAddress = b.ip.family == .v4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0))
                let clash = bound[b] ?? (b.ip == wildcard
                    ? bound.first { $0.key.port == b.port && $0.key.proto == b.proto && $0.key.ip.family == b.ip.family }?.value
                    : bound[Binding(ip: wildcard, port: b.port, proto: b.proto)])
                if let other = clash {
                    sink.error(marks["\(cpath).ports.\(i)"], "host port \(p.hostPort)/\(p.proto.rawValue) on \(b.ip) is already published by container '\(other)'")
                } else {
                    bound[b] = c.name
                }
            }
        }
    }

    mutating func checkRules() {
        let containers = Set(spec.containers.map(\.name))
        let networks = Set(spec.networks.map(\.name))
        for (i, rule) in spec.rules.enumerated() {
            for (side, sel) in [("from", rule.from), ("to", rule.to)] {
                let m = marks["rules.\(i).\(side)"]
                switch sel {
                case .container(let c) where !containers.contains(c):
                    let hint = closestMatch(c, in: Array(containers).sorted()).map { "; did you mean '\($0)'?" } ?? ""
                    sink.error(m, "unknown container '\(c)' in rule \(i + 1)\(hint)")
                case .network(let n) where !networks.contains(n):
                    let hint = closestMatch(n, in: Array(networks).sorted()).map { "; did you mean '\($0)'?" } ?? ""
                    sink.error(m, "unknown network '\(n)' in rule \(i + 1)\(hint)")
                case .label(let k, let v) where !spec.containers.contains(where: { $0.labels[k] == v }):
                    sink.warning(m, "no container has label \(k)=\(v), so rule \(i + 1) matches nothing on this side")
                default:
                    break
                }
            }
        }
    }
}
