import Foundation
import Logging
import NIOCore
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
                // The rows travel as one JSON array per statement: at thousands of requests a
                // second, one INSERT per entry (or a VALUES list with a bind per column) kept the
                // writer busy preparing statements.
                var start = 0
                while start < batch.audit.count {
                    let chunk = batch.audit[start..<min(start + 1000, batch.audit.count)]
                    try await sql.raw(Self.auditInsert(rows: Self.auditJSON(chunk), dialect: self.database.dialect)).run()
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

    /// `[[id, key, at, method, path, status, ip, latency, request id], …]`.
    private static func auditJSON(_ entries: ArraySlice<APIKeyRequest>) -> String {
        var json = ByteBufferAllocator().buffer(capacity: 2 + entries.count * 220)
        json.writeInteger(UInt8(ascii: "["))
        for (index, entry) in entries.enumerated() {
            if index > 0 { json.writeInteger(UInt8(ascii: ",")) }
            json.writeInteger(UInt8(ascii: "["))
            JSONValue.writeString(UUIDv7.generate(), into: &json)
            json.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(entry.key.id, into: &json)
            // Short integers are small strings: no allocation.
            json.writeInteger(UInt8(ascii: ","))
            json.writeString(String(entry.at))
            json.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(entry.method, into: &json)
            json.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(entry.path, into: &json)
            json.writeInteger(UInt8(ascii: ","))
            json.writeString(String(entry.status))
            json.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(entry.clientIP, into: &json)
            json.writeInteger(UInt8(ascii: ","))
            json.writeString(String(entry.latencyMillis))
            json.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(entry.requestID, into: &json)
            json.writeInteger(UInt8(ascii: "]"))
        }
        json.writeInteger(UInt8(ascii: "]"))
        return String(buffer: json)
    }

    private static func auditInsert(rows json: String, dialect: SQLDialectKind) -> SQLQueryString {
        let columns = "INSERT INTO api_key_audit (id, key_id, occurred_at, method, path, status, ip, latency_ms, request_id)"
        switch dialect {
        case .sqlite:
            return """
                \(unsafeRaw: columns) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                value ->> 6, value ->> 7, value ->> 8 FROM json_each(\(bind: json))
                """
        case .postgres:
            return """
                \(unsafeRaw: columns) SELECT e ->> 0, e ->> 1, (e ->> 2)::bigint, e ->> 3, e ->> 4, (e ->> 5)::integer,
                e ->> 6, (e ->> 7)::integer, e ->> 8 FROM json_array_elements(\(bind: json)::json) AS e
                """
        }
    }

    public func run() async throws {
        await PeriodicFlush.run(every: interval, logger: logger, failure: "Writing API key usage failed; will retry") { try await flush() }
    }
}
