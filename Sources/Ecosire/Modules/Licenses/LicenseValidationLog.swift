import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// Validations of installed software: `license.validated` events and each activation's
/// `last_validated_at`. A validation changes nothing, so instead of a write transaction per call
/// (which capped validate at the single SQLite writer's pace) they are kept in memory and written
/// in one transaction per interval, and once more at shutdown after HTTP has drained. A crash can
/// lose the last interval's validation events, never a change.
public final class LicenseValidationLog: Service, Sendable {
    struct Entry: Sendable {
        var license: License
        var domain: String
        var activated: Bool
        var at: Int64
    }

    private let pending = Mutex<[Entry]>([])
    private let database: any Database
    private let clock: WallClock
    private let interval: Duration
    private let logger: Logger

    public init(database: any Database, clock: WallClock, interval: Duration, logger: Logger) {
        self.database = database
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    func record(_ license: License, domain: String, activated: Bool) {
        let entry = Entry(license: license, domain: domain, activated: activated, at: clock.nowMillis())
        pending.withLock { $0.append(entry) }
    }

    /// Writes what is pending; on failure it stays pending.
    public func flush() async throws {
        let batch = pending.withLock { pending -> [Entry] in
            defer { pending = [] }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await database.transaction { sql in
                var start = 0
                while start < batch.count {
                    let chunk = batch[start..<min(start + 200, batch.count)]
                    let rows = chunk.map { entry -> SQLQueryString in
                        let id = EventOutbox.newEventID()
                        let object: JSONValue = [
                            "license": entry.license.json(now: entry.at), "domain": .string(entry.domain),
                            "activated": .bool(entry.activated),
                        ]
                        let payload = EventOutbox.envelope(id: id, type: "license.validated", created: entry.at / 1000, object: object)
                        return
                            "(\(bind: id), \(bind: entry.license.organizationID), 'license.validated', \(bind: payload.jsonString), \(bind: entry.at))"
                    }
                    try await sql.raw(
                        "INSERT INTO events (id, organization_id, type, payload, created_at) VALUES \(SQLList(rows, separator: SQLRaw(", ")))"
                    ).run()
                    start += chunk.count
                }
                var latest: [String: (licenseID: String, domain: String, at: Int64)] = [:]
                for entry in batch where entry.activated {
                    let key = entry.license.id + "\n" + entry.domain
                    if (latest[key]?.at ?? 0) < entry.at { latest[key] = (entry.license.id, entry.domain, entry.at) }
                }
                for touch in latest.values {
                    try await sql.raw(
                        """
                        UPDATE license_activations SET last_validated_at = \(bind: touch.at)
                        WHERE license_id = \(bind: touch.licenseID) AND domain = \(bind: touch.domain) AND deactivated_at IS NULL
                        """
                    ).run()
                }
            }
        } catch {
            pending.withLock { $0 = batch + $0 }
            throw error
        }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await flushLoggingErrors()
        }
        await flushLoggingErrors()
    }

    private func flushLoggingErrors() async {
        do {
            try await flush()
        } catch {
            logger.error("Writing license validations failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}
