import Configuration
import Ecosire
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Testing

/// `GET /api/status` and `/status`. The server's own sampler is off in most tests
/// (`STATUS_SAMPLE_SECONDS=0`); the test drives a `StatusSampler` of its own on the server's
/// database, pass by pass with a manual clock, as another instance would. A new sampler stands
/// for a restarted instance.
@Suite("Status API and page")
struct StatusTests {
    static let samplerOff: [String: ConfigValue] = ["status.sample.seconds": 0]

    static var quiet: Logger {
        var logger = Logger(label: "status-test")
        logger.logLevel = .error
        return logger
    }

    /// The uptime arithmetic: `up` operational minutes of `span`, in percent rounded down to 3 decimals.
    static func percent(_ up: Int64, of span: Int64) -> Double {
        (Double(up) * 100_000 / Double(span)).rounded(.down) / 1000
    }

    static func uptime(_ value: JSONValue?) -> [Double?] {
        ["last24Hours", "last30Days", "last90Days"].map { value?[$0]?.number }
    }

    static func minuteISO(_ minute: Int64) -> JSONValue { .string(Timestamp.iso(millis: minute * 60_000)) }

    @Test("a fresh server reports every component operational at 100 %, and its sampler records the minute")
    func freshServer() async throws {
        try await TestServer.run { client, config in
            let response = try await client.get("/api/status")
            #expect(response.status == .ok)
            #expect(response.contentType.hasPrefix("application/json"))
            let body = response.json
            #expect(body["status"] == "operational", "\(body)")
            let components = body["components"]?.arrayValue ?? []
            #expect(components.compactMap { $0["name"]?.stringValue } == ["api", "database", "webhooks", "email"])
            for component in components {
                #expect(component["status"] == "operational", "\(component)")
                #expect(Self.uptime(component["uptime"]) == [100, 100, 100], "\(component)")
                #expect(Timestamp.millis(parsing: component["checkedAt"]?.stringValue ?? "") != nil)
            }
            #expect((components.first { $0["name"] == "database" }?["latencyMs"]?.number ?? -1) >= 0)
            #expect(components.first { $0["name"] == "api" }?["latencyMs"] == nil, "only the database has a latency")
            #expect(components.first { $0["name"] == "email" }?["detail"]?.stringValue?.contains("SMTP is not configured") == true)
            #expect(Self.uptime(body["uptime"]) == [100, 100, 100])
            #expect(body["incidents"] == [])

            // The sampler service takes its first pass at start: every component and `overall`.
            try await withDatabase(config) { database in
                var samples: Int64 = 0
                for _ in 0..<100 {
                    samples = try await database.readRows("SELECT COUNT(*) AS n FROM status_samples").first?.integer("n") ?? 0
                    if samples >= 5 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(samples >= 5)
            }
        }
    }

    @Test("minutes without a sample count as down, and a restart after three or more of them records a resolved api outage")
    func gapsAfterRestarts() async throws {
        let clock = ManualClock()
        try await TestServer.run(Self.samplerOff, clock: clock.wallClock) { client, config in
            try await withDatabase(config) { database in
                func restartedSampler() -> StatusSampler {
                    StatusSampler(database: database, clock: clock.wallClock, config: config, logger: Self.quiet)
                }
                let first = clock.wallClock.nowMillis() / 60_000
                try await restartedSampler().sample()

                // Two minutes later: one minute without a sample is down, but too short for an incident.
                clock.advance(by: 120)
                try await restartedSampler().sample()
                var body = try await client.get("/api/status").json
                #expect(body["incidents"] == [], "\(body)")
                #expect(Self.uptime(body["uptime"]) == Array(repeating: Self.percent(2, of: 3), count: 3), "\(body)")
                #expect(body["sampledSince"] == Self.minuteISO(first))

                // Ten minutes later (nine without a sample): a resolved outage of exactly those minutes.
                clock.advance(by: 600)
                let restarted = restartedSampler()
                try await restarted.sample()
                try await restarted.sample()  // the same minute again changes nothing
                try await restartedSampler().sample()  // nor does another instance starting now
                body = try await client.get("/api/status").json
                #expect(body["status"] == "operational", "the gap is over")
                let incidents = body["incidents"]?.arrayValue ?? []
                #expect(incidents.count == 1, "\(incidents)")
                #expect(incidents.first?["component"] == "api")
                #expect(incidents.first?["status"] == "outage")
                #expect(incidents.first?["startedAt"] == Self.minuteISO(first + 3))
                #expect(incidents.first?["resolvedAt"] == Self.minuteISO(first + 12))
                let expected = Self.percent(3, of: 13)
                #expect(expected < 100)
                #expect(Self.uptime(body["uptime"]) == [expected, expected, expected], "\(body)")
                for component in body["components"]?.arrayValue ?? [] {
                    #expect(component["status"] == "operational")
                    #expect(Self.uptime(component["uptime"]) == [expected, expected, expected], "\(component)")
                }

                // Two days later: the 24-hour window starts after the first sample and holds one sampled
                // minute of 1440; 30 and 90 days count from the first sample.
                clock.advance(by: 2 * 86_400)
                try await restartedSampler().sample()
                let now = first + 12 + 2880
                body = try await client.get("/api/status").json
                #expect(
                    Self.uptime(body["uptime"]) == [
                        Self.percent(1, of: 1440), Self.percent(4, of: now - first + 1), Self.percent(4, of: now - first + 1),
                    ],
                    "\(body)")
                let history = body["incidents"]?.arrayValue ?? []
                #expect(history.count == 2)
                #expect(history.first?["startedAt"] == Self.minuteISO(first + 13), "newest first")
                #expect(history.first?["resolvedAt"] == Self.minuteISO(now))
            }
        }
    }

    @Test("an overdue webhook queue is degraded and opens one incident, resolved once the queue drains")
    func degradedWebhooks() async throws {
        let clock = ManualClock()
        try await TestServer.run(Self.samplerOff, clock: clock.wallClock) { client, config in
            // An event waits for fan-out: the delivery worker is off in tests.
            let owner = try await client.register()
            try await client.createContact(owner.token, ["name": "Queued"])
            try await withDatabase(config) { database in
                // Two instances sampling the same database.
                let sampler = StatusSampler(database: database, clock: clock.wallClock, config: config, logger: Self.quiet)
                let other = StatusSampler(database: database, clock: clock.wallClock, config: config, logger: Self.quiet)
                try await sampler.sample()
                try await other.sample()
                #expect(try await client.get("/api/status").json["status"] == "operational", "not overdue yet")

                clock.advance(by: 6 * 60)
                async let one: Void = sampler.sample()
                async let two: Void = other.sample()
                _ = try await (one, two)
                var body = try await client.get("/api/status").json
                #expect(body["status"] == "degraded", "\(body)")
                var webhooks = body["components"]?.arrayValue?.first { $0["name"] == "webhooks" }
                #expect(webhooks?["status"] == "degraded")
                #expect(webhooks?["detail"]?.stringValue?.contains("not queued for delivery") == true, "\(webhooks ?? .null)")
                var incidents = body["incidents"]?.arrayValue ?? []
                #expect(incidents.count == 1, "one incident, however many instances saw it: \(incidents)")
                #expect(incidents.first?["component"] == "webhooks" && incidents.first?["status"] == "degraded")
                #expect(incidents.first?["resolvedAt"] == .null)
                #expect(incidents.first?["startedAt"]?.stringValue == Timestamp.iso(millis: clock.wallClock.nowMillis()))

                // Fanned out, but a delivery is overdue: still degraded, still the same incident.
                let now = clock.wallClock.nowMillis()
                let organizationID =
                    try await client.get("/api/users/me", token: owner.token).json["organization"]?["id"]?.stringValue ?? ""
                let endpointID = UUID().uuidString.lowercased()
                try await database.transaction { sql in
                    try await sql.raw("UPDATE events SET dispatched_at = \(bind: now)").run()
                    try await sql.raw(
                        """
                        INSERT INTO webhook_endpoints (id, organization_id, url, events, active, secret_sealed, created_at, updated_at)
                        VALUES (\(bind: endpointID), \(bind: organizationID), 'https://example.com/hook', '["*"]', \(bind: true), NULL, 0, 0)
                        """
                    ).run()
                    try await sql.raw(
                        """
                        INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, payload, test, status, attempts,
                            next_attempt_at, created_at, updated_at)
                        VALUES (\(bind: UUID().uuidString.lowercased()), \(bind: organizationID), \(bind: endpointID), 'evt', 'contact.created', '{}',
                            \(bind: false), 'pending', 1, \(bind: now - 7 * 60_000), \(bind: now - 8 * 60_000), \(bind: now))
                        """
                    ).run()
                }
                clock.advance(by: 60)
                try await sampler.sample()
                body = try await client.get("/api/status").json
                webhooks = body["components"]?.arrayValue?.first { $0["name"] == "webhooks" }
                #expect(webhooks?["detail"] == "The oldest due delivery is 8 minutes overdue", "\(webhooks ?? .null)")
                #expect(body["incidents"]?.arrayValue?.count == 1)

                // Delivered: operational again, and the incident is resolved at this pass.
                try await database.transaction { sql in try await sql.raw("UPDATE webhook_deliveries SET status = 'delivered'").run() }
                clock.advance(by: 60)
                try await sampler.sample()
                body = try await client.get("/api/status").json
                #expect(body["status"] == "operational", "\(body)")
                incidents = body["incidents"]?.arrayValue ?? []
                #expect(incidents.count == 1)
                #expect(incidents.first?["resolvedAt"]?.stringValue == Timestamp.iso(millis: clock.wallClock.nowMillis()))
                // Sampled minutes: first (up), +6 and +7 (degraded), +8 (up); +1…+5 have no sample.
                #expect(Self.uptime(body["uptime"]) == Array(repeating: Self.percent(2, of: 9), count: 3), "\(body)")
                let api = body["components"]?.arrayValue?.first { $0["name"] == "api" }
                #expect(Self.uptime(api?["uptime"]) == Array(repeating: Self.percent(4, of: 9), count: 3), "\(api ?? .null)")
            }
        }
    }

    @Test("/status is server-rendered under the strict CSP and shows components, uptime and incidents")
    func page() async throws {
        let clock = ManualClock()
        try await TestServer.run(Self.samplerOff, clock: clock.wallClock) { client, config in
            try await withDatabase(config) { database in
                try await StatusSampler(database: database, clock: clock.wallClock, config: config, logger: Self.quiet).sample()
                clock.advance(by: 5 * 60)
                try await StatusSampler(database: database, clock: clock.wallClock, config: config, logger: Self.quiet).sample()
            }

            let page = try await client.get("/status")
            #expect(page.status == .ok)
            #expect(page.contentType == "text/html; charset=utf-8")
            let policy = page.header("Content-Security-Policy") ?? ""
            #expect(policy.contains("script-src 'self'") && policy.contains("style-src 'self'") && !policy.contains("unsafe-inline"))
            #expect(!page.text.contains("<script>") && !page.text.contains(" style=\""), "no inline script or style")
            #expect(page.text.contains("All systems operational"))
            for label in ["API", "Database", "Webhook delivery", "Email delivery"] {
                #expect(page.text.contains("<th scope=\"row\">\(label)</th>"), "\(label)")
            }
            #expect(page.text.contains("<span class=\"status-badge status-operational\">Operational</span>"))
            // Six minutes since the first sample, two of them sampled.
            #expect(page.text.contains("<tr><th scope=\"row\">All components</th><td>33.33 %</td><td>33.33 %</td><td>33.33 %</td></tr>"))
            #expect(page.text.contains("No status was recorded: the server was down or not running"))
            #expect(page.text.contains("(4 min)"), "the gap's length")
        }
    }
}

extension JSONValue {
    /// A JSON number as a Double.
    fileprivate var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
