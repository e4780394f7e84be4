import Synchronization

/// A small in-memory map whose entries count as fresh for `ttlMillis` after they were stored
/// (times are the caller's clock, so tests can move them). When it is full, stale entries go
/// first, and everything goes if that is not enough: it bounds memory, it is not an LRU.
final class ExpiringCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (value: Value, storedAt: Int64)]>([:])
    private let ttlMillis: Int64
    private let capacity: Int

    init(ttlMillis: Int64, capacity: Int = 10_000) {
        self.ttlMillis = ttlMillis
        self.capacity = capacity
    }

    /// The value stored for `key`, if it is still fresh at `now`.
    func value(for key: String, now: Int64) -> Value? {
        guard let entry = entries.withLock({ $0[key] }), now >= entry.storedAt, now - entry.storedAt < ttlMillis else { return nil }
        return entry.value
    }

    /// Stores `value` as of `now`; nil (a lookup that found nothing) forgets `key` instead, so
    /// misses are never cached.
    func store(_ value: Value?, for key: String, now: Int64) {
        entries.withLock { entries in
            guard let value else {
                entries.removeValue(forKey: key)
                return
            }
            if entries.count >= capacity {
                entries = entries.filter { now >= $0.value.storedAt && now - $0.value.storedAt < ttlMillis }
                if entries.count >= capacity { entries.removeAll() }
            }
            entries[key] = (value, now)
        }
    }

    /// Forgets `key`.
    func remove(_ key: String) {
        entries.withLock { _ = $0.removeValue(forKey: key) }
    }

    /// Forgets every entry whose value matches.
    func removeAll(where matches: (Value) -> Bool) {
        entries.withLock { entries in entries = entries.filter { !matches($0.value.value) } }
    }
}
