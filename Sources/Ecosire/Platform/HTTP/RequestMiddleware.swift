import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1

/// First on the request path: assigns the request id, adds the headers every response carries,
/// and writes one structured access-log line (method, path without query, status, duration).
public struct RequestMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let tls: Bool

    public init(tls: Bool = false) { self.tls = tls }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let requestID = Self.acceptedRequestID(request.headers[.xRequestID]) ?? Self.newRequestID()
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        let started = ContinuousClock.now
        var response = try await next(request, context)
        Self.addStandardHeaders(to: &response.headers, requestID: requestID, tls: tls)
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(
                    String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
            ]
        )
        return response
    }

    /// The headers every answer carries, also those written outside the router (`MalformedRequestHandler`).
    static func addStandardHeaders(to headers: inout HTTPFields, requestID: String, tls: Bool) {
        headers[.xRequestID] = requestID
        headers[.xAPIVersion] = "1"
        headers[.xContentTypeOptions] = "nosniff"
        // Not `no-referrer`: under it browsers send `Origin: null` with the pages' own form posts,
        // and the sign-in form trusts only its own origin. Other sites still learn nothing.
        headers[.referrerPolicy] = "same-origin"
        headers[.xFrameOptions] = "DENY"
        if headers[.contentSecurityPolicy] == nil {
            headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
        if tls { headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
    }

    /// Echo a caller's id only when it is short and plain, so it is safe in logs and headers.
    static func acceptedRequestID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            })
        else { return nil }
        return value
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `req_` and 24 random hex digits.
    static func newRequestID() -> String {
        var random = SystemRandomNumberGenerator()
        let high = random.next() as UInt64
        let low = random.next() as UInt32
        return String(unsafeUninitializedCapacity: 28) { buffer in
            for (index, byte) in "req_".utf8.enumerated() { buffer[index] = byte }
            for index in 0..<16 { buffer[4 + index] = hexDigits[Int(high >> (60 - 4 * UInt64(index)) & 0xF)] }
            for index in 0..<8 { buffer[20 + index] = hexDigits[Int(low >> (28 - 4 * UInt32(index)) & 0xF)] }
            return 28
        }
    }
}

/// Turns every error into problem details: our `APIError`s as they are, Hummingbird's errors
/// (unknown route → 404 or 405) mapped to our codes, and anything else into a 500 whose cause is
/// logged but never sent.
public struct ProblemMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let allowedMethods: @Sendable (String) -> [String]

    public init(allowedMethods: @escaping @Sendable (String) -> [String]) {
        self.allowedMethods = allowedMethods
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.render(instance: request.uri.path, requestID: context.requestID)
        } catch let error as HTTPError {
            return map(error, request: request).render(instance: request.uri.path, requestID: context.requestID)
        } catch let error as HTTPParserError {
            // The body's framing broke while a handler read it: the client's fault, and the
            // connection cannot carry another request.
            var problem = APIError.badRequest("Malformed HTTP request: \(MalformedRequestHandler.reason(error))")
            problem.headers[.connection] = "close"
            return problem.render(instance: request.uri.path, requestID: context.requestID)
        } catch let error as DatabaseUnavailable {
            context.logger.warning("Database unavailable", metadata: ["error": .string(error.description)])
            return APIError.databaseUnavailable.render(instance: request.uri.path, requestID: context.requestID)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("Unhandled error", metadata: ["error": .string(String(reflecting: error))])
            return APIError.internalError.render(instance: request.uri.path, requestID: context.requestID)
        }
    }

    private func map(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            let methods = allowedMethods(request.uri.path)
            if !methods.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = methods.joined(separator: ", ")
                return APIError(
                    .methodNotAllowed, code: "METHOD_NOT_ALLOWED",
                    message: "\(request.method.rawValue) is not allowed here; allowed: \(methods.joined(separator: ", "))",
                    headers: headers
                )
            }
            return APIError.notFound("No route for \(request.method.rawValue) \(request.uri.path)")
        case .contentTooLarge:
            return APIError.payloadTooLarge(limit: 1 << 20)
        case .unsupportedMediaType:
            return APIError.unsupportedMediaType(expected: "application/json")
        default:
            let code = error.status.code < 500 ? "BAD_REQUEST" : "INTERNAL"
            return APIError(
                error.status, code: code,
                message: error.status.code < 500 ? (error.body ?? error.status.reasonPhrase) : "Internal server error")
        }
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let xAPIVersion = Self("X-API-Version")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xCSRFToken = Self("X-CSRF-Token")!
}
