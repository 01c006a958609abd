// Fuzz target for the netlink decoders: the typed ones of `Netlink` (`Link`,
// `InterfaceAddress`, `Route`, `Neighbour`, attribute lists, message framing, and the
// agent's notifications, `NetlinkEvent.decode` with its kernel-maintained filter) and
// Observe's lean records with their mapping to `NamespaceState`.
//
// An input is read as a receive buffer (netlink messages back to back); when it does
// not frame as one, its first byte picks a message type and the rest is one payload,
// so the fuzzer reaches the decoders without having to find valid headers first.
// `NETFORM_FUZZ_DECODER=typed` or `records` fuzzes one family (Scripts/fuzz runs each
// as its own campaign with its own corpus); unset, both run. Built by `Scripts/fuzz`
// with libFuzzer linked in; built normally, it replays the files named on the
// command line (how a crash is reproduced and how the tests replay the corpora).
import CFuzzing
import Netlink
import Observe
#if canImport(Glibc)
import Glibc
#endif

/// RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH.
let messageTypes: [UInt16] = [16, 20, 24, 28]

enum Family { case typed, records, both }
let family: Family = switch getenv("NETFORM_FUZZ_DECODER").map({ String(cString: $0) }) {
case "typed"?: .typed
case "records"?: .records
default: .both
}

func messages(_ bytes: [UInt8]) -> [(type: UInt16, payload: [UInt8])] {
    if let framed = try? NetlinkMessage.parse(bytes), !framed.isEmpty {
        return framed.map { ($0.type, $0.payload) }
    }
    guard let first = bytes.first else { return [] }
    return [(messageTypes[Int(first) % messageTypes.count], Array(bytes.dropFirst()))]
}

func typed(_ type: UInt16, _ payload: [UInt8]) {
    switch type {
    case 16: _ = try? Link(payload: payload)
    case 20: _ = try? InterfaceAddress(payload: payload)
    case 24: _ = try? Route(payload: payload)
    case 28: _ = try? Neighbour(payload: payload)
    default: _ = try? AttributeList(parsing: payload[...])
    }
    // The same payload as a notification (new and deleted), as a subscription reads it.
    for t in [type, type + 1] {
        if let event = NetlinkEvent.decode(NetlinkMessage(type: t, flags: NetlinkFlags(rawValue: 0), sequence: 0, portID: 0, payload: payload)) {
            _ = event.isKernelMaintained
        }
    }
}

/// Feeds one input to the decoders; any crash or sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let ms = messages(bytes)
    if family != .records { for m in ms { typed(m.type, m.payload) } }
    if family != .typed { RecordDecoding.decode(ms) }
    return 0
}

if netform_fuzzing() != 0 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(netform_run_fuzz_driver(&argc, &argv) { fuzzOne($0, $1) })
}

var replayed = 0
for path in CommandLine.arguments.dropFirst() {
    guard let f = fopen(path, "rb") else {
        print("cannot read \(path)")
        exit(2)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    fclose(f)
    _ = bytes.withUnsafeBufferPointer { fuzzOne($0.baseAddress, $0.count) }
    replayed += 1
}
print("replayed \(replayed) input\(replayed == 1 ? "" : "s") without a crash")
