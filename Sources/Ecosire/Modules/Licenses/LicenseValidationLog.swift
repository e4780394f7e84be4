import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// Validations of installed software: `license.validated` events and each activation's
/// `last_validated_at`. A validation changes nothing, so instead of a write transaction per call
/// (which capped validate at the single SQLite writer's pace) they are kept in memory and written
/// in one transaction per interval, and once more at shutdown after HTTP has drained. Within an
/// interval, the validations of one license from one domain make one event carrying their `count`
/// (an installation polling in a loop must not flood subscribers). A crash can lose the last
/// interval's validation events, never a change.
public final class LicenseValidationLog: Service, Sendable {
    struct Entry: Sendable {
        var license: License
        var domain: String
        var activated: Bool
        var at: Int64
        var count: Int
    }

    /// By license id and domain.
    private let pending = Mutex<[String: Entry]>([:])
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
        let now = clock.nowMillis()
        let key = license.id + "\n" + domain
        pending.withLock { pending in
            if var entry = pending[key] {
                (entry.license, entry.activated, entry.at) = (license, activated, now)
                entry.count += 1
                pending[key] = entry
            } else {
                pending[key] = Entry(license: license, domain: domain, activated: activated, at: now, count: 1)
            }
        }
    }

    /// Writes what is pending; on failure it stays pending.
    public func flush() async throws {
        let taken = pending.withLock { pending -> [String: Entry] in
            defer { pending = [:] }
            return pending
        }
        let batch = taken.values.sorted { $0.at < $1.at }
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
                            "activated": .bool(entry.activated), "count": .int(Int64(entry.count)),
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
                for entry in batch where entry.activated {
                    try await sql.raw(
                        """
                        UPDATE license_activations SET last_validated_at = \(bind: entry.at)
                        WHERE license_id = \(bind: entry.license.id) AND domain = \(bind: entry.domain) AND deactivated_at IS NULL
                        """
                    ).run()
                }
            }
        } catch {
            pending.withLock { pending in
                for (key, entry) in taken {
                    guard var newer = pending[key] else {
                        pending[key] = entry
                        continue
                    }
                    newer.count += entry.count
                    pending[key] = newer
                }
            }
            throw error
        }
    }

    public func run() async throws {
        await PeriodicFlush.run(every: interval, logger: logger, failure: "Writing license validations failed; will retry") {
            try await flush()
        }
    }
}
