import Foundation
import Logging
import SQLKit

/// Uptime percentages over the three windows the status API reports.
struct UptimeWindows: Sendable, Equatable {
    var last24Hours: Double
    var last30Days: Double
    var last90Days: Double

    static let full = UptimeWindows(last24Hours: 100, last30Days: 100, last90Days: 100)
    /// Window lengths in minutes, in the order of the members.
    static let minutes: [Int64] = [1440, 30 * 1440, 90 * 1440]

    var json: JSONValue {
        ["last24Hours": .double(last24Hours), "last30Days": .double(last30Days), "last90Days": .double(last90Days)]
    }
}

/// One incident as the API shows it.
struct StatusIncident: Sendable {
    var id: String
    var component: String
    var status: ComponentStatus
    var summary: String
    var startedAt: Int64
    var resolvedAt: Int64?
}

/// What `/api/status` and `/status` show.
struct StatusReport: Sendable {
    struct Component: Sendable {
        var check: ComponentCheck
        /// Nil when the history could not be read.
        var uptime: UptimeWindows?
    }

    var status: ComponentStatus
    var checkedAt: Int64
    /// The first recorded sample; nil before there is one (or when the history could not be read).
    var sampledSince: Int64?
    var uptime: UptimeWindows?
    var components: [Component]
    var incidents: [StatusIncident]

    var json: JSONValue {
        .object([
            "status": .string(status.name),
            "checkedAt": .string(Timestamp.iso(millis: checkedAt)),
            "sampledSince": sampledSince.map { .string(Timestamp.iso(millis: $0)) } ?? .null,
            "uptime": uptime?.json ?? .null,
            "components": .array(
                components.map { component in
                    var object: JSONObject = [
                        "name": .string(component.check.component.rawValue), "label": .string(component.check.component.label),
                        "status": .string(component.check.status.name), "detail": .string(component.check.detail),
                        "checkedAt": .string(Timestamp.iso(millis: component.check.checkedAt)),
                    ]
                    if let latency = component.check.latencyMillis { object["latencyMs"] = .double(latency) }
                    object["uptime"] = component.uptime?.json ?? .null
                    return .object(object)
                }),
            "incidents": .array(
                incidents.map { incident in
                    [
                        "id": .string(incident.id), "component": .string(incident.component), "status": .string(incident.status.name),
                        "summary": .string(incident.summary), "startedAt": .string(Timestamp.iso(millis: incident.startedAt)),
                        "resolvedAt": incident.resolvedAt.map { .string(Timestamp.iso(millis: $0)) } ?? .null,
                    ]
                }),
        ])
    }
}

/// Builds the status report: the components checked now, uptime and incidents from the recorded
/// samples. The report is kept for a few seconds, because the endpoint is open and the uptime
/// query reads up to 90 days of samples.
final class StatusBoard: Sendable {
    let checks: StatusChecks
    let logger: Logger
    private let cache = ExpiringCache<StatusReport>(ttlMillis: 10_000, capacity: 1)

    /// Incidents listed: those still open and those resolved within this many days, newest first.
    static let incidentDays: Int64 = 90
    static let incidentLimit = 50

    init(checks: StatusChecks, logger: Logger) {
        self.checks = checks
        self.logger = logger
    }

    func report() async -> StatusReport {
        let now = checks.clock.nowMillis()
        if let cached = cache.value(for: "report", now: now) { return cached }
        let results = await checks.run()
        var report = StatusReport(
            status: results.map(\.status).max() ?? .operational, checkedAt: now, sampledSince: nil, uptime: nil,
            components: results.map { StatusReport.Component(check: $0, uptime: nil) }, incidents: [])
        do {
            let history = try await uptime(now: now)
            report.uptime = history[StatusComponent.overall]?.uptime ?? .full
            report.sampledSince = history[StatusComponent.overall].map { $0.first * 60_000 }
            for index in report.components.indices {
                report.components[index].uptime = history[report.components[index].check.component.rawValue]?.uptime ?? .full
            }
            report.incidents = try await incidents(now: now)
        } catch {
            logger.warning("Reading the status history failed", metadata: ["error": "\(String(reflecting: error))"])
        }
        cache.store(report, for: "report", now: now)
        return report
    }

    /// Per component (and `overall`): minutes with an operational sample ÷ minutes in the window
    /// since the component's first sample, up to the current minute when it has a sample already,
    /// else the one before (the pass for this minute may not have run yet). Minutes without a sample
    /// count as down. A component without samples is at 100 %.
    private func uptime(now: Int64) async throws -> [String: (uptime: UptimeWindows, first: Int64)] {
        let minute = now / 60_000
        let starts = UptimeWindows.minutes.map { minute - $0 + 1 }
        let names = StatusComponent.allCases.map(\.rawValue) + [StatusComponent.overall]
        // One indexed lookup per component (the primary key), rather than a scan of every sample.
        let firstColumns = names.enumerated().map { index, name -> SQLQueryString in
            "(SELECT MIN(minute) FROM status_samples WHERE component = \(bind: name)) AS first\(unsafeRaw: String(index))"
        }
        guard let firsts = try await checks.database.readRows("SELECT \(SQLList(firstColumns, separator: SQLRaw(", ")))").first else {
            return [:]
        }
        let rows = try await checks.database.readRows(
            """
            SELECT component, MAX(minute) AS last,
                SUM(CASE WHEN severity = 0 AND minute >= \(bind: starts[0]) THEN 1 ELSE 0 END) AS up0,
                SUM(CASE WHEN severity = 0 AND minute >= \(bind: starts[1]) THEN 1 ELSE 0 END) AS up1,
                SUM(CASE WHEN severity = 0 THEN 1 ELSE 0 END) AS up2
            FROM status_samples WHERE minute >= \(bind: starts[2]) AND minute <= \(bind: minute)
            GROUP BY component
            """)
        var counts: [String: (last: Int64, up: [Int64])] = [:]
        for row in rows {
            counts[try row.text("component")] = (
                try row.integer("last"), [try row.integer("up0"), try row.integer("up1"), try row.integer("up2")]
            )
        }
        var result: [String: (uptime: UptimeWindows, first: Int64)] = [:]
        for (index, name) in names.enumerated() {
            let column = "first\(index)"
            guard !(try firsts.isNull(column)) else { continue }
            let first = try firsts.integer(column)
            let sampled = counts[name]
            let end = sampled?.last == minute ? minute : minute - 1
            let percentages = starts.enumerated().map { window, start -> Double in
                let span = end - max(first, start) + 1
                guard span > 0 else { return 100 }
                let up = min(span, sampled?.up[window] ?? 0)
                // Rounded down, so a single down minute never shows as 100.
                return (Double(up) * 100_000 / Double(span)).rounded(.down) / 1000
            }
            result[name] = (UptimeWindows(last24Hours: percentages[0], last30Days: percentages[1], last90Days: percentages[2]), first)
        }
        return result
    }

    private func incidents(now: Int64) async throws -> [StatusIncident] {
        let cutoff = now - Self.incidentDays * 86_400_000
        let rows = try await checks.database.readRows(
            """
            SELECT id, component, severity, summary, started_at, resolved_at FROM status_incidents
            WHERE resolved_at IS NULL OR resolved_at >= \(bind: cutoff)
            ORDER BY started_at DESC, id DESC LIMIT \(unsafeRaw: String(Self.incidentLimit))
            """)
        return try rows.map { row in
            StatusIncident(
                id: try row.text("id"), component: try row.text("component"),
                status: ComponentStatus(severity: try row.integer("severity")),
                summary: try row.text("summary"), startedAt: try row.integer("started_at"),
                resolvedAt: try row.isNull("resolved_at") ? nil : try row.integer("resolved_at"))
        }
    }
}
