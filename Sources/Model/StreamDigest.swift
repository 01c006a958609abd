/// Two streaming 64-bit hashes (FNV-1a and a multiplicative one) over a sequence of
/// strings, each string's UTF-8 bytes followed by `0xff`: what a plan's fingerprint
/// of the host state is made of.
///
/// Why it exists: the fingerprint digests every link, address, route and firewall
/// rule of the namespaces a plan depends on (a 322-rule table is ~30,000 strings);
/// fed through a closure one byte at a time that was most of its cost. Fed here, the
/// bytes are read from the string's storage in place and the state stays in two
/// integers. The same strings in the same order give the same digest as before.
public struct StreamDigest: Sendable {
    private var h: UInt64 = 0xcbf2_9ce4_8422_2325
    private var h2: UInt64 = 0x8422_2325_cbf2_9ce4

    public init() {}

    /// Feeds `s`'s UTF-8 bytes, then the separator.
    public mutating func feed(_ s: String) {
        var s = s
        let (a, b) = s.withUTF8 { Self.mix(h, h2, $0) }
        h = (a ^ 0xff) &* 0x100_0000_01b3
        h2 = (b &+ 0xff) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Both hashes after `bytes` (no state captured: the loop keeps them in registers).
    private static func mix(_ h: UInt64, _ h2: UInt64, _ bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
        var a = h, b = h2
        for x in bytes {
            a = (a ^ UInt64(x)) &* 0x100_0000_01b3
            b = (b &+ UInt64(x)) &* 0x9E37_79B9_7F4A_7C15
        }
        return (a, b)
    }

    /// Feeds a one-byte string (`"["`, `"s"`, …): the same as `feed(String(ascii))`.
    public mutating func feed(ascii: UInt8) {
        h = (((h ^ UInt64(ascii)) &* 0x100_0000_01b3) ^ 0xff) &* 0x100_0000_01b3
        h2 = (((h2 &+ UInt64(ascii)) &* 0x9E37_79B9_7F4A_7C15) &+ 0xff) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Both hashes as 32 hexadecimal digits.
    public var hex: String {
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(h) + hex(h2)
    }
}
