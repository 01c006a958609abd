import Testing
@testable import YAML

@Suite struct InternalTests {
    /// libyaml reader errors report a byte offset; this is how it becomes a mark.
    @Test func byteOffsetToPosition() {
        let bytes = Array("a\r\nbé\u{2028}c\rd".utf8)   // a CR LF b é(2 bytes) LS(3 bytes) c CR d
        bytes.withUnsafeBufferPointer { buf in
            #expect(InputCheck.position(ofOffset: 0, in: buf) == (1, 1))
            #expect(InputCheck.position(ofOffset: 3, in: buf) == (2, 1))   // b
            #expect(InputCheck.position(ofOffset: 4, in: buf) == (2, 2))   // é
            #expect(InputCheck.position(ofOffset: 6, in: buf) == (2, 3))   // LS
            #expect(InputCheck.position(ofOffset: 9, in: buf) == (3, 1))   // c
            #expect(InputCheck.position(ofOffset: 11, in: buf) == (4, 1))  // d
            #expect(InputCheck.position(ofOffset: 99, in: buf) == (4, 2))  // past the end: end of input
        }
    }

    @Test func constructedNodes() {
        let key = Node(content: .scalar("k", .plain), mark: mark(1, 1))
        let value = Node(content: .scalar("5", .doubleQuoted), mark: mark(1, 4))
        let map = Node(content: .mapping([Node.Pair(key: key, value: value)]), mark: mark(1, 1))
        #expect(map.value(forKey: "k")?.resolved == .string("5"))
        #expect(map.kindName == "a mapping")
        #expect(Node(content: .mapping([]), mark: mark(2, 2), tag: nil).mapping?.isEmpty == true)
        #expect(Node(content: .scalar("5", .plain), mark: mark(1, 1), tag: "tag:yaml.org,2002:str").resolved == .string("5"))
    }

    @Test func limitsAreThoseOfTheBrief() {
        #expect(YAMLParser.maxDepth == 200)
        #expect(YAMLParser.maxNodes == 1_000_000)
    }
}
