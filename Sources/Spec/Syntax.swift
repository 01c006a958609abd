import Addressing

/// Why a small piece of spec syntax (a port, a selector) was refused.
/// Why a value written in the spec's own small syntaxes (ports, ranges, selectors)
/// does not parse; `import` reads netform's rule comments back with the same parsers.
public struct SyntaxError: Error, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

func isValidProjectName(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard (1...32).contains(bytes.count) else { return false }
    func ok(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
    return ok(bytes[0]) && bytes.allSatisfy { ok($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
}

func isValidObjectName(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard (1...64).contains(bytes.count) else { return false }
    func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) }
    return alnum(bytes[0]) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
}

/// RFC 1123 host names: dot-separated labels of letters, digits and '-', each 1-63
/// characters, not starting or ending with '-'; 253 characters at most.
func isValidHostName(_ s: String) -> Bool {
    guard (1...253).contains(s.utf8.count) else { return false }
    for label in s.split(separator: ".", omittingEmptySubsequences: false) {
        let b = Array(label.utf8)
        guard (1...63).contains(b.count), b.first != UInt8(ascii: "-"), b.last != UInt8(ascii: "-") else { return false }
        guard b.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }) else { return false }
    }
    return true
}

/// What the kernel would refuse about an interface name (`dev_valid_name`), or nil.
public func deviceNameProblem(_ s: String) -> String? {
    let n = s.utf8.count
    if n == 0 { return "is empty" }
    if n > 15 { return "is \(n) bytes long; the kernel allows at most 15" }
    if s == "." || s == ".." { return "cannot be '.' or '..'" }
    for b in s.utf8 {
        if b == UInt8(ascii: "/") || b == UInt8(ascii: ":") { return "contains '\(Character(Unicode.Scalar(b)))', which the kernel refuses in interface names" }
        if b == 32 || (9...13).contains(b) { return "contains whitespace, which the kernel refuses in interface names" }
        if b == UInt8(ascii: "%") { return "contains '%', which the kernel reads as a numbering template (eth%d)" }
        if b < 32 || b > 126 { return "must be printable ASCII" }
    }
    return nil
}

/// Why `a` cannot be a host's address in `subnet` (outside, network or broadcast
/// address), or nil.
func hostAddressProblem(_ a: IPAddress, in subnet: IPNetwork) -> String? {
    guard subnet.contains(a) else { return "is outside subnet \(subnet)" }
    if a == subnet.network { return "is the network address of \(subnet)" }
    if subnet.family == .v4, a == subnet.last { return "is the broadcast address of \(subnet)" }
    return nil
}

/// A stable 64-bit FNV-1a hash: default names and VNIs must be the same on every
/// host and every run, which Swift's seeded `Hasher` is not.
func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return h
}

/// `nf-` and 12 hex digits: 15 bytes, the kernel's limit.
public func defaultBridgeName(project: String, network: String) -> String {
    let hex = String(stableHash("\(project)/\(network)") >> 16, radix: 16)
    return "nf-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
}

/// A VNI in 4096...16777215 derived from the names (Docker starts at 4096 too).
public func defaultVNI(project: String, network: String) -> UInt32 {
    4096 + UInt32(stableHash("vni:\(project)/\(network)") % UInt64(16_777_215 - 4096 + 1))
}

private func parsePort(_ s: Substring, what: String) -> Result<UInt16, SyntaxError> {
    guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int(s), (1...65535).contains(v) else {
        return .failure(SyntaxError("\(what) '\(s)' must be a number from 1 to 65535"))
    }
    return .success(UInt16(v))
}

private func parseTransport(_ s: Substring) -> Result<TransportProtocol, SyntaxError> {
    guard let p = TransportProtocol(rawValue: String(s)) else {
        return .failure(SyntaxError("unknown protocol '\(s)'; expected tcp, udp or sctp"))
    }
    return .success(p)
}

/// Splits a trailing `/PROTO` (default tcp) off a port spec.
private func splitProtocol(_ text: String) -> Result<(Substring, TransportProtocol), SyntaxError> {
    let rest = Substring(text)
    guard let slash = rest.lastIndex(of: "/") else { return .success((rest, .tcp)) }
    return parseTransport(rest[rest.index(after: slash)...]).map { (rest[..<slash], $0) }
}

/// `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]`, IPv6 host IPs in brackets.
public func parsePublishedPort(_ text: String) -> Result<PublishedPort, SyntaxError> {
    var rest: Substring
    let proto: TransportProtocol
    switch splitProtocol(text) {
    case .success(let p): (rest, proto) = p
    case .failure(let e): return .failure(e)
    }
    var hostIP: IPAddress?
    if rest.hasPrefix("[") {
        guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
            return .failure(SyntaxError("an IPv6 host address is written in brackets: [::1]:8080:80"))
        }
        let inner = rest[rest.index(after: rest.startIndex)..<close]
        guard let a = IPv6Address(inner) else { return .failure(SyntaxError("'\(inner)' is not an IPv6 address")) }
        hostIP = .v6(a)
        rest = rest[rest.index(close, offsetBy: 2)...]
    }
    let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
    let hostPart: Substring
    let containerPart: Substring
    switch parts.count {
    case 2:
        hostPart = parts[0]
        containerPart = parts[1]
    case 3 where hostIP == nil:
        guard let a = IPv4Address(parts[0]) else {
            return .failure(SyntaxError("'\(parts[0])' is not an IPv4 address (IPv6 goes in brackets)"))
        }
        hostIP = .v4(a)
        hostPart = parts[1]
        containerPart = parts[2]
    case 1:
        return .failure(SyntaxError("give both ports, HOST_PORT:CONTAINER_PORT (netform does not pick random host ports)"))
    default:
        return .failure(SyntaxError("expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp]"))
    }
    let hp: UInt16
    let cp: UInt16
    switch parsePort(hostPart, what: "host port") {
    case .success(let v): hp = v
    case .failure(let e): return .failure(e)
    }
    switch parsePort(containerPart, what: "container port") {
    case .success(let v): cp = v
    case .failure(let e): return .failure(e)
    }
    return .success(PublishedPort(hostIP: hostIP, hostPort: hp, containerPort: cp, proto: proto))
}

/// `PORT[/PROTO]` or `PORT-PORT[/PROTO]`.
public func parsePortRange(_ text: String) -> Result<PortRange, SyntaxError> {
    let rest: Substring
    let proto: TransportProtocol
    switch splitProtocol(text) {
    case .success(let p): (rest, proto) = p
    case .failure(let e): return .failure(e)
    }
    let bounds = rest.split(separator: "-", omittingEmptySubsequences: false)
    guard bounds.count <= 2 else { return .failure(SyntaxError("expected PORT or PORT-PORT")) }
    var values: [UInt16] = []
    for b in bounds {
        switch parsePort(b, what: "port") {
        case .success(let v): values.append(v)
        case .failure(let e): return .failure(e)
        }
    }
    let lower = values[0]
    let upper = values.count == 2 ? values[1] : lower
    guard lower <= upper else { return .failure(SyntaxError("range \(lower)-\(upper) is reversed")) }
    return .success(PortRange(lower: lower, upper: upper, proto: proto))
}

/// `any`, a container name, `network:NAME` or `label:KEY=VALUE`.
public func parseSelector(_ text: String) -> Result<Selector, SyntaxError> {
    if text == "any" || text == "*" { return .success(.any) }
    if text.hasPrefix("network:") {
        let n = String(text.dropFirst("network:".count))
        guard isValidObjectName(n) else { return .failure(SyntaxError("'network:' needs a network name")) }
        return .success(.network(n))
    }
    if text.hasPrefix("label:") {
        let body = text.dropFirst("label:".count)
        guard let eq = body.firstIndex(of: "="), eq != body.startIndex else {
            return .failure(SyntaxError("a label selector is label:KEY=VALUE"))
        }
        return .success(.label(key: String(body[..<eq]), value: String(body[body.index(after: eq)...])))
    }
    if text.contains(":") {
        return .failure(SyntaxError("expected a container name, network:NAME, label:KEY=VALUE or any"))
    }
    guard isValidObjectName(text) else { return .failure(SyntaxError("'\(text)' is not a valid container name")) }
    return .success(.container(text))
}
