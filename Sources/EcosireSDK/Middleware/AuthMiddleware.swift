import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends the session's access token (after `login`) or else the API key as `Authorization: Bearer`,
/// to every operation that is not public. When an access token is refused with 401 and a refresh
/// token is at hand, it refreshes the session once and repeats the request.
struct AuthMiddleware: ClientMiddleware {
    let credentials: Credentials
    /// Exchanges a refresh token for a new session (a call that does not pass through this middleware).
    let refresh: @Sendable (String) async throws -> Components.Schemas.Session

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard !OperationFacts.publicOperations.contains(operationID), request.headerFields[.authorization] == nil,
            let credential = credentials.current
        else {
            return try await next(request, body, baseURL)
        }
        var request = request
        request.headerFields[.authorization] = "Bearer \(credential.secret)"
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status == .unauthorized, credential.isAccessToken,
            body == nil || body?.iterationBehavior == .multiple,
            let renewed = await credentials.refreshedToken(replacing: credential.secret, using: refresh)
        else {
            return (response, responseBody)
        }
        if let responseBody { _ = try? await Data(collecting: responseBody, upTo: ProblemMiddleware.bodyLimit) }
        request.headerFields[.authorization] = "Bearer \(renewed)"
        return try await next(request, body, baseURL)
    }
}
