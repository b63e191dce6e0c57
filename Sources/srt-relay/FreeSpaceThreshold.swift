/// `--min-free`: the space the recordings' file system must keep free, as a size or as a share of its size.
/// Below it the relay refuses new publishers and ends the recordings that are live.
///
/// ```swift
/// let threshold = try FreeSpaceThreshold(parsing: "5%")
/// threshold.bytes(ofTotal: 200 << 30)          // 10 GiB
/// try FreeSpaceThreshold(parsing: "512M").description   // "512 MiB"
/// FreeSpaceThreshold.standard                   // 1 GiB
/// ```
struct FreeSpaceThreshold: Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case bytes(UInt64)
        /// Hundredths of a percent of the file system's size (5 % is 500).
        case share(UInt64)
    }

    private let kind: Kind

    /// A fixed number of bytes; 0 turns the guard off.
    static func bytes(_ count: UInt64) -> FreeSpaceThreshold {
        FreeSpaceThreshold(kind: .bytes(count))
    }

    /// 1 GiB: room for minutes of any stream, and a small part of any disk that holds recordings.
    static let standard = FreeSpaceThreshold.bytes(1 << 30)

    private init(kind: Kind) {
        self.kind = kind
    }

    /// `512M`, `2G`, `1073741824` (see ``ByteSize``), `5%` or `2.5%` (0 to 100), or `0` for no guard.
    init(parsing text: String) throws(ParseFailure) {
        guard text.hasSuffix("%") else {
            kind = .bytes(try ByteSize.parse(text))
            return
        }
        let number = text.dropLast()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, let percent = Double(number), percent <= 100
        else { throw ParseFailure("expected a percentage from 0% to 100%, got \"\(text)\"") }
        kind = .share(UInt64((percent * 100).rounded()))
    }

    /// Whether it keeps anything free at all.
    var isEnabled: Bool {
        kind != .bytes(0) && kind != .share(0)
    }

    /// The bytes to keep free on a file system of `total` bytes.
    func bytes(ofTotal total: UInt64) -> UInt64 {
        switch kind {
        case .bytes(let count): count
        // Divided first: no overflow for any total.
        case .share(let hundredths): total / 10_000 * hundredths + total % 10_000 * hundredths / 10_000
        }
    }

    var description: String {
        switch kind {
        case .bytes(let count): ByteSize.describe(count)
        case .share(let hundredths):
            hundredths % 100 == 0 ? "\(hundredths / 100) %" : "\(Double(hundredths) / 100) %"
        }
    }
}
