import NIOCore

/// Serves with a bound channel until its task is cancelled (then closes it) or it closes by itself (then throws
/// `NIOAdapterError.Code.closedUnexpectedly`, which restarts it); resolves where to bind. Shared by the server and
/// datagram resources.
enum NIOChannelLifetime {
    /// The address to bind `target` to now; a failure is `NIOAdapterError.Code.resolutionFailed`, a cancellation
    /// before the resolver returned is `CancellationError`.
    static func resolve(_ target: NIOBindTarget, address: String) async throws -> SocketAddress {
        do {
            return try await target.address()
        } catch let cancellation as CancellationError {
            throw cancellation
        } catch {
            throw NIOAdapterError(.resolutionFailed, address: address, underlying: error)
        }
    }

    static func serve(_ channel: any Channel, address: String) async throws {
        await withTaskCancellationHandler {
            // A close we did not ask for is a failure of the resource, whatever the future's result.
            _ = try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        if Task.isCancelled { throw CancellationError() }
        throw NIOAdapterError(.closedUnexpectedly, address: address)
    }

    static func close(_ channel: any Channel) async {
        // Already closed (the usual case after a failure) is fine.
        try? await channel.close()
    }
}
