import Foundation
import Testing
import YAML

@Suite struct NestingTests {
    @Test func thousandOpenBracketsIsAnErrorNotACrash() throws {
        let e = try #require(failure(String(repeating: "[", count: 1000)))
        #expect(e.mark == mark(1, 201))
        #expect(e.message == "nesting deeper than 200 levels")
    }

    @Test func exactlyTwoHundredLevelsIsAllowed() throws {
        let root = try #require(try parse(String(repeating: "[", count: 200) + "x" + String(repeating: "]", count: 200)))
        var node = root
        var depth = 0
        while let items = node.sequence {
            depth += 1
            node = try #require(items.first)
        }
        #expect(depth == 200)
        #expect(node.scalar == "x")
    }

    @Test func twoHundredAndOneLevelsIsNot() throws {
        let e = try #require(failure(String(repeating: "[", count: 201) + String(repeating: "]", count: 201)))
        #expect(e.mark == mark(1, 201))
    }

    @Test func deepFlowMappings() throws {
        let e = try #require(failure(String(repeating: "{a: ", count: 500)))
        #expect(e.mark == mark(1, 801))
        #expect(e.message == "nesting deeper than 200 levels")
    }

    @Test func deepBlockMappings() throws {
        var text = ""
        for level in 0..<300 {
            text += String(repeating: " ", count: level) + "k:\n"
        }
        let e = try #require(failure(text))
        #expect(e.mark == mark(201, 201))
        #expect(e.message == "nesting deeper than 200 levels")
    }

    @Test func aliasCannotSmuggleDepth() throws {
        // An anchored node 150 levels deep, used 60 levels deep: 210 levels in the tree.
        let deep = "a: &deep " + String(repeating: "[", count: 150) + String(repeating: "]", count: 150) + "\n"
        let use = "b: " + String(repeating: "[", count: 59) + "*deep" + String(repeating: "]", count: 59) + "\n"
        let e = try #require(failure(deep + use))
        #expect(e.mark == mark(2, 63))
        #expect(e.message == "nesting deeper than 200 levels")
        // The same anchor used shallowly is fine.
        let ok = "b: " + String(repeating: "[", count: 40) + "*deep" + String(repeating: "]", count: 40) + "\n"
        #expect(try parse(deep + ok) != nil)
    }
}

@Suite struct ExpansionTests {
    static let billionLaughs = """
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """

    /// Bounded by work, not by the wall clock: the expected mark proves the parser
    /// stopped at the first alias that crosses `YAMLParser.maxNodes` (about a million
    /// nodes made, not a billion), and the CPU time of the thread that parsed is the
    /// cost check. Wall-clock limits measured the machine's load instead: Swift
    /// Testing reports a test's time from when it was scheduled, and on a loaded
    /// 2-core machine this synchronous test waited ~37-54 s for a thread while kernel
    /// tests ran. The time limit is only a hang guard, far above any load.
    @Test(.timeLimit(.minutes(10)))
    func billionLaughsFailsQuickly() throws {
        var error: YAMLError?
        let cpu = threadCPUTime { error = failure(Self.billionLaughs) }
        let e = try #require(error)
        // a..f expand to 10+91+820+7381+66430+597871 nodes; the first *f of g crosses 1,000,000.
        #expect(e.mark == mark(7, 8))
        #expect(e.message == "document expands too much (alias bomb?): more than 1000000 nodes")
        // A debug build needs well under a second of CPU for this; an expansion that
        // went on (to 9^9 nodes) would need hours.
        #expect(cpu < .seconds(20), "\(cpu) of CPU time")
    }

    @Test func mergeBombIsCountedToo() throws {
        var text = "a: &a {" + (0..<1000).map { "k\($0): \($0)" }.joined(separator: ", ") + "}\n"
        text += "b: [" + Array(repeating: "{<<: *a}", count: 600).joined(separator: ", ") + "]\n"
        let e = try #require(failure(text))
        #expect(e.message.hasPrefix("document expands too much"))
        #expect(e.mark.line == 2)
    }

    @Test func moderateAliasUseIsFine() throws {
        let text = "a: &a [1, 2, 3]\nb: [" + Array(repeating: "*a", count: 1000).joined(separator: ", ") + "]\n"
        let root = try #require(try parse(text))
        #expect(root.value(forKey: "b")?.sequence?.count == 1000)
        #expect(root.value(forKey: "b")?.sequence?[999].sequence?.count == 3)
    }
}

/// A small deterministic fuzzer: mutated YAML and random bytes must give a tree or a
/// YAMLError with a sane mark, never a crash or a hang.
@Suite struct FuzzTests {
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let seed = Array("""
        %YAML 1.1
        ---
        base: &base {mtu: 1500, "driver": 'bridge'}
        networks:
          front:
            <<: *base
            subnet: 10.0.0.0/24
            ports: [80, 0x1F, .inf, ~, !!str 5]
            note: |
              ñandú é
            folded: >-
              a
              b
          ? complex
          : value
        list:
          - *base
          - [a, {b: c}]
        ...
        """.utf8)

    static let alphabet = Array("[]{}:,-?&*!|>'\"#%@` \t\n\r.~<0aé".utf8) + [0x00, 0xFF, 0xC3, 0xEF, 0xBB, 0xBF, 0xFE]

    static func check(_ bytes: [UInt8]) {
        do {
            _ = try YAMLParser.parse(bytes, file: "fuzz")
        } catch {
            #expect(error.mark.line >= 1 && error.mark.column >= 1)
            #expect(error.mark.file == "fuzz")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func mutatedDocuments() {
        var rng = LCG(state: 0x5EED)
        for _ in 0..<3000 {
            var bytes = Self.seed
            for _ in 0..<(1 + rng.below(6)) {
                let at = rng.below(bytes.count + 1)
                switch rng.below(4) {
                case 0 where at < bytes.count: bytes.remove(at: at)
                case 1: bytes.insert(Self.alphabet[rng.below(Self.alphabet.count)], at: at)
                case 2 where at < bytes.count: bytes[at] = Self.alphabet[rng.below(Self.alphabet.count)]
                default:
                    let from = rng.below(bytes.count)
                    let length = min(rng.below(20), bytes.count - from)
                    bytes.insert(contentsOf: bytes[from..<(from + length)], at: at)
                }
            }
            Self.check(bytes)
        }
    }

    @Test func randomBytes() {
        var rng = LCG(state: 42)
        for _ in 0..<2000 {
            let bytes = (0..<rng.below(64)).map { _ in Self.alphabet[rng.below(Self.alphabet.count)] }
            Self.check(bytes)
        }
    }
}

/// The CPU time the calling thread spends in `body` (CLOCK_THREAD_CPUTIME_ID): what
/// the work costs, whatever else the machine is doing. `body` must not suspend
/// (synchronous code stays on one thread).
func threadCPUTime(_ body: () -> Void) -> Duration {
    func now() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }
    let start = now()
    body()
    return now() - start
}
