import Foundation
import HTTPTypes
import Hummingbird

/// `GET /api/status` and the `/status` page: each component as checked now, uptime over 24 hours,
/// 30 days and 90 days from the samples `StatusSampler` records, and the incident history.
struct StatusModule: Module {
    let platform: Platform
    let pages: PageRenderer
    let board: StatusBoard

    init(platform: Platform, pages: PageRenderer) {
        self.platform = platform
        self.pages = pages
        self.board = StatusBoard(
            checks: StatusChecks(database: platform.database, clock: platform.clock, emailConfigured: platform.config.email.smtp != nil),
            logger: platform.logger)
    }

    static let statusSchema = Schema.enumeration(ComponentStatus.allCases.map(\.name)).describe(
        "How a component is doing; the report's own status is the worst of its components'"
    ).named("ComponentStatus")

    static let uptimeSchema: Schema = {
        let percent = Schema.number.bounded(minimum: 0, maximum: 100)
        return Schema.object([
            .init("last24Hours", percent, required: true), .init("last30Days", percent, required: true),
            .init("last90Days", percent, required: true),
        ]).describe(
            "Percent of minutes with an operational sample, from the first recorded sample (or the window's start) to the last "
                + "sampled minute; a minute without a sample counts as down. Null when the history cannot be read."
        ).orNull()
    }()

    static let componentSchema = Schema.object([
        .init("name", .enumeration(StatusComponent.allCases.map(\.rawValue)), required: true),
        .init("label", .string(), required: true),
        .init("status", statusSchema, required: true),
        .init("detail", Schema.string().describe("What the check saw"), required: true),
        .init("checkedAt", .dateTime, required: true),
        .init("latencyMs", Schema.number.describe("How long the check's query took (database only)")),
        .init("uptime", uptimeSchema, required: true),
    ]).named("StatusComponent")

    static let incidentSchema = Schema.object([
        .init("id", .uuid, required: true),
        .init("component", Schema.string().describe("The component's name"), required: true),
        .init("status", Schema.enumeration(["degraded", "outage"]).describe("The worst status during the incident"), required: true),
        .init("summary", .string(), required: true),
        .init("startedAt", .dateTime, required: true),
        .init("resolvedAt", Schema.dateTime.orNull().describe("Null while the incident is ongoing"), required: true),
    ]).named("StatusIncident")

    static let example: JSONValue = [
        "status": "degraded", "checkedAt": "2026-03-20T12:00:00.000Z", "sampledSince": "2026-01-05T09:14:00.000Z",
        "uptime": UptimeWindows(last24Hours: 99.861, last30Days: 99.95, last90Days: 99.982).json,
        "components": [
            [
                "name": "api", "label": "API", "status": "operational", "detail": "Answering requests",
                "checkedAt": "2026-03-20T12:00:00.000Z",
                "uptime": UptimeWindows(last24Hours: 100, last30Days: 99.977, last90Days: 99.992).json,
            ],
            [
                "name": "database", "label": "Database", "status": "operational", "detail": "Answering queries",
                "checkedAt": "2026-03-20T12:00:00.000Z", "latencyMs": .double(0.42),
                "uptime": UptimeWindows(last24Hours: 100, last30Days: 99.977, last90Days: 99.992).json,
            ],
            [
                "name": "webhooks", "label": "Webhook delivery", "status": "degraded",
                "detail": "The oldest due delivery is 7 minutes overdue", "checkedAt": "2026-03-20T12:00:00.000Z",
                "uptime": UptimeWindows(last24Hours: 99.861, last30Days: 99.972, last90Days: 99.99).json,
            ],
            [
                "name": "email", "label": "Email delivery", "status": "operational", "detail": "Messages on time",
                "checkedAt": "2026-03-20T12:00:00.000Z", "uptime": UptimeWindows(last24Hours: 100, last30Days: 100, last90Days: 100).json,
            ],
        ],
        "incidents": [
            [
                "id": "01958f3a-7c2e-7d4b-9a1e-3f6b2c8d4e01", "component": "webhooks", "status": "degraded",
                "summary": "The oldest due delivery is 6 minutes overdue", "startedAt": "2026-03-20T11:58:00.000Z",
                "resolvedAt": .null,
            ],
            [
                "id": "01957a10-2b4c-7e8f-8d9a-0b1c2d3e4f50", "component": "api", "status": "outage",
                "summary": "No status was recorded: the server was down or not running", "startedAt": "2026-03-02T03:10:00.000Z",
                "resolvedAt": "2026-03-02T03:31:00.000Z",
            ],
        ],
    ]

    static let reportSchema = Schema.object([
        .init("status", statusSchema, required: true),
        .init("checkedAt", .dateTime, required: true),
        .init("sampledSince", Schema.dateTime.orNull().describe("The first recorded sample; null before there is one"), required: true),
        .init("uptime", uptimeSchema, required: true),
        .init("components", .array(componentSchema), required: true),
        .init(
            "incidents",
            Schema.array(incidentSchema).describe("Ongoing incidents and those resolved in the last 90 days, newest first (at most 50)"),
            required: true),
    ]).named("SystemStatus").example(example)

    func register(on api: APIRouter) {
        api.add(
            Operation(
                .get, "/api/status", id: "getStatus", tag: "Operations", summary: "Component status, uptime and incidents",
                description:
                    "Each component (the API, the database, webhook delivery, email delivery) as checked now, uptime over 24 hours, "
                    + "30 days and 90 days from the per-minute samples every instance records, and the incident history. "
                    + "The answer may be up to 10 seconds old.",
                access: .open,
                responses: [ResponseSpec(200, "The current status", schema: Self.reportSchema)])
        ) { _ in
            .json(await board.report().json)
        }
        api.add(
            Operation(
                .get, "/status", id: "statusPage", tag: "Operations", summary: "Status page", access: .open,
                responses: [ResponseSpec(200, "HTML")], undocumented: true)
        ) { _ in
            try pages.page("status", Self.context(await board.report(), now: platform.clock.nowMillis()))
        }
    }

    // MARK: The page

    /// What the page shows, formatted for people.
    static func context(_ report: StatusReport, now: Int64) -> [String: Any] {
        var context: [String: Any] = [
            "overall": headline(report.status), "overallClass": report.status.name,
            "checkedAt": humanTime(report.checkedAt), "checkedAtISO": Timestamp.iso(millis: report.checkedAt),
            "components": report.components.map { component -> [String: Any] in
                var row: [String: Any] = [
                    "label": component.check.component.label, "status": component.check.status.name.capitalized,
                    "statusClass": component.check.status.name, "detail": component.check.detail,
                ]
                if let latency = component.check.latencyMillis { row["latency"] = String(format: "%.2f\u{00A0}ms", latency) }
                return row
            },
            "historyAvailable": report.uptime != nil,
            "hasIncidents": !report.incidents.isEmpty,
            "incidents": report.incidents.map { incident -> [String: Any] in
                var row: [String: Any] = [
                    "component": StatusComponent(rawValue: incident.component)?.label ?? incident.component,
                    "status": incident.status.name.capitalized, "statusClass": incident.status.name, "summary": incident.summary,
                    "started": humanTime(incident.startedAt), "startedISO": Timestamp.iso(millis: incident.startedAt),
                    "duration": duration((incident.resolvedAt ?? now) - incident.startedAt),
                ]
                if let resolved = incident.resolvedAt {
                    row["resolved"] = humanTime(resolved)
                    row["resolvedISO"] = Timestamp.iso(millis: resolved)
                }
                return row
            },
        ]
        if let since = report.sampledSince { context["sampledSince"] = humanTime(since) }
        if let overall = report.uptime {
            context["uptime"] =
                [uptimeRow("All components", overall)]
                + report.components.compactMap { component in component.uptime.map { uptimeRow(component.check.component.label, $0) } }
        }
        return context
    }

    static func headline(_ status: ComponentStatus) -> String {
        switch status {
        case .operational: "All systems operational"
        case .degraded: "Some systems are degraded"
        case .outage: "Some systems are down"
        }
    }

    private static func uptimeRow(_ label: String, _ uptime: UptimeWindows) -> [String: Any] {
        ["label": label, "day": percent(uptime.last24Hours), "month": percent(uptime.last30Days), "quarter": percent(uptime.last90Days)]
    }

    /// Two decimals, rounded down like the API's three, so a down minute never reads 100.00 %.
    static func percent(_ value: Double) -> String {
        String(format: "%.2f %%", (value * 100).rounded(.down) / 100)
    }

    /// `2026-03-20 12:00 UTC`.
    static func humanTime(_ millis: Int64) -> String {
        let iso = Timestamp.iso(millis: millis)
        return iso.prefix(16).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    /// `45 min`, `2 h 5 min`, `3 d 4 h`.
    static func duration(_ millis: Int64) -> String {
        let minutes = max(0, millis) / 60_000
        if minutes < 60 { return "\(minutes) min" }
        if minutes < 1440 { return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min" }
        return minutes % 1440 / 60 == 0 ? "\(minutes / 1440) d" : "\(minutes / 1440) d \(minutes % 1440 / 60) h"
    }
}

extension Schema {
    /// A number with bounds (percentages).
    fileprivate func bounded(minimum: Int64, maximum: Int64) -> Schema {
        var copy = self
        copy.minimum = minimum
        copy.maximum = maximum
        return copy
    }
}
