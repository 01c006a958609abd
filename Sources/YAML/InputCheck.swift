// Encoding checks done before libyaml sees the input, so that errors about the bytes
// themselves (wrong encoding, broken UTF-8, NUL and control characters) carry the
// exact line and column of the offending character.

enum InputCheck {
    /// Checks the whole input and returns the offset where the YAML text starts
    /// (3 when a UTF-8 byte-order mark is skipped, else 0).
    static func validate(_ bytes: [UInt8], file: String) throws(YAMLError) -> Int {
        let start1 = Mark(file: file, line: 1, column: 1)
        if hasPrefix(bytes, [0x00, 0x00, 0xFE, 0xFF]) || hasPrefix(bytes, [0xFF, 0xFE, 0x00, 0x00]) {
            throw YAMLError(mark: start1, message: "the file is UTF-32 (it starts with a UTF-32 byte-order mark); netform reads UTF-8 only")
        }
        if hasPrefix(bytes, [0xFE, 0xFF]) || hasPrefix(bytes, [0xFF, 0xFE]) {
            throw YAMLError(mark: start1, message: "the file is UTF-16 (it starts with a UTF-16 byte-order mark); netform reads UTF-8 only")
        }
        let start = hasPrefix(bytes, [0xEF, 0xBB, 0xBF]) ? 3 : 0

        var walker = Walker(bytes: bytes, index: start)
        while walker.index < bytes.count {
            let here = walker.index
            let mark = Mark(file: file, line: walker.line, column: walker.column)
            guard let scalar = walker.next() else {
                let byte = bytes[here]
                throw YAMLError(mark: mark, message: "invalid UTF-8 (byte 0x\(hex(UInt32(byte), digits: 2))); netform reads UTF-8 only")
            }
            if scalar == 0 {
                let hint = here < start + 4 ? " (is the file UTF-16 or UTF-32?)" : ""
                throw YAMLError(mark: mark, message: "NUL byte in input\(hint)")
            }
            if !isPrintable(scalar) {
                throw YAMLError(mark: mark, message: "control character U+\(hex(scalar, digits: 4)) is not allowed")
            }
        }
        return start
    }

    /// The 1-based line and column of byte `offset` of `text` (used for libyaml reader
    /// errors, which report a byte offset instead of a mark).
    static func position(ofOffset offset: Int, in text: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var walker = Walker(bytes: text, index: 0)
        while walker.index < min(offset, text.count) {
            if walker.next() == nil { break }
        }
        return (walker.line, walker.column)
    }

    /// The characters libyaml accepts (YAML 1.1 `c-printable`); anything else it would
    /// reject with a byte offset, so we reject it first with a proper position.
    static func isPrintable(_ v: UInt32) -> Bool {
        v == 0x09 || v == 0x0A || v == 0x0D
            || (v >= 0x20 && v <= 0x7E)
            || v == 0x85
            || (v >= 0xA0 && v <= 0xD7FF)
            || (v >= 0xE000 && v <= 0xFFFD)
            || (v >= 0x10000 && v <= 0x10FFFF)
    }

    static func hex(_ v: UInt32, digits: Int) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    private static func hasPrefix(_ bytes: [UInt8], _ prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && bytes[0..<prefix.count].elementsEqual(prefix)
    }
}

/// Decodes UTF-8 one scalar at a time while tracking line and column the way libyaml
/// does: CR LF, CR, LF, NEL (U+0085), LS (U+2028) and PS (U+2029) end a line, and
/// every other scalar advances the column by one.
private struct Walker<Bytes: RandomAccessCollection> where Bytes.Element == UInt8, Bytes.Index == Int {
    let bytes: Bytes
    var index: Int
    var line = 1
    var column = 1

    init(bytes: Bytes, index: Int) {
        self.bytes = bytes
        self.index = bytes.startIndex + index
    }

    /// Decodes the scalar at `index` and moves past it; nil (without moving) when the
    /// bytes there are not well-formed UTF-8 (overlong forms, surrogates and values
    /// above U+10FFFF included).
    mutating func next() -> UInt32? {
        let end = bytes.endIndex
        let b0 = bytes[index]
        var value: UInt32
        var length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch b0 {
        case 0x00...0x7F: value = UInt32(b0); length = 1
        case 0xC2...0xDF: value = UInt32(b0 & 0x1F); length = 2
        case 0xE0: value = UInt32(b0 & 0x0F); length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: value = UInt32(b0 & 0x0F); length = 3
        case 0xED: value = UInt32(b0 & 0x0F); length = 3; upper = 0x9F
        case 0xF0: value = UInt32(b0 & 0x07); length = 4; lower = 0x90
        case 0xF1...0xF3: value = UInt32(b0 & 0x07); length = 4
        case 0xF4: value = UInt32(b0 & 0x07); length = 4; upper = 0x8F
        default: return nil
        }
        if length > 1 {
            guard end - index >= length else { return nil }
            for k in 1..<length {
                let b = bytes[index + k]
                let lo: UInt8 = k == 1 ? lower : 0x80
                let hi: UInt8 = k == 1 ? upper : 0xBF
                guard b >= lo && b <= hi else { return nil }
                value = (value << 6) | UInt32(b & 0x3F)
            }
        }
        index += length
        switch value {
        case 0x0D:
            if index < end && bytes[index] == 0x0A { index += 1 }
            line += 1; column = 1
        case 0x0A, 0x85, 0x2028, 0x2029:
            line += 1; column = 1
        default:
            column += 1
        }
        return value
    }
}
