import CNetlink
import Addressing

// Constants imported from the kernel's uapi headers come with mixed Swift types
// (Int, Int32, or a named C enum struct). They are converted once, here.

@inline(__always) func u8<T: BinaryInteger>(_ v: T) -> UInt8 { UInt8(v) }
@inline(__always) func u8<T: RawRepresentable>(_ v: T) -> UInt8 where T.RawValue: BinaryInteger { UInt8(v.rawValue) }
@inline(__always) func u16<T: BinaryInteger>(_ v: T) -> UInt16 { UInt16(v) }
@inline(__always) func u16<T: RawRepresentable>(_ v: T) -> UInt16 where T.RawValue: BinaryInteger { UInt16(v.rawValue) }
@inline(__always) func u32<T: BinaryInteger>(_ v: T) -> UInt32 { UInt32(v) }

/// Address families used on the wire (`AF_INET`, `AF_INET6`, `AF_BRIDGE`, `AF_UNSPEC`).
public enum AddressFamily: UInt8, Sendable, Hashable {
    case unspec = 0
    case inet = 2
    case bridge = 7
    case inet6 = 10

    public init(_ family: IPFamily) {
        self = family == .v4 ? .inet : .inet6
    }

    /// The IP family, for `inet`/`inet6`.
    public var ipFamily: IPFamily? {
        switch self {
        case .inet: .v4
        case .inet6: .v6
        default: nil
        }
    }
}

/// Message types.
enum MsgType {
    static let noop = u16(NLMSG_NOOP)
    static let error = u16(NLMSG_ERROR)
    static let done = u16(NLMSG_DONE)
    static let overrun = u16(NLMSG_OVERRUN)
    static let newLink = u16(RTM_NEWLINK)
    static let delLink = u16(RTM_DELLINK)
    static let getLink = u16(RTM_GETLINK)
    static let setLink = u16(RTM_SETLINK)
    static let newAddr = u16(RTM_NEWADDR)
    static let delAddr = u16(RTM_DELADDR)
    static let getAddr = u16(RTM_GETADDR)
    static let newRoute = u16(RTM_NEWROUTE)
    static let delRoute = u16(RTM_DELROUTE)
    static let getRoute = u16(RTM_GETROUTE)
    static let newNeigh = u16(RTM_NEWNEIGH)
    static let delNeigh = u16(RTM_DELNEIGH)
    static let getNeigh = u16(RTM_GETNEIGH)

    static func name(_ t: UInt16) -> String {
        switch t {
        case newLink: "RTM_NEWLINK"
        case delLink: "RTM_DELLINK"
        case getLink: "RTM_GETLINK"
        case setLink: "RTM_SETLINK"
        case newAddr: "RTM_NEWADDR"
        case delAddr: "RTM_DELADDR"
        case getAddr: "RTM_GETADDR"
        case newRoute: "RTM_NEWROUTE"
        case delRoute: "RTM_DELROUTE"
        case getRoute: "RTM_GETROUTE"
        case newNeigh: "RTM_NEWNEIGH"
        case delNeigh: "RTM_DELNEIGH"
        case getNeigh: "RTM_GETNEIGH"
        default: "message type \(t)"
        }
    }
}

/// `NLM_F_*` header flags.
public struct NetlinkFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = NetlinkFlags(rawValue: u16(NLM_F_REQUEST))
    public static let multi = NetlinkFlags(rawValue: u16(NLM_F_MULTI))
    public static let ack = NetlinkFlags(rawValue: u16(NLM_F_ACK))
    public static let echo = NetlinkFlags(rawValue: u16(NLM_F_ECHO))
    public static let dumpInterrupted = NetlinkFlags(rawValue: u16(NLM_F_DUMP_INTR))
    public static let dump = NetlinkFlags(rawValue: u16(NLM_F_DUMP))
    // Flags for NEW requests.
    public static let replace = NetlinkFlags(rawValue: u16(NLM_F_REPLACE))
    public static let excl = NetlinkFlags(rawValue: u16(NLM_F_EXCL))
    public static let create = NetlinkFlags(rawValue: u16(NLM_F_CREATE))
    public static let append = NetlinkFlags(rawValue: u16(NLM_F_APPEND))
    // Flags on NLMSG_ERROR replies.
    public static let capped = NetlinkFlags(rawValue: u16(NLM_F_CAPPED))
    public static let ackTLVs = NetlinkFlags(rawValue: u16(NLM_F_ACK_TLVS))
}

/// `IFF_*` interface flags (from <net/if.h>; not importable alongside the uapi headers).
public struct InterfaceFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let up = InterfaceFlags(rawValue: 0x1)
    public static let broadcast = InterfaceFlags(rawValue: 0x2)
    public static let loopback = InterfaceFlags(rawValue: 0x8)
    public static let pointToPoint = InterfaceFlags(rawValue: 0x10)
    public static let running = InterfaceFlags(rawValue: 0x40)
    public static let noARP = InterfaceFlags(rawValue: 0x80)
    public static let promisc = InterfaceFlags(rawValue: 0x100)
    public static let master = InterfaceFlags(rawValue: 0x400)
    public static let slave = InterfaceFlags(rawValue: 0x800)
    public static let multicast = InterfaceFlags(rawValue: 0x1000)
    public static let lowerUp = InterfaceFlags(rawValue: 0x10000)
}

/// `IFLA_*` and friends used by this layer.
enum IFLA {
    static let address = u16(IFLA_ADDRESS)
    static let broadcast = u16(IFLA_BROADCAST)
    static let ifname = u16(IFLA_IFNAME)
    static let mtu = u16(IFLA_MTU)
    static let link = u16(IFLA_LINK)
    static let master = u16(IFLA_MASTER)
    static let protinfo = u16(IFLA_PROTINFO)
    static let operstate = u16(IFLA_OPERSTATE)
    static let linkinfo = u16(IFLA_LINKINFO)
    static let netNsPid = u16(IFLA_NET_NS_PID)
    static let ifalias = u16(IFLA_IFALIAS)
    static let group = u16(IFLA_GROUP)
    static let numTxQueues = u16(IFLA_NUM_TX_QUEUES)
    static let numRxQueues = u16(IFLA_NUM_RX_QUEUES)
    static let netNsFd = u16(IFLA_NET_NS_FD)
    static let linkNetnsid = u16(IFLA_LINK_NETNSID)
    static let extMask = u16(IFLA_EXT_MASK)
    static let afSpec = u16(IFLA_AF_SPEC)
    /// `IFLA_INET6_ADDR_GEN_MODE`, inside `IFLA_AF_SPEC`/`AF_INET6`.
    static let inet6AddrGenMode = u16(IFLA_INET6_ADDR_GEN_MODE)

    static let infoKind = u16(IFLA_INFO_KIND)
    static let infoData = u16(IFLA_INFO_DATA)
    static let infoSlaveKind = u16(IFLA_INFO_SLAVE_KIND)
    static let infoSlaveData = u16(IFLA_INFO_SLAVE_DATA)

    static let vethInfoPeer = u16(VETH_INFO_PEER)

    static let vxlanID = u16(IFLA_VXLAN_ID)
    static let vxlanLink = u16(IFLA_VXLAN_LINK)
    static let vxlanLocal = u16(IFLA_VXLAN_LOCAL)
    static let vxlanLocal6 = u16(IFLA_VXLAN_LOCAL6)
    static let vxlanLearning = u16(IFLA_VXLAN_LEARNING)
    static let vxlanPort = u16(IFLA_VXLAN_PORT)

    static let macvlanMode = u16(IFLA_MACVLAN_MODE)

    static let brportLearning = u16(IFLA_BRPORT_LEARNING)
    static let brportIsolated = u16(IFLA_BRPORT_ISOLATED)
    static let brNfCallIptables = u16(IFLA_BR_NF_CALL_IPTABLES)
    static let brNfCallIp6tables = u16(IFLA_BR_NF_CALL_IP6TABLES)
}

enum IFA {
    static let address = u16(IFA_ADDRESS)
    static let local = u16(IFA_LOCAL)
    static let label = u16(IFA_LABEL)
    static let broadcast = u16(IFA_BROADCAST)
    static let flags = u16(IFA_FLAGS)
    static let proto = u16(IFA_PROTO)
    static let noDAD = u32(IFA_F_NODAD)
}

enum RTA {
    static let dst = u16(RTA_DST)
    static let src = u16(RTA_SRC)
    static let oif = u16(RTA_OIF)
    static let gateway = u16(RTA_GATEWAY)
    static let priority = u16(RTA_PRIORITY)
    static let prefsrc = u16(RTA_PREFSRC)
    static let table = u16(RTA_TABLE)
}

enum NDA {
    static let dst = u16(NDA_DST)
    static let lladdr = u16(NDA_LLADDR)
    static let vni = u16(NDA_VNI)
    static let master = u16(NDA_MASTER)
    static let port = u16(NDA_PORT)
    static let ifindex = u16(NDA_IFINDEX)
}

enum NLMSGERR {
    static let msg = u16(NLMSGERR_ATTR_MSG)
    static let offs = u16(NLMSGERR_ATTR_OFFS)
}
