import Foundation
import HTTPTypes
import OpenAPIRuntime

/// The generated client with the SDK's middlewares, shared by every namespace of one
/// ``EcosireClient``; ``perform(_:)`` turns whatever a call throws into an ``EcosireError``.
final class ClientCore: Sendable {
    let client: Client
    let credentials: Credentials

    init(serverURL: URL, transport: any ClientTransport, credentials: Credentials, retryPolicy: RetryPolicy) {
        self.credentials = credentials
        // Refreshing goes through a client without the auth middleware, so a refused refresh
        // cannot trigger another refresh.
        let configuration = Configuration(dateTranscoder: ISO8601Transcoder())
        let sessions = Client(
            serverURL: serverURL, configuration: configuration, transport: transport,
            middlewares: [ProblemMiddleware(), IdempotencyMiddleware(), RetryMiddleware(policy: retryPolicy)])
        let refresh: @Sendable (String) async throws -> Components.Schemas.Session = { refreshToken in
            try await sessions.refreshToken(.init(body: .json(.init(refreshToken: refreshToken)))).ok.body.json
        }
        // Outermost first: errors see the final answer, the key is added once for all attempts, and
        // each attempt carries the current token.
        client = Client(
            serverURL: serverURL, configuration: configuration, transport: transport,
            middlewares: [
                ProblemMiddleware(), IdempotencyMiddleware(), RetryMiddleware(policy: retryPolicy),
                AuthMiddleware(credentials: credentials, refresh: refresh),
            ])
    }

    /// Runs one call of the generated client; every failure but cancellation comes out as an
    /// ``EcosireError``.
    func perform<Value: Sendable>(_ call: (Client) async throws -> Value) async throws -> Value {
        do {
            return try await call(client)
        } catch let error as EcosireError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as ClientError {
            if let underlying = error.underlyingError as? EcosireError { throw underlying }
            if error.underlyingError is CancellationError { throw CancellationError() }
            throw EcosireError(
                status: error.response.map { $0.status.code } ?? 0,
                code: error.response == nil ? "NETWORK_ERROR" : "INVALID_RESPONSE",
                message: "\(error.causeDescription): \(error.underlyingError)",
                requestID: error.response?.headerFields[.requestID], underlying: error.underlyingError)
        } catch {
            throw EcosireError(status: 0, code: "INVALID_RESPONSE", message: "\(error)", underlying: error)
        }
    }
}
