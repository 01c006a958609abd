@testable import Agent
import Logging
import Reconcile
import Synchronization
import Testing

/// What an operator reads from the agent: log lines a log pipeline can parse, and
/// metrics whose series exist before anything happened.
struct AgentOutputTests {
    @Test func logfmtQuotesOnlyWhatNeedsIt() {
        let line = LineLogHandler.render([("ts", "2026-12-01T20:25:11.814Z"), ("level", "error"), ("msg", "reconcile failed: step 2 (+ container.c6)"),
                                         ("result", "failed"), ("spec", "/tmp/a b.yaml"), ("empty", ""), ("quote", "say \"hi\"")], .logfmt)
        #expect(line == #"ts=2026-12-01T20:25:11.814Z level=error msg="reconcile failed: step 2 (+ container.c6)" result=failed spec="/tmp/a b.yaml" empty="" quote="say \"hi\"""#)
    }

    @Test func jsonLinesAreObjectsWithTheSameKeys() throws {
        let line = LineLogHandler.render([("level", "info"), ("msg", "line1\nline2"), ("trigger", "netlink")], .json)
        #expect(line == #"{"level":"info","msg":"line1\nline2","trigger":"netlink"}"#)
    }

    @Test func metadataAndErrorsReachTheLine() {
        let lines = LinesBox()
        var logger = Logger(label: "t") { label in LineLogHandler(label: label, format: .logfmt, write: { lines.append($0) }) }
        logger[metadataKey: "host"] = "node1"
        logger.warning("reconcile postponed", metadata: ["result": "busy"])
        let line = lines.all.first ?? ""
        #expect(line.contains(#"level=warning msg="reconcile postponed" host=node1 result=busy"#), "\(line)")
        #expect(line.hasPrefix("ts=20"))
    }

    @Test func everySeriesIsExportedFromTheStartAndReconcilesCountUnderTheirFirstTrigger() {
        let metrics = AgentMetrics()
        let before = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(before.contains(#"netform_agent_reconciles_total{trigger="netlink",result="repaired"} 0"#), "\(before)")
        #expect(before.contains(#"netform_agent_events_total{source="spec"} 0"#))
        #expect(before.contains("netform_agent_store_errors_total 0"))
        #expect(metrics.healthStatus.healthy == false)
        metrics.recorded([.resync, .netlink, .store], .repaired, took: .milliseconds(40), changedKinds: ["createVeth": 1, "addAddress": 2])
        let after = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(after.contains(#"netform_agent_reconciles_total{trigger="store",result="repaired"} 1"#), "\(after)")
        #expect(after.contains(#"netform_agent_drift_repaired_total{kind="addAddress"} 2"#))
        #expect(after.contains(#"netform_agent_reconcile_duration_seconds_bucket{le="0.05"} 1"#), "\(after)")
        #expect(metrics.healthStatus.healthy)
        metrics.recorded([.netlink], .storeUnavailable, took: .milliseconds(5), changedKinds: [:])
        #expect(String(decoding: metrics.exposition(), as: UTF8.self).contains("netform_agent_store_errors_total 1"))
        #expect(metrics.healthStatus == (false, "last reconcile: store_unavailable"))
    }

    @Test func inotifyEventsAreSplitIntoNames() {
        // Two struct inotify_event: wd 1, mask IN_CREATE, name "seed.c1" padded to 16;
        // wd 1, mask IN_Q_OVERFLOW, no name.
        func event(_ name: String, padded: Int) -> [UInt8] {
            var bytes: [UInt8] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, UInt8(padded), 0, 0, 0]
            bytes += Array(name.utf8) + [UInt8](repeating: 0, count: padded - name.utf8.count)
            return bytes
        }
        let buffer = event("seed.c1", padded: 16) + event("", padded: 0)
        #expect(DirectoryWatch.names(in: buffer[...]) == ["seed.c1", ""])
    }
}

final class LinesBox: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
}
