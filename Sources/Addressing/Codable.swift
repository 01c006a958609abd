// Addresses encode as their text form ("172.17.0.2", "fd00::1", "10.0.0.0/24",
// "02:42:ac:11:00:02"): plans and `show --json` output stay readable and match `ip -j`.

private func decodeText<T>(_ decoder: any Decoder, _ what: String, _ parse: (String) -> T?) throws -> T {
    let c = try decoder.singleValueContainer()
    let s = try c.decode(String.self)
    guard let v = parse(s) else {
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not \(what)")
    }
    return v
}

private func encodeText(_ encoder: any Encoder, _ text: String) throws {
    var c = encoder.singleValueContainer()
    try c.encode(text)
}

extension IPv4Address: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, "an IPv4 address") { IPv4Address($0) } }
    public func encode(to encoder: any Encoder) throws { try encodeText(encoder, description) }
}

extension IPv6Address: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, "an IPv6 address") { IPv6Address($0) } }
    public func encode(to encoder: any Encoder) throws { try encodeText(encoder, description) }
}

extension IPAddress: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, "an IP address") { IPAddress($0) } }
    public func encode(to encoder: any Encoder) throws { try encodeText(encoder, description) }
}

extension IPNetwork: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, "a CIDR subnet") { IPNetwork($0) } }
    public func encode(to encoder: any Encoder) throws { try encodeText(encoder, description) }
}

extension MACAddress: Codable {
    public init(from decoder: any Decoder) throws { self = try decodeText(decoder, "a MAC address") { MACAddress($0) } }
    public func encode(to encoder: any Encoder) throws { try encodeText(encoder, description) }
}

extension IPFamily: Codable {}
