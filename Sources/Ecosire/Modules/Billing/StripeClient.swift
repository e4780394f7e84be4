import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The few Stripe API calls billing makes, form-encoded as Stripe's API expects, against a
/// configurable base URL (tests point it at a local server that answers like Stripe).
struct StripeClient: Sendable {
    let baseURL: String
    let secretKey: String?

    /// Stripe's answer when it is not a 2xx, or the API cannot be reached.
    static func unavailable(_ message: String) -> APIError {
        APIError(.badGateway, code: "PAYMENT_PROVIDER_ERROR", message: message)
    }

    static let notConfigured = APIError(
        .serviceUnavailable, code: "BILLING_NOT_CONFIGURED", message: "Billing is not configured on this server (STRIPE_SECRET_KEY)")

    /// `a[b][0][c]=v` form encoding of nested parameters, in the given order.
    static func formEncode(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { key, value in
            (key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key) + "="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
    }

    /// Sends a request and returns the decoded JSON object.
    func call(_ method: HTTPMethod, _ path: String, form: [(String, String)] = [], idempotencyKey: String? = nil) async throws -> JSONValue
    {
        guard let secretKey else { throw Self.notConfigured }
        var request = HTTPClientRequest(url: baseURL.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
        request.headers.add(name: "Stripe-Version", value: "2024-06-20")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method != .GET {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Self.unavailable("Stripe could not be reached")
        }
        let json = (try? JSONValue.parse(body)) ?? .null
        guard (200..<300).contains(response.status.code) else {
            let message = json["error"]?["message"]?.stringValue ?? "HTTP \(response.status.code)"
            throw Self.unavailable("Stripe refused the request: \(message)")
        }
        return json
    }
}
