/// Text from peers (stream ids, addresses, error messages that quote them) made safe for a terminal or a log file:
/// every control character, and every character that moves or reorders text, is written as an escape, so one
/// event is always one line and no peer can colour, clear or rewrite what an operator sees.
///
/// ```swift
/// SafeText.escaped("cam1\n12:00:00.000 + fake\u{1B}[2J")   // "cam1\\n12:00:00.000 + fake\\u{1B}[2J"
/// SafeText.escaped("C:\\streams")                          // "C:\\\\streams": a backslash is doubled
/// ```
enum SafeText {
    /// `text` with `\n`, `\r`, `\t` and `\\` escaped as in Swift, and every other C0 or C1 control character,
    /// DEL, line or paragraph separator and bidirectional formatting character as `\u{XX}`.
    static func escaped(_ text: String) -> String {
        // Most lines have nothing to escape: no copy then.
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\\": result += "\\\\"
            case _ where needsEscape(scalar): result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether `scalar` is written as an escape.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        // C0 controls (ESC, BEL, BS, NUL…), DEL and the C1 controls (CSI U+009B among them).
        case 0x00...0x1F, 0x7F...0x9F: true
        // The backslash: escaped so that an escape in the output always came from the relay.
        case 0x5C: true
        // Left-to-right and right-to-left marks, line and paragraph separators, bidirectional embeddings,
        // overrides and isolates: they move or reorder the text around them.
        case 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}
