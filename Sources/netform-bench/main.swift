// netform-bench: timing driver for Observe, run by Benchmarks/observe.sh inside
// Scripts/sandbox (never in the machine's own namespace: it only reads, but the
// scene it is pointed at must be a sandboxed one).
//
//   netform-bench observe [--workers K] [--repeat R]
//
// Prints one line per run: `observe namespaces=N workers=K ms=T per_ns_ms=T/N`
// (in-process time of Observer.observe, after a first warm-up run), and the
// best run last as `best ...`.
#if canImport(Glibc)
import Glibc
#endif
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
guard args.first == "observe" else { fail("usage: netform-bench observe [--workers K] [--repeat R]") }
args.removeFirst()
var workers: Int?
var repeats = 5
while !args.isEmpty {
    let flag = args.removeFirst()
    guard let value = args.first.flatMap({ Int($0) }) else { fail("\(flag) needs a number") }
    args.removeFirst()
    switch flag {
    case "--workers": workers = value
    case "--repeat": repeats = max(1, value)
    default: fail("unknown option \(flag)")
    }
}

var best = Double.infinity
var count = 0
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
    if run == 0 { continue }  // warm-up
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
