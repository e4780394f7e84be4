import Foundation
import SQLKit

/// How a component is doing. The raw value is the stored severity: higher is worse, and several
/// observations of one minute keep the worst.
public enum ComponentStatus: Int, Sendable, Comparable, CaseIterable {
    case operational = 0
    case degraded = 1
    case outage = 2

    public var name: String {
        switch self {
        case .operational: "operational"
        case .degraded: "degraded"
        case .outage: "outage"
        }
    }

    /// The status of a stored severity (unknown values count as an outage).
    init(severity: Int64) {
        self = ComponentStatus(rawValue: Int(severity)) ?? .outage
    }

    public static func < (lhs: ComponentStatus, rhs: ComponentStatus) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What the status API reports on, in the order it lists them.
enum StatusComponent: String, Sendable, CaseIterable {
    /// The process answering requests.
    case api
    case database
    /// The webhook outbox: fan-out of events and due deliveries.
    case webhooks
    /// The email outbox.
    case email

    var label: String {
        switch self {
        case .api: "API"
        case .database: "Database"
        case .webhooks: "Webhook delivery"
        case .email: "Email delivery"
        }
    }

    /// The pseudo-component whose samples are the worst of the others in their minute, so that
    /// the overall uptime is counted like a component's.
    static let overall = "overall"
}

/// One component's state at one moment.
struct ComponentCheck: Sendable {
    var component: StatusComponent
    var status: ComponentStatus
    /// A sentence for people: what was seen.
    var detail: String
    /// How long the check's query took (the database only).
    var latencyMillis: Double?
    var checkedAt: Int64
}

/// Looks at each component once. Cheap: a `SELECT 1` and two index lookups per queue, so both
/// the sampler and the status endpoint can call it.
struct StatusChecks: Sendable {
    let database: any Database
    let clock: WallClock
    /// Without SMTP the outbox only records messages, so a queue that never drains is expected.
    let emailConfigured: Bool

    /// Work waiting longer than this past its due time makes its component degraded.
    static let overdueMillis: Int64 = 5 * 60_000

    func run() async -> [ComponentCheck] {
        let now = clock.nowMillis()
        func check(_ component: StatusComponent, _ status: ComponentStatus, _ detail: String, latency: Double? = nil) -> ComponentCheck {
            ComponentCheck(component: component, status: status, detail: detail, latencyMillis: latency, checkedAt: now)
        }
        let api = check(.api, .operational, "Answering requests")
        let started = ContinuousClock.now
        do {
            try await database.read { sql in try await sql.exec("SELECT 1") }
        } catch {
            // Both queues live in the database: nothing is delivered while it is unreachable.
            return [
                api, check(.database, .outage, "Not reachable"),
                check(.webhooks, .outage, "Not delivering: the database is not reachable"),
                check(.email, .outage, "Not sending: the database is not reachable"),
            ]
        }
        let elapsed = (ContinuousClock.now - started).components
        let latency = ((Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15) * 100).rounded() / 100
        return [
            api, check(.database, .operational, "Answering queries", latency: latency),
            await webhooks(now: now, check: check), await email(now: now, check: check),
        ]
    }

    private typealias Make = (StatusComponent, ComponentStatus, String, Double?) -> ComponentCheck

    private func webhooks(now: Int64, check: Make) async -> ComponentCheck {
        do {
            // Both use partial indexes (`events_undispatched`, `webhook_deliveries_due`).
            let row = try await database.readRows(
                """
                SELECT (SELECT MIN(created_at) FROM events WHERE dispatched_at IS NULL) AS oldest_event,
                    (SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending') AS oldest_delivery
                """
            ).first
            if let row, !(try row.isNull("oldest_delivery")), now - (try row.integer("oldest_delivery")) > Self.overdueMillis {
                let late = Self.minutes(now - (try row.integer("oldest_delivery")))
                return check(.webhooks, .degraded, "The oldest due delivery is \(late) overdue", nil)
            }
            if let row, !(try row.isNull("oldest_event")), now - (try row.integer("oldest_event")) > Self.overdueMillis {
                let late = Self.minutes(now - (try row.integer("oldest_event")))
                return check(.webhooks, .degraded, "Events from \(late) ago are not queued for delivery yet", nil)
            }
            return check(.webhooks, .operational, "Deliveries on time", nil)
        } catch {
            return check(.webhooks, .outage, "The delivery queue cannot be read", nil)
        }
    }

    private func email(now: Int64, check: Make) async -> ComponentCheck {
        guard emailConfigured else {
            return check(.email, .operational, "SMTP is not configured: messages are kept in the outbox, not sent", nil)
        }
        do {
            // A message `sending` past its lease was abandoned by a worker and not taken up again.
            let row = try await database.readRows(
                """
                SELECT (SELECT MIN(next_attempt_at) FROM email_outbox WHERE status = 'queued') AS oldest_queued,
                    (SELECT MIN(lease_until) FROM email_outbox WHERE status = 'sending') AS oldest_lease
                """
            ).first
            let queued = try row.flatMap { try $0.isNull("oldest_queued") ? nil : $0.integer("oldest_queued") }
            let lease = try row.flatMap { try $0.isNull("oldest_lease") ? nil : $0.integer("oldest_lease") }
            let oldest = [queued, lease].compactMap { $0 }.min()
            if let oldest, now - oldest > Self.overdueMillis {
                return check(.email, .degraded, "The oldest due message is \(Self.minutes(now - oldest)) overdue", nil)
            }
            return check(.email, .operational, "Messages on time", nil)
        } catch {
            return check(.email, .outage, "The outbox cannot be read", nil)
        }
    }

    /// `7 minutes`, `1 minute`.
    static func minutes(_ millis: Int64) -> String {
        let minutes = millis / 60_000
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }
}
