import EcosireSDK
import Foundation
import HummingbirdTesting
import Testing

/// A new organization's owner as the SDK tests use it: credentials, an admin API key, and a client
/// that uses the key.
struct SDKAccount {
    let baseURL: URL
    let email: String
    let password: String
    let apiKey: String
    let owner: EcosireClient
}

extension TestClientSession {
    /// The live server's base URL as integrators write it (with `/api`).
    var baseURL: URL { URL(string: "http://127.0.0.1:\(client.port ?? 0)/api")! }

    /// Registers an owner through the SDK and gives them an admin API key.
    func sdkAccount() async throws -> SDKAccount {
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let password = "correct horse battery staple"
        let anonymous = EcosireClient(baseURL: baseURL)
        let session = try await anonymous.auth.register(
            body: .init(email: email, name: "SDK Owner", organizationName: "SDK Tests", password: password))
        let signedIn = EcosireClient(baseURL: baseURL, accessToken: session.token)
        let created = try await signedIn.apiKeys.create(body: .init(name: "sdk tests", scope: .admin))
        return SDKAccount(
            baseURL: baseURL, email: email, password: password, apiKey: created.apiKey.key,
            owner: EcosireClient(baseURL: baseURL, apiKey: created.apiKey.key))
    }
}

extension EcosireClient {
    /// A license key of a new licensed product (the client must be an admin).
    func newLicenseKey(activationsLimit: Int64 = 3) async throws -> String {
        let product = try await products.create(
            body: .init(
                licensePolicy: .init(activationsLimit: activationsLimit, durationDays: 365, prefix: "SHOP", updatesMonths: 12),
                name: "Odoo CRM Connector", price: 24_900, sku: "SKU-\(UUID().uuidString.prefix(8))", _type: .digital))
        return try await licenses.grant(body: .init(productId: product.id)).key
    }
}

/// Runs `body` and returns the ``EcosireError`` it throws (failing the test when it throws nothing
/// or something else).
func ecosireError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> EcosireError? {
    do {
        try await body()
        Issue.record("expected an EcosireError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as EcosireError {
        return error
    } catch {
        Issue.record("expected an EcosireError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
