import ServiceLifecycle

/// One push or pull as a child of the relay's tree: runs `body` once. The tree stops it by cancellation, which ends
/// the push's or pull's caller and its tasks.
struct ChainWorker: Service {
    let body: @Sendable () async -> Void

    func run() async {
        await body()
    }
}
