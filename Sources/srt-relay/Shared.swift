import Synchronization

/// A value behind a lock, in a reference that structs and `@Sendable` closures can share.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }
}
