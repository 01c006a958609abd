// netform-bench: timing driver for Observe, run by Benchmarks/observe.sh inside
// Scripts/sandbox (never in the machine's own namespace: it only reads, but the
// scene it is pointed at must be a sandboxed one).
//
//   netform-bench observe [--workers K] [--repeat R] [--encode]
//
// Prints one line per run: `observe namespaces=N workers=K ms=T per_ns_ms=T/N`
// (in-process time of Observer.observe, after a first warm-up run; `--repeat 0`: a
// single cold run, for timing the whole process from outside), and the
// best run last as `best ...`; with --encode, then `encode ms=T bytes=B`: the time to turn
// the last observation into `netform show --all --json`'s document (ObservationReport
// + JSONEncoder with sorted keys, pretty-printed).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Model
import Observe

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
}

func fail(_ message: String) -> Never {
    let text = "netform-bench: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard args.first == "observe" else { fail("usage: netform-bench observe [--workers K] [--repeat R] [--encode]") }
args.removeFirst()
var workers: Int?
var repeats = 5
var encode = false
while !args.isEmpty {
    let flag = args.removeFirst()
    if flag == "--encode" {
        encode = true
        continue
    }
    guard let value = args.first.flatMap({ Int($0) }) else { fail("\(flag) needs a number") }
    args.removeFirst()
    switch flag {
    case "--workers": workers = value
    case "--repeat": repeats = max(0, value)
    default: fail("unknown option \(flag)")
    }
}

var best = Double.infinity
var count = 0
var last = HostState()
for run in 0...repeats {
    let start = now()
    let state: HostState
    do {
        state = try Observer.observe(extra: [], parallelism: workers)
    } catch {
        fail("\(error)")
    }
    let ms = now() - start
    count = state.namespaces.count
    last = state
    if run == 0 && repeats > 0 { continue }  // warm-up
    best = min(best, ms)
    print("observe namespaces=\(count) workers=\(workers.map(String.init) ?? "auto") ms=\(fmt(ms)) per_ns_ms=\(fmt(ms / Double(count), 4))")
}
print("best namespaces=\(count) workers=\(workers.map(String.init) ?? "auto") ms=\(fmt(best)) per_ns_ms=\(fmt(best / Double(count), 4))")

func fmt(_ v: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    return "\(r)"
}

if encode {
    let encodeStart = now()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let bytes = (try? encoder.encode(ObservationReport(last, project: nil)))?.count ?? -1
    print("encode ms=\(fmt(now() - encodeStart)) bytes=\(bytes)")
}
