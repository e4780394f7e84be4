import Configuration
import EcosireSDK
import Foundation
import HTTPTypes
import NIOCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Synchronization
import Testing

/// The Swift SDK's behaviour against a live server: retries, typed errors, pagination, sessions and
/// the webhook verifiers on real deliveries.
@Suite struct SDKClientTests {
    @Test func aRateLimitedCallIsRetriedAfterRetryAfterAndThenSucceeds() async throws {
        let limits: [String: ConfigValue] = ["rate.limit.license.validate": 3, "rate.limit.window": 2]
        try await TestServer.run(limits) { server, _ in
            let licenseKey = try await server.sdkAccount().owner.newLicenseKey()
            let transport = RecordingTransport()
            let client = EcosireClient(baseURL: server.baseURL, transport: transport)
            // Seven calls exceed two windows' worth, wherever the window boundary falls.
            for _ in 0..<7 {
                #expect(try await client.licenses.validate(body: .init(domain: "shop.example.com", key: licenseKey)).valid)
            }
            #expect(transport.statuses.contains(429), "\(transport.statuses)")
            #expect(transport.statuses.filter { $0 == 200 }.count == 7)

            // With retries off, the limit surfaces as a typed error with its Retry-After.
            let impatient = EcosireClient(baseURL: server.baseURL, retryPolicy: .none)
            var limited: EcosireError?
            for _ in 0..<7 where limited == nil {
                do { _ = try await impatient.licenses.validate(body: .init(domain: "shop.example.com", key: licenseKey)) } catch let error
                    as EcosireError
                {
                    limited = error
                }
            }
            #expect(limited?.status == 429 && limited?.code == "RATE_LIMITED")
            #expect((1...2).contains(limited?.retryAfter ?? 0))
        }
    }

    @Test func aValidationFailureIsATypedErrorWithFieldDetails() async throws {
        try await TestServer.run { server, _ in
            let client = try await server.sdkAccount().owner
            let invalid = await ecosireError {
                _ = try await client.contacts.create(body: .init(email: "nope", name: "", tags: Array(repeating: "t", count: 60)))
            }
            #expect(invalid?.status == 422 && invalid?.code == "VALIDATION_FAILED")
            #expect(invalid?.details.map(\.field).sorted() == ["email", "name", "tags"])
            #expect(invalid?.details.allSatisfy { !$0.message.isEmpty } == true)
            let missing = await ecosireError { _ = try await client.contacts.get(id: "0190a000-0000-7000-8000-000000000000") }
            #expect(missing?.status == 404 && missing?.code == "NOT_FOUND")
        }
    }

    @Test func answersThatAreNotJSONComeBackAsBodies() async throws {
        try await TestServer.run { server, _ in
            let client = EcosireClient(baseURL: server.baseURL)
            let yaml = String(decoding: try await Data(collecting: client.docs.getOpenAPIYAML(), upTo: 4 << 20), as: UTF8.self)
            #expect(yaml.contains("\nopenapi: 3.0.3\n"))
        }
    }

    @Test func paginationVisitsEveryRecordExactlyOnce() async throws {
        try await TestServer.run { server, _ in
            let client = try await server.sdkAccount().owner
            var created = Set<String>()
            for index in 0..<45 { created.insert(try await client.contacts.create(body: .init(name: "Contact \(index % 7)")).id) }
            // Default sort (createdAt desc, ties by id) and a name sort with many ties, 10 per page.
            for query in [Operations.ListContacts.Input.Query(limit: 10), .init(limit: 10, sortBy: .name, sortOrder: .asc)] {
                var seen: [String] = []
                for try await contact in client.contacts.listAll(query: query) { seen.append(contact.id) }
                #expect(seen.count == 45)
                #expect(Set(seen) == created)
            }
        }
    }

    @Test func aLostAnswerToAPOSTIsRetriedWithTheSameIdempotencyKeyAndRunsOnce() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let transport = LosingTransport()
            let client = EcosireClient(
                baseURL: account.baseURL, apiKey: account.apiKey, retryPolicy: RetryPolicy(baseDelay: .milliseconds(10)),
                transport: transport)
            let contact = try await client.contacts.create(body: .init(name: "Exactly Once"))
            let keys = transport.keys
            #expect(keys.count == 2 && keys[0] == keys[1] && !(keys[0] ?? "").isEmpty)
            let found = try await account.owner.contacts.list(query: .init(search: "Exactly Once"))
            #expect(found.data.map(\.id) == [contact.id])
        }
    }

    @Test func connectionFailuresAreRetriedThenSurfaceAsNetworkErrors() async throws {
        let transport = RecordingTransport()
        // Port 9 (discard) is closed on loopback.
        let client = EcosireClient(
            baseURL: URL(string: "http://127.0.0.1:9")!, retryPolicy: RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(5)),
            transport: transport)
        let error = await ecosireError { _ = try await client.operations.getHealth() }
        #expect(error?.status == 0 && error?.code == "NETWORK_ERROR")
        #expect(transport.statuses == [0, 0, 0])
    }

    @Test func anExpiredAccessTokenIsRefreshedOnceAndTheCallSucceeds() async throws {
        // 3-second tokens: long enough for the renewed one to be used on a loaded machine.
        try await TestServer.run(["access.token.ttl": 3]) { server, _ in
            let account = try await server.sdkAccount()
            let client = EcosireClient(baseURL: account.baseURL)
            let first = try await client.auth.login(email: account.email, password: account.password)
            try await Task.sleep(for: .milliseconds(4100))
            async let contacts = client.contacts.list()
            async let me = client.users.getCurrentUser()
            #expect(try await contacts.meta.page == 1)
            #expect(try await me.email == account.email)
            #expect(client.session?.token != nil && client.session?.token != first.token)
            try await client.auth.logout()
            #expect(client.session == nil)
            let signedOut = await ecosireError { _ = try await client.contacts.list() }
            #expect(signedOut?.status == 401)
        }
    }

    @Test func theVerifiersAcceptRealDeliveriesAndRefuseAlteredOnes() async throws {
        let licenseSecret = "sdk-test-license-secret"
        let config = WebhookTests.allowPrivate.merging(["ecosire.license.secret": .init(stringLiteral: licenseSecret)]) { $1 }
        try await WebhookReceiver.run { receiver, base in
            try await TestServer.run(config) { server, _ in
                let client = try await server.sdkAccount().owner
                let endpoint = try await client.webhooks.createEndpoint(body: .init(events: ["license.activated"], url: base + "/hooks/ok"))
                let licenseKey = try await client.newLicenseKey()
                _ = try await client.licenses.activate(body: .init(domain: "shop.example.com", key: licenseKey))
                let delivery = try #require(try await receiver.waitFor(1).first)
                let body = Data(delivery.body.utf8)
                let signature = delivery.header("X-Ecosire-Signature")
                try WebhookVerifier.verifyEcosireSignature(payload: body, signatureHeader: signature, secret: endpoint.secret)
                try WebhookVerifier.verifyStandardWebhook(
                    payload: body, id: delivery.header("webhook-id"), timestamp: delivery.header("webhook-timestamp"),
                    signature: delivery.header("webhook-signature"), secret: endpoint.secret)
                try WebhookVerifier.verifyLicenseSignature(
                    payload: body, signatureHeader: delivery.header("X-License-Signature"), licenseSecret: licenseSecret)
                #expect(
                    try WebhookVerifier.constructEvent(payload: body, signatureHeader: signature, secret: endpoint.secret).type
                        == "license.activated")

                let altered = Data(delivery.body.replacingOccurrences(of: "shop.example.com", with: "evil.example.com").utf8)
                func reason(_ check: () throws -> Void) -> WebhookVerificationError.Reason? {
                    do { try check() } catch { return (error as? WebhookVerificationError)?.reason }
                    return nil
                }
                #expect(
                    reason {
                        try WebhookVerifier.verifyEcosireSignature(payload: altered, signatureHeader: signature, secret: endpoint.secret)
                    } == .noMatchingSignature)
                #expect(
                    reason {
                        try WebhookVerifier.verifyStandardWebhook(
                            payload: altered, id: delivery.header("webhook-id"), timestamp: delivery.header("webhook-timestamp"),
                            signature: delivery.header("webhook-signature"), secret: endpoint.secret)
                    } == .noMatchingSignature)
                #expect(
                    reason {
                        try WebhookVerifier.verifyLicenseSignature(
                            payload: altered, signatureHeader: delivery.header("X-License-Signature"), licenseSecret: licenseSecret)
                    } == .noMatchingSignature)
                #expect(
                    reason {
                        try WebhookVerifier.verifyEcosireSignature(
                            payload: body, signatureHeader: signature, secret: endpoint.secret, now: Date().addingTimeInterval(301))
                    } == .timestampOutOfTolerance)
                #expect(
                    reason { try WebhookVerifier.verifyEcosireSignature(payload: body, signatureHeader: nil, secret: endpoint.secret) }
                        == .missingHeader)
            }
        }
    }
}

/// AsyncHTTPClient's transport, recording the status of every answer (0 for a failed connection).
final class RecordingTransport: ClientTransport {
    /// AsyncHTTPClient retries a refused connection until the deadline; 1 s keeps the test short.
    private let inner = AsyncHTTPClientTransport(configuration: .init(timeout: .seconds(1)))
    private let recorded = Mutex<[Int]>([])
    var statuses: [Int] { recorded.withLock { $0 } }

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            let answer = try await inner.send(request, body: body, baseURL: baseURL, operationID: operationID)
            recorded.withLock { $0.append(answer.0.status.code) }
            return answer
        } catch {
            recorded.withLock { $0.append(0) }
            throw error
        }
    }
}

/// A network that loses the answer to the first attempt of every POST: the server receives and
/// runs the request, the client sees a 502.
final class LosingTransport: ClientTransport {
    private let inner = AsyncHTTPClientTransport()
    private let seen = Mutex<[String?]>([])
    /// The `Idempotency-Key` of every POST attempt, in order.
    var keys: [String?] { seen.withLock { $0 } }

    func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (HTTPResponse, HTTPBody?) {
        let answer = try await inner.send(request, body: body, baseURL: baseURL, operationID: operationID)
        guard request.method == .post else { return answer }
        let key = request.headerFields[HTTPField.Name("Idempotency-Key")!]
        let first = seen.withLock { keys in
            defer { keys.append(key) }
            return !keys.contains(key)
        }
        guard first else { return answer }
        if let body = answer.1 { _ = try await Data(collecting: body, upTo: 1 << 20) }
        return (HTTPResponse(status: .badGateway), nil)
    }
}
