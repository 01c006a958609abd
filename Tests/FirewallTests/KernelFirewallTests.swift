import Foundation
import Firewall
import Model
import Netlink
import Testing
import TestSupport

/// Runs a command found on PATH and returns its output (any exit status).
func command(_ args: [String]) throws -> TestSupport.Output {
    try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), args)
}

/// A fresh named namespace for one test, deleted afterwards.
func withNamespace<T>(_ name: String, _ body: (NetworkNamespace) throws -> T) throws -> T {
    let ns = try NetworkNamespace.create(name: name)
    defer { try? NetworkNamespace.delete(name: name) }
    return try body(ns)
}

/// The comments of the rules of `chain` in an nft JSON listing, in order.
func listedComments(_ listing: [JSONValue], chain: String) -> [String] {
    listing.compactMap { $0["rule"] }.filter { $0["chain"]?.stringValue == chain }.map { $0["comment"]?.stringValue ?? "" }
}

func listedChains(_ listing: [JSONValue]) -> [String] {
    listing.compactMap { $0["chain"]?["name"]?.stringValue }
}

/// Kernel tests: only inside Scripts/sandbox (a throw-away network namespace); each
/// works in a named namespace of its own, or in the sandbox's namespace.
@Suite(.enabled(if: KernelSandbox.isActive, "\(KernelSandbox.skipReason)"), .serialized)
struct KernelFirewall {
    @Test func appliesInTheGivenNamespaceAndReadsBack() throws {
        let r = try ruleset("Examples/multi-network.yaml")
        try withNamespace("fwtest-apply") { ns in
            let nft = try Nftables(namespace: ns)
            #expect(try nft.listTable(family: "inet", name: r.name) == nil)
            try nft.apply(r)
            try nft.apply(r)   // a replace, not an append
            let listing = try #require(try nft.listTable(family: "inet", name: r.name)).arrayValue
            #expect(listedChains(listing) == r.chains.map(\.name))
            for chain in r.chains {
                #expect(listedComments(listing, chain: chain.name) == chain.rules.map(\.comment), "chain \(chain.name)")
            }
            // The table is in that namespace only, not in the caller's.
            let mine = try Nftables(namespace: nil)
            #expect(try mine.listTable(family: "inet", name: r.name) == nil)

            // Cross-check with the nft tool in the same namespace.
            let out = try command(["ip", "netns", "exec", "fwtest-apply", "nft", "-j", "list", "table", "inet", r.name])
            #expect(out.status == 0, "\(out.stderr)")
            let tool = try JSONValue.parse(out.stdout)["nftables"]?.arrayValue ?? []
            #expect(listedChains(tool) == r.chains.map(\.name))
            #expect(listedComments(tool, chain: "project") == r.chain("project")!.rules.map(\.comment))
            let text = try command(["ip", "netns", "exec", "fwtest-apply", "nft", "list", "table", "inet", r.name]).stdout
            #expect(text.contains("type filter hook forward priority filter; policy accept;"))
            #expect(text.contains("tcp dport 8000-8010 accept"))
            #expect(text.contains("dnat ip to 10.1.0.10:8080"))
            #expect(text.contains("masquerade"))

            try nft.deleteTable(family: "inet", name: r.name)
            #expect(try nft.listTable(family: "inet", name: r.name) == nil)
            try nft.deleteTable(family: "inet", name: r.name)   // absent: still fine
        }
    }

    @Test func aBadBatchAppliesNothingAndSaysWhy() throws {
        let r = try ruleset("Examples/seed.yaml")
        try withNamespace("fwtest-atomic") { ns in
            let nft = try Nftables(namespace: ns)
            try nft.apply(r)
            let before = try #require(try nft.listTable(family: "inet", name: r.name))

            // The replace batch with one rule the kernel refuses (a jump to a chain
            // that does not exist): the delete and re-add must not happen either.
            var bad = r
            bad.chains[1].rules.append(.init(expr: [["jump": ["target": "no-such-chain"]]], comment: "bad"))
            let kernel = #expect(throws: FirewallError.self) { try nft.apply(bad) }
            #expect(kernel?.message.contains("Could not process rule: No such file or directory") == true,
                    "\(String(describing: kernel?.message))")
            #expect(kernel?.command == bad.canonicalJSON)
            #expect(kernel?.operation == "replace table inet netform_seed")
            #expect(try nft.listTable(family: "inet", name: r.name) == before)

            // A statement nft cannot parse: nft's own error text comes through.
            var unparsable = r
            unparsable.chains[1].rules.append(.init(expr: [["bogus-statement": 1]], comment: "bad"))
            let parse = #expect(throws: FirewallError.self) { try nft.apply(unparsable) }
            #expect(parse?.message.contains("Unknown statement object 'bogus-statement'") == true,
                    "\(String(describing: parse?.message))")
            #expect(try nft.listTable(family: "inet", name: r.name) == before)

            // Not JSON at all.
            let junk = #expect(throws: FirewallError.self) { try nft.run("{\"nftables\": [") }
            #expect(junk?.message.isEmpty == false)
            #expect(try nft.listTable(family: "inet", name: r.name) == before)
        }
    }
}
