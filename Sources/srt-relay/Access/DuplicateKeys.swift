import Foundation

/// Finds a key given twice in one JSON object, which `JSONDecoder` takes silently (keeping one of the values): in a
/// file of secrets, a second entry for a stream or a second passphrase must be an error, not a coin toss.
///
/// ```swift
/// DuplicateKeys.first(in: Data(#"{"streams": {"cam1": {}, "cam1": {"read": {}}}}"#.utf8))
/// // ["streams", "cam1"]
/// ```
///
/// Reads well-formed JSON (the decoder checks the syntax); keys are compared after their escapes are decoded, so
/// `"\u0063am1"` is `"cam1"`.
enum DuplicateKeys {
    /// The path to the first key given twice in its object (the key last), or `nil`.
    static func first(in data: Data) -> [String]? {
        let bytes = [UInt8](data)
        // Per open container: its keys (nil for an array), whether a key comes next, and its own key in its parent.
        var stack: [(keys: Set<String>?, expectingKey: Bool, name: String)] = []
        var pendingName = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append((byte == UInt8(ascii: "{") ? [] : nil, byte == UInt8(ascii: "{"), pendingName))
                pendingName = ""
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
            case UInt8(ascii: ","):
                if let top = stack.indices.last, stack[top].keys != nil { stack[top].expectingKey = true }
            case UInt8(ascii: ":"):
                if let top = stack.indices.last { stack[top].expectingKey = false }
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard let top = stack.indices.last, stack[top].expectingKey, index < bytes.count else { break }
                let token = Data(bytes[start...index])
                let key =
                    (try? JSONDecoder().decode(String.self, from: token)) ?? String(decoding: token, as: UTF8.self)
                if stack[top].keys?.contains(key) == true { return stack.dropFirst().map(\.name) + [key] }
                stack[top].keys?.insert(key)
                pendingName = key
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
