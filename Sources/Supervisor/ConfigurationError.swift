/// A policy or an option was given a value it cannot work with.
///
/// Every public initializer and factory in this module validates its input and throws this error instead of trapping,
/// so a configuration read from a file or a command line fails with a message a person can act on:
///
/// ```swift
/// do {
///     _ = try Backoff.exponential(initial: .seconds(1), multiplier: 0.5, maximum: .seconds(60))
/// } catch let error as ConfigurationError {
///     print(error)  // multiplier: must be at least 1, got 0.5
///     assert(error.code == .outOfRange)
/// }
/// ```
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem this is; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum _Code: Hashable, Sendable {
            case outOfRange
            case notFinite
            case inconsistent
        }

        private let code: _Code

        private init(_ code: _Code) {
            self.code = code
        }

        /// A value lies outside the range the option accepts (a negative delay, a multiplier below 1).
        public static let outOfRange = Code(.outOfRange)
        /// A floating-point value is infinite or NaN.
        public static let notFinite = Code(.notFinite)
        /// Two values contradict each other (a minimum above a maximum).
        public static let inconsistent = Code(.inconsistent)

        public var description: String {
            switch code {
            case .outOfRange: "out of range"
            case .notFinite: "not finite"
            case .inconsistent: "inconsistent"
            }
        }
    }

    /// The kind of problem.
    public let code: Code
    /// The option that was rejected, as it is named in the API (`multiplier`, `maximum`).
    public let option: String
    /// What the option requires and what it was given.
    public let message: String

    /// Creates an error for `option`; adapters use it for their own configuration too.
    public init(_ code: Code, option: String, _ message: String) {
        self.code = code
        self.option = option
        self.message = message
    }

    public var description: String {
        "\(option): \(message)"
    }
}
