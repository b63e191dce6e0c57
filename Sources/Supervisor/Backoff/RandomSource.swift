/// The generator a supervisor draws its jitter from, with the two common ones held directly.
///
/// `any RandomNumberGenerator` costs 40 bytes in every supervisor and a witness-table call per draw; the system
/// generator and ``SplitMix64`` (what tests pass) fit in 16 bytes here and are called directly. Any other generator
/// is kept behind a reference.
enum RandomSource: RandomNumberGenerator {
    case system
    case splitMix(SplitMix64)
    case other(OtherGenerator)

    /// Holds a generator of another type; only the supervising task draws from it.
    final class OtherGenerator: @unchecked Sendable {
        var generator: any RandomNumberGenerator

        init(_ generator: any RandomNumberGenerator) {
            self.generator = generator
        }
    }

    init(_ generator: any RandomNumberGenerator) {
        if generator is SystemRandomNumberGenerator {
            self = .system
        } else if let splitMix = generator as? SplitMix64 {
            self = .splitMix(splitMix)
        } else {
            self = .other(OtherGenerator(generator))
        }
    }

    mutating func next() -> UInt64 {
        switch self {
        case .system:
            var system = SystemRandomNumberGenerator()
            return system.next()
        case .splitMix(var splitMix):
            let value = splitMix.next()
            self = .splitMix(splitMix)
            return value
        case .other(let box):
            return box.generator.next()
        }
    }
}
