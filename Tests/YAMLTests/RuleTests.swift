import Testing
import YAML

@Suite struct AliasTests {
    @Test func aliasCopiesTheAnchoredNode() throws {
        let text = """
            base: &b
              mtu: 1500
              tags: [x, y]
            copy: *b
            name: &n eth0
            again: *n
            """
        let root = try #require(try parse(text))
        #expect(render(root) == "{base: {mtu: 1500, tags: [x, y]}, copy: {mtu: 1500, tags: [x, y]}, name: eth0, again: eth0}")
    }

    @Test func aliasMarkIsTheAliasSite() throws {
        let text = """
            base: &b
              mtu: 1500
            copy: *b
            list: [1, *b]
            """
        let root = try #require(try parse(text))
        // A node's start includes its anchor or tag, as libyaml reports it.
        #expect(root.value(forKey: "base")?.mark == mark(1, 7))
        #expect(root.value(forKey: "copy")?.mark == mark(3, 7))
        #expect(root.value(forKey: "list")?.sequence?[1].mark == mark(4, 11))
        // Children of the copy still point at what was written under the anchor.
        #expect(root.value(forKey: "copy")?.value(forKey: "mtu")?.mark == mark(2, 8))
    }

    @Test func scalarAliasMarkAndTagTravel() throws {
        let root = try #require(try parse("a: &x !!str 5\nb:   *x\n"))
        let b = try #require(root.value(forKey: "b"))
        #expect(b.mark == mark(2, 6))
        #expect(b.tag == "tag:yaml.org,2002:str")
        #expect(b.resolved == .string("5"))
    }

    @Test func undefinedAliasIsAnErrorAtTheAlias() throws {
        let e = try #require(failure("a: 1\nb: [2, *nope]\n"))
        #expect(e.mark == mark(2, 8))
        #expect(e.message == "alias '*nope' refers to an undefined anchor (define it first with '&nope')")
    }

    @Test func aliasBeforeItsAnchorIsUndefined() throws {
        let e = try #require(failure("a: *x\nb: &x 1\n"))
        #expect(e.mark == mark(1, 4))
        #expect(e.message.hasPrefix("alias '*x' refers to an undefined anchor"))
    }

    @Test func recursiveAliasIsAnError() throws {
        let e = try #require(failure("a: &r\n  b: *r\n"))
        #expect(e.mark == mark(2, 6))
        #expect(e.message == "alias '*r' refers to a node that contains it (recursive alias)")
    }

    @Test func redefinedAnchorUsesTheLatest() throws {
        let root = try #require(try parse("a: &x 1\nb: *x\nc: &x 2\nd: *x\ne: &x [&x 3, *x]\nf: *x\n"))
        #expect(render(root) == "{a: 1, b: 1, c: 2, d: 2, e: [3, 3], f: [3, 3]}")
    }

    @Test func aliasAsKeyUsesTheScalarText() throws {
        let root = try #require(try parse("k: &k name\n*k : v\n"))
        #expect(render(root) == "{k: name, name: v}")
        #expect(root.mapping?[1].key.mark == mark(2, 1))
    }
}

@Suite struct MergeKeyTests {
    @Test func singleMerge() throws {
        let text = """
            base: &base
              mtu: 1500
              driver: bridge
            net:
              <<: *base
              name: front
            """
        let root = try #require(try parse(text))
        #expect(render(root.value(forKey: "net")) == "{mtu: 1500, driver: bridge, name: front}")
        // Merged values keep the marks of their definition.
        #expect(root.value(forKey: "net")?.value(forKey: "mtu")?.mark == mark(2, 8))
    }

    @Test func explicitKeysWinWhereverTheyAre() throws {
        let text = """
            base: &base {mtu: 1500, driver: bridge, vlan: 1}
            net:
              driver: macvlan
              <<: *base
              mtu: 9000
            """
        let root = try #require(try parse(text))
        #expect(render(root.value(forKey: "net")) == "{driver: macvlan, vlan: 1, mtu: 9000}")
        #expect(root.value(forKey: "net")?.value(forKey: "mtu")?.mark == mark(5, 8))
    }

    @Test func listOfSourcesEarlierWins() throws {
        let text = """
            a: &a {x: a1, y: a2}
            b: &b {y: b2, z: b3}
            m:
              <<: [*a, *b, {z: inline, w: inline}]
              x: own
            """
        let root = try #require(try parse(text))
        #expect(render(root.value(forKey: "m")) == "{y: a2, z: b3, w: inline, x: own}")
    }

    @Test func inlineMappingMergeAndNestedMerges() throws {
        let text = """
            a: &a {x: 1}
            b: &b
              <<: *a
              y: 2
            c:
              <<: *b
              z: 3
            d: {<<: {q: 0}, r: 1}
            """
        let root = try #require(try parse(text))
        #expect(render(root.value(forKey: "c")) == "{x: 1, y: 2, z: 3}")
        #expect(render(root.value(forKey: "d")) == "{q: 0, r: 1}")
    }

    @Test func mergedKeysAreNotDuplicates() throws {
        // Both sources define `y`, and the mapping itself does too: none is an error.
        let root = try #require(try parse("a: &a {y: 1}\nb: &b {y: 2}\nm: {<<: [*a, *b], y: 3}\n"))
        #expect(render(root.value(forKey: "m")) == "{y: 3}")
    }

    @Test func quotedOrTaggedLessLessIsAnOrdinaryKey() throws {
        let root = try #require(try parse("a: {'<<': 1}\nb: {!!str <<: 2}\n"))
        #expect(render(root) == "{a: {'<<': 1}, b: {<<: 2}}")
        let merged = try #require(try parse("s: &s {k: v}\nm: {!!merge <<: *s}\n"))
        #expect(render(merged.value(forKey: "m")) == "{k: v}")
    }

    @Test func mergeOfAScalarIsAnError() throws {
        let e = try #require(failure("s: &s text\nm:\n  <<: *s\n"))
        #expect(e.mark == mark(3, 7))
        #expect(e.message == "merge key '<<' expects a mapping or a list of mappings, got a string")
    }

    @Test func mergeOfNullIsAnError() throws {
        let e = try #require(failure("m:\n  <<:\n  a: 1\n"))
        #expect(e.message == "merge key '<<' expects a mapping or a list of mappings, got null")
        #expect(e.mark.line == 2)
    }

    @Test func mergeListItemThatIsNotAMappingIsAnErrorAtTheItem() throws {
        let e = try #require(failure("a: &a {x: 1}\nm:\n  <<: [*a, [1], 3]\n"))
        #expect(e.mark == mark(3, 12))
        #expect(e.message == "merge key '<<' expects a mapping or a list of mappings, but this list holds a list")
    }

    @Test func twoMergeKeysAreDuplicates() throws {
        let e = try #require(failure("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n"))
        #expect(e.mark == mark(4, 3))
        #expect(e.message == "duplicate key '<<' (first defined at line 3)")
    }
}

@Suite struct MappingKeyTests {
    @Test func duplicateKeyIsReportedAtTheSecondOccurrence() throws {
        let text = """
            name: a
            mtu: 1
            name: b
            """
        let e = try #require(failure(text))
        #expect(e.mark == mark(3, 1))
        #expect(e.message == "duplicate key 'name' (first defined at line 1)")
        #expect(e.description == "t.yaml:3:1: duplicate key 'name' (first defined at line 1)")
    }

    @Test func duplicateKeyAfterMultiByteCharacters() throws {
        let e = try #require(failure("{\"ñandú\": 1, \"ñandú\": 2}"))
        #expect(e.mark == mark(1, 14))
        #expect(e.message == "duplicate key 'ñandú' (first defined at line 1)")
    }

    @Test func duplicateKeysCompareTextWhateverTheQuoting() throws {
        let e = try #require(failure("nested:\n  '1': a\n  1: b\n"))
        #expect(e.mark == mark(3, 3))
        #expect(e.message == "duplicate key '1' (first defined at line 2)")
    }

    @Test func sameKeyInDifferentMappingsIsFine() throws {
        let root = try #require(try parse("a: {name: x}\nb: {name: y}\n"))
        #expect(render(root) == "{a: {name: x}, b: {name: y}}")
    }

    @Test func sequenceKeyIsAnError() throws {
        let e = try #require(failure("ok: 1\n[a, b]: 2\n"))
        #expect(e.mark == mark(2, 1))
        #expect(e.message == "mapping keys must be plain strings, not a list")
    }

    @Test func mappingKeyIsAnError() throws {
        let e = try #require(failure("? {a: 1}\n: 2\n"))
        #expect(e.mark == mark(1, 3))
        #expect(e.message == "mapping keys must be plain strings, not a mapping")
    }

    @Test func aliasToACollectionAsKeyIsAnErrorAtTheAlias() throws {
        let e = try #require(failure("a: &l [1]\n*l : 2\n"))
        #expect(e.mark == mark(2, 1))
        #expect(e.message == "mapping keys must be plain strings, not a list")
    }

    @Test func emptyKeyIsAScalar() throws {
        let root = try #require(try parse("? \n: v\n"))
        #expect(root.mapping?.first?.key.scalar == "")
        #expect(root.value(forKey: "")?.scalar == "v")
    }
}

@Suite struct DocumentTests {
    @Test func secondDocumentIsAnErrorAtItsStart() throws {
        let e = try #require(failure("a: 1\n---\nb: 2\n"))
        #expect(e.mark == mark(2, 1))
        #expect(e.message == "several YAML documents in one file; netform reads one spec per file")
    }

    @Test func secondExplicitDocumentAfterEndMarker() throws {
        let e = try #require(failure("a: 1\n...\n--- b\n"))
        #expect(e.mark == mark(3, 1))
        #expect(e.message == "several YAML documents in one file; netform reads one spec per file")
    }

    @Test func contentAfterEndMarkerIsRefusedByLibyaml() throws {
        // libyaml 0.2.5 wants `---` before a document that follows `...`.
        let e = try #require(failure("a: 1\n...\n  b: 2\n"))
        #expect(e.mark == mark(3, 3))
        #expect(e.message == "did not find expected <document start>")
    }

    @Test func emptySecondDocumentStillCounts() throws {
        let e = try #require(failure("--- a\n---\n"))
        #expect(e.mark == mark(2, 1))
    }

    @Test func endMarkerAloneIsOneDocument() throws {
        #expect(render(try parse("a: 1\n...\n# trailing comment\n")) == "{a: 1}")
    }
}
