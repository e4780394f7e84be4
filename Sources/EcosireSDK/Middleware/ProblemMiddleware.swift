import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Turns every answer of 400 or more into a thrown ``EcosireError`` carrying the problem details,
/// and a request that got no answer into one with status 0, so that callers handle one error type.
struct ProblemMiddleware: ClientMiddleware {
    /// Problem bodies are small; a larger error body is cut here.
    static let bodyLimit = 1 << 20

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let response: HTTPResponse
        let responseBody: HTTPBody?
        do {
            (response, responseBody) = try await next(request, body, baseURL)
        } catch let error as EcosireError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw EcosireError.network(error)
        }
        guard response.status.code >= 400 else { return (response, responseBody) }
        var data = Data()
        if let responseBody {
            data = (try? await Data(collecting: responseBody, upTo: Self.bodyLimit)) ?? Data()
        }
        throw EcosireError(response: response, body: data)
    }
}
