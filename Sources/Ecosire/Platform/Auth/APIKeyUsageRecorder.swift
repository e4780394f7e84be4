import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// One request made with an API key.
public struct APIKeyRequest: Sendable {
    public var key: CallerKey
    public var method: String
    public var path: String
    public var status: Int
    public var clientIP: String
    public var latencyMillis: Int
    public var requestID: String
    public var at: Int64
}

/// Per-key daily usage, `last_used_at` and the audit log of live keys, kept off the request path:
/// requests are counted in memory and written in one transaction every `interval` and once more
/// when the server shuts down cleanly (after the HTTP server has drained).
public final class APIKeyUsageRecorder: Service, Sendable {
    private struct Pending {
        /// (key id, UTC day number) → (requests, errors).
        var counts: [String: [Int64: (requests: Int, errors: Int)]] = [:]
        var lastUsed: [String: Int64] = [:]
        var audit: [APIKeyRequest] = []
        var isEmpty: Bool { counts.isEmpty && audit.isEmpty }
    }

    private let pending = Mutex(Pending())
    private let database: any Database
    private let interval: Duration
    private let logger: Logger

    public init(database: any Database, interval: Duration = .seconds(1), logger: Logger) {
        self.database = database
        self.interval = interval
        self.logger = logger
    }

    /// Counts one request (cheap: a lock and a few dictionary updates).
    public func record(_ request: APIKeyRequest) {
        let day = Timestamp.dayNumber(millis: request.at)
        let isError = request.status >= 400
        pending.withLock { pending in
            var count = pending.counts[request.key.id]?[day] ?? (0, 0)
            count.requests += 1
            if isError { count.errors += 1 }
            pending.counts[request.key.id, default: [:]][day] = count
            pending.lastUsed[request.key.id] = max(pending.lastUsed[request.key.id] ?? 0, request.at)
            if request.key.environment == "live" { pending.audit.append(request) }
        }
    }

    /// Writes what has been counted so far; on failure the counts are put back for the next try.
    public func flush() async throws {
        let batch = pending.withLock { pending -> Pending in
            defer { pending = Pending() }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await database.transaction { sql in
                for (keyID, days) in batch.counts {
                    for (day, count) in days {
                        try await sql.raw(
                            """
                            INSERT INTO api_key_usage (key_id, day, requests, errors)
                            VALUES (\(bind: keyID), \(bind: Timestamp.day(number: day)), \(bind: count.requests), \(bind: count.errors))
                            ON CONFLICT (key_id, day) DO UPDATE SET requests = api_key_usage.requests + excluded.requests,
                                errors = api_key_usage.errors + excluded.errors
                            """
                        ).run()
                    }
                }
                for (keyID, at) in batch.lastUsed {
                    try await sql.raw(
                        """
                        UPDATE api_keys SET last_used_at = \(bind: at)
                        WHERE id = \(bind: keyID) AND (last_used_at IS NULL OR last_used_at < \(bind: at))
                        """
                    ).run()
                }
                // Many rows per statement: at thousands of requests a second, one INSERT per
                // entry would keep the writer busy.
                var start = 0
                while start < batch.audit.count {
                    let chunk = batch.audit[start..<min(start + 200, batch.audit.count)]
                    let rows = chunk.map { entry -> SQLQueryString in
                        """
                        (\(bind: UUIDv7.generate()), \(bind: entry.key.id), \(bind: entry.at), \(bind: entry.method), \(bind: entry.path),
                        \(bind: entry.status), \(bind: entry.clientIP), \(bind: entry.latencyMillis), \(bind: entry.requestID))
                        """
                    }
                    try await sql.raw(
                        """
                        INSERT INTO api_key_audit (id, key_id, occurred_at, method, path, status, ip, latency_ms, request_id)
                        VALUES \(SQLList(rows, separator: SQLRaw(", ")))
                        """
                    ).run()
                    start += chunk.count
                }
            }
        } catch {
            pending.withLock { pending in
                for (keyID, days) in batch.counts {
                    for (day, count) in days {
                        var current = pending.counts[keyID, default: [:]][day] ?? (0, 0)
                        current.requests += count.requests
                        current.errors += count.errors
                        pending.counts[keyID, default: [:]][day] = current
                    }
                }
                for (keyID, at) in batch.lastUsed { pending.lastUsed[keyID] = max(pending.lastUsed[keyID] ?? 0, at) }
                pending.audit = batch.audit + pending.audit
            }
            throw error
        }
    }

    public func run() async throws {
        await PeriodicFlush.run(every: interval, logger: logger, failure: "Writing API key usage failed; will retry") { try await flush() }
    }
}
