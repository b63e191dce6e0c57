/// A binary min-heap of events ordered by delivery time: the simulation's network.
///
/// ```swift
/// var queue = EventQueue()
/// queue.push(at: 12.5, client: 3, .readAtServer)
/// let first = queue.pop()  // the earliest event
/// ```
struct EventQueue {
    private var heap: [Event] = []
    private var made = 0

    /// Whether no message is in flight.
    var isEmpty: Bool { heap.isEmpty }

    /// Sends a message to be delivered at `time`.
    mutating func push(at time: Double, client: Int, _ kind: Event.Kind) {
        heap.append(Event(time: time, sequence: made, client: client, kind: kind))
        made += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest message, or `nil` when none is in flight.
    mutating func pop() -> Event? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            let child = right < heap.count && heap[right].precedes(heap[left]) ? right : left
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            parent = child
        }
        return first
    }
}
