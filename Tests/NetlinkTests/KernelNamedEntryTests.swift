import Foundation
import Testing
@testable import Netlink

/// What is under /run/netns besides namespaces: placeholders an interrupted create
/// or delete left (reused and removed), and other people's files (never touched).
@Suite("Kernel: /run/netns entries", .enabled(if: KernelSandbox.isActive, "kernel test: run under Scripts/sandbox as root"))
struct KernelNamedEntryTests {
    private func path(_ name: String) -> String { "\(NetworkNamespace.namedDirectory)/\(name)" }

    private func placeholder(_ name: String) throws {
        try NetworkNamespace.prepareNamedDirectory()
        let fd = open(path(name), O_RDONLY | O_CREAT | O_EXCL, 0)
        #expect(fd >= 0)
        close(fd)
    }

    @Test("entries are classified without following symlinks")
    func classification() throws {
        let ns = uniqueName("nse"), ph = uniqueName("nsp"), file = uniqueName("nsf"), link = uniqueName("nsk")
        defer { for n in [ph, file, link] { unlink(path(n)) }; cleanupNamespace(ns) }
        _ = try NetworkNamespace.create(name: ns)
        try placeholder(ph)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: path(file)))
        symlink("/proc/self/ns/net", path(link))
        #expect(NetworkNamespace.entry(name: ns) == .namespace)
        #expect(NetworkNamespace.entry(name: ph) == .placeholder)
        #expect(NetworkNamespace.entry(name: uniqueName("nsa")) == .absent)
        guard case .other(let what) = NetworkNamespace.entry(name: file) else { Issue.record("a data file is foreign"); return }
        #expect(what.contains("regular file of 5 bytes"))
        #expect(NetworkNamespace.entry(name: link) == .other("a symbolic link"))
        #expect(try NetworkNamespace.placeholders(prefix: ph) == [ph])
    }

    @Test("a placeholder is reused by create and removed by delete; a missing name is ENOENT")
    func placeholders() throws {
        let a = uniqueName("nsr"), b = uniqueName("nsd")
        defer { cleanupNamespace(a); unlink(path(b)) }
        try placeholder(a)
        _ = try NetworkNamespace.create(name: a)
        #expect(NetworkNamespace.entry(name: a) == .namespace)
        try placeholder(b)
        try NetworkNamespace.delete(name: b)
        #expect(NetworkNamespace.entry(name: b) == .absent)
        #expect { try NetworkNamespace.delete(name: b) } throws: { ($0 as? NetlinkError)?.errno == ENOENT }
        try placeholder(b)
        #expect(try NetworkNamespace.removePlaceholder(name: b))
        #expect(NetworkNamespace.entry(name: b) == .absent)
    }

    @Test("someone else's file is never reused, unlinked or removed as a placeholder")
    func foreignFiles() throws {
        let f = uniqueName("nsx")
        defer { unlink(path(f)) }
        try NetworkNamespace.prepareNamedDirectory()
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: path(f)))
        #expect { try NetworkNamespace.create(name: f) } throws: { ($0 as? NetlinkError)?.errno == EEXIST }
        #expect { try NetworkNamespace.delete(name: f) } throws: { ($0 as? NetlinkError)?.errno == EEXIST }
        #expect(try !NetworkNamespace.removePlaceholder(name: f))
        #expect(try String(contentsOfFile: path(f), encoding: .utf8) == "mine\n")
        // An empty file with permissions is not a placeholder either.
        let g = uniqueName("nsy")
        defer { unlink(path(g)) }
        _ = FileManager.default.createFile(atPath: path(g), contents: nil, attributes: [.posixPermissions: 0o644])
        #expect(NetworkNamespace.entry(name: g) != .placeholder)
    }
}
