import Addressing
import Model

/// Deterministic kernel names for what netform creates.
///
/// Names must be the same on every run and every host (no state file remembers them)
/// and fit the kernel's 15-byte limit; they are derived from the project, container and
/// network names with a stable hash.
public enum Naming {
    /// The named namespace of a container: `PROJECT.CONTAINER` (project names hold no
    /// '.', so the split is unambiguous).
    public static func namespace(project: String, container: String) -> String {
        "\(project).\(container)"
    }

    /// The host end of a container's veth on a network: `nfv` + 12 hex digits.
    public static func hostVeth(project: String, container: String, network: String) -> String {
        "nfv" + hex12(stableHash("\(project)/\(container)/\(network)"))
    }

    /// The VXLAN device of an overlay network: `nfx` + 12 hex digits.
    public static func vxlan(project: String, network: String) -> String {
        "nfx" + hex12(stableHash("vxlan:\(project)/\(network)"))
    }

    /// A stable, locally administered unicast MAC for a device netform creates
    /// (bridges, host ends of veths): `02:4e:46` ("NF") + 3 bytes of a hash. A fixed
    /// MAC keeps a bridge's address from following its ports, and lets a rollback
    /// recreate a deleted device exactly as it was.
    public static func deviceMAC(project: String, device: String) -> MACAddress {
        let h = stableHash("mac:\(project)/\(device)")
        return MACAddress(bytes: [0x02, 0x4e, 0x46, UInt8(truncatingIfNeeded: h >> 16), UInt8(truncatingIfNeeded: h >> 8), UInt8(truncatingIfNeeded: h)])!
    }

    /// The nftables table of a project.
    public static func firewallTable(project: String) -> String { FirewallTable.name(project: project) }

    static func hex12(_ h: UInt64) -> String {
        let s = String(h >> 16, radix: 16)
        return String(repeating: "0", count: max(0, 12 - s.count)) + s
    }

    /// FNV-1a, stable across runs and hosts (Swift's `Hasher` is seeded per process).
    static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}
