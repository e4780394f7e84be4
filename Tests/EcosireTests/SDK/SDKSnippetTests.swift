import Configuration
import EcosireSDK
import Foundation
import Testing

/// The six common operations of the README and the portal, in Swift. The code between
/// `// snippet:NAME` and `// end-snippet` is copied verbatim into the documentation by
/// scripts/snippets.py, so every snippet a reader sees has run here against a live server; its
/// results are asserted below it.
@Suite struct SDKSnippetTests {
    @Test func authenticate() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let (baseURL, apiKey, email, password) = (account.baseURL, account.apiKey, account.email, account.password)
            // snippet:authenticate
            let client = EcosireClient(baseURL: baseURL, apiKey: apiKey)

            // Login with credentials
            let session = try await client.auth.login(email: email, password: password)
            print(session.token)  // JWT token
            print(session.user)  // id, email, name, role

            // All subsequent calls auto-attach the token
            let contacts = try await client.contacts.list()
            // end-snippet
            #expect(session.token.split(separator: ".").count == 3)
            #expect(session.user.email == email)
            #expect(session.user.role == .owner)
            #expect(contacts.meta.total == 0)
            #expect(client.session?.token == session.token)
        }
    }

    @Test func listContactsWithPaging() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let client = account.owner
            for name in ["Ada", "Grace", "Alan", "Edsger", "Barbara"] { _ = try await client.contacts.create(body: .init(name: name)) }
            // snippet:list-contacts
            // One page at a time…
            let page = try await client.contacts.list(query: .init(page: 1, limit: 2, sortBy: .name, sortOrder: .asc))
            print(page.data.map(\.name), "\(page.meta.total) in \(page.meta.totalPages) pages")

            // …or every contact, the pages fetched as the loop needs them.
            var names: [String] = []
            for try await contact in client.contacts.listAll(query: .init(limit: 2, sortBy: .name, sortOrder: .asc)) {
                names.append(contact.name)
            }
            // end-snippet
            #expect(page.data.map(\.name) == ["Ada", "Alan"])
            #expect(page.meta.total == 5 && page.meta.totalPages == 3)
            #expect(names == ["Ada", "Alan", "Barbara", "Edsger", "Grace"])
        }
    }

    @Test func createAnAPIKey() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let (baseURL, client) = (account.baseURL, account.owner)
            // snippet:create-api-key
            let created = try await client.apiKeys.create(
                body: .init(
                    expiresAt: Date().addingTimeInterval(90 * 24 * 3600),
                    name: "Reporting (read only)", scope: .readOnly))
            let apiKey = created.apiKey
            print(apiKey.key)  // ecos_live_…: shown only now, so store it in your secret manager
            print(apiKey.prefix, apiKey.scope, apiKey.expiresAt.map { "until \($0)" } ?? "no expiry")

            let reporting = EcosireClient(baseURL: baseURL, apiKey: apiKey.key)
            let firstPage = try await reporting.contacts.list(query: .init(limit: 10))
            // end-snippet
            #expect(apiKey.key.hasPrefix("ecos_live_") && apiKey.key.count == 42)
            #expect(apiKey.prefix == String(apiKey.key.prefix(12)))
            #expect(firstPage.meta.page == 1)
            // The key is read-only: a write is refused with a typed error.
            let refused = await ecosireError { _ = try await reporting.contacts.create(body: .init(name: "Nope")) }
            #expect(refused?.status == 403)
        }
    }

    @Test func validateAndActivateALicense() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let (baseURL, licenseKey) = (account.baseURL, try await account.owner.newLicenseKey())
            // snippet:license
            // From the licensed software: these calls need no credentials.
            let client = EcosireClient(baseURL: baseURL)
            let validation = try await client.licenses.validate(body: .init(domain: "shop.example.com", key: licenseKey))
            if validation.valid && !validation.activated {
                let activation = try await client.licenses.activate(body: .init(domain: "shop.example.com", key: licenseKey))
                print("activated \(activation.activationsCount) of \(activation.activationsLimit)")
            }
            // end-snippet
            #expect(validation.valid && !validation.activated)
            let after = try await client.licenses.validate(body: .init(domain: "shop.example.com", key: licenseKey))
            #expect(after.activated && after.activationsCount == 1)
        }
    }

    @Test func createAndVerifyAWebhookEndpoint() async throws {
        try await WebhookReceiver.run { receiver, publicURL in
            try await TestServer.run(WebhookTests.allowPrivate) { server, _ in
                let client = try await server.sdkAccount().owner
                // snippet:webhooks
                // Register your endpoint; its signing secret is shown only in this answer.
                let endpoint = try await client.webhooks.createEndpoint(
                    body: .init(events: ["contact.created", "license.activated"], url: "\(publicURL)/hooks/ok"))
                let secret = endpoint.secret  // whsec_…

                // In your HTTP handler: verify the raw body before trusting it.
                func handleWebhook(body: Data, signature: String?) -> Int {
                    do {
                        let event = try WebhookVerifier.constructEvent(payload: body, signatureHeader: signature, secret: secret)
                        print(event.id, event.type)
                        return 204
                    } catch {
                        return 400
                    }
                }

                // Send yourself a signed example event.
                _ = try await client.webhooks.sendTest(id: endpoint.id, body: .init(_type: "contact.created"))
                // end-snippet
                let delivery = try #require(try await receiver.waitFor(1).first)
                #expect(handleWebhook(body: Data(delivery.body.utf8), signature: delivery.header("X-Ecosire-Signature")) == 204)
                #expect(handleWebhook(body: Data((delivery.body + " ").utf8), signature: delivery.header("X-Ecosire-Signature")) == 400)
                let event = try WebhookVerifier.constructEvent(
                    payload: Data(delivery.body.utf8), signatureHeader: delivery.header("X-Ecosire-Signature"), secret: secret)
                #expect(event.type == "contact.created")
                // A test event carries the type's example object.
                struct Named: Decodable { let name: String }
                #expect(try event.object(as: Named.self).name == "Ada Lovelace")
            }
        }
    }

    @Test func handleErrorsAndRateLimits() async throws {
        try await TestServer.run { server, _ in
            let account = try await server.sdkAccount()
            let (baseURL, apiKey) = (account.baseURL, account.apiKey)
            // snippet:errors
            // Rate limits: a 429 is retried after its Retry-After, as are 5xx answers and network
            // failures when repeating is safe (POSTs carry an Idempotency-Key for that).
            let client = EcosireClient(
                baseURL: baseURL, apiKey: apiKey, retryPolicy: RetryPolicy(maxRetries: 5, maxRetryAfter: .seconds(60)))

            // Every failure is an EcosireError with the problem details.
            do {
                _ = try await client.contacts.create(body: .init(email: "not-an-email", name: ""))
            } catch let error as EcosireError {
                print(error.status, error.code)  // 422 VALIDATION_FAILED
                for issue in error.details { print("\(issue.field): \(issue.message)") }
                print(error.requestID ?? "")  // quote it when asking for support
            }
            // end-snippet
            let error = await ecosireError { _ = try await client.contacts.create(body: .init(email: "not-an-email", name: "")) }
            #expect(error?.status == 422 && error?.code == "VALIDATION_FAILED")
            #expect(error?.details.map(\.field).sorted() == ["email", "name"])
            #expect(error?.requestID?.hasPrefix("req_") == true)
        }
    }
}
