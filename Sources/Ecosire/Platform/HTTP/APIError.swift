import HTTPTypes
import Hummingbird
import NIOCore

/// One field-level problem reported in `details`.
public struct FieldIssue: Sendable, Equatable {
    /// The field path (`email`, `address.city`, `tags[2]`, or a query parameter name).
    public var field: String
    /// What rule the value broke, in words.
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// An error that renders itself as RFC 9457 problem details plus the ECOSIRE members
/// (`statusCode`, `error`, `message`, `code`, `details`).
public struct APIError: Error, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The stable machine-readable code.
    public var code: String
    /// The human-readable message.
    public var message: String
    /// Field-level problems, if any.
    public var details: [FieldIssue]
    /// Extra response headers (`Allow`, `Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields
    /// Extra top-level members (for example `success: false` on the API-keys resource).
    public var extra: JSONObject

    public init(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        details: [FieldIssue] = [],
        headers: HTTPFields = [:],
        extra: JSONObject = JSONObject()
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.extra = extra
    }

    // MARK: Common errors

    /// 400 `BAD_REQUEST`.
    public static func badRequest(_ message: String, details: [FieldIssue] = []) -> APIError {
        APIError(.badRequest, code: "BAD_REQUEST", message: message, details: details)
    }

    /// 422 `VALIDATION_FAILED` with details.
    public static func validation(_ details: [FieldIssue]) -> APIError {
        APIError(.unprocessableContent, code: "VALIDATION_FAILED", message: "Validation failed", details: details)
    }

    /// 422 `VALIDATION_FAILED` for one field.
    public static func validation(field: String, _ message: String) -> APIError {
        validation([FieldIssue(field: field, message: message)])
    }

    /// 404 `NOT_FOUND`.
    public static func notFound(_ message: String = "Resource not found") -> APIError {
        APIError(.notFound, code: "NOT_FOUND", message: message)
    }

    /// 401 `UNAUTHORIZED` with a `WWW-Authenticate` challenge.
    public static func unauthorized(_ message: String = "Authentication required", code: String = "UNAUTHORIZED")
        -> APIError
    {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"ecosire\""
        return APIError(.unauthorized, code: code, message: message, headers: headers)
    }

    /// 403 `FORBIDDEN`.
    public static func forbidden(_ message: String = "You are not allowed to do this") -> APIError {
        APIError(.forbidden, code: "FORBIDDEN", message: message)
    }

    /// 409 `CONFLICT`.
    public static func conflict(_ message: String, code: String = "CONFLICT", details: [FieldIssue] = []) -> APIError {
        APIError(.conflict, code: code, message: message, details: details)
    }

    /// 409 `INVALID_STATE`: a workflow action not allowed from the current status.
    public static func invalidState(current: String, action: String, noun: String) -> APIError {
        APIError(
            .conflict, code: "INVALID_STATE", message: "Cannot \(action) \(noun) in status \(current)",
            extra: ["currentStatus": .string(current)])
    }

    /// Throws `invalidState` unless `status` is one of `allowed`.
    public static func requireStatus(_ status: String, in allowed: [String], action: String, noun: String) throws {
        guard allowed.contains(status) else { throw invalidState(current: status, action: action, noun: noun) }
    }

    /// Throws `invalidState` unless the record's `status` is one of `allowed`.
    public static func requireStatus(of record: JSONValue, in allowed: [String], action: String, noun: String) throws {
        try requireStatus(record["status"]?.stringValue ?? "", in: allowed, action: action, noun: noun)
    }

    /// 503 `DATABASE_UNAVAILABLE`: nothing was done; the same request may be retried (with its
    /// `Idempotency-Key`, if it had one) after `Retry-After`.
    public static let databaseUnavailable: APIError = {
        var headers = HTTPFields()
        headers[.retryAfter] = "2"
        return APIError(
            .serviceUnavailable, code: "DATABASE_UNAVAILABLE", message: "The database is unavailable; retry shortly", headers: headers)
    }()

    /// 500 `INTERNAL`; the cause is logged, never rendered.
    public static let internalError = APIError(.internalServerError, code: "INTERNAL", message: "Internal server error")
}

extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestID = (context as? AppRequestContext)?.requestID ?? ""
        return render(instance: request.uri.path, requestID: requestID)
    }

    /// The problem document.
    public func body(instance: String, requestID: String) -> JSONValue {
        let title = Self.title(for: status)
        var object: JSONObject = [
            "type": .string("/docs/errors#\(code)"),
            "title": .string(title),
            "status": .int(Int64(status.code)),
            "detail": .string(message),
            "instance": .string(instance),
            "code": .string(code),
            "statusCode": .int(Int64(status.code)),
            "error": .string(title),
            "message": .string(message),
        ]
        if !details.isEmpty {
            object["details"] = .array(
                details.map { .object(["field": .string($0.field), "message": .string($0.message)]) }
            )
        }
        object["requestId"] = .string(requestID)
        for member in extra.members { object[member.key] = member.value }
        return .object(object)
    }

    /// The reason phrases the ECOSIRE documentation uses (RFC 9110 renamed 413 and 422).
    static func title(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 413: "Payload Too Large"
        case 422: "Unprocessable Entity"
        default: status.reasonPhrase
        }
    }

    /// The full `application/problem+json` response.
    public func render(instance: String, requestID: String) -> Response {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        body(instance: instance, requestID: requestID).write(into: &buffer)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: buffer))
    }
}
