import Foundation
import Testing
import TestSupport

/// The committed corpora of the netlink and plan-file fuzz targets (Scripts/fuzz
/// netlink-typed, netlink-records, planfile; minimised by libFuzzer's merge) replayed
/// through the same entry points, built without libFuzzer: none may crash them.
@Suite struct FuzzCorporaReplay {
    func inputs(_ dirs: [String]) -> [String] {
        var out: [String] = []
        for dir in dirs {
            let url = TestSupport.repoRoot.appendingPathComponent(dir)
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() {
                out.append(url.appendingPathComponent(name).path)
            }
        }
        return out
    }

    @Test func netlinkCorporaReplayThroughBothDecoderFamilies() throws {
        let files = inputs(["Tests/Fixtures/fuzz-netlink-typed", "Tests/Fixtures/fuzz-netlink-records"])
        #expect(files.count > 100, "the committed netlink corpora are missing")
        // Without NETFORM_FUZZ_DECODER, every input goes through the typed decoders
        // and through Observe's records and mapping.
        let r = try TestSupport.run(TestSupport.productsDir.appendingPathComponent("netform-fuzz-netlink"), files)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("replayed \(files.count) inputs without a crash"))
    }

    @Test func planFileCorpusReplays() throws {
        // Committed packed (Scripts/fuzz): unpacked into a private temp dir.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netform-planfile-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/fuzz-planfile.tar.xz").path
        let untar = try TestSupport.run(URL(fileURLWithPath: "/bin/tar"), ["-xJf", archive, "-C", dir.path])
        #expect(untar.status == 0, "\(untar.stderr)")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0).path }
        #expect(files.count > 20, "the committed plan-file corpus is missing")
        let r = try TestSupport.run(TestSupport.productsDir.appendingPathComponent("netform-fuzz-planfile"), files)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("replayed \(files.count) inputs without a crash"))
    }
}
