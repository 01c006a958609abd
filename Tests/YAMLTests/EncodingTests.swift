import Testing
import YAML

@Suite struct EncodingTests {
    @Test func invalidUTF8IsReportedAtTheBadByteCountingCharacters() throws {
        // Line 2 holds "name: é" (7 characters, 8 bytes) before the bad byte.
        let e = try #require(failure(bytes: Array("a: 1\nname: é".utf8) + [0xFF, 0x0A]))
        #expect(e.mark == mark(2, 8))
        #expect(e.message == "invalid UTF-8 (byte 0xFF); netform reads UTF-8 only")
    }

    @Test(arguments: [
        ([0x80], 0x80),                        // stray continuation byte
        ([0xC0, 0x80], 0xC0),                  // overlong NUL
        ([0xC1, 0xBF], 0xC1),                  // overlong
        ([0xE0, 0x80, 0xAF], 0xE0),            // overlong 3-byte
        ([0xED, 0xA0, 0x80], 0xED),            // UTF-16 surrogate
        ([0xF4, 0x90, 0x80, 0x80], 0xF4),      // above U+10FFFF
        ([0xF5, 0x80, 0x80, 0x80], 0xF5),      // never valid
        ([0xE2, 0x41], 0xE2),                  // lead byte followed by ASCII
        ([0xC3], 0xC3),                        // truncated at end of input
    ] as [([UInt8], Int)])
    func malformedSequences(_ bad: [UInt8], _ reported: Int) throws {
        let e = try #require(failure(bytes: Array("k: ñ".utf8) + bad))
        #expect(e.mark == mark(1, 5))
        #expect(e.message == "invalid UTF-8 (byte 0x\(String(reported, radix: 16, uppercase: true))); netform reads UTF-8 only")
    }

    @Test func validMultiByteTextIsAccepted() throws {
        let root = try #require(try parse("k: \"ñ€𝄞\"\n"))
        #expect(root.value(forKey: "k")?.scalar == "ñ€𝄞")
    }

    @Test func lineBreakKindsAgreeWithLibyaml() throws {
        // CR LF counts as one line break, so the bad byte is on line 3.
        let e = try #require(failure(bytes: Array("a: 1\r\nb: 2\r\nc: ".utf8) + [0xFE]))
        #expect(e.mark == mark(3, 4))
        // libyaml (YAML 1.1) also breaks lines at NEL/LS/PS; our positions must match its marks.
        let root = try #require(try parse("a: 1\u{2028}b: 2\n"))
        #expect(root.value(forKey: "b") != nil)
        let bMark = try #require(root.mapping?[1].key.mark)
        let e2 = try #require(failure(bytes: Array("a: 1\u{2028}b: ".utf8) + [0xFF]))
        #expect(e2.mark == Mark(file: testFile, line: bMark.line, column: bMark.column + 3))
        #expect(bMark == mark(2, 1))
    }

    @Test func utf8ByteOrderMarkIsSkipped() throws {
        let root = try #require(try YAMLParser.parse([0xEF, 0xBB, 0xBF] + Array("a: 1\nb: 2\n".utf8), file: testFile))
        #expect(render(root) == "{a: 1, b: 2}")
        #expect(root.mapping?[0].key.mark == mark(1, 1))
        #expect(root.mapping?[1].value.mark == mark(2, 4))
        let e = try #require(failure(bytes: [0xEF, 0xBB, 0xBF] + Array("ab".utf8) + [0xFF]))
        #expect(e.mark == mark(1, 3))
    }

    @Test(arguments: [
        [0xFF, 0xFE, 0x61, 0x00, 0x3A, 0x00],   // UTF-16 LE
        [0xFE, 0xFF, 0x00, 0x61, 0x00, 0x3A],   // UTF-16 BE
    ] as [[UInt8]])
    func utf16ByteOrderMarkIsRefusedAtStart(_ bytes: [UInt8]) throws {
        let e = try #require(failure(bytes: bytes))
        #expect(e.mark == mark(1, 1))
        #expect(e.message == "the file is UTF-16 (it starts with a UTF-16 byte-order mark); netform reads UTF-8 only")
    }

    @Test(arguments: [
        [0xFF, 0xFE, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00],   // UTF-32 LE
        [0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00, 0x61],   // UTF-32 BE
    ] as [[UInt8]])
    func utf32ByteOrderMarkIsRefusedAtStart(_ bytes: [UInt8]) throws {
        let e = try #require(failure(bytes: bytes))
        #expect(e.mark == mark(1, 1))
        #expect(e.message == "the file is UTF-32 (it starts with a UTF-32 byte-order mark); netform reads UTF-8 only")
    }

    @Test func utf16WithoutByteOrderMarkHitsANul() throws {
        let e = try #require(failure(bytes: [0x61, 0x00, 0x3A, 0x00, 0x20, 0x00]))
        #expect(e.mark == mark(1, 2))
        #expect(e.message == "NUL byte in input (is the file UTF-16 or UTF-32?)")
    }

    @Test func nulByteIsAnErrorWithItsPosition() throws {
        let e = try #require(failure("a: 1\nb: x\u{0}y\n"))
        #expect(e.mark == mark(2, 5))
        #expect(e.message == "NUL byte in input")
    }

    @Test(arguments: [(0x07, "0007"), (0x1B, "001B"), (0x7F, "007F"), (0x86, "0086"), (0xFFFE, "FFFE")] as [(UInt32, String)])
    func controlCharactersAreRefusedWithTheirPosition(_ scalar: UInt32, _ hex: String) throws {
        let text = "a: é" + String(Character(try #require(Unicode.Scalar(scalar)))) + "\n"
        let e = try #require(failure(text))
        #expect(e.mark == mark(1, 5))
        #expect(e.message == "control character U+\(hex) is not allowed")
    }

    @Test func tabsCarriageReturnsAndNELAreNotControlCharacters() throws {
        let root = try #require(try parse("a: \"x\ty\"\r\nb: 'z'\n"))
        #expect(root.value(forKey: "a")?.scalar == "x\ty")
    }
}

@Suite struct LibyamlErrorTests {
    @Test func tabIndentation() throws {
        let e = try #require(failure("net:\n\tmtu: 1500\n"))
        #expect(e.mark == mark(2, 1))
        #expect(e.message == "a tab character: YAML does not allow tabs for indentation or before a value; use spaces",
                "libyaml says \"found character that cannot start any token\"; netform says why")
    }

    @Test func unclosedQuote() throws {
        let e = try #require(failure("name: \"abc\nnext: 1\n"))
        #expect(e.mark == mark(3, 1))
        #expect(e.message == "found unexpected end of stream while scanning a quoted scalar (started at line 1, column 7)")
    }

    @Test func colonAfterMultiByteValue() throws {
        let e = try #require(failure("name: é: x\n"))
        #expect(e.mark == mark(1, 8))
        #expect(e.message == "mapping values are not allowed in this context")
    }

    @Test func badIndentationInBlockMapping() throws {
        let e = try #require(failure("a:\n  b: 1\n c: 2\n"))
        #expect(e.mark == mark(3, 2))
        #expect(e.message == "did not find expected key while parsing a block mapping (started at line 1, column 1)")
    }

    @Test func unclosedFlowSequence() throws {
        let e = try #require(failure("a: [1, 2\nb: 3\n"))
        #expect(e.mark == mark(2, 2))
        #expect(e.message.hasPrefix("did not find expected ',' or ']' while parsing a flow sequence"))
    }

    @Test func undefinedTagHandle() throws {
        let e = try #require(failure("a: !x!y 1\n"))
        #expect(e.mark.line == 1)
        #expect(e.message.contains("undefined tag handle"))
    }
}
