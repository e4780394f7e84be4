import Ecosire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import Testing

extension TestClientSession {
    /// Creates a product (the caller must be an admin) and returns it.
    @discardableResult
    func createProduct(_ token: String, _ fields: JSONObject = [:]) async throws -> JSONValue {
        var body: JSONObject = [
            "name": "Odoo CRM Connector", "sku": .string("SKU-\(UUID().uuidString.prefix(8))"), "price": 24_900, "type": "digital",
            "licensePolicy": ["prefix": "SHOP", "activationsLimit": 3, "durationDays": 365, "updatesMonths": 12],
        ]
        body.merge(fields)
        let response = try await post("/api/products", token: token, json: .object(body))
        #expect(response.status == .created, "create product: \(response.text)")
        return response.json
    }

    /// Grants a license for a product by hand and returns it.
    func grantLicense(_ token: String, productID: String, _ fields: JSONObject = [:]) async throws -> JSONValue {
        var body: JSONObject = ["productId": .string(productID)]
        body.merge(fields)
        let response = try await post("/api/licenses", token: token, json: .object(body))
        #expect(response.status == .created, "grant license: \(response.text)")
        return response.json
    }

    /// A draft order for one contact with `quantity` of the product.
    func createOrder(_ token: String, contactID: String, productID: String, quantity: Int64 = 1) async throws -> JSONValue {
        let response = try await post(
            "/api/orders", token: token,
            json: ["contactId": .string(contactID), "lineItems": [["productId": .string(productID), "quantity": .int(quantity)]]])
        #expect(response.status == .created, "create order: \(response.text)")
        return response.json
    }

    /// POST with a raw body and extra headers (webhooks, multipart uploads).
    func postRaw(_ uri: String, body: [UInt8], headers: [String: String], token: String? = nil) async throws -> APIResponse {
        var fields = HTTPFields()
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        if let token { fields[.authorization] = "Bearer \(token)" }
        let raw = try await client.executeRequest(uri: uri, method: .post, headers: fields, body: ByteBuffer(bytes: body))
        let response = APIResponse(status: raw.status, headers: raw.headers, text: String(buffer: raw.body))
        ResponseRecorder.record(method: .post, uri: uri, response: response)
        return response
    }
}

/// Test-only set-up the API has no route for yet (inviting members): a user row added straight
/// to the server's database, then signed in through the API.
enum TestMembers {
    static func add(_ client: TestClientSession, config: AppConfiguration, organizationID: String, role: String) async throws -> String {
        let email = "member-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        try await withDatabase(config) { database in
            let hash = try await PasswordHasher(cost: 4).hash("password123")
            try await database.transaction { sql in
                try await sql.raw(
                    """
                    INSERT INTO users (id, organization_id, email, name, password_hash, role, created_at, updated_at)
                    VALUES (\(bind: UUID().uuidString.lowercased()), \(bind: organizationID), \(bind: email), 'Member', \(bind: hash), \(bind: role), 0, 0)
                    """
                ).run()
            }
        }
        let login = try await client.post("/api/auth/login", json: ["email": .string(email), "password": "password123"])
        #expect(login.status == .ok, "member login: \(login.text)")
        return login.json["token"]?.stringValue ?? ""
    }
}
