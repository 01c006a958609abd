// Fuzz target for the saved-plan reader (`PlanFile.isPlan` and `PlanFile.decode`):
// a plan file is input from outside (a CI artifact, a shared directory), so any
// bytes must give a plan or a one-line `SavedPlanError`, never a crash and never a
// message that dumps the input.
//
// Built by `Scripts/fuzz` with libFuzzer linked in; built normally, it replays the
// files named on the command line (how a crash is reproduced and how the tests
// replay the corpus).
import CFuzzing
import Foundation
import Reconcile
#if canImport(Glibc)
import Glibc
#endif

/// Feeds one input to the reader; a crash, a sanitizer report or an error message
/// longer than a screenful line is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 || data == nil ? Data() : Data(bytes: data!, count: size)
    _ = PlanFile.isPlan(bytes)
    do {
        _ = try PlanFile.decode(bytes, path: "fuzz.json")
    } catch {
        if error.message.count > 2048 || error.message.contains("\n") {
            FileHandle.standardError.write(Data("unbounded error message (\(error.message.count) characters)\n".utf8))
            abort()
        }
    }
    return 0
}

if netform_fuzzing() != 0 {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(netform_run_fuzz_driver(&argc, &argv) { fuzzOne($0, $1) })
}

var replayed = 0
for path in CommandLine.arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else {
        print("cannot read \(path)")
        exit(2)
    }
    _ = data.withUnsafeBytes { fuzzOne($0.bindMemory(to: UInt8.self).baseAddress, data.count) }
    replayed += 1
}
print("replayed \(replayed) input\(replayed == 1 ? "" : "s") without a crash")
