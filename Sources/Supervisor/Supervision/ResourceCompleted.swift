/// `run(_:)` returned without an error where the resource was supposed to keep running.
public struct ResourceCompleted: Error, Hashable, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "run returned" }
}
