import Configuration
import Crypto
import Ecosire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOFoundationCompat
import SQLKit
import Testing

/// Signs like the license guide: hex HMAC-SHA256 of the sorted `k=v&…` fields.
func licenseSignature(_ fields: [(String, String)], secret: String) -> String {
    let message = fields.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    return HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        .map { String(format: "%02x", $0) }.joined()
}

/// `Stripe-Signature` as Stripe computes it.
func stripeSignatureHeader(_ payload: String, secret: String, timestamp: Int = Int(Date().timeIntervalSince1970)) -> String {
    let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
    return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
}

@Suite("Licenses, products and billing")
struct LicensingTests {
    static let secret = "license-secret-for-tests"

    @Test("20 concurrent activations of distinct domains against a limit of 3: exactly 3 succeed")
    func activationLimitUnderConcurrency() async throws {
        // AsyncHTTPClient, one connection per request: the test client sends one request at a time.
        try await TestServer.run(
            ["ecosire.license.secret": .init(stringLiteral: Self.secret), "rate.limit.license.activate": 1000], testing: .ahc(.http)
        ) { client, _ in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let license = try await client.grantLicense(token, productID: productID)
            let key = try #require(license["key"]?.stringValue)
            #expect(key.range(of: "^SHOP(-[A-HJ-NP-Z2-9]{4}){4}$", options: .regularExpression) != nil)
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let response = try await client.post(
                            "/api/licenses/activate", json: ["key": .string(key), "domain": .string("site\(index).example.com")])
                        return (response.status, response.json["code"]?.stringValue ?? "")
                    }
                }
                var all: [(HTTPResponse.Status, String)] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0.0 == .ok }.count == 3)
            #expect(statuses.filter { $0.0 == .conflict && $0.1 == "ACTIVATION_LIMIT_REACHED" }.count == 17)
            let id = try #require(license["id"]?.stringValue)
            #expect(try await client.get("/api/licenses/\(id)", token: token).json["activationsCount"] == 3)
            #expect(try await client.get("/api/licenses/\(id)/activations", token: token).json["meta"]?["total"] == 3)
        }
    }

    @Test("license client flow with signatures: optional by default, mandatory by configuration, 5-minute window")
    func signedClientFlow() async throws {
        try await TestServer.run(["ecosire.license.secret": .init(stringLiteral: Self.secret), "license.signature.required": true]) {
            client, _ in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let key = try #require(try await client.grantLicense(token, productID: productID)["key"]?.stringValue)
            let now = Int(Date().timeIntervalSince1970)
            func call(_ action: String, domain: String = "mysite.com", timestamp: Int = now, signature: String? = nil) async throws
                -> APIResponse
            {
                let fields = [("key", key), ("domain", domain), ("timestamp", String(timestamp))]
                return try await client.post(
                    "/api/licenses/\(action)", json: ["key": .string(key), "domain": .string(domain), "timestamp": .int(Int64(timestamp))],
                    headers: ["X-Ecosire-Signature": signature ?? licenseSignature(fields, secret: Self.secret)])
            }
            let unsigned = try await client.post("/api/licenses/validate", json: ["key": .string(key), "domain": "mysite.com"])
            #expect(unsigned.status == .unauthorized)
            #expect(unsigned.json["code"] == "INVALID_SIGNATURE")
            let validated = try await call("validate")
            #expect(validated.status == .ok)
            #expect(validated.json["valid"] == true)
            #expect(validated.json["activated"] == false)
            #expect(validated.json["license"]?["status"] == "active")
            // The answer is signed with the same secret over its exact bytes.
            let expected = HMAC<SHA256>.authenticationCode(
                for: Data(validated.text.utf8), using: SymmetricKey(data: Data(Self.secret.utf8))
            )
            .map { String(format: "%02x", $0) }.joined()
            #expect(validated.header("X-Ecosire-Signature") == expected)
            let signingKey = try await client.get("/api/licenses/signing-key").json
            let publicKey = try Curve25519.Signing.PublicKey(
                rawRepresentation: Data(base64Encoded: try #require(signingKey["publicKey"]?.stringValue))!)
            let ed25519 = Data(base64Encoded: try #require(validated.header("X-Ecosire-Signature-Ed25519")))!
            #expect(publicKey.isValidSignature(ed25519, for: Data(validated.text.utf8)))
            #expect(!publicKey.isValidSignature(ed25519, for: Data(validated.text.replacingOccurrences(of: "true", with: "fals").utf8)))

            let activated = try await call("activate")
            #expect(activated.json["activated"] == true)
            #expect(activated.json["activationsCount"] == 1)
            #expect(try await call("activate").json["activationsCount"] == 1)  // same domain: idempotent
            #expect(try await call("validate").json["activated"] == true)
            let released = try await call("deactivate")
            #expect(released.json == ["deactivated": true, "activationsCount": 0, "domain": "mysite.com"])
            #expect(try await call("deactivate").json["code"] == "ACTIVATION_NOT_FOUND")

            #expect(try await call("validate", signature: String(repeating: "0", count: 64)).json["code"] == "INVALID_SIGNATURE")
            #expect(
                try await call(
                    "validate", domain: "other.com",
                    signature: licenseSignature([("key", key), ("domain", "mysite.com"), ("timestamp", String(now))], secret: Self.secret)
                ).status == .unauthorized)
            #expect(try await call("validate", timestamp: now - 301).status == .unauthorized)
            #expect(try await call("validate", timestamp: now + 290).status == .ok)
            let unknown = try await client.post(
                "/api/licenses/validate", json: ["key": "SHOP-AAAA-BBBB-CCCC-DDDD", "domain": "mysite.com", "timestamp": .int(Int64(now))],
                headers: [
                    "X-Ecosire-Signature": licenseSignature(
                        [("key", "SHOP-AAAA-BBBB-CCCC-DDDD"), ("domain", "mysite.com"), ("timestamp", String(now))], secret: Self.secret)
                ])
            #expect(unknown.status == .notFound)
            #expect(unknown.json["code"] == "LICENSE_NOT_FOUND")
            #expect(unknown.json["message"] == "License not found")
        }
    }

    @Test("the license guide's client: a string timestamp is signed and verified over its digits as sent; bad ones are a 400")
    func guideClientStringTimestamp() async throws {
        try await TestServer.run(["ecosire.license.secret": .init(stringLiteral: Self.secret), "license.signature.required": true]) {
            client, _ in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let key = try #require(try await client.grantLicense(token, productID: productID)["key"]?.stringValue)
            let now = String(Int(Date().timeIntervalSince1970))
            /// The body exactly as Python's `json.dumps` writes the guide's payload, signed over `signedTimestamp`.
            func call(_ action: String, timestamp: String, signedTimestamp: String? = nil) async throws -> APIResponse {
                let fields = [("key", key), ("domain", "mysite.com"), ("timestamp", signedTimestamp ?? timestamp)]
                let body = "{\"key\": \"\(key)\", \"domain\": \"mysite.com\", \"timestamp\": \"\(timestamp)\"}"
                return try await client.request(
                    .post, "/api/licenses/\(action)", body: body,
                    headers: ["Content-Type": "application/json", "X-Ecosire-Signature": licenseSignature(fields, secret: Self.secret)])
            }
            let validated = try await call("validate", timestamp: now)
            #expect(validated.status == .ok, "\(validated.text)")
            #expect(validated.json["valid"] == true)
            #expect(try await call("activate", timestamp: now).json["activationsCount"] == 1)
            #expect(try await call("deactivate", timestamp: now).json["deactivated"] == true)
            // The signature covers the digits as sent: a leading zero is part of the signed text.
            #expect(try await call("validate", timestamp: "0" + now).status == .ok)
            let reformatted = try await call("validate", timestamp: "0" + now, signedTimestamp: now)
            #expect(reformatted.status == .unauthorized)
            #expect(reformatted.json["code"] == "INVALID_SIGNATURE")
            // The window applies to the string form too.
            let stale = String(Int(Date().timeIntervalSince1970) - 600)
            #expect(try await call("validate", timestamp: stale).json["code"] == "INVALID_SIGNATURE")
            // Anything but digits (or an integer) is a 400 naming the field.
            for bad in ["abc", "", "-5", "12a4", " 1710000000", "1.5", String(repeating: "9", count: 40)] {
                let refused = try await call("validate", timestamp: bad)
                #expect(refused.status == .badRequest, "\(bad): \(refused.text)")
                #expect(refused.json["details"]?[0]?["field"] == "timestamp", "\(bad): \(refused.text)")
            }
            for bad: JSONValue in [.int(-5), .bool(true), .null, .int(999_999_999_999)] {
                let refused = try await client.post(
                    "/api/licenses/validate", json: ["key": .string(key), "domain": "mysite.com", "timestamp": bad],
                    headers: ["X-Ecosire-Signature": String(repeating: "0", count: 64)])
                #expect(refused.status == .badRequest, "\(bad): \(refused.text)")
                #expect(refused.json["details"]?[0]?["field"] == "timestamp", "\(bad): \(refused.text)")
            }
        }
    }

    @Test("license changes are in the event outbox with their transaction; validations follow in batches")
    func events() async throws {
        try await TestServer.run(["usage.flush.millis": 20]) { client, config in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let key = try #require(try await client.grantLicense(token, productID: productID)["key"]?.stringValue)
            for action in ["validate", "activate", "validate", "deactivate"] {
                #expect(
                    try await client.post("/api/licenses/\(action)", json: ["key": .string(key), "domain": "mysite.com"]).status == .ok)
            }
            try await withDatabase(config) { database in
                var types: [String] = []
                var validations: Int64 = 0
                for _ in 0..<100 {
                    let rows = try await database.readRows(
                        "SELECT type, payload FROM events WHERE type LIKE 'license.%' ORDER BY created_at, id")
                    types = try rows.map { try $0.text("type") }
                    // Validations of one license from one domain within a flush interval share an event.
                    validations = try rows.filter { try $0.text("type") == "license.validated" }.reduce(0) { total, row in
                        total + (try JSONValue.parse(try row.text("payload"))["data"]?["object"]?["count"]?.intValue ?? 0)
                    }
                    if validations == 2 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(types.filter { $0 != "license.validated" } == ["license.created", "license.activated", "license.deactivated"])
                #expect(validations == 2)
            }
        }
    }

    @Test("admin suspend, reinstate and revoke, with 403s and their documented messages")
    func adminActions() async throws {
        let clock = ManualClock()
        try await TestServer.run(["ecosire.license.secret": .init(stringLiteral: Self.secret)], clock: clock.wallClock) { client, _ in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let license = try await client.grantLicense(token, productID: productID)
            let id = try #require(license["id"]?.stringValue)
            let key = try #require(license["key"]?.stringValue)
            func validate() async throws -> APIResponse {
                try await client.post("/api/licenses/validate", json: ["key": .string(key), "domain": "mysite.com"])
            }
            #expect(try await client.post("/api/licenses/\(id)/reinstate", token: token, json: [:]).json["currentStatus"] == "active")
            #expect(try await client.post("/api/licenses/\(id)/suspend", token: token, json: [:]).json["status"] == "suspended")
            let suspended = try await validate()
            #expect(suspended.status == .forbidden)
            #expect(suspended.json["code"] == "LICENSE_SUSPENDED")
            #expect(suspended.json["valid"] == false)
            #expect(try await client.post("/api/licenses/\(id)/reinstate", token: token, json: [:]).json["status"] == "active")
            #expect(try await validate().status == .ok)
            #expect(try await client.post("/api/licenses/\(id)/revoke", token: token, json: [:]).json["status"] == "revoked")
            let revoked = try await validate()
            #expect(revoked.json["code"] == "LICENSE_REVOKED")
            #expect(revoked.json["message"] == "License revoked")
            #expect(revoked.json["reason"] == "License revoked")
            #expect(try await client.post("/api/licenses/\(id)/revoke", token: token, json: [:]).json["currentStatus"] == "revoked")

            // The server's clock moves only when the test moves it: a busy machine cannot make the
            // expiry pass before the grant, or keep it from passing before the validation.
            let expiresAt = clock.wallClock.now().addingTimeInterval(60)
            let expiring = try await client.grantLicense(
                token, productID: productID, ["expiresAt": .string(expiresAt.formatted(.iso8601))])
            let fresh = try await client.post(
                "/api/licenses/validate", json: ["key": .string(expiring["key"]?.stringValue ?? ""), "domain": "mysite.com"])
            #expect(fresh.json["valid"] == true, "\(fresh.text)")
            clock.advance(by: 61)
            let expired = try await client.post(
                "/api/licenses/validate", json: ["key": .string(expiring["key"]?.stringValue ?? ""), "domain": "mysite.com"])
            #expect(expired.json["code"] == "LICENSE_EXPIRED")
            #expect(expired.json["message"] == "License expired")
        }
    }

    @Test(
        "Stripe webhooks: signed checkout creates one order and its license; replay, tampering and staleness change nothing; refund revokes"
    )
    func stripeWebhooks() async throws {
        let secret = "whsec_test_secret"
        try await TestServer.run(["stripe.webhook.secret": .init(stringLiteral: secret)]) { client, _ in
            let user = try await client.register()
            let productID = try #require(try await client.createProduct(user.token)["id"]?.stringValue)
            let productIDs = JSONValue.array([.string(productID)]).jsonString
            let payload: JSONValue = [
                "id": "evt_1ABCxyz", "object": "event", "type": "checkout.session.completed", "created": 1_711_000_000,
                "data": [
                    "object": [
                        "id": "cs_live_abc123", "object": "checkout.session", "customer_email": "buyer@example.com", "amount_total": 24_900,
                        "currency": "usd", "mode": "payment", "payment_status": "paid", "payment_intent": "pi_1",
                        "metadata": ["userId": .string(user.userID), "productIds": .string(productIDs)],
                    ]
                ],
            ]
            let body = payload.jsonString
            func deliver(_ text: String, header: String) async throws -> APIResponse {
                try await client.postRaw(
                    "/api/billing/webhooks", body: Array(text.utf8),
                    headers: ["Content-Type": "application/json", "Stripe-Signature": header])
            }
            let tampered = try await deliver(
                body.replacingOccurrences(of: "24900", with: "100"), header: stripeSignatureHeader(body, secret: secret))
            #expect(tampered.status == .unauthorized)
            let stale = try await deliver(
                body, header: stripeSignatureHeader(body, secret: secret, timestamp: Int(Date().timeIntervalSince1970) - 301))
            #expect(stale.status == .unauthorized)
            #expect(try await deliver(body, header: "t=1,v0=abc").status == .unauthorized)
            #expect(try await client.get("/api/orders", token: user.token).json["meta"]?["total"] == 0)

            let header =
                "t=\(Int(Date().timeIntervalSince1970)),v1=\(String(repeating: "0", count: 64)),"
                + stripeSignatureHeader(body, secret: secret).split(separator: ",")[1]
            let first = try await deliver(body, header: header)
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.json["duplicate"] == false)
            let replay = try await deliver(body, header: stripeSignatureHeader(body, secret: secret))
            #expect(replay.json["duplicate"] == true)
            let orders = try await client.get("/api/orders", token: user.token).json
            #expect(orders["meta"]?["total"] == 1)
            let order = try #require(orders["data"]?[0])
            #expect(order["status"] == "confirmed")
            #expect(order["paymentStatus"] == "paid")
            #expect(order["contact"]?["email"] == "buyer@example.com")
            let licenses = try await client.get("/api/licenses", token: user.token).json.arrayValue ?? []
            #expect(licenses.count == 1)
            #expect(licenses.first?["ownerUserId"] == .string(user.userID))

            // A known type with a payload it cannot apply: 400, and the event stays unprocessed.
            let broken = (["id": "evt_broken", "type": "checkout.session.completed", "data": ["object": ["id": "cs_2"]]] as JSONValue)
                .jsonString
            #expect(try await deliver(broken, header: stripeSignatureHeader(broken, secret: secret)).status == .badRequest)
            let unknownType = (["id": "evt_other", "type": "customer.created", "data": ["object": ["id": "cus_1"]]] as JSONValue).jsonString
            #expect(try await deliver(unknownType, header: stripeSignatureHeader(unknownType, secret: secret)).json["outcome"] == "ignored")

            let refund =
                ([
                    "id": "evt_refund", "type": "charge.refunded",
                    "data": [
                        "object": ["id": "ch_1", "payment_intent": "pi_1", "amount": 24_900, "amount_refunded": 24_900, "refunded": true]
                    ],
                ] as JSONValue).jsonString
            #expect(try await deliver(refund, header: stripeSignatureHeader(refund, secret: secret)).status == .ok)
            #expect(try await client.get("/api/orders/\(order["id"]?.stringValue ?? "")", token: user.token).json["status"] == "refunded")
            let key = licenses.first?["key"]?.stringValue ?? ""
            let validate = try await client.post("/api/licenses/validate", json: ["key": .string(key), "domain": "mysite.com"])
            #expect(validate.json["message"] == "License revoked")
        }
    }

    @Test("subscription events: past_due suspends, invoice.paid renews and reinstates, deletion ends at period end")
    func subscriptions() async throws {
        let secret = "whsec_test_secret"
        try await TestServer.run(["stripe.webhook.secret": .init(stringLiteral: secret)]) { client, _ in
            let user = try await client.register()
            let productID = try #require(try await client.createProduct(user.token)["id"]?.stringValue)
            func deliver(_ id: String, _ type: String, _ object: JSONValue) async throws -> APIResponse {
                let body = (["id": .string(id), "object": "event", "type": .string(type), "data": ["object": object]] as JSONValue)
                    .jsonString
                return try await client.postRaw(
                    "/api/webhooks/stripe", body: Array(body.utf8),
                    headers: ["Content-Type": "application/json", "Stripe-Signature": stripeSignatureHeader(body, secret: secret)])
            }
            let checkout = try await deliver(
                "evt_s1", "checkout.session.completed",
                [
                    "id": "cs_sub", "mode": "subscription", "subscription": "sub_1", "payment_status": "paid",
                    "customer_email": "sub@example.com",
                    "metadata": ["userId": .string(user.userID), "productIds": .string(JSONValue.array([.string(productID)]).jsonString)],
                ])
            #expect(checkout.status == .ok, "\(checkout.text)")
            let subscriptions = try await client.get("/api/billing/subscriptions", token: user.token).json["data"]?.arrayValue ?? []
            #expect(subscriptions.count == 1)
            let subscriptionID = try #require(subscriptions.first?["id"]?.stringValue)
            func license() async throws -> JSONValue { try await client.get("/api/licenses", token: user.token).json[0] ?? .null }
            #expect(try await license()["subscriptionId"] == .string(subscriptionID))

            _ = try await deliver("evt_s2", "customer.subscription.updated", ["id": "sub_1", "status": "past_due"])
            #expect(try await license()["status"] == "suspended")
            let periodEnd = Int64(Date().timeIntervalSince1970) + 30 * 86_400
            let paid = try await deliver(
                "evt_s3", "invoice.paid",
                [
                    "id": "in_1", "subscription": "sub_1", "amount_paid": 24_900, "currency": "usd",
                    "lines": ["data": [["period": ["start": .int(periodEnd - 30 * 86_400), "end": .int(periodEnd)]]]],
                ])
            #expect(paid.status == .ok)
            #expect(try await license()["status"] == "active")
            #expect(try await license()["expiresAt"] == .string(Timestamp.iso(millis: periodEnd * 1000)))
            let invoiceList = try await client.get("/api/billing/invoices", token: user.token).json
            let invoices = invoiceList["data"]?.arrayValue ?? []
            #expect(invoices.map { $0["amountPaid"] } == [24_900])
            #expect(invoiceList["meta"] == ["total": 1, "page": 1, "limit": 20, "totalPages": 1])
            let pastTheEnd = try await client.get("/api/billing/invoices?page=2&limit=1", token: user.token).json
            #expect(pastTheEnd == ["data": [], "meta": ["total": 1, "page": 2, "limit": 1, "totalPages": 1]])
            _ = try await deliver(
                "evt_s4", "customer.subscription.deleted", ["id": "sub_1", "status": "canceled", "current_period_end": .int(periodEnd)])
            #expect(try await client.get("/api/billing/subscriptions/\(subscriptionID)", token: user.token).json["status"] == "canceled")
            #expect(
                try await client.post("/api/billing/subscriptions/\(subscriptionID)/cancel", token: user.token, json: [:]).status
                    == .conflict)
            let summary = try await client.get("/api/portal/billing", token: user.token).json
            #expect(summary["licenses"]?["total"] == 1)
            #expect(summary["orders"]?["count"] == 1)
        }
    }

    @Test("product files: admin-only multipart upload with checksum and size cap; downloads only for license holders")
    func productFiles() async throws {
        try await TestServer.run(["upload.limit.bytes": 4096]) { client, config in
            let owner = try await client.register()
            let me = try await client.get("/api/users/me", token: owner.token).json
            let organizationID = try #require(me["organization"]?["id"]?.stringValue)
            let productID = try #require(try await client.createProduct(owner.token)["id"]?.stringValue)
            let archive: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + Array("archive contents".utf8)
            func upload(_ bytes: [UInt8], version: String, token: String, filename: String = "crm.zip") async throws -> APIResponse {
                let boundary = "----ecosire\(UUID().uuidString)"
                var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"productId\"\r\n\r\n\(productID)\r\n".utf8)
                body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n\(version)\r\n".utf8)
                body += Array(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: application/zip\r\n\r\n"
                        .utf8)
                body += bytes + Array("\r\n--\(boundary)--\r\n".utf8)
                return try await client.postRaw(
                    "/api/admin/product-files/upload", body: body, headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"],
                    token: token)
            }
            let stored = try await upload(archive, version: "1.0.0", token: owner.token)
            #expect(stored.status == .created, "\(stored.text)")
            let digest = SHA256.hash(data: Data(archive)).map { String(format: "%02x", $0) }.joined()
            #expect(stored.json["checksum"] == .string("sha256:" + digest))
            #expect(stored.json["size"] == .int(Int64(archive.count)))
            #expect(try await upload(archive, version: "1.0.0", token: owner.token).status == .conflict)
            let notZip = try await upload(Array("plain text".utf8), version: "1.0.1", token: owner.token)
            #expect(notZip.status == .unprocessableContent)
            #expect(notZip.json["details"]?[0]?["field"] == "file")
            #expect(
                try await upload(archive + [UInt8](repeating: 0, count: 5000), version: "2.0.0", token: owner.token).status
                    == .contentTooLarge)

            let member = try await TestMembers.add(client, config: config, organizationID: organizationID, role: "member")
            #expect(try await upload(archive, version: "3.0.0", token: member).status == .forbidden)
            let denied = try await client.get("/api/products/\(productID)/files", token: member)
            #expect(denied.status == .forbidden)
            #expect(denied.json["code"] == "LICENSE_REQUIRED")
            let memberID = try #require(try await client.get("/api/users/me", token: member).json["id"]?.stringValue)
            _ = try await client.grantLicense(owner.token, productID: productID, ["ownerUserId": .string(memberID)])
            let fileList = try await client.get("/api/products/\(productID)/files", token: member).json
            let files = fileList["data"]?.arrayValue ?? []
            #expect(files.count == 1)
            #expect(fileList["meta"] == ["total": 1, "page": 1, "limit": 20, "totalPages": 1])
            #expect(try await client.get("/api/products/\(productID)/files?limit=0", token: member).status == .badRequest)
            let download = try await client.client.executeRequest(
                uri: files.first?["downloadUrl"]?.stringValue ?? "", method: .get, headers: [.authorization: "Bearer \(member)"], body: nil)
            #expect(download.status == .ok)
            #expect(Array(download.body.readableBytesView) == archive)
            #expect(download.headers[HTTPField.Name("X-Checksum-SHA256")!] == digest)
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"crm.zip\"; filename*=UTF-8''crm.zip")

            // A file name is data, not a path: the base name is stored and offered, quoted per RFC 6266.
            let hostile = try await upload(archive, version: "4.0.0", token: owner.token, filename: "../../etc/évil%x.zip")
            #expect(hostile.status == .created, "\(hostile.text)")
            #expect(hostile.json["filename"] == "évil%x.zip")
            let offered = try await client.client.executeRequest(
                uri: hostile.json["downloadUrl"]?.stringValue ?? "", method: .get, headers: [.authorization: "Bearer \(member)"], body: nil)
            #expect(offered.headers[.contentDisposition] == "attachment; filename=\"_vil_x.zip\"; filename*=UTF-8''%C3%A9vil%25x.zip")
            let dots = try await upload(archive, version: "4.0.1", token: owner.token, filename: "..\\..")
            #expect(dots.json["filename"] == "4.0.1.zip", "nothing left of the name: the version's")
        }
    }

    @Test("variants belong to their product; products with licenses cannot be deleted")
    func variants() async throws {
        try await TestServer.run { client, _ in
            let token = try await client.register().token
            let productID = try #require(try await client.createProduct(token)["id"]?.stringValue)
            let other = try #require(try await client.createProduct(token, ["licensePolicy": nil])["id"]?.stringValue)
            let variant = try await client.post(
                "/api/products/\(productID)/variants", token: token,
                json: ["name": "Enterprise", "sku": "CRM-ENT", "price": 49_900, "attributes": ["edition": "Enterprise"]])
            #expect(variant.status == .created)
            let variantID = try #require(variant.json["id"]?.stringValue)
            #expect(variant.json["productId"] == .string(productID))
            #expect(try await client.get("/api/products/\(productID)/variants", token: token).json["meta"]?["total"] == 1)
            #expect(try await client.get("/api/products/\(other)/variants", token: token).json["meta"]?["total"] == 0)
            #expect(
                try await client.patch("/api/products/\(other)/variants/\(variantID)", token: token, json: ["name": "x"]).status
                    == .notFound)
            #expect(
                try await client.patch("/api/products/\(productID)/variants/\(variantID)", token: token, json: ["price": nil]).json["price"]
                    == .null)
            #expect(try await client.delete("/api/products/\(productID)/variants/\(variantID)", token: token).status == .noContent)
            _ = try await client.grantLicense(token, productID: productID)
            #expect(try await client.delete("/api/products/\(productID)", token: token).status == .conflict)
            #expect(try await client.delete("/api/products/\(other)", token: token).status == .noContent)
            let filtered = try await client.get("/api/products?type=digital&inStock=true&search=odoo", token: token)
            #expect(filtered.json["meta"]?["total"] == 1)
        }
    }
}
