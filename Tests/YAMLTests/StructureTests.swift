import Testing
import YAML

@Suite struct StructureTests {
    @Test func markDescription() {
        #expect(Mark(file: "net.yaml", line: 3, column: 14).description == "net.yaml:3:14")
        #expect(YAMLError(mark: mark(2, 5), message: "boom").description == "t.yaml:2:5: boom")
    }

    @Test func blockMappingTreeAndMarks() throws {
        let text = """
            name: web
            ports:
              - 80
              - "443"
            """
        let root = try #require(try parse(text))
        #expect(render(root) == #"{name: web, ports: [80, "443"]}"#)
        #expect(root.mark == mark(1, 1))
        let pairs = try #require(root.mapping)
        #expect(pairs.count == 2)
        #expect(pairs[0].key.mark == mark(1, 1))
        #expect(pairs[0].value.mark == mark(1, 7))
        #expect(pairs[1].key.mark == mark(2, 1))
        let ports = try #require(pairs[1].value.sequence)
        #expect(pairs[1].value.mark == mark(3, 3))
        #expect(ports[0].mark == mark(3, 5))
        #expect(ports[1].mark == mark(4, 5))
        #expect(ports[0].resolved == .int(80))
        #expect(ports[1].resolved == .string("443"))
    }

    @Test func flowCollectionsAndMarks() throws {
        let root = try #require(try parse("a: {b: [1, two], 'c': ~}\n"))
        #expect(render(root) == "{a: {b: [1, two], 'c': ~}}")
        let inner = try #require(root.value(forKey: "a"))
        #expect(inner.mark == mark(1, 4))
        #expect(inner.value(forKey: "b")?.sequence?[1].mark == mark(1, 12))
        #expect(inner.value(forKey: "c")?.resolved == .null)
        #expect(inner.value(forKey: "c")?.mark == mark(1, 23))
    }

    @Test func columnsCountCharactersNotBytes() throws {
        // "ñandú" is 5 characters but 7 bytes; "é" and "🦜" are multi-byte too.
        let root = try #require(try parse("{\"ñandú\": 1, b: é🦜, c: 2}"))
        let pairs = try #require(root.mapping)
        #expect(pairs[1].key.mark == mark(1, 14))
        #expect(pairs[1].value.mark == mark(1, 17))
        #expect(pairs[2].key.mark == mark(1, 21))
        #expect(pairs[1].value.scalar == "é🦜")
    }

    @Test func crlfAndCrLineEndings() throws {
        let root = try #require(try parse("a: 1\r\nb: 2\rc: 3\n"))
        let pairs = try #require(root.mapping)
        #expect(pairs.map(\.key.mark) == [mark(1, 1), mark(2, 1), mark(3, 1)])
    }

    @Test func scalarStyles() throws {
        let text = """
            plain: a b
            single: 'it''s'
            double: "tab\\tend"
            literal: |
              line 1
              line 2
            folded: >
              word
              word
            """
        let root = try #require(try parse(text))
        func content(_ key: String) -> (String, ScalarStyle)? {
            guard case .scalar(let s, let style)? = root.value(forKey: key)?.content else { return nil }
            return (s, style)
        }
        #expect(content("plain")?.0 == "a b")
        #expect(content("plain")?.1 == .plain)
        #expect(content("single")?.0 == "it's")
        #expect(content("single")?.1 == .singleQuoted)
        #expect(content("double")?.0 == "tab\tend")
        #expect(content("double")?.1 == .doubleQuoted)
        #expect(content("literal")?.0 == "line 1\nline 2\n")
        #expect(content("literal")?.1 == .literal)
        #expect(content("folded")?.0 == "word word")   // no final line break in the input
        #expect(content("folded")?.1 == .folded)
        #expect(root.value(forKey: "literal")?.mark == mark(4, 10))
    }

    @Test func tagsAreKeptAsLibyamlResolvesThem() throws {
        let root = try #require(try parse("a: !!str 5\nb: !local x\nc: 5\nd: !!map {k: v}\ne: !<tag:example.com,2024:x> y\n"))
        #expect(root.value(forKey: "a")?.tag == "tag:yaml.org,2002:str")
        #expect(root.value(forKey: "b")?.tag == "!local")
        #expect(root.value(forKey: "c")?.tag == nil)
        #expect(root.value(forKey: "d")?.tag == "tag:yaml.org,2002:map")
        #expect(root.value(forKey: "e")?.tag == "tag:example.com,2024:x")
        #expect(root.tag == nil)
        // The tag's own position is where the node starts.
        #expect(root.value(forKey: "a")?.mark == mark(1, 4))
    }

    @Test func kindNames() throws {
        let root = try #require(try parse("s: x\nq: '5'\ni: 5\nf: 1.5\nb: true\nn: ~\nl: []\nm: {}\n"))
        let names = try #require(root.mapping).map { "\($0.key.scalar ?? "?")=\($0.value.kindName)" }
        #expect(names == ["s=a string", "q=a string", "i=a number", "f=a number", "b=true/false", "n=null", "l=a list", "m=a mapping"])
    }

    @Test func valueForKey() throws {
        let root = try #require(try parse("a: 1\nb: [x]\n"))
        #expect(root.value(forKey: "a")?.scalar == "1")
        #expect(root.value(forKey: "b")?.sequence?.count == 1)
        #expect(root.value(forKey: "zzz") == nil)
        #expect(root.value(forKey: "b")?.value(forKey: "x") == nil)   // not a mapping
        #expect(root.value(forKey: "a")?.resolved == .int(1))
        #expect(root.resolved == nil)
        #expect(root.value(forKey: "b")?.resolved == nil)
    }

    @Test func scalarRoot() throws {
        let root = try #require(try parse("hello world\n"))
        #expect(root.scalar == "hello world")
        #expect(root.mark == mark(1, 1))
        let quoted = try #require(try parse("--- 'x'\n"))
        #expect(render(quoted) == "'x'")
        #expect(quoted.mark == mark(1, 5))
        #expect(try parse("~")?.resolved == .null)
        #expect(try parse("--- ''\n")?.resolved == .string(""))
        #expect(try parse("[1, 2]").map(render) == "[1, 2]")
    }

    @Test(arguments: ["", "# only a comment\n", "# one\n\n# two\n", "   \n\n", "---\n", "--- # comment\n...\n", "\u{FEFF}"])
    func emptyStreamOrDocumentIsNil(_ text: String) throws {
        #expect(try parse(text) == nil)
    }

    @Test func explicitDocumentMarkersAreFine() throws {
        #expect(render(try parse("---\na: 1\n...\n")) == "{a: 1}")
        #expect(render(try parse("%YAML 1.2\n---\na: 1\n")) == "{a: 1}")
    }

    @Test func textAndBytesAgree() throws {
        let text = "k: [a, 'b']\n"
        let a = try YAMLParser.parse(text, file: "f")
        let b = try YAMLParser.parse(Array(text.utf8), file: "f")
        #expect(render(a) == render(b))
        #expect(a?.mark.file == "f")
    }
}
