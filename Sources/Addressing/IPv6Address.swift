/// An IPv6 address as 128 bits (two 64-bit halves in host order).
///
/// Dual-stack networks need the same arithmetic as IPv4 (contains, offset, next free
/// address) and RFC 5952 text so that plans and `ip -j` output compare equal.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses RFC 4291 text: eight hextets, `::` compression, an optional trailing
    /// dotted IPv4 part. Zone indices (`%eth0`) are refused.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, !s.contains("%") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var parts = [s]
        if let r = s.firstRange(of: "::") {
            parts = [String(s[..<r.lowerBound]), String(s[r.upperBound...])]
            guard !parts[1].contains("::") else { return nil }
        }
        func parseGroups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let groups = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, g) in groups.enumerated() {
                if i == groups.count - 1, allowIPv4Tail, g.contains(".") {
                    guard let v4 = IPv4Address(g) else { return nil }
                    out.append(UInt16(v4.value >> 16))
                    out.append(UInt16(v4.value & 0xffff))
                    continue
                }
                guard (1...4).contains(g.count), let v = UInt16(g, radix: 16),
                      g.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
                out.append(v)
            }
            return out
        }
        if parts.count == 2 {
            guard let h = parseGroups(parts[0], allowIPv4Tail: false),
                  let t = parseGroups(parts[1], allowIPv4Tail: true),
                  h.count + t.count <= 7 else { return nil }
            head = h
            tail = t
        } else {
            guard let h = parseGroups(parts[0], allowIPv4Tail: true), h.count == 8 else { return nil }
            head = h
        }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        self.init(groups: groups)
    }

    init(groups: [UInt16]) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        high = h
        low = l
    }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
    }

    /// Sixteen network-order bytes.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let a = Array(bytes)
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(a[i]) }
        for i in 8..<16 { l = l << 8 | UInt64(a[i]) }
        high = h
        low = l
    }

    /// RFC 5952 canonical text: lowercase, longest run of two or more zero groups
    /// compressed (the first on a tie).
    public var description: String {
        let g = groups
        var bestStart = -1
        var bestLen = 0
        var i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(g[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

@inline(__always)
func isHexDigit(_ b: UInt8) -> Bool {
    (b >= 48 && b <= 57) || (b >= 65 && b <= 70) || (b >= 97 && b <= 102)
}
