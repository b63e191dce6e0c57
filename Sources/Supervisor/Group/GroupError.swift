/// A group refused to add a child.
///
/// ```swift
/// do {
///     try group.add(.resource(forwarder, name: "stream-\(id)", restart: .temporary))
/// } catch let error as GroupError where error.code == .full {
///     reject(connection)   // the cap holds
/// }
/// ```
public struct GroupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of refusal; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum _Code: Hashable, Sendable {
            case full
            case duplicateName
            case ended
        }

        private let code: _Code

        private init(_ code: _Code) {
            self.code = code
        }

        /// The group holds its ``SupervisorGroup/maxChildren`` already.
        public static let full = Code(.full)
        /// A child of that name is in the group.
        public static let duplicateName = Code(.duplicateName)
        /// The group is stopping or has stopped.
        public static let ended = Code(.ended)

        public var description: String {
            switch code {
            case .full: "full"
            case .duplicateName: "duplicate name"
            case .ended: "ended"
            }
        }
    }

    public let code: Code
    /// The group's path.
    public let group: String
    /// The child refused.
    public let child: String

    init(_ code: Code, group: String, child: String) {
        self.code = code
        self.group = group
        self.child = child
    }

    public var description: String {
        switch code {
        case .full: "group \(group) is full: \(child) refused"
        case .duplicateName: "group \(group) has a child named \(child) already"
        default: "group \(group) has ended: \(child) refused"
        }
    }
}
