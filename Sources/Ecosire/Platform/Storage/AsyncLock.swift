/// A FIFO async mutex: waiters suspend instead of blocking a thread.
///
/// SQLite allows one writer; its transactions are serialised through this so that two tasks never
/// interleave statements inside one `BEGIN … COMMIT` on the shared writer connection.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    /// Runs `work` while holding the lock.
    nonisolated func withLock<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        await lock()
        do {
            let value = try await work()
            await unlock()
            return value
        } catch {
            await unlock()
            throw error
        }
    }
}
