/// `--min-free`: the space the recordings' file system must keep free, as a size or as a share of its size.
/// Below it the relay refuses new publishers and ends the recordings that are live.
///
/// ```swift
/// let threshold = try FreeSpaceThreshold(parsing: "5%")
/// threshold.bytes(ofTotal: 200 << 30)          // 10 GiB
/// try FreeSpaceThreshold(parsing: "512M").description   // "512 MiB"
/// FreeSpaceThreshold.standard                   // 1 GiB
/// try FreeSpaceThreshold(parsing: "0.4").bytes(ofTotal: 1)   // 1: a value that is not 0 never rounds to 0
/// ```
///
/// Only `0` (or `0%`) turns the guard off. A value that is not 0 is rounded up, never to 0: a size to whole bytes
/// (`0.4` keeps 1 byte), a share to a billionth of the file system (`0.00000001%` keeps 1 byte in 10⁹, at least 1).
struct FreeSpaceThreshold: Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Equatable {
        case bytes(UInt64)
        /// Billionths of the file system's size (5 % is 50,000,000).
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
    /// A share is kept to a billionth of the file system.
    private static let shareUnits: UInt64 = 1_000_000_000

    init(parsing text: String) throws(ParseFailure) {
        // ByteSize validated the digits: one that is not 0 means a value that is not 0.
        let isZero = !text.contains { ("1"..."9").contains($0) }
        guard text.hasSuffix("%") else {
            // Rounded down to whole bytes by ByteSize: a fraction of a byte keeps one.
            kind = .bytes(max(try ByteSize.parse(text), isZero ? 0 : 1))
            return
        }
        let number = text.dropLast()
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, let percent = Double(number), percent <= 100
        else { throw ParseFailure("expected a percentage from 0% to 100%, got \"\(text)\"") }
        // To the nearest billionth (0.07 % is 700,000, not one more for 0.07 × 10⁷'s floating-point excess), and at
        // least one.
        kind = .share(max(UInt64((percent * 10_000_000).rounded()), isZero ? 0 : 1))
    }

    /// Whether it keeps anything free at all.
    var isEnabled: Bool {
        kind != .bytes(0) && kind != .share(0)
    }

    /// The bytes to keep free on a file system of `total` bytes; a share rounded up, so that one is never 0 on a
    /// file system that has any size.
    func bytes(ofTotal total: UInt64) -> UInt64 {
        switch kind {
        case .bytes(let count): return count
        case .share(let units):
            // total × units / 10⁹ in 128 bits: exact for any total (the high half stays below 10⁹, units ≤ 10⁹).
            let (quotient, remainder) = Self.shareUnits.dividingFullWidth(total.multipliedFullWidth(by: units))
            return remainder > 0 ? quotient + 1 : quotient
        }
    }

    var description: String {
        switch kind {
        case .bytes(let count): return ByteSize.describe(count)
        case .share(let units):
            // Units of 10⁻⁷ %: the whole percent, then up to seven decimals without trailing zeros.
            let whole = units / 10_000_000
            var decimals = String(units % 10_000_000)
            decimals = String(repeating: "0", count: 7 - decimals.count) + decimals
            while decimals.hasSuffix("0") { decimals.removeLast() }
            return decimals.isEmpty ? "\(whole) %" : "\(whole).\(decimals) %"
        }
    }
}
