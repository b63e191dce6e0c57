import Testing

@testable import Supervisor

/// What the checks read of a `GroupShared`, which `#expect` cannot take itself (it is not copyable).
private struct Seen: Equatable {
    var ids: [Int]
    var spec: String?
    var serial: UInt64?

    init(ids: [Int], spec: String?, serial: UInt64?) {
        (self.ids, self.spec, self.serial) = (ids, spec, serial)
    }

    init(_ shared: borrowing GroupShared, child id: Int) {
        ids = shared.entries.map(\.id)
        spec = shared.entry(id)?.spec?.name
        serial = shared.running(id)?.serial
    }
}

/// What a group keeps of its children besides the state machine: one entry per child, sorted by id.
@Suite("Group bookkeeping")
struct GroupSharedTests {
    static func child(_ name: String) throws -> GroupChild {
        try .resource(RestartableResource(start: {}, run: { _ in }), name: name)
    }

    @Test("an entry stays while the child has a description or a running member, in id order")
    func entriesFollowDescriptionAndMember() throws {
        var shared = GroupShared(machine: GroupStateMachine(strategy: .oneForOne), random: SplitMix64(seed: 1))
        shared.reserveCapacity(3)
        for name in ["a", "b", "c"] {
            let admitted = shared.admit(try Self.child(name))
            #expect(admitted)
        }
        #expect(Seen(shared, child: 1) == Seen(ids: [0, 1, 2], spec: "b", serial: nil))
        let names = shared.ids
        #expect(names == ["a": 0, "b": 1, "c": 2])
        let member = try SupervisorGroup(name: "member", children: [])
        let task = Task<Void, Never> {}
        shared.setRunning(GroupShared.Running(serial: 7, member: member, task: task), of: 1)
        // Forgotten while it runs: its member stays, so that the group can still stop it.
        shared.setSpec(nil, of: 1)
        #expect(Seen(shared, child: 1) == Seen(ids: [0, 1, 2], spec: nil, serial: 7))
        shared.setRunning(nil, of: 1)
        #expect(Seen(shared, child: 1) == Seen(ids: [0, 2], spec: nil, serial: nil))
        // A member of a child forgotten already goes in its place in the order.
        shared.setRunning(GroupShared.Running(serial: 8, member: member, task: task), of: 1)
        #expect(Seen(shared, child: 1) == Seen(ids: [0, 1, 2], spec: nil, serial: 8))
        shared.setRunning(nil, of: 1)
        #expect(Seen(shared, child: 2) == Seen(ids: [0, 2], spec: "c", serial: nil))
    }
}
