import Foundation
import HTTPTypes

/// Every failure of an ``EcosireClient`` call: the API's problem details (status, `code`, message,
/// field `details`), or a request that got no usable answer (`status` 0).
///
/// ```swift
/// do {
///     _ = try await client.contacts.create(body: .init(name: ""))
/// } catch let error as EcosireError where error.code == "VALIDATION_FAILED" {
///     for issue in error.details { print(issue.field, issue.message) }
/// }
/// ```
public struct EcosireError: Error, Sendable, CustomStringConvertible {
    /// One rule a field broke, from the problem's `details`.
    public struct FieldIssue: Sendable, Hashable, Decodable {
        /// The field's name (a dotted path for nested fields, or a header name).
        public let field: String
        /// What the rule is.
        public let message: String
    }

    /// The HTTP status, or 0 when no response arrived (connection refused, timeout, bad answer).
    public let status: Int
    /// The stable machine-readable code: `VALIDATION_FAILED`, `NOT_FOUND`, `RATE_LIMITED`… and for
    /// failures without a response `NETWORK_ERROR` or `INVALID_RESPONSE`.
    public let code: String
    /// A sentence for people.
    public let message: String
    /// The fields that failed validation (on 422 and some 400s).
    public let details: [FieldIssue]
    /// The server's `X-Request-Id`: quote it when asking for support.
    public let requestID: String?
    /// Seconds the server asked to wait (`Retry-After`), on 429 and 503.
    public let retryAfter: Int?
    /// The raw problem body (it may carry more members, such as a license's `reason`).
    public let body: Data
    /// The error that prevented a response, when `status` is 0.
    public let underlying: (any Error)?

    /// Makes an error; the SDK builds them from responses, tests and adapters may build their own.
    public init(
        status: Int, code: String, message: String, details: [FieldIssue] = [], requestID: String? = nil,
        retryAfter: Int? = nil, body: Data = Data(), underlying: (any Error)? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.requestID = requestID
        self.retryAfter = retryAfter
        self.body = body
        self.underlying = underlying
    }

    public var description: String {
        var text = status == 0 ? "\(code): \(message)" : "\(status) \(code): \(message)"
        if !details.isEmpty { text += " (" + details.map { "\($0.field): \($0.message)" }.joined(separator: "; ") + ")" }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }

    /// The members of a problem body the SDK reads; anything else stays in ``body``.
    private struct Problem: Decodable {
        let code: String?
        let message: String?
        let detail: String?
        let title: String?
        let details: [FieldIssue]?
        let requestId: String?
    }

    /// The error an error response carries (problem details, or a bare status when the body is not one).
    init(response: HTTPResponse, body: Data) {
        let problem = try? JSONDecoder().decode(Problem.self, from: body)
        self.init(
            status: response.status.code,
            code: problem?.code ?? "HTTP_\(response.status.code)",
            message: problem?.message ?? problem?.detail ?? problem?.title ?? response.status.reasonPhrase,
            details: problem?.details ?? [],
            requestID: response.headerFields[.requestID] ?? problem?.requestId,
            retryAfter: response.headerFields[.retryAfter].flatMap { RetryPolicy.seconds(retryAfter: $0, now: Date()) },
            body: body)
    }

    /// A request that got no response.
    static func network(_ error: any Error) -> EcosireError {
        EcosireError(status: 0, code: "NETWORK_ERROR", message: "No response: \(error)", underlying: error)
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let idempotencyKey = Self("Idempotency-Key")!
}
