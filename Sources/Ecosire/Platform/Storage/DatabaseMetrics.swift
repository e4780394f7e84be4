import Metrics

/// What the storage layer reports at `/metrics` (docs/deployment.md lists every metric). Created on
/// first use, which comes after the Prometheus factory is bootstrapped.
enum DatabaseMetrics {
    /// Operations holding or waiting for a connection (PostgreSQL) or the write lock (SQLite).
    static let inFlight = Meter(label: "ecosire_database_operations_in_flight")
    /// Time until an operation got its pooled connection (PostgreSQL) or the write lock (SQLite).
    static let wait = Timer(label: "ecosire_database_wait_seconds")
    /// Operations answered 503 `DATABASE_UNAVAILABLE` (no connection in time, or it broke).
    static let unavailable = Counter(label: "ecosire_database_unavailable_total")
}

extension Timer {
    /// Records the time from `start` until now.
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
