/// Where the etcd cluster is and how to talk to it, parsed from what Docker's users
/// already type: `--cluster-store etcd://HOST:PORT[,HOST:PORT…]` (`etcds://` for
/// TLS) and `--cluster-store-opt KEY=VALUE` (`kv.cacertfile`, `kv.certfile`,
/// `kv.keyfile`, `kv.username`, `kv.password`, `kv.timeout`).
///
/// Why a value of its own: the CLI, the spec's `cluster:` section and the agent all
/// produce one, and every mistake in it is reported before any connection is tried,
/// naming the option and saying why (`EtcdConfigurationError`). Parsing is pure; the
/// files it names are read when `EtcdStore` is made.
public struct EtcdConfiguration: Sendable, Equatable {
    /// One member's client URL: host (a name, an IPv4 address or a bracketed IPv6
    /// address in the URL) and port.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        /// `host:port`, with an IPv6 host in brackets (as in a URL).
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The members to try, in the order given; the next one is tried when one does
    /// not answer (connection refused, timeout, TLS failure, no leader).
    public var endpoints: [Endpoint]
    /// `etcds://`: HTTPS to every endpoint.
    public var tls: Bool
    /// `kv.cacertfile`: the PEM bundle that signed the members' certificates (the
    /// system's trust roots when absent).
    public var caCertificateFile: String?
    /// `kv.certfile` and `kv.keyfile`: this host's client certificate and key (PEM),
    /// for a cluster started with `--client-cert-auth`.
    public var certificateFile: String?
    public var keyFile: String?
    /// `kv.username` and `kv.password`: an etcd user; the store gets a token from
    /// `/v3/auth/authenticate` and sends it as the `Authorization` header.
    public var username: String?
    public var password: String?
    /// `kv.timeout`: seconds one request to one endpoint may take (connect included)
    /// before the next endpoint is tried.
    public var timeout: Double

    /// etcd's client port, used when the URL names none.
    public static let defaultPort = 2379
    /// Seconds, when `kv.timeout` is not given.
    public static let defaultTimeout = 5.0
    /// The options `--cluster-store-opt` understands.
    public static let knownOptions = ["kv.cacertfile", "kv.certfile", "kv.keyfile", "kv.username", "kv.password", "kv.timeout"]

    public init(endpoints: [Endpoint], tls: Bool = false, caCertificateFile: String? = nil, certificateFile: String? = nil,
                keyFile: String? = nil, username: String? = nil, password: String? = nil,
                timeout: Double = EtcdConfiguration.defaultTimeout) {
        self.endpoints = endpoints
        self.tls = tls
        self.caCertificateFile = caCertificateFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.username = username
        self.password = password
        self.timeout = timeout
    }

    /// Parses `--cluster-store URL` and each `--cluster-store-opt KEY=VALUE`.
    public init(clusterStore url: String, options: [String] = []) throws(EtcdConfigurationError) {
        let (tls, endpoints) = try Self.parseURL(url)
        var values: [String: String] = [:]
        for option in options {
            guard let eq = option.firstIndex(of: "=") else {
                throw EtcdConfigurationError("--cluster-store-opt", "'\(option)' is not KEY=VALUE")
            }
            let key = String(option[..<eq]).trimmingSpaces
            let value = String(option[option.index(after: eq)...])
            guard Self.knownOptions.contains(key) else {
                throw EtcdConfigurationError(key.isEmpty ? "--cluster-store-opt" : key,
                    "unknown option (known: \(Self.knownOptions.joined(separator: ", ")))")
            }
            guard values[key] == nil else { throw EtcdConfigurationError(key, "given twice") }
            if value.isEmpty, key != "kv.password" { throw EtcdConfigurationError(key, "empty value") }
            values[key] = value
        }
        var timeout = Self.defaultTimeout
        if let text = values["kv.timeout"] {
            let number = text.hasSuffix("s") ? String(text.dropLast()) : text
            guard let t = Double(number), t.isFinite else {
                throw EtcdConfigurationError("kv.timeout", "'\(text)' is not a number of seconds")
            }
            guard t > 0, t <= 3600 else {
                throw EtcdConfigurationError("kv.timeout", "\(text) s is out of range (more than 0, at most 3600)")
            }
            timeout = t
        }
        let config = EtcdConfiguration(
            endpoints: endpoints, tls: tls, caCertificateFile: values["kv.cacertfile"],
            certificateFile: values["kv.certfile"], keyFile: values["kv.keyfile"],
            username: values["kv.username"], password: values["kv.password"], timeout: timeout)
        try config.validate()
        self = config
    }

    /// Checks the combinations: TLS files only with `etcds://`, a certificate with
    /// its key, a user with a password.
    public func validate() throws(EtcdConfigurationError) {
        if endpoints.isEmpty { throw EtcdConfigurationError("--cluster-store", "no endpoint") }
        if !tls {
            for (option, value) in [("kv.cacertfile", caCertificateFile), ("kv.certfile", certificateFile), ("kv.keyfile", keyFile)]
            where value != nil {
                throw EtcdConfigurationError(option, "TLS files need an etcds:// cluster store (the URL says etcd://, plain HTTP)")
            }
        }
        switch (certificateFile, keyFile) {
        case (.some, nil): throw EtcdConfigurationError("kv.certfile", "needs kv.keyfile (the client certificate's private key)")
        case (nil, .some): throw EtcdConfigurationError("kv.keyfile", "needs kv.certfile (the client certificate it belongs to)")
        default: break
        }
        switch (username, password) {
        case (.some, nil): throw EtcdConfigurationError("kv.username", "needs kv.password")
        case (nil, .some): throw EtcdConfigurationError("kv.password", "needs kv.username")
        default: break
        }
        if !(timeout > 0) { throw EtcdConfigurationError("kv.timeout", "must be more than 0 seconds") }
    }

    /// `etcd://` or `etcds://`, then a comma-separated list of `HOST[:PORT]`.
    static func parseURL(_ url: String) throws(EtcdConfigurationError) -> (tls: Bool, endpoints: [Endpoint]) {
        let option = "--cluster-store"
        guard let sep = url.range(of: "://") else {
            throw EtcdConfigurationError(option, "'\(url)' is not a URL: expected etcd://HOST:PORT[,HOST:PORT…] or etcds://…")
        }
        let scheme = url[..<sep.lowerBound].lowercased()
        let tls: Bool
        switch scheme {
        case "etcd": tls = false
        case "etcds": tls = true
        case "consul", "zk", "zookeeper", "boltdb":
            throw EtcdConfigurationError(option, "'\(scheme)://' is not supported: netform's cluster store is etcd (etcd:// or etcds://)")
        default:
            throw EtcdConfigurationError(option, "unknown scheme '\(scheme)://' (expected etcd:// or etcds://)")
        }
        var rest = Substring(url[sep.upperBound...])
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[slash...]
            guard path == "/" else {
                throw EtcdConfigurationError(option, "a path in the URL ('\(path)') is not supported: netform keeps its keys under its own prefix")
            }
            rest = rest[..<slash]
        }
        if rest.contains("?") || rest.contains("#") || rest.contains("@") {
            throw EtcdConfigurationError(option, "'\(url)': queries, fragments and user info are not supported (use kv.username / kv.password)")
        }
        var endpoints: [Endpoint] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(part).trimmingSpaces
            guard !item.isEmpty else { throw EtcdConfigurationError(option, "'\(url)': an empty endpoint in the list") }
            let endpoint = try parseEndpoint(item)
            if !endpoints.contains(endpoint) { endpoints.append(endpoint) }
        }
        return (tls, endpoints)
    }

    static func parseEndpoint(_ text: String) throws(EtcdConfigurationError) -> Endpoint {
        let option = "--cluster-store"
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw EtcdConfigurationError(option, "'\(text)': unterminated [IPv6 address]")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw EtcdConfigurationError(option, "'\(text)': expected :PORT after ]") }
                portText = after.dropFirst()
            }
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw EtcdConfigurationError(option, "'\(text)': '\(host)' is not an IPv6 address")
            }
        } else {
            let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else {
                throw EtcdConfigurationError(option, "'\(text)': an IPv6 address needs brackets ([::1]:2379)")
            }
            host = pieces[0]
            portText = pieces.count == 2 ? pieces[1] : nil
            let allowed = host.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." || $0 == "_" }
            guard !host.isEmpty, allowed else {
                throw EtcdConfigurationError(option, "'\(text)': '\(host)' is not a host name or address")
            }
        }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw EtcdConfigurationError(option, "'\(text)': port '\(portText)' is not a number from 1 to 65535")
            }
            port = p
        }
        return Endpoint(host: String(host), port: port)
    }
}

/// A cluster-store setting netform cannot use: which option (`--cluster-store`, or a
/// `--cluster-store-opt` key such as `kv.timeout`) and why.
public struct EtcdConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var option: String
    public var reason: String
    public init(_ option: String, _ reason: String) {
        self.option = option
        self.reason = reason
    }
    public var description: String { "\(option): \(reason)" }
}

extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension EtcdConfiguration {
    /// The etcd configuration of a host's `ClusterSettings` (nil for a `file:` store),
    /// checked as strictly as `--cluster-store`/`--cluster-store-opt` themselves: what
    /// `LiveHost` hands to `EtcdStore`.
    public init?(_ settings: ClusterSettings) throws(EtcdConfigurationError) {
        guard case .etcd(let endpoints, let tls) = settings.location else { return nil }
        let url = (tls ? "etcds://" : "etcd://") + endpoints.joined(separator: ",")
        // kv.ttl is the registration's, not the connection's.
        try self.init(clusterStore: url, options: settings.options.filter { $0.key != "kv.ttl" }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" })
    }
}
