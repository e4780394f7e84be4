import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends a request again after a 429, a 5xx or a connection failure, as ``RetryPolicy`` describes.
struct RetryMiddleware: ClientMiddleware {
    let policy: RetryPolicy

    /// Methods whose repetition has the same effect as one request.
    private static let idempotentMethods: Set<HTTPRequest.Method> = [.get, .head, .put, .patch, .delete, .options]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let safeToRepeat =
            Self.idempotentMethods.contains(request.method) || request.headerFields[.idempotencyKey] != nil
        // A streamed upload cannot be sent twice.
        let resendable = body == nil || body?.iterationBehavior == .multiple
        var attempt = 0
        while true {
            let canRetry = resendable && attempt < policy.maxRetries
            let response: HTTPResponse
            var responseBody: HTTPBody?
            do {
                (response, responseBody) = try await next(request, body, baseURL)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard canRetry, safeToRepeat else { throw error }
                try await Task.sleep(for: policy.delay(attempt: attempt, retryAfter: nil))
                attempt += 1
                continue
            }
            let status = response.status.code
            var retry = false
            if status == 429 {
                // Refused before it ran: repeating is safe for any method.
                retry = true
            } else if status >= 500, status != 501, safeToRepeat {
                retry = true
            } else if status == 409, request.headerFields[.idempotencyKey] != nil, let body = responseBody {
                // IDEMPOTENCY_KEY_IN_USE: the first attempt is still running; its answer comes later.
                let data = (try? await Data(collecting: body, upTo: ProblemMiddleware.bodyLimit)) ?? Data()
                responseBody = HTTPBody(data)
                retry = String(decoding: data, as: UTF8.self).contains("\"IDEMPOTENCY_KEY_IN_USE\"")
            }
            guard retry, canRetry else { return (response, responseBody) }
            let retryAfter = response.headerFields[.retryAfter].flatMap { RetryPolicy.seconds(retryAfter: $0, now: Date()) }
            if let retryAfter, Duration.seconds(retryAfter) > policy.maxRetryAfter { return (response, responseBody) }
            if let responseBody { _ = try? await Data(collecting: responseBody, upTo: ProblemMiddleware.bodyLimit) }
            try await Task.sleep(for: policy.delay(attempt: attempt, retryAfter: retryAfter))
            attempt += 1
        }
    }
}
