// Fuzz target for the spec loader (YAML parsing, decoding, validation).
//
// Built with `Scripts/fuzz`, which links libFuzzer (-sanitize=fuzzer,address): the
// program then hands control to libFuzzer's driver. Built normally (swift build), it
// replays the files named on the command line through the same entry point, which
// is how a crash input found by the fuzzer is reproduced and how the seed corpus is
// checked in the test suite.
import CFuzzing
import Spec
#if canImport(Glibc)
import Glibc
#endif

let fuzzOne: netform_fuzz_callback = { data, size in
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let result = SpecLoader.load(bytes: bytes, file: "fuzz.yaml")
    // Rendering touches every diagnostic's mark against the source lines.
    _ = result.rendered()
    return 0
}

if netform_fuzz_driver_available() != 0 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(netform_run_fuzz_driver(&argc, &argv, fuzzOne))
} else {
    var count = 0
    for path in CommandLine.arguments.dropFirst() {
        let loaded = SpecLoader.load(path: path)
        _ = loaded.rendered()
        count += 1
    }
    print("replayed \(count) input\(count == 1 ? "" : "s") without a crash")
}
