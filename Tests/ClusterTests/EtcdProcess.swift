import Foundation
import Glibc
import TestSupport

/// A real etcd (Debian's `/usr/bin/etcd`, 3.4) started by a test: one member or a
/// cluster, on 127.0.0.1 ports picked free for this test alone, data in a temporary
/// directory of its own, so tests run in parallel. Stopped by PID (SIGTERM, then
/// waited for) and its directory removed in `stop()` or deinit; a member can be
/// killed by PID to test failover.
final class EtcdProcess: @unchecked Sendable {
    struct Member {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var process: Process
    }

    /// Client-side TLS material for an `etcds://` cluster (made by `TestCertificates`).
    struct ServerTLS {
        var caFile: String
        var certFile: String
        var keyFile: String
    }

    static let binary = "/usr/bin/etcd"
    static let etcdctl = "/usr/bin/etcdctl"

    let directory: URL
    private(set) var members: [Member] = []
    let tls: ServerTLS?
    private var stopped = false

    /// `127.0.0.1:PORT,…` of every member's client port, for `--cluster-store`.
    var endpoints: String { members.map { "127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }
    var url: String { (tls == nil ? "etcd://" : "etcds://") + endpoints }

    /// Starts `count` members and waits until the cluster is healthy (a leader, all
    /// members answering). `extra` is appended to every member's arguments.
    init(members count: Int = 1, tls: ServerTLS? = nil, extra: [String] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw Failure("\(Self.binary) is missing: install etcd-server (Scripts/install-deps)")
        }
        self.tls = tls
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("netform-etcd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let ports = try Self.freePorts(2 * count)
            let names = (0..<count).map { "m\($0)" }
            let cluster = names.enumerated().map { "\($1)=http://127.0.0.1:\(ports[2 * $0 + 1])" }.joined(separator: ",")
            let scheme = tls == nil ? "http" : "https"
            for (i, name) in names.enumerated() {
                let client = ports[2 * i], peer = ports[2 * i + 1]
                var args = [
                    "--name", name, "--data-dir", directory.appendingPathComponent(name).path,
                    "--listen-client-urls", "\(scheme)://127.0.0.1:\(client)",
                    "--advertise-client-urls", "\(scheme)://127.0.0.1:\(client)",
                    "--listen-peer-urls", "http://127.0.0.1:\(peer)",
                    "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", directory.lastPathComponent,
                    "--logger", "zap", "--log-outputs", "stderr",
                ]
                if let tls {
                    args += ["--cert-file", tls.certFile, "--key-file", tls.keyFile,
                             "--trusted-ca-file", tls.caFile, "--client-cert-auth"]
                }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: Self.binary)
                p.arguments = args + extra
                let log = directory.appendingPathComponent("\(name).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                let handle = try FileHandle(forWritingTo: log)
                p.standardOutput = handle
                p.standardError = handle
                p.standardInput = FileHandle.nullDevice
                try p.run()
                try? handle.close()
                members.append(Member(name: name, clientPort: client, peerPort: peer, process: p))
            }
            try waitHealthy(members: members.indices)
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// etcdctl's TLS and endpoint flags for these members.
    func ctlArguments(_ indices: some Sequence<Int>) -> [String] {
        let scheme = tls == nil ? "http" : "https"
        var args = ["--endpoints=" + indices.map { "\(scheme)://127.0.0.1:\(members[$0].clientPort)" }.joined(separator: ","),
                    "--dial-timeout=2s", "--command-timeout=3s"]
        if let tls { args += ["--cacert=\(tls.caFile)", "--cert=\(tls.certFile)", "--key=\(tls.keyFile)"] }
        return args
    }

    /// Runs etcdctl (API v3) against every live member; throws with its output on failure.
    @discardableResult
    func ctl(_ arguments: [String]) throws -> String {
        let live = members.indices.filter { members[$0].process.isRunning }
        let out = try TestSupport.run(URL(fileURLWithPath: Self.etcdctl), ctlArguments(live) + arguments,
                                      environment: ["ETCDCTL_API": "3"])
        guard out.status == 0 else { throw Failure("etcdctl \(arguments.joined(separator: " ")): \(out.stderr)\(out.stdout)") }
        return out.stdout
    }

    /// Polls `etcdctl endpoint health` until every given member answers (10 s at most).
    func waitHealthy(members indices: some Collection<Int>) throws {
        let deadline = Date().addingTimeInterval(15)
        var last = ""
        while Date() < deadline {
            for i in indices where !members[i].process.isRunning {
                throw Failure("etcd \(members[i].name) exited (\(members[i].process.terminationStatus)): \(logTail(i))")
            }
            let out = try TestSupport.run(URL(fileURLWithPath: Self.etcdctl), ctlArguments(indices) + ["endpoint", "health"],
                                          environment: ["ETCDCTL_API": "3"])
            if out.status == 0 { return }
            last = out.stderr + out.stdout
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Failure("etcd did not become healthy in 15 s: \(last)\n\(logTail(indices.first ?? 0))")
    }

    /// Kills one member with SIGKILL, by its PID, and waits for it to be gone.
    func kill(member i: Int) {
        let p = members[i].process
        guard p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// Stops every member by PID (SIGTERM; SIGKILL after 5 s), then removes the data.
    func stop() {
        guard !stopped else { return }
        stopped = true
        for m in members where m.process.isRunning {
            Glibc.kill(m.process.processIdentifier, SIGTERM)
        }
        for m in members {
            let deadline = Date().addingTimeInterval(5)
            while m.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if m.process.isRunning { Glibc.kill(m.process.processIdentifier, SIGKILL) }
            m.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    func logTail(_ i: Int) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("\(members[i].name).log"), encoding: .utf8)) ?? ""
        return String(text.suffix(1500))
    }

    /// Ports the kernel hands out for 127.0.0.1, all held open together so they are
    /// distinct, then released for etcd to bind.
    static func freePorts(_ n: Int) throws -> [Int] {
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        var ports: [Int] = []
        for _ in 0..<n {
            let (fd, port) = try listener(backlog: 0)
            fds.append(fd)
            ports.append(port)
        }
        return ports
    }

    /// A TCP socket bound to 127.0.0.1 on a free port and listening: the kernel
    /// completes connections into its backlog, and nobody ever answers (a member
    /// that hangs). The caller closes the descriptor.
    static func listener(backlog: Int32 = 16) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok, listen(fd, backlog) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw Failure("bind/listen on 127.0.0.1: \(message)")
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}

/// A CA, a server certificate for 127.0.0.1 (also for client use: etcd 3.4's JSON
/// gateway dials its own client port with it) and a client certificate, made with
/// openssl in a temporary directory (removed with `remove()`); plus a second CA and
/// a client certificate it signed, which the server must refuse.
struct TestCertificates {
    let directory: URL
    var ca: String { path("ca.crt") }
    var serverCert: String { path("server.crt") }
    var serverKey: String { path("server.key") }
    var clientCert: String { path("client.crt") }
    var clientKey: String { path("client.key") }
    var strangerCert: String { path("stranger.crt") }
    var strangerKey: String { path("stranger.key") }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("netform-certs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(directory.path)'
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
            ca() { key "$1.key"; openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 1 -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE; }
            leaf() { # name CN ca extensions
              key "$1.key"
              openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
              printf '%s\\n' "$4" > "$1.ext"
              openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -out "$1.crt" -days 1 -extfile "$1.ext" 2>/dev/null
            }
            ca ca netform-test-ca
            ca other netform-other-ca
            leaf server 127.0.0.1 ca "subjectAltName=IP:127.0.0.1
            extendedKeyUsage=serverAuth,clientAuth"
            leaf client netform-host ca "extendedKeyUsage=clientAuth"
            leaf stranger netform-stranger other "extendedKeyUsage=clientAuth"
            """
        let out = try TestSupport.sh(script)
        guard out.status == 0 else { throw EtcdProcess.Failure("openssl: \(out.stderr)") }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
