/// A file netform writes for a namespace it created, under `/etc/netns/NAME/`.
///
/// Why it exists: a container must resolve its peers by name and use a resolver it
/// can reach, as on Docker's user-defined networks. iproute2's convention does it
/// without a daemon: `ip netns exec NAME` (and `netform exec`, which goes through
/// it) bind-mounts each file of `/etc/netns/NAME/` over `/etc/` in the command's
/// own mount namespace. The files are state like links: compiled from the spec,
/// read back by `plan`, diffed, written and removed by steps that roll back.
///
/// Ownership is in the file itself, as for every other object: its first line is
/// `# netform:PROJECT/etc …`. A file there without that mark (someone's own) is
/// foreign: `plan` reports a conflict and never overwrites it. The directory is the
/// namespace's name, so a file outlives its namespace (`ip netns delete` leaves it)
/// and is still recognised, and removed, by its mark.
public struct NamespaceFile: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Where iproute2 looks.
    public static let directory = "/etc/netns"
    /// The files netform writes and reads back; nothing else under the directory is
    /// ever touched.
    public static let managedNames = ["hosts", "resolv.conf"]

    /// The namespace's name (the directory under `/etc/netns`).
    public var namespace: String
    /// `hosts` or `resolv.conf`.
    public var name: String
    /// The whole file, mark line included.
    public var content: String {
        didSet { project = Self.project(of: content) }
    }
    /// The project whose mark opens the file; nil for a file netform did not write.
    /// Parsed once from the content (kept with it, as a link's owner is with its
    /// alias: the planner asks for every file several times).
    public private(set) var project: String?

    public init(namespace: String, name: String, content: String) {
        self.namespace = namespace
        self.name = name
        self.content = content
        self.project = Self.project(of: content)
    }

    enum CodingKeys: String, CodingKey { case namespace, name, content }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(namespace: try c.decode(String.self, forKey: .namespace), name: try c.decode(String.self, forKey: .name),
                  content: try c.decode(String.self, forKey: .content))
    }

    public var path: String { "\(Self.directory)/\(namespace)/\(name)" }
    public var description: String { path }

    /// The first line of a file netform writes for `project`.
    public static func markLine(project: String) -> String {
        "# \(OwnerMark.prefix)\(project)/etc: written by netform for the project's containers; edits are overwritten"
    }

    /// The project named by `content`'s mark line, if it has one.
    /// On the UTF-8 bytes, which the mark's are: walking the first line by
    /// `Character` was a tenth of a no-op plan's observe at 1000 containers.
    static func project(of content: String) -> String? {
        // `# netform:PROJECT/etc: …`
        let utf8 = content.utf8
        guard utf8.starts(with: markPrefix) else { return nil }
        let body = utf8.dropFirst(markPrefix.count)
        guard let end = body.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\n") }), end != body.startIndex,
              body[end] == UInt8(ascii: "/"), body[body.index(after: end)...].starts(with: "etc:".utf8) else { return nil }
        return String(Substring(body[..<end]))
    }

    private static let markPrefix = Array(("# " + OwnerMark.prefix).utf8)

    /// The number of lines, for plan summaries and messages: what `split(separator:
    /// "\n", omittingEmptySubsequences: false)` counts, less a last empty line after a
    /// final newline, counted on the bytes without making the lines (a hosts file
    /// names every peer of its networks, 500 lines at 500 containers a network). A
    /// line feed right after a carriage return is no separator there (`"\r\n"` is one
    /// `Character`), so it is none here either.
    public var lineCount: Int {
        var text = content
        return text.withUTF8 { bytes in
            var separators = 0
            var previous: UInt8 = 0
            for byte in bytes {
                if byte == 0x0A && previous != 0x0D { separators += 1 }
                previous = byte
            }
            let endsWithSeparator = bytes.last == 0x0A && (bytes.count < 2 || bytes[bytes.count - 2] != 0x0D)
            return separators + 1 - (endsWithSeparator ? 1 : 0)
        }
    }

    /// Identifies the file whatever its content.
    public var key: String { "\(namespace)/\(name)" }
}

extension Array where Element == NamespaceFile {
    /// The files in the order of their keys (`namespace/name`), each key made once.
    ///
    /// Why it exists: `key` builds a string, and a comparator that calls it builds
    /// two a comparison; the 100,000 files of 50,000 containers took millions.
    public func sortedByKey() -> [NamespaceFile] {
        var keyed = map { (key: $0.key, file: $0) }
        keyed.sort { $0.key < $1.key }
        return keyed.map(\.file)
    }
}
