import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import SQLKit
import ServiceLifecycle
import Synchronization

/// Delivers the outbox to webhook endpoints, at least once:
/// 1. fan-out: events not yet dispatched become one delivery row per subscribed active endpoint,
///    in one transaction with marking the events dispatched;
/// 2. claim: due deliveries are leased to this worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
///    so several instances never take the same one), up to the free concurrency;
/// 3. send: each claimed delivery is posted on its own task;
/// 4. record: outcomes are written in batches (attempt log, next attempt by the retry schedule,
///    410 and five days of failure disable the endpoint with a notification).
/// A crash after sending and before recording leaves the lease to run out, and the delivery is
/// sent again; receivers deduplicate by `webhook-id`.
public final class WebhookDeliveryWorker: Service, Sendable {
    private let database: any Database
    private let clock: WallClock
    private let settings: WebhookSettings
    private let secrets: SecretBox
    private let licenseSignatures: LicenseSignatures
    private let logger: Logger
    private let finished = Mutex<[AttemptOutcome]>([])
    /// Claimed deliveries whose outcome is not recorded yet: sending and recording both count
    /// against the concurrency, so a slow database slows claiming instead of letting leases expire.
    private let outstanding = Atomic<Int>(0)
    /// Set when there is work for now: a request queued a test event or a redelivery, or a
    /// recorded batch freed slots.
    private let nudged = Atomic<Bool>(false)
    /// Set once the run loop has stopped claiming (at shutdown), so the record loop knows that
    /// what is outstanding is all there will be.
    private let claimingStopped = Atomic<Bool>(false)
    private let slots: DeliverySlots

    /// An endpoint failing this long without a success is disabled.
    static let failureWindowMillis: Int64 = 5 * 86_400_000
    private static let fanOutBatch = 500

    init(
        database: any Database, clock: WallClock, settings: WebhookSettings, secrets: SecretBox, licenseSignatures: LicenseSignatures,
        logger: Logger
    ) {
        self.database = database
        self.clock = clock
        self.settings = settings
        self.secrets = secrets
        self.licenseSignatures = licenseSignatures
        self.logger = logger
        self.slots = DeliverySlots(perEndpoint: settings.endpointConcurrency, perOrganization: settings.organizationConcurrency)
    }

    /// Looks for work at once instead of at the next poll.
    /// Wakes the worker for rows just queued; inside an ambient transaction, once it commits (a
    /// wake-up before would find nothing and sleep a whole poll interval).
    func nudge() { AmbientTransaction.afterCommit { [self] in nudged.store(true, ordering: .relaxed) } }

    public func run() async throws {
        guard settings.workerEnabled else {
            try? await gracefulShutdown()
            return
        }
        // Redirects are not followed: a redirect could lead past the SSRF guard.
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(Int64(min(settings.timeoutSeconds, 10)))))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: settings.concurrency)
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let sender = WebhookSender(
            client: client, guardian: OutboundURLGuard(allowPrivate: settings.allowPrivateURLs),
            timeout: .seconds(Int64(settings.timeoutSeconds)), licenseSecret: licenseSignatures.secret, clock: clock)
        let poll = Duration.milliseconds(settings.pollMillis)
        let queueDepth = Gauge(label: "ecosire_webhook_queue_depth")
        let oldestDue = Gauge(label: "ecosire_webhook_oldest_due_seconds")
        var depthMeasured = ContinuousClock.now - .seconds(60)
        var unavailableLogged = ContinuousClock.now - .seconds(60)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.recordLoop() }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                var busy = false
                do {
                    if ContinuousClock.now - depthMeasured >= .seconds(5) {
                        depthMeasured = ContinuousClock.now
                        let now = clock.nowMillis()
                        let rows = try await database.readRows(
                            """
                            SELECT COUNT(*) AS n, MIN(CASE WHEN next_attempt_at <= \(bind: now) THEN next_attempt_at END) AS due
                            FROM webhook_deliveries WHERE status = 'pending'
                            """)
                        queueDepth.record(try rows.first?.integer("n") ?? 0)
                        // How long the most overdue delivery has waited past its attempt time.
                        let due = try rows.first.flatMap { try $0.isNull("due") ? nil : try $0.integer("due") }
                        oldestDue.record(Double(due.map { max(0, now - $0) } ?? 0) / 1000)
                    }
                    let work = try await pendingWork()
                    if work.events { busy = try await fanOut() > 0 }
                    let room = settings.concurrency - outstanding.load(ordering: .relaxed)
                    if room > 0 && (work.deliveries || busy) {
                        let claimed = try await claim(limit: room)
                        busy = busy || claimed.count == room
                        if Task.isShuttingDownGracefully {
                            // Claimed as shutdown began: hand them back rather than start them.
                            try await release(claimed)
                            break
                        }
                        for delivery in claimed {
                            outstanding.add(1, ordering: .relaxed)
                            slots.take(endpoint: delivery.endpointID, organization: delivery.organizationID)
                            group.addTask {
                                let outcome = await sender.send(delivery)
                                self.slots.free(endpoint: delivery.endpointID, organization: delivery.organizationID)
                                self.finished.withLock { $0.append(outcome) }
                            }
                        }
                    }
                } catch let error as DatabaseUnavailable {
                    // Once per ten seconds while the database is away, not once per poll.
                    if ContinuousClock.now - unavailableLogged >= .seconds(10) {
                        unavailableLogged = ContinuousClock.now
                        logger.warning("Webhook worker waits for the database", metadata: ["error": "\(error)"])
                    }
                } catch {
                    logger.error("Webhook worker step failed", metadata: ["error": "\(String(reflecting: error))"])
                }
                let full = outstanding.load(ordering: .relaxed) >= settings.concurrency
                if busy && !full { continue }
                // Wait for the poll interval, a nudge (work queued by a request, or a slot freed by
                // a recorded outcome), or shutdown; in short steps while attempts are outstanding.
                let deadline = ContinuousClock.now + poll
                let step = Duration.milliseconds(outstanding.load(ordering: .relaxed) > 0 ? 2 : 20)
                while ContinuousClock.now < deadline && !nudged.exchange(false, ordering: .relaxed) && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: step)
                }
            }
            // Shutdown: no new claims; the group waits for attempts in flight, then the record
            // loop writes their outcomes and ends.
            claimingStopped.store(true, ordering: .relaxed)
        }
        try? await client.shutdown()
    }

    /// Writes finished outcomes every few milliseconds until shutdown and nothing is in flight.
    private func recordLoop() async {
        while true {
            let done = finished.withLock { finished -> [AttemptOutcome] in
                defer { finished = [] }
                return finished
            }
            if !done.isEmpty {
                defer {
                    outstanding.subtract(done.count, ordering: .relaxed)
                    nudge()
                }
                do {
                    try await record(done)
                } catch {
                    // One bad outcome must not hold up the others: record them one by one. One that
                    // still fails is dropped; its lease runs out and it is sent again.
                    for outcome in done {
                        do {
                            try await record([outcome])
                        } catch {
                            logger.error(
                                "Recording a webhook attempt failed",
                                metadata: ["delivery": .string(outcome.delivery.id), "error": "\(String(reflecting: error))"])
                        }
                    }
                }
            }
            let stopping = Task.isShuttingDownGracefully || Task.isCancelled
            if stopping && claimingStopped.load(ordering: .relaxed) && outstanding.load(ordering: .relaxed) == 0 { return }
            if done.isEmpty { try? await Task.sleep(for: .milliseconds(outstanding.load(ordering: .relaxed) > 0 ? 2 : 20)) }
        }
    }

    // MARK: Looking for work

    /// Conditions of a delivery that may be claimed now.
    private func due(_ now: Int64) -> SQLQueryString {
        "status = 'pending' AND next_attempt_at <= \(bind: now) AND (lease_until IS NULL OR lease_until < \(bind: now))"
    }

    /// One cheap read per poll, so that an idle worker costs one query: whether events wait for
    /// fan-out and whether deliveries are due.
    private func pendingWork() async throws -> (events: Bool, deliveries: Bool) {
        let row = try await database.readRows(
            """
            SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM events WHERE dispatched_at IS NULL) THEN 1 ELSE 0 END AS BIGINT) AS events,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries WHERE \(due(clock.nowMillis()))) THEN 1 ELSE 0 END AS BIGINT) AS due
            """
        ).first
        return (try row?.integer("events") == 1, try row?.integer("due") == 1)
    }

    // MARK: Fan-out

    /// Turns undispatched events into deliveries; returns how many events it took.
    func fanOut() async throws -> Int {
        let now = clock.nowMillis()
        let locking: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await database.transaction { sql in
            let events = try await sql.raw(
                """
                SELECT id, organization_id, type, payload FROM events WHERE dispatched_at IS NULL
                ORDER BY created_at, id LIMIT \(unsafeRaw: String(Self.fanOutBatch))\(locking)
                """
            ).all().map(DecodedColumns.init)
            guard !events.isEmpty else { return 0 }
            let organizations = Array(Set(try events.map { try $0.text("organization_id") }))
            let endpoints = try await sql.raw(
                """
                SELECT id, organization_id, events FROM webhook_endpoints
                WHERE active = \(bind: true) AND organization_id IN (\(binds: organizations))
                """
            ).all().map(DecodedColumns.init)
            var subscribers: [String: [(id: String, types: [String])]] = [:]
            for endpoint in endpoints {
                let types = (try? JSONValue.parse(endpoint.text("events")).arrayValue?.compactMap(\.stringValue)) ?? nil
                subscribers[try endpoint.text("organization_id"), default: []].append((try endpoint.text("id"), types ?? []))
            }
            var rows: [SQLQueryString] = []
            for event in events {
                let type = try event.text("type")
                for endpoint in subscribers[try event.text("organization_id")] ?? []
                where endpoint.types.contains("*") || endpoint.types.contains(type) {
                    rows.append(
                        """
                        (\(bind: UUIDv7.generate()), \(bind: try event.text("organization_id")), \(bind: endpoint.id), \(bind: try event.text("id")),
                        \(bind: type), \(bind: try event.text("payload")), \(bind: false), 'pending', 0, \(bind: now), \(bind: now), \(bind: now))
                        """)
                }
            }
            var start = 0
            while start < rows.count {
                let chunk = Array(rows[start..<min(start + 200, rows.count)])
                try await sql.raw(
                    """
                    INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, payload, test, status, attempts,
                        next_attempt_at, created_at, updated_at)
                    VALUES \(SQLList(chunk, separator: SQLRaw(", ")))
                    """
                ).run()
                start += chunk.count
            }
            let ids = try events.map { try $0.text("id") }
            try await sql.raw("UPDATE events SET dispatched_at = \(bind: now) WHERE id IN (\(binds: ids))").run()
            return events.count
        }
    }

    // MARK: Claim

    /// Leases up to `limit` due deliveries to this worker, with their endpoints.
    func claim(limit: Int) async throws -> [ClaimedDelivery] {
        let now = clock.nowMillis()
        let due = self.due(now)
        let locking: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        let leaseUntil = now + Int64(settings.leaseSeconds) * 1000
        // Fair shares: endpoints and organizations without a free slot are skipped, and of the
        // oldest due deliveries each endpoint gets at most its share, taken round-robin (first
        // every endpoint's oldest, then every endpoint's second, …).
        let exhausted = slots.exhausted()
        var skip: SQLQueryString = ""
        if !exhausted.endpoints.isEmpty { skip = " AND endpoint_id NOT IN (\(binds: exhausted.endpoints))" }
        if !exhausted.organizations.isEmpty { skip = skip + " AND organization_id NOT IN (\(binds: exhausted.organizations))" }
        let candidates = String(min(limit * 8, 4096))
        // The ranking reads a snapshot; the locked scan repeats `due` so that PostgreSQL re-checks
        // it on a row another instance leased and committed while this one waited for the lock.
        let rows = try await database.transaction { [slots, skip] sql in
            try await sql.raw(
                """
                UPDATE webhook_deliveries SET lease_until = \(bind: leaseUntil)
                WHERE id IN (SELECT id FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM (
                        SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at) AS turn
                        FROM (SELECT id, endpoint_id, next_attempt_at FROM webhook_deliveries WHERE \(due)\(skip)
                              ORDER BY next_attempt_at LIMIT \(unsafeRaw: candidates)) AS oldest
                    ) AS ranked
                    WHERE turn <= \(unsafeRaw: String(slots.perEndpoint)) ORDER BY turn, next_attempt_at LIMIT \(unsafeRaw: String(limit))
                ) AND \(due)\(locking))
                RETURNING id, organization_id, endpoint_id, event_id, event_type, payload, attempts
                """
            ).all().map(DecodedColumns.init)
        }
        guard !rows.isEmpty else { return [] }
        var deliveries = try rows.map { row in
            ClaimedDelivery(
                id: try row.text("id"), organizationID: try row.text("organization_id"), endpointID: try row.text("endpoint_id"),
                eventID: try row.text("event_id"), eventType: try row.text("event_type"), payload: try row.text("payload"),
                attempts: Int(try row.integer("attempts")), leaseUntil: leaseUntil, endpoint: nil)
        }
        let endpointIDs = Array(Set(deliveries.map(\.endpointID)))
        let endpoints = try await database.readRows(
            """
            SELECT id, url, secret_sealed, previous_secret_sealed, previous_secret_expires_at FROM webhook_endpoints
            WHERE active = \(bind: true) AND id IN (\(binds: endpointIDs))
            """)
        var byID: [String: ClaimedDelivery.Endpoint] = [:]
        for row in endpoints {
            var endpoint = ClaimedDelivery.Endpoint(url: try row.text("url"), secrets: [], problem: nil)
            do {
                endpoint.secrets = [try self.secrets.open(row.text("secret_sealed"))]
                if try !row.isNull("previous_secret_sealed"), try row.integer("previous_secret_expires_at") > now {
                    endpoint.secrets.append(try self.secrets.open(row.text("previous_secret_sealed")))
                }
            } catch {
                // One unreadable secret fails its own deliveries, not the batch.
                endpoint.problem = "The signing secret cannot be decrypted with this server's SECRETS_KEY; rotate the secret"
            }
            byID[try row.text("id")] = endpoint
        }
        for index in deliveries.indices { deliveries[index].endpoint = byID[deliveries[index].endpointID] }
        return deliveries
    }

    /// Gives claimed deliveries back (their leases cleared) without attempting them.
    private func release(_ deliveries: [ClaimedDelivery]) async throws {
        guard let lease = deliveries.first?.leaseUntil else { return }
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE webhook_deliveries SET lease_until = NULL WHERE id IN (\(binds: deliveries.map(\.id))) AND lease_until = \(bind: lease)
                """
            ).run()
        }
    }

    // MARK: Record

    /// Writes a batch of outcomes in one transaction: successes (the common case) with a few
    /// multi-row statements, failures one by one.
    func record(_ outcomes: [AttemptOutcome]) async throws {
        let now = clock.nowMillis()
        let successes = outcomes.filter { !$0.skipped && $0.succeeded }
        try await database.transaction { sql in
            var start = 0
            while start < successes.count {
                let chunk = Array(successes[start..<min(start + 200, successes.count)])
                try await self.recordSuccesses(chunk, sql, now: now)
                start += chunk.count
            }
            for outcome in outcomes where outcome.skipped || !outcome.succeeded { try await self.record(outcome, sql, now: now) }
        }
    }

    /// Successful attempts: the deliveries done, their attempt rows, their endpoints' failing
    /// streaks ended.
    private func recordSuccesses(_ outcomes: [AttemptOutcome], _ sql: any SQLDatabase, now: Int64) async throws {
        guard !outcomes.isEmpty else { return }
        Counter(label: "ecosire_webhook_deliveries_total", dimensions: [("outcome", "succeeded")]).increment(by: outcomes.count)
        // (delivery id, response code, attempted at, lease), typed in the first row for PostgreSQL;
        // both databases name the columns of VALUES column1, column2….
        let rows = outcomes.enumerated().map { index, outcome -> SQLQueryString in
            let code = Int64(outcome.responseCode ?? 200)
            let (id, at, lease) = (outcome.delivery.id, outcome.attemptedAt, outcome.delivery.leaseUntil)
            return index == 0
                ? "(CAST(\(bind: id) AS TEXT), CAST(\(bind: code) AS BIGINT), CAST(\(bind: at) AS BIGINT), CAST(\(bind: lease) AS BIGINT))"
                : "(\(bind: id), \(bind: code), \(bind: at), \(bind: lease))"
        }
        // Not returned: deleted with their endpoint while in flight, or their lease ran out and
        // another attempt owns them now. Either way there is nothing to record.
        let updated = try await sql.raw(
            """
            UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, lease_until = NULL, next_attempt_at = NULL,
                last_response_code = outcome.column2, last_error = NULL, delivered_at = outcome.column3, updated_at = \(bind: now)
            FROM (VALUES \(SQLList(rows, separator: SQLRaw(", ")))) AS outcome
            WHERE webhook_deliveries.id = outcome.column1 AND webhook_deliveries.lease_until = outcome.column4
            RETURNING id, attempts
            """
        ).all().map(DecodedColumns.init)
        var attempts: [String: Int64] = [:]
        for row in updated { attempts[try row.text("id")] = try row.integer("attempts") }
        let logged = outcomes.compactMap { outcome -> SQLQueryString? in
            guard let attempt = attempts[outcome.delivery.id] else { return nil }
            return """
                (\(bind: outcome.attemptID), \(bind: outcome.delivery.id), \(bind: attempt), \(bind: outcome.attemptedAt),
                \(bind: outcome.durationMillis), \(bind: outcome.responseCode.map(Int64.init)), \(bind: outcome.responseBody), NULL, \(bind: true))
                """
        }
        if !logged.isEmpty {
            try await sql.raw(
                """
                INSERT INTO webhook_attempts (id, delivery_id, attempt, attempted_at, duration_ms, response_code, response_body, error, succeeded)
                VALUES \(SQLList(logged, separator: SQLRaw(", ")))
                """
            ).run()
        }
        let endpoints = Array(Set(outcomes.map(\.delivery.endpointID)))
        try await sql.raw(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id IN (\(binds: endpoints)) AND failing_since IS NOT NULL"
        ).run()
    }

    /// One outcome: the delivery's next state, its attempt row, the endpoint's failing streak.
    private func record(_ outcome: AttemptOutcome, _ sql: any SQLDatabase, now: Int64) async throws {
        let delivery = outcome.delivery
        func count(_ label: String) {
            Counter(label: "ecosire_webhook_deliveries_total", dimensions: [("outcome", label)]).increment()
        }
        // Only while the lease is still ours (locked on PostgreSQL until the batch commits).
        let locking: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE" : ""
        let held = try await sql.raw(
            "SELECT id FROM webhook_deliveries WHERE id = \(bind: delivery.id) AND lease_until = \(bind: delivery.leaseUntil)\(locking)"
        ).first()
        guard held != nil else { return }
        if outcome.skipped {
            count("cancelled")
            try await sql.raw(
                """
                UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL, next_attempt_at = NULL,
                    last_error = 'The endpoint is disabled or deleted', updated_at = \(bind: now)
                WHERE id = \(bind: delivery.id)
                """
            ).run()
            return
        }
        let attempt = delivery.attempts + 1
        let code = outcome.responseCode.map(Int64.init)
        let gone = outcome.responseCode == 410
        let status: String
        var nextAttempt: Int64?
        // The endpoint's failing streak: cleared by a success, started by a failure (nil when the
        // endpoint was disabled or deleted meanwhile).
        var failingSince: Int64?
        if outcome.succeeded {
            status = "succeeded"
            try await sql.raw(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = \(bind: delivery.endpointID) AND failing_since IS NOT NULL"
            ).run()
        } else {
            let delay =
                gone ? nil : WebhookRetrySchedule.nextDelayMillis(afterAttempts: attempt, retryAfterSeconds: outcome.retryAfterSeconds)
            if !gone {
                failingSince = try await sql.raw(
                    """
                    UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, \(bind: outcome.attemptedAt))
                    WHERE id = \(bind: delivery.endpointID) AND active = \(bind: true) RETURNING failing_since
                    """
                ).first().map { try DecodedColumns($0).integer("failing_since") }
            }
            if let delay, failingSince != nil {
                status = "pending"
                nextAttempt = now + delay
            } else {
                status = delay == nil ? "failed" : "cancelled"
            }
        }
        count(status == "pending" ? "retrying" : status)
        let updated = try await sql.raw(
            """
            UPDATE webhook_deliveries SET status = \(bind: status), attempts = \(bind: attempt), lease_until = NULL,
                next_attempt_at = \(bind: nextAttempt), last_response_code = \(bind: code), last_error = \(bind: outcome.error),
                delivered_at = \(bind: outcome.succeeded ? outcome.attemptedAt : nil), updated_at = \(bind: now)
            WHERE id = \(bind: delivery.id) RETURNING id
            """
        ).first()
        // Deleted with its endpoint while the attempt was in flight: nothing left to log.
        guard updated != nil else { return }
        try await sql.raw(
            """
            INSERT INTO webhook_attempts (id, delivery_id, attempt, attempted_at, duration_ms, response_code, response_body, error, succeeded)
            VALUES (\(bind: outcome.attemptID), \(bind: delivery.id), \(bind: attempt), \(bind: outcome.attemptedAt),
                \(bind: outcome.durationMillis), \(bind: code), \(bind: outcome.responseBody), \(bind: outcome.error), \(bind: outcome.succeeded))
            """
        ).run()
        if gone {
            try await disable(
                sql, delivery: delivery, reason: "gone", now: now,
                message: "The endpoint answered 410 Gone, so deliveries to it stopped. Re-enable it to resume.")
        } else if let failingSince, now - failingSince >= Self.failureWindowMillis {
            try await disable(
                sql, delivery: delivery, reason: "failing", now: now,
                message: "Every delivery to the endpoint has failed for five days, so it was disabled. Fix the receiver and re-enable it.")
        }
    }

    /// Disables the endpoint (once), cancels its other queued deliveries and notifies its organization.
    private func disable(_ sql: any SQLDatabase, delivery: ClaimedDelivery, reason: String, now: Int64, message: String) async throws {
        let disabled = try await sql.raw(
            """
            UPDATE webhook_endpoints SET active = \(bind: false), disabled_reason = \(bind: reason), updated_at = \(bind: now)
            WHERE id = \(bind: delivery.endpointID) AND active = \(bind: true) RETURNING url
            """
        ).first().map(DecodedColumns.init)
        guard let disabled else { return }
        try await sql.raw(
            """
            UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, last_error = 'The endpoint was disabled',
                updated_at = \(bind: now)
            WHERE endpoint_id = \(bind: delivery.endpointID) AND status = 'pending'
            """
        ).run()
        try await Notifications.record(
            sql, organizationID: delivery.organizationID, kind: "webhook_endpoint.disabled", title: "Webhook endpoint disabled",
            message: "\(try disabled.text("url")): \(message)", subjectID: delivery.endpointID, now: now)
        logger.warning(
            "Webhook endpoint disabled", metadata: ["endpoint": .string(delivery.endpointID), "reason": .string(reason)])
    }
}
