import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Adds a fresh `Idempotency-Key` to every POST whose operation accepts one (unless the caller set
/// one), so the retry middleware may repeat it: the server replays the first answer instead of
/// running the request twice.
struct IdempotencyMiddleware: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        if request.method == .post, OperationFacts.idempotentPOSTs.contains(operationID), request.headerFields[.idempotencyKey] == nil {
            request.headerFields[.idempotencyKey] = UUID().uuidString.lowercased()
        }
        return try await next(request, body, baseURL)
    }
}
