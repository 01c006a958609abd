// Fuzz target for the spec loader (YAML parsing, decoding, validation).
//
// Built by `Scripts/fuzz` with libFuzzer linked in (-sanitize=fuzzer,address and
// NETFORM_FUZZING), it hands control to libFuzzer's driver. Built normally
// (`swift build`), it replays the files named on the command line through the same
// function: that is how a crash input is reproduced, and how the test suite checks
// the seed corpus.
import CFuzzing
import Spec
#if canImport(Glibc)
import Glibc
#endif

/// Feeds one input to the loader; any crash or sanitizer report is a finding.
/// Exported under libFuzzer's name too, for when libFuzzer's own `main` is linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let result = SpecLoader.load(bytes: bytes, file: "fuzz.yaml")
    // Rendering checks every diagnostic's mark against the source lines.
    _ = result.rendered()
    return 0
}

if netform_fuzzing() != 0 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(netform_run_fuzz_driver(&argc, &argv) { fuzzOne($0, $1) })
}

var replayed = 0
for path in CommandLine.arguments.dropFirst() {
    _ = SpecLoader.load(path: path).rendered()
    replayed += 1
}
print("replayed \(replayed) input\(replayed == 1 ? "" : "s") without a crash")
