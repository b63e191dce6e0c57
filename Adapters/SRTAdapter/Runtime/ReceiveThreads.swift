import CSRT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libsrt's receive threads, as the kernel lists them (`/proc/self/task/<id>/comm` is `SRT:RcvQ:w<N>`): what tells
/// a dead multiplexer from a slow one. A receive thread that dies logs its critical line on itself, so the death
/// names its thread (``ReceiveThreadDeath/thread``), and then exits (`Docs/srt-fault-model.md`, faults A and B); a
/// starved one, or one waiting on an access-control decision, is still listed.
///
/// ```swift
/// let before = ReceiveThreads.snapshot()
/// srt_bind_acquire(socket, descriptor)                       // starts the multiplexer's receive thread
/// let thread = ReceiveThreads.started(since: before)         // its id, unless another one started meanwhile
/// // Later, on a death signal:
/// if let thread, death.thread == thread || !ReceiveThreads.isRunning(thread) { /* dead */ }
/// ```
enum ReceiveThreads {
    /// The ids of libsrt's receive threads now; `nil` when /proc cannot be read (out of descriptors).
    static func snapshot() -> Set<pid_t>? {
        var ids = [Int32](repeating: 0, count: 256)
        var count = csrt_receive_threads(&ids, Int32(ids.count))
        if count > Int32(ids.count) {
            // More multiplexers than room: once more with enough (bounded: the count only grows by new binds).
            ids = [Int32](repeating: 0, count: Int(count) * 2)
            count = csrt_receive_threads(&ids, Int32(ids.count))
        }
        guard count >= 0, count <= Int32(ids.count) else { return nil }
        return Set(ids.prefix(Int(count)))
    }

    /// The one receive thread that appeared since `before`; `nil` when none or several did (another multiplexer
    /// was made at the same moment), or when either snapshot failed.
    static func started(since before: Set<pid_t>?) -> pid_t? {
        guard let before, let after = snapshot() else { return nil }
        let new = after.subtracting(before)
        return new.count == 1 ? new.first : nil
    }

    /// The ids of every thread of the process now, their names unread (one directory listing: cheap with thousands
    /// of threads); `nil` when /proc cannot be read. For ``started(sinceTasks:)``.
    static func tasks() -> Set<pid_t>? {
        var ids = [Int32](repeating: 0, count: 1024)
        var count = csrt_task_ids(&ids, Int32(ids.count))
        if count > Int32(ids.count) {
            // More threads than room: once more with enough (bounded: a second overflow gives up).
            ids = [Int32](repeating: 0, count: Int(count) * 2)
            count = csrt_task_ids(&ids, Int32(ids.count))
        }
        guard count >= 0, count <= Int32(ids.count) else { return nil }
        return Set(ids.prefix(Int(count)))
    }

    /// The one receive thread among the threads that appeared since `before` (``tasks()``), reading the names of
    /// the new threads only; `nil` when none or several did, or when either listing failed.
    static func started(sinceTasks before: Set<pid_t>?) -> pid_t? {
        guard let before, let after = tasks() else { return nil }
        let new = after.subtracting(before).filter { csrt_receive_thread_state($0) == 1 }
        return new.count == 1 ? new.first : nil
    }

    /// Whether thread `id` still exists (by `tgkill`, no descriptor needed). Not by its name: libsrt renames a live
    /// receive thread for a moment whenever it starts a connection's delivery thread.
    static func isRunning(_ id: pid_t) -> Bool {
        csrt_thread_exists(id) != 0
    }
}
