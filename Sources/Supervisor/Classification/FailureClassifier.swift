/// Maps an error to a ``FailureDecision``.
///
/// A classifier may have no opinion on an error (it returns `nil` from ``decision(for:)``); classifiers compose
/// so that the first one with an opinion wins, and ``classify(_:)`` falls back to ``FailureDecision/restart``.
///
/// ```swift
/// let classifier = FailureClassifier.firstMatch([
///     .type(DecodingError.self, .giveUp),                 // our own bug: retrying cannot help
///     .matching({ ($0 as? HTTPError)?.status == 429 }, .restart(after: .seconds(5))),
///     .default,                                           // self-classifying errors, then restart
/// ])
/// let decision = classifier.classify(error)
/// ```
public struct FailureClassifier: Sendable {
    private let body: @Sendable (any Error) -> FailureDecision?

    /// A classifier from a function; return `nil` for "no opinion".
    public init(_ body: @escaping @Sendable (any Error) -> FailureDecision?) {
        self.body = body
    }

    /// This classifier's decision, or `nil` when it has no opinion on `error`.
    public func decision(for error: any Error) -> FailureDecision? {
        body(error)
    }

    /// The decision for `error`: this classifier's, or ``FailureDecision/restart`` when it has none.
    public func classify(_ error: any Error) -> FailureDecision {
        body(error) ?? .restart
    }

    /// This classifier, then `other` for the errors on which this one has no opinion.
    public func orElse(_ other: FailureClassifier) -> FailureClassifier {
        FailureClassifier { error in self.body(error) ?? other.body(error) }
    }

    /// The first classifier in `classifiers` that has an opinion decides.
    public static func firstMatch(_ classifiers: [FailureClassifier]) -> FailureClassifier {
        FailureClassifier { error in
            for classifier in classifiers {
                if let decision = classifier.body(error) { return decision }
            }
            return nil
        }
    }

    /// Decides every error of type `type` with `decide`, which may return `nil` for "no opinion".
    public static func type<E: Error>(
        _ type: E.Type,
        _ decide: @escaping @Sendable (E) -> FailureDecision?
    ) -> FailureClassifier {
        FailureClassifier { error in (error as? E).flatMap(decide) }
    }

    /// Decides every error of type `type` with `decision`.
    public static func type<E: Error>(_ type: E.Type, _ decision: FailureDecision) -> FailureClassifier {
        FailureClassifier { error in error is E ? decision : nil }
    }

    /// Decides with `decision` every error for which `predicate` holds.
    public static func matching(
        _ predicate: @escaping @Sendable (any Error) -> Bool,
        _ decision: FailureDecision
    ) -> FailureClassifier {
        FailureClassifier { error in predicate(error) ? decision : nil }
    }

    /// Decides every error with `decision`.
    public static func always(_ decision: FailureDecision) -> FailureClassifier {
        FailureClassifier { _ in decision }
    }

    /// Asks errors that adopt ``ClassifiableError``.
    public static let selfClassifying = FailureClassifier { error in
        (error as? any ClassifiableError)?.failureDecision
    }

    /// `CancellationError` means stop. Not part of ``default``: who was cancelled is known only where the error
    /// is caught (supervisors and `retry` check their own task), and an operation may throw `CancellationError`
    /// for a cancellation of its own, a timeout or a lost child task, which is a failure like any other. Add it
    /// for resources whose `CancellationError` always means a shutdown:
    ///
    /// ```swift
    /// let classifier = FailureClassifier.firstMatch([.cancellation, .default])
    /// ```
    public static let cancellation = FailureClassifier.type(CancellationError.self, .stop)

    /// The classifier supervisors and `retry` use unless told otherwise: errors that classify themselves
    /// (``ClassifiableError``) decide, anything else → ``FailureDecision/restart``, `CancellationError` included
    /// (the caller's own cancellation is a shutdown, which supervisors and `retry` see without asking the error).
    public static let `default` = FailureClassifier { error in
        // The same as `firstMatch([.selfClassifying, .always(.restart)])`, without walking an array of closures
        // on every failure.
        (error as? any ClassifiableError)?.failureDecision ?? .restart
    }
}
