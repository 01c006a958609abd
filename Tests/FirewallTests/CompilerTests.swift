import Firewall
import Testing
import Foundation

@Suite struct DumpForDebug {
    @Test func dump() throws {
        try ruleset("Examples/seed.yaml").canonicalJSON.write(toFile: "/tmp/fw-seed.json", atomically: true, encoding: .utf8)
        try ruleset("Examples/multi-network.yaml").canonicalJSON.write(toFile: "/tmp/fw-shop.json", atomically: true, encoding: .utf8)
        print(try ruleset("Examples/multi-network.yaml").notes)
    }
}
