import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Synchronization
import Testing

/// Outgoing webhooks through real HTTP: a live server delivering to a live receiver on loopback.
@Suite struct WebhookTests {
    /// Delivery log polling must not run into the per-minute limit.
    static let base: [String: ConfigValue] = ["webhook.worker": true, "webhook.poll.millis": 20, "rate.limit.default": 100_000]
    static let allowPrivate = base.merging(["webhook.allow.private.urls": true]) { $1 }

    /// Milliseconds from now (by `clock`) to an ISO timestamp.
    static func millis(until iso: String?, from clock: ManualClock) -> Int64 {
        let date = iso.flatMap(Validators.parseDateTime) ?? .distantPast
        return Int64((date.timeIntervalSince(clock.wallClock.now()) * 1000).rounded())
    }

    /// Hex HMAC-SHA256, written here from the spec rather than taken from the server's code.
    static func hmacHex(_ key: String, _ message: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(key.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    final class Measured: Sendable {
        /// Seconds from the healthy contact's creation to its delivery, unloaded and loaded, and
        /// from the first stalled delivery's arrival to the loaded healthy one's.
        let value = Mutex<(unloaded: Double, loaded: Double, afterFirstStall: Double)>((0, 0, 0))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Seconds from creating a contact in `token`'s organization to its delivery reaching `path`,
    /// and the delivery.
    static func deliveryLatency(_ client: TestClientSession, _ receiver: WebhookReceiver, token: String, path: String) async throws
        -> (seconds: Double, delivery: WebhookReceiver.Delivery?)
    {
        let name = "Healthy \(UUID().uuidString.prefix(8))"
        let started = ContinuousClock.now
        try await client.createContact(token, ["name": .string(name)])
        for _ in 0..<400 {
            if let delivery = receiver.deliveries.first(where: { $0.path == path && $0.body.contains(name) }) {
                return (seconds(delivery.arrived - started), delivery)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return (seconds(ContinuousClock.now - started), nil)
    }

    @Test("a receiver that stalls holds its share of the delivery slots; another tenant's endpoint is delivered to at once")
    func slowReceiversDoNotDelayOtherTenants() async throws {
        // 8 slots, 1 s per attempt; 8 deliveries to a stalling receiver would hold every slot.
        let settings = Self.allowPrivate.merging(["webhook.timeout.seconds": 1, "webhook.concurrency": 8]) { $1 }
        /// `inFlight`: how many stalled attempts the worker starts at once (the endpoint's share).
        func latency(_ overrides: [String: ConfigValue], inFlight: Int) async throws -> (
            unloaded: Double, loaded: Double, afterFirstStall: Double
        ) {
            let measured = Measured()
            try await WebhookReceiver.run { receiver, base in
                try await TestServer.run(settings.merging(overrides) { $1 }) { client, _ in
                    let slow = try await client.register()
                    let healthy = try await client.register()
                    _ = try await client.createEndpoint(slow.token, url: base + "/hooks/stall", events: ["contact.created"])
                    _ = try await client.createEndpoint(healthy.token, url: base + "/hooks/ok", events: ["contact.created"])
                    let unloaded = try await Self.deliveryLatency(client, receiver, token: healthy.token, path: "ok").seconds
                    for index in 0..<8 { try await client.createContact(slow.token, ["name": .string("Stalled \(index)")]) }
                    let stalls = try await receiver.waitFor(inFlight) { $0.path == "stall" }
                    let loaded = try await Self.deliveryLatency(client, receiver, token: healthy.token, path: "ok")
                    let firstStall = stalls.map(\.arrived).min() ?? .now
                    let afterFirstStall = Self.seconds((loaded.delivery?.arrived ?? .now) - firstStall)
                    measured.value.withLock { $0 = (unloaded, loaded.seconds, afterFirstStall) }
                }
            }
            return measured.value.withLock { $0 }
        }
        let fair = try await latency([:], inFlight: 4)
        print("fair share: healthy endpoint \(fair.unloaded) s unloaded, \(fair.loaded) s loaded")
        #expect(fair.loaded < max(0.5, fair.unloaded * 5), "healthy endpoint: \(fair.unloaded) s unloaded, \(fair.loaded) s loaded")
        // The same load with every slot open to one endpoint: all 8 slots stall, and the healthy
        // delivery waits until the first stalled attempt times out (round-robin claiming puts it
        // first then), 1 s after that attempt arrived.
        let unfair = try await latency(["webhook.endpoint.concurrency": 8, "webhook.organization.concurrency": 8], inFlight: 8)
        #expect(unfair.afterFirstStall > 0.9, "without shares the healthy endpoint waits for a slot: \(unfair.afterFirstStall) s")
    }

    @Test func retriesFollowTheScheduleAndHonourRetryAfterUntilTheDeliveryFails() async throws {
        let clock = ManualClock()
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate, clock: clock.wallClock) { client, _ in
                let owner = try await client.register()
                let endpoint = try await client.createEndpoint(owner.token, url: base + "/hooks/fail", events: ["contact.created"])
                let endpointID = endpoint["id"]?.stringValue ?? ""
                try await client.createContact(owner.token, ["name": "Retry Me"])

                var expectedAttempts = 0
                // (delay after the failure in seconds, what the receiver answers next)
                let schedule: [(Int64, String)] = [
                    (5, "fail"), (300, "busy"), (3600, "fail"), (7200, "fail"), (18000, "fail"), (36000, "fail"), (36000, "fail"),
                ]
                for (index, (delay, next)) in schedule.enumerated() {
                    expectedAttempts += 1
                    let attempts = expectedAttempts
                    let log = try await client.deliveries(of: endpointID, token: owner.token) {
                        $0.first?["attempts"]?.intValue == Int64(attempts)
                    }
                    let delivery = try #require(log.first)
                    #expect(delivery["status"] == "pending", "after attempt \(attempts): \(delivery)")
                    let wait = Self.millis(until: delivery["nextAttemptAt"]?.stringValue, from: clock)
                    if index == 2 {
                        // The 503 asked for an hour: longer than the 30 minutes scheduled.
                        #expect(wait >= 3_600_000 - 2 && wait <= 3_600_000 + 50, "Retry-After honoured: \(wait)")
                    } else {
                        #expect(
                            Double(wait) >= Double(delay * 1000) * 0.9 - 50 && Double(wait) <= Double(delay * 1000) * 1.1 + 50,
                            "attempt \(attempts) waits \(wait) ms")
                    }
                    // Not before it is due.
                    clock.advance(by: Double(wait) / 1000 - 1)
                    try await Task.sleep(for: .milliseconds(150))
                    #expect(receiver.deliveries.count == attempts, "no attempt before the next one is due")
                    let patched = try await client.patch(
                        "/api/webhooks/endpoints/\(endpointID)", token: owner.token, json: ["url": .string(base + "/hooks/" + next)])
                    #expect(patched.status == .ok)
                    clock.advance(by: 2)
                }
                let log = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["status"] == "failed" }
                let delivery = try #require(log.first)
                #expect(delivery["attempts"] == 8)
                #expect(delivery["nextAttemptAt"] == .null)
                #expect(delivery["lastResponseCode"] == 500)
                let attemptLog = delivery["attemptLog"]?.arrayValue ?? []
                #expect(attemptLog.map { $0["responseCode"]?.intValue ?? 0 } == [500, 500, 503, 500, 500, 500, 500, 500])
                #expect(attemptLog.first?["responseBody"] == "receiver is down")
                #expect(Set(receiver.deliveries.compactMap { $0.header("webhook-id") }).count == 1, "one message id for every attempt")
                #expect(Set(receiver.deliveries.compactMap { $0.header("X-Ecosire-Delivery") }).count == 8, "one delivery id per attempt")
                // About 28 hours of failure is not five days: the endpoint stays on.
                let after = try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token)
                #expect(after.json["active"] == true)
                #expect(after.json["failingSince"]?.stringValue != nil)
            }
        }
    }

    @Test func goneDisablesTheEndpointAndNotifiesTheOrganization() async throws {
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate) { client, _ in
                let owner = try await client.register()
                let endpointID = try await client.createEndpoint(owner.token, url: base + "/hooks/gone")["id"]?.stringValue ?? ""
                try await client.createContact(owner.token, ["name": "First"])
                let log = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["status"] == "failed" }
                #expect(log.first?["lastResponseCode"] == 410)
                let endpoint = try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json
                #expect(endpoint["active"] == false)
                #expect(endpoint["disabledReason"] == "gone")
                let notifications = try await client.get("/api/notifications?unread=true", token: owner.token).json
                #expect(notifications["data"]?[0]?["kind"] == "webhook_endpoint.disabled")
                #expect(notifications["data"]?[0]?["subjectId"]?.stringValue == endpointID)

                // Disabled: later events are not delivered, tests and redelivery are refused.
                try await client.createContact(owner.token, ["name": "Second"])
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.deliveries.count == 1)
                let test = try await client.post(
                    "/api/webhooks/endpoints/\(endpointID)/test", token: owner.token, json: ["type": "contact.created"])
                #expect(test.status == .conflict)
                #expect(test.json["code"] == "ENDPOINT_DISABLED")

                // Re-enabled: it clears the reason and receives again.
                let enabled = try await client.patch(
                    "/api/webhooks/endpoints/\(endpointID)", token: owner.token, json: ["active": true, "url": .string(base + "/hooks/ok")])
                #expect(enabled.json["disabledReason"] == .null)
                #expect(enabled.json["active"] == true)
                try await client.createContact(owner.token, ["name": "Third"])
                let third = try await receiver.waitFor(1) { $0.path == "ok" }
                #expect(third.first?.json["data"]?["object"]?["name"] == "Third")
            }
        }
    }

    @Test func fiveDaysOfFailureDisableTheEndpoint() async throws {
        let clock = ManualClock()
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate, clock: clock.wallClock) { client, _ in
                let owner = try await client.register()
                let endpointID = try await client.createEndpoint(owner.token, url: base + "/hooks/fail")["id"]?.stringValue ?? ""
                try await client.createContact(owner.token, ["name": "Day one"])
                try await receiver.waitFor(1)
                _ = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["attempts"] == 1 }
                clock.advance(by: 4 * 86_400)
                try await client.createContact(owner.token, ["name": "Day four"])
                _ = try await client.deliveries(of: endpointID, token: owner.token) { log in
                    log.contains { $0["eventType"] == "contact.created" && $0["attempts"] == 1 && $0["status"] == "pending" }
                        && log.count == 2
                }
                #expect(try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json["active"] == true)
                clock.advance(by: 86_400 + 60)
                try await client.createContact(owner.token, ["name": "Day five"])
                let log = try await client.deliveries(of: endpointID, token: owner.token) { log in
                    log.count == 3 && !log.contains { $0["status"] == "pending" }
                }
                let endpoint = try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json
                #expect(endpoint["active"] == false)
                #expect(endpoint["disabledReason"] == "failing")
                #expect(
                    log.filter { $0["status"] == "cancelled" }.count >= 1,
                    "queued deliveries are cancelled: \(log.map { $0["status"] ?? .null })")
                let notifications = try await client.get("/api/notifications", token: owner.token).json
                #expect(notifications["meta"]?["total"] == 1)
                #expect(notifications["data"]?[0]?["message"]?.stringValue?.contains("five days") == true)
            }
        }
    }

    @Test func aSuccessEndsTheFailingStreak() async throws {
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate) { client, _ in
                let owner = try await client.register()
                let endpointID = try await client.createEndpoint(owner.token, url: base + "/hooks/fail")["id"]?.stringValue ?? ""
                try await client.createContact(owner.token, ["name": "Failing"])
                try await receiver.waitFor(1)
                _ = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["attempts"] == 1 }
                #expect(
                    try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json["failingSince"]?.stringValue
                        != nil)
                _ = try await client.patch(
                    "/api/webhooks/endpoints/\(endpointID)", token: owner.token, json: ["url": .string(base + "/hooks/ok")])
                try await client.createContact(owner.token, ["name": "Working"])
                try await receiver.waitFor(1) { $0.path == "ok" }
                _ = try await client.deliveries(of: endpointID, token: owner.token) { log in log.contains { $0["status"] == "succeeded" } }
                var failingSince: JSONValue? = nil
                for _ in 0..<40 {
                    failingSince = try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json["failingSince"]
                    if failingSince == .null { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(failingSince == .null)
            }
        }
    }

    @Test func testEventsRedeliveryAndLicenseSignature() async throws {
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate.merging(["ecosire.license.secret": "license-secret-for-tests"]) { $1 }) {
                client, _ in
                let owner = try await client.register()
                let endpoint = try await client.createEndpoint(owner.token, url: base + "/hooks/ok", events: ["contact.created"])
                let endpointID = endpoint["id"]?.stringValue ?? ""
                let secret = endpoint["secret"]?.stringValue ?? ""
                #expect(secret.hasPrefix("whsec_"))
                #expect(
                    try await client.get("/api/webhooks/endpoints/\(endpointID)", token: owner.token).json["secret"] == nil, "shown once")

                let unknown = try await client.post(
                    "/api/webhooks/endpoints/\(endpointID)/test", token: owner.token, json: ["type": "nope.happened"])
                #expect(unknown.status == .unprocessableContent)
                #expect(unknown.json["details"]?[0]?["field"] == "type")

                let queued = try await client.post(
                    "/api/webhooks/endpoints/\(endpointID)/test", token: owner.token, json: ["type": "license.activated"])
                #expect(queued.status == .accepted)
                #expect(queued.json["test"] == true)
                let deliveryID = queued.json["id"]?.stringValue ?? ""
                let first = try #require(try await receiver.waitFor(1).first)
                #expect(first.header("X-Ecosire-Event") == "license.activated")
                #expect(first.header("User-Agent") == "Ecosire-Webhooks/1")
                #expect(first.header("Content-Type") == "application/json")
                #expect(first.header("webhook-id") == queued.json["eventId"]?.stringValue)
                #expect(first.json["object"] == "event")
                #expect(first.json["data"]?["object"]?["domain"] == "shop.example.com")
                #expect(first.header("X-License-Signature") == Self.hmacHex("license-secret-for-tests", first.body))
                let signature = first.header("X-Ecosire-Signature") ?? ""
                let timestamp = signature.split(separator: ",").first?.dropFirst(2) ?? ""
                #expect(signature == "t=\(timestamp),v1=" + Self.hmacHex(secret, "\(timestamp).\(first.body)"))

                let done = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["status"] == "succeeded" }
                #expect(done.first?["attemptLog"]?[0]?["id"]?.stringValue == first.header("X-Ecosire-Delivery"))
                let retried = try await client.post("/api/webhooks/deliveries/\(deliveryID)/retry", token: owner.token, json: [:])
                #expect(retried.status == .accepted, "\(retried.text)")
                let both = try await receiver.waitFor(2)
                #expect(both.count == 2)
                #expect(both[1].header("webhook-id") == first.header("webhook-id"), "redelivery keeps the message id")
                #expect(both[1].header("X-Ecosire-Delivery") != first.header("X-Ecosire-Delivery"))
                #expect(both[1].body == first.body)
                let log = try await client.deliveries(of: endpointID, token: owner.token) {
                    ($0.first?["attemptLog"]?.arrayValue?.count ?? 0) == 2
                }
                #expect(
                    log.first?["attempts"] == 2,
                    "\(log) received: \(receiver.deliveries.map { ($0.header("X-Ecosire-Delivery") ?? "", $0.header("X-Ecosire-Event") ?? "") })"
                )
                let detail = try await client.get("/api/webhooks/deliveries/\(deliveryID)", token: owner.token)
                #expect(detail.json["payload"]?.stringValue == first.body)

                // Another organization sees none of it.
                let stranger = try await client.register()
                #expect(try await client.get("/api/webhooks/endpoints/\(endpointID)", token: stranger.token).status == .notFound)
                #expect(try await client.get("/api/webhooks/deliveries/\(deliveryID)", token: stranger.token).status == .notFound)
                #expect(
                    try await client.post("/api/webhooks/deliveries/\(deliveryID)/retry", token: stranger.token, json: [:]).status
                        == .notFound)
                #expect(try await client.get("/api/webhooks/endpoints/\(endpointID)/deliveries", token: stranger.token).status == .notFound)
                try await client.createContact(stranger.token, ["name": "Not yours"])
                // Subscribed to contact.created only: an update is not sent.
                let mine = try await client.createContact(owner.token, ["name": "Mine"])
                _ = try await client.patch(
                    "/api/contacts/\(mine["id"]?.stringValue ?? "")", token: owner.token, json: ["name": "Still mine"])
                let created = try await receiver.waitFor(1) { $0.header("X-Ecosire-Event") == "contact.created" }
                #expect(created.first?.json["data"]?["object"]?["name"] == "Mine")
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.deliveries.count == 3, "neither another organization's events nor unsubscribed types are delivered here")
            }
        }
    }

    @Test func rotatedSecretsOverlapForADay() async throws {
        let clock = ManualClock()
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate, clock: clock.wallClock) { client, _ in
                let owner = try await client.register()
                let endpoint = try await client.createEndpoint(owner.token, url: base + "/hooks/ok")
                let endpointID = endpoint["id"]?.stringValue ?? ""
                let old = endpoint["secret"]?.stringValue ?? ""
                let rotated = try await client.post("/api/webhooks/endpoints/\(endpointID)/rotate-secret", token: owner.token, json: [:])
                #expect(rotated.status == .ok)
                let new = rotated.json["secret"]?.stringValue ?? ""
                #expect(new.hasPrefix("whsec_") && new != old)
                #expect(abs(Self.millis(until: rotated.json["previousSecretExpiresAt"]?.stringValue, from: clock) - 86_400_000) <= 1)

                _ = try await client.post(
                    "/api/webhooks/endpoints/\(endpointID)/test", token: owner.token, json: ["type": "contact.created"])
                let during = try #require(try await receiver.waitFor(1).first)
                let parts = (during.header("X-Ecosire-Signature") ?? "").split(separator: ",").map(String.init)
                let timestamp = parts.first?.dropFirst(2) ?? ""
                #expect(
                    parts.dropFirst().sorted()
                        == [
                            "v1=" + Self.hmacHex(new, "\(timestamp).\(during.body)"),
                            "v1=" + Self.hmacHex(old, "\(timestamp).\(during.body)"),
                        ].sorted())
                #expect(during.header("webhook-signature")?.split(separator: " ").count == 2)

                clock.advance(by: 86_400 + 1)
                _ = try await client.post(
                    "/api/webhooks/endpoints/\(endpointID)/test", token: owner.token, json: ["type": "contact.created"])
                let after = try await receiver.waitFor(2)
                let later = (after.last?.header("X-Ecosire-Signature") ?? "").split(separator: ",").map(String.init)
                #expect(later.count == 2, "only the new secret signs after 24 hours: \(later)")
                #expect(later.last == "v1=" + Self.hmacHex(new, "\(later.first?.dropFirst(2) ?? "").\(after.last?.body ?? "")"))
            }
        }
    }

    @Test func privateAddressesAreRefusedUnlessAllowed() async throws {
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.base) { client, config in
                let owner = try await client.register()
                for url in [
                    "http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/hook", "http://localhost:9/hook",
                    "http://10.1.2.3/x", "http://[::ffff:127.0.0.1]/x", "http://2130706433/x", "http://[fe80::1]/x",
                ] {
                    let refused = try await client.post("/api/webhooks/endpoints", token: owner.token, json: ["url": .string(url)])
                    #expect(refused.status == .unprocessableContent, "\(url): \(refused.text)")
                    #expect(refused.json["details"]?[0]?["field"] == "url", "\(url)")
                }
                for url in ["ftp://example.com/x", "http://user:pass@example.com/x"] {
                    let refused = try await client.post("/api/webhooks/endpoints", token: owner.token, json: ["url": .string(url)])
                    #expect(refused.status == .unprocessableContent, "\(url): \(refused.text)")
                }
                let unknownType = try await client.post(
                    "/api/webhooks/endpoints", token: owner.token,
                    json: ["url": "http://127.0.0.1/x", "events": ["contact.created", "contact.exploded"]])
                #expect(unknownType.json["details"]?.arrayValue?.contains { $0["field"] == "events[1]" } == true, "\(unknownType.text)")

                // Checked again at delivery: an endpoint stored before the rule (or whose name
                // resolves elsewhere now) gets no request.
                let endpointID = UUID().uuidString.lowercased()
                let organizationID =
                    try await client.get("/api/users/me", token: owner.token).json["organization"]?["id"]?.stringValue ?? ""
                try await withDatabase(config) { database in
                    try await database.transaction { sql in
                        try await sql.raw(
                            """
                            INSERT INTO webhook_endpoints (id, organization_id, url, events, active, secret_sealed, created_at, updated_at)
                            VALUES (\(bind: endpointID), \(bind: organizationID), \(bind: base + "/hooks/ok"), '["*"]', \(bind: true), NULL, 0, 0)
                            """
                        ).run()
                    }
                }
                let rotated = try await client.post("/api/webhooks/endpoints/\(endpointID)/rotate-secret", token: owner.token, json: [:])
                #expect(rotated.status == .ok)
                try await client.createContact(owner.token, ["name": "Rebound"])
                let log = try await client.deliveries(of: endpointID, token: owner.token) { $0.first?["attempts"] == 1 }
                #expect(log.first?["lastError"]?.stringValue?.contains("private, loopback or link-local") == true, "\(log)")
                #expect(receiver.deliveries.isEmpty)
            }
            try await TestServer.run(Self.allowPrivate) { client, _ in
                let owner = try await client.register()
                let allowed = try await client.post(
                    "/api/webhooks/endpoints", token: owner.token, json: ["url": .string(base + "/hooks/ok")])
                #expect(allowed.status == .created)
            }
        }
    }

    @Test func aReceiverThatStallsOrSendsNulBytesHoldsNothing() async throws {
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(Self.allowPrivate.merging(["webhook.timeout.seconds": 1]) { $1 }) { client, _ in
                let owner = try await client.register()
                let stalling = try await client.createEndpoint(owner.token, url: base + "/hooks/trickle")["id"]?.stringValue ?? ""
                let nul = try await client.createEndpoint(owner.token, url: base + "/hooks/nul")["id"]?.stringValue ?? ""
                try await client.createContact(owner.token, ["name": "Both"])
                // The whole attempt, body included, is bounded by the timeout.
                let stalled = try await client.deliveries(of: stalling, token: owner.token) { $0.first?["attempts"] == 1 }
                #expect(stalled.first?["status"] == "pending")
                #expect(stalled.first?["lastError"] == "Timed out after 1 s", "\(stalled)")
                // Well under the receiver's 6-second stall, with room for a loaded machine.
                #expect((stalled.first?["attemptLog"]?[0]?["durationMs"]?.intValue ?? 0) < 5000)
                // A NUL in the answer is stored (as U+FFFD) on both databases.
                let stored = try await client.deliveries(of: nul, token: owner.token) { $0.first?["status"] == "succeeded" }
                #expect(stored.first?["attemptLog"]?[0]?["responseBody"] == "a\u{FFFD}b", "\(stored)")
            }
        }
    }

    @Test func catalogCurlAndVerifier() async throws {
        try await WebhookReceiver.run { _, base in
            try await TestServer.run(Self.allowPrivate) { client, _ in
                let catalog = try await client.get("/api/webhooks/events?limit=100")
                #expect(catalog.status == .ok)
                let types = catalog.json["data"]?.arrayValue ?? []
                // The catalog is a list like any other: {data, meta}, paged in catalog order.
                #expect(catalog.json["meta"]?["total"]?.intValue == Int64(types.count))
                #expect(catalog.json["meta"]?["totalPages"] == 1)
                let firstPage = try await client.get("/api/webhooks/events").json
                #expect(firstPage["meta"]?["limit"] == 20)
                #expect(firstPage["data"]?.arrayValue?.count == min(20, types.count))
                let second = try await client.get("/api/webhooks/events?page=2&limit=5").json
                #expect(second["data"]?.arrayValue?.map { $0["type"] } == types.dropFirst(5).prefix(5).map { $0["type"] })
                #expect(try await client.get("/api/webhooks/events?limit=101").status == .badRequest)
                let names = Set(types.compactMap { $0["type"]?.stringValue })
                for required in [
                    "checkout.session.completed", "invoice.paid", "customer.subscription.deleted", "customer.subscription.updated",
                    "charge.refunded", "payment_intent.payment_failed", "license.validated", "license.activated", "license.deactivated",
                    "license.revoked", "contact.created", "contact.updated", "contact.deleted", "order.created", "invoice.created",
                    "product.created",
                ] {
                    #expect(names.contains(required), "catalog has \(required)")
                }
                for type in types {
                    #expect(type["example"]?["object"] == "event")
                    #expect(type["example"]?["type"] == type["type"])
                    #expect(type["schema"]?["properties"]?["data"] != nil)
                    #expect(!(type["description"]?.stringValue ?? "").isEmpty && !(type["trigger"]?.stringValue ?? "").isEmpty)
                }
                let checkout = try await client.get("/api/webhooks/events/checkout.session.completed").json
                #expect(checkout["example"]?["data"]?["object"]?["amount_total"] == 24900)
                #expect(try await client.get("/api/webhooks/events/nope.none").status == .notFound)

                let owner = try await client.register()
                let endpoint = try await client.createEndpoint(owner.token, url: base + "/hooks/ok")
                let secret = endpoint["secret"]?.stringValue ?? ""
                let curl = try await client.get(
                    "/api/webhooks/events/contact.created/curl?endpointId=\(endpoint["id"]?.stringValue ?? "")", token: owner.token)
                #expect(curl.status == .ok)
                let command = curl.json["command"]?.stringValue ?? ""
                #expect(command.hasPrefix("curl -X POST '\(base)/hooks/ok'"))
                #expect(command.contains("-H 'webhook-signature: v1,"))
                let payload = curl.json["payload"]?.stringValue ?? ""
                let headers = curl.json["headers"] ?? .null

                let verdict = try await client.post(
                    "/api/webhooks/verify", token: owner.token,
                    json: ["payload": .string(payload), "headers": headers, "secret": .string(secret)])
                #expect(verdict.json["valid"] == true, "\(verdict.text)")
                #expect(verdict.json["checks"]?.arrayValue?.count == 2)
                let tampered = try await client.post(
                    "/api/webhooks/verify", token: owner.token,
                    json: [
                        "payload": .string(payload.replacingOccurrences(of: "Ada", with: "Eve")), "headers": headers,
                        "secret": .string(secret),
                    ])
                #expect(tampered.json["valid"] == false)
                #expect(tampered.json["reason"]?.stringValue?.contains("No v1 signature matches") == true, "\(tampered.text)")
                let wrongSecret = try await client.post(
                    "/api/webhooks/verify", token: owner.token,
                    json: ["payload": .string(payload), "headers": headers, "secret": "whsec_b3RoZXI="])
                #expect(wrongSecret.json["valid"] == false)
                // A timestamp whose distance from now overflows Int64 is out of tolerance, not a crash.
                let extreme = "-9223372036854775808"
                let standard = Data(
                    HMAC<SHA256>.authenticationCode(for: Data("msg_1.\(extreme).x".utf8), using: SymmetricKey(data: Data("s".utf8))))
                let overflow = try await client.post(
                    "/api/webhooks/verify", token: owner.token,
                    json: [
                        "payload": "x", "secret": "s",
                        "headers": [
                            "X-Ecosire-Signature": .string("t=\(extreme),v1=" + Self.hmacHex("s", "\(extreme).x")),
                            "webhook-id": "msg_1", "webhook-timestamp": .string(extreme),
                            "webhook-signature": .string("v1," + standard.base64EncodedString()),
                        ],
                    ])
                #expect(overflow.status == .ok)
                #expect(overflow.json["valid"] == false)
                let reasons = overflow.json["checks"]?.arrayValue?.compactMap { $0["reason"]?.stringValue } ?? []
                #expect(reasons.count == 2 && reasons.allSatisfy { $0.contains("5 minutes") }, "\(overflow.text)")
                let unsigned = try await client.post(
                    "/api/webhooks/verify", token: owner.token, json: ["payload": "{}", "headers": [:], "secret": "x"])
                #expect(unsigned.json["valid"] == false)
                #expect(unsigned.json["reason"]?.stringValue?.contains("No signature header") == true)
                let stale = try await client.post(
                    "/api/webhooks/verify", token: owner.token,
                    json: [
                        "payload": "{}", "secret": "whsec_x",
                        "headers": ["X-Ecosire-Signature": .string("t=1000,v1=" + Self.hmacHex("whsec_x", "1000.{}"))],
                    ])
                #expect(stale.json["checks"]?[0]?["reason"]?.stringValue?.contains("more than 5 minutes") == true, "\(stale.text)")
            }
        }
    }
}
