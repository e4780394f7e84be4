import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Resolves the caller of a request that needs authentication.
public protocol Authenticating: Sendable {
    /// The caller, or an `APIError` (401, or 403 for a failed CSRF check).
    func authenticate(_ request: Request, context: AppRequestContext) async throws -> Caller
}

/// The one place routes are added: each route is registered with its `Operation`, which drives
/// authentication, query and body checking, and the OpenAPI document.
public final class APIRouter: @unchecked Sendable {
    // @unchecked: operations are only appended while the application is being built, on one task,
    // before the server starts; afterwards the array is only read.
    public let router: Router<AppRequestContext>
    public private(set) var operations: [Operation] = []
    /// The handlers by operation id, for `invoke`.
    private var handlers: [String: (Operation, Handler)] = [:]
    private let authenticator: any Authenticating
    private let access: AccessLayer
    private let limits: BodyLimits

    public typealias Handler = @Sendable (APIInput) async throws -> Response

    public init(
        router: Router<AppRequestContext>, authenticator: any Authenticating, access: AccessLayer, limits: BodyLimits = BodyLimits()
    ) {
        self.router = router
        self.authenticator = authenticator
        self.access = access
        self.limits = limits
    }

    /// Registers `operation` with `handler`. The order of checks: authentication, role and key
    /// scope, rate limit and quota, query and body, idempotency, the handler; usage is counted
    /// for API keys whatever the outcome.
    public func add(_ operation: Operation, handler: @escaping Handler) {
        precondition(
            !operations.contains { $0.operationID == operation.operationID },
            "duplicate operationId \(operation.operationID)"
        )
        operations.append(operation)
        handlers[operation.operationID] = (operation, handler)
        let authenticator = self.authenticator
        let access = self.access
        let limits = self.limits
        router.on(RouterPath(operation.routerPath), method: operation.method) { request, context in
            let started = ContinuousClock.now
            var context = context
            var limitHeaders = HTTPFields()
            do {
                if case .authenticated(let minimumRole) = operation.access {
                    let caller = try await authenticator.authenticate(request, context: context)
                    context.caller = caller
                    try caller.require(role: minimumRole)
                    try caller.require(scope: operation.requiredScope)
                }
                context.rateLimit = try await access.checkLimits(operation, caller: context.caller, request: request, context: context)
                context.rateLimit?.apply(to: &limitHeaders, now: Int64(access.clock.now().timeIntervalSince1970))
                let query = try Self.parseQuery(request, operation: operation)
                var body: JSONValue?
                var text: String?
                switch operation.body {
                case .json(let schema, let required, _)?:
                    body = try await Self.readJSON(request, schema: schema, required: required, limit: limits.json)
                case .text(let mediaType, _, _)?:
                    text = try await Self.readText(request, mediaType: mediaType, limit: limits.json)
                case .raw?, nil:
                    break
                }
                let input = APIInput(request: request, context: context, query: query, body: body, text: text)
                var response = try await access.idempotent(
                    operation, request: request, context: context, caller: context.caller,
                    fingerprint: Self.fingerprint(request, query: query, body: body, text: text)
                ) {
                    do {
                        return try await handler(input)
                    } catch var error as APIError {
                        error.extra.merge(operation.errorExtras)
                        throw error
                    }
                }
                // A handler that counts its own limit (license validation) has set the whole set.
                if response.headers[.xRateLimitLimit] == nil { response.headers.append(contentsOf: limitHeaders) }
                if operation.keepsAnswersOutOfCaches && response.headers[.cacheControl] == nil {
                    response.headers[.cacheControl] = "no-store"
                }
                access.recordUsage(
                    caller: context.caller, request: request, context: context, status: Int(response.status.code), started: started)
                return response
            } catch var error as APIError {
                error.extra.merge(operation.errorExtras)
                if error.headers[.xRateLimitLimit] == nil { error.headers.append(contentsOf: limitHeaders) }
                access.recordUsage(
                    caller: context.caller, request: request, context: context, status: Int(error.status.code), started: started)
                throw error
            } catch {
                access.recordUsage(caller: context.caller, request: request, context: context, status: 500, started: started)
                throw error
            }
        }
    }

    /// Runs an operation in-process on behalf of a server-rendered page: the same role, scope, query
    /// and body checks and the same handler as over HTTP, so pages hold no business rules of their
    /// own. Rate limits, idempotency and usage accounting are left out: they belong to the page's
    /// own request. `request` is the page's request (handlers read its cookies and client address).
    public func invoke(
        _ operationID: String, as caller: Caller?, path: [String: String] = [:], query: [String: String] = [:], body: JSONValue? = nil,
        request: Request, context: AppRequestContext
    ) async throws -> Response {
        // A page asking for an operation or path parameter that does not exist is a bug in that
        // page: it fails that request with a logged 500 instead of stopping the whole server.
        guard let (operation, handler) = handlers[operationID] else {
            throw InvocationError(message: "no operation \(operationID)")
        }
        var context = context
        context.caller = caller
        if case .authenticated(let minimumRole) = operation.access {
            guard let caller else { throw APIError.unauthorized() }
            try caller.require(role: minimumRole)
            try caller.require(scope: operation.requiredScope)
        }
        for name in operation.pathParameters {
            guard let value = path[name] else { throw InvocationError(message: "\(operationID) needs path parameter \(name)") }
            context.coreContext.parameters[Substring(name)] = Substring(value)
        }
        let validQuery = try Self.parseQuery(query.map { ($0.key, $0.value) }, operation: operation)
        var body = body
        if case .json(let schema, let required, _)? = operation.body {
            if let given = body {
                do { body = try TextRule.normalized(given) } catch { throw Self.duplicateMember(error.name) }
                try schema.enforce(body!)
            } else if required {
                throw APIError.badRequest("A JSON request body is required")
            }
        }
        let input = APIInput(request: request, context: context, query: validQuery, body: body, text: nil)
        return try await handler(input)
    }

    /// Every item of a `{data, meta}` list, read in-process 100 at a time (see `invoke`), for pages
    /// that show a whole list, such as the event catalog's types. At most `maximumPages` pages.
    public func invokeAll(
        _ operationID: String, as caller: Caller?, path: [String: String] = [:], query: [String: String] = [:],
        request: Request, context: AppRequestContext, maximumPages: Int = 100
    ) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        for page in 1...maximumPages {
            var query = query
            (query["page"], query["limit"]) = (String(page), "100")
            let body = try await invoke(operationID, as: caller, path: path, query: query, request: request, context: context).jsonBody()
            let data = body["data"]?.arrayValue ?? []
            items += data
            if data.isEmpty || page >= Int(body["meta"]?["totalPages"]?.intValue ?? 0) { break }
        }
        return items
    }

    /// What makes two requests "the same" for idempotency: method, path, query and parsed body.
    static func fingerprint(_ request: Request, query: [String: String], body: JSONValue?, text: String?) -> String {
        var parts = [request.method.rawValue, request.uri.path]
        parts += query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        parts.append(body?.jsonString ?? text ?? "")
        return parts.joined(separator: "\n")
    }

    /// The methods registered for a path, for `405 Method Not Allowed`.
    /// Like the router, a literal segment wins over a parameter, so only the most specific
    /// matching paths count.
    public func allowedMethods(for path: String) -> [String] {
        let matching = operations.filter { $0.matches(path: path) }
        guard let fewest = matching.map(\.pathParameters.count).min() else { return [] }
        let methods = matching.filter { $0.pathParameters.count == fewest }.map(\.method.rawValue)
        return Array(Set(methods)).sorted()
    }

    // MARK: Query

    static func parseQuery(_ request: Request, operation: Operation) throws -> [String: String] {
        let query = QueryString(request.uri.query)
        return try parseQuery(
            query.pairs, operation: operation,
            issues: query.malformed.map { FieldIssue(field: $0, message: "Invalid percent-encoding") })
    }

    static func parseQuery(
        _ pairs: [(name: String, value: String)], operation: Operation, issues: [FieldIssue] = []
    ) throws -> [String: String] {
        var values: [String: String] = [:]
        var issues = issues
        for (name, value) in pairs {
            guard let parameter = operation.query.first(where: { $0.name == name }) else {
                issues.append(FieldIssue(field: name, message: "Unknown query parameter"))
                continue
            }
            if values[name] != nil {
                issues.append(FieldIssue(field: name, message: "Given more than once"))
                continue
            }
            values[name] = value
            let typed: JSONValue
            switch parameter.schema.kind {
            case .integer:
                guard let number = Int64(value) else {
                    issues.append(FieldIssue(field: name, message: "Expected an integer"))
                    continue
                }
                typed = .int(number)
            case .boolean:
                guard value == "true" || value == "false" else {
                    issues.append(FieldIssue(field: name, message: "Expected true or false"))
                    continue
                }
                typed = .bool(value == "true")
            default:
                values[name] = TextRule.normalized(value)
                typed = .string(values[name]!)
            }
            issues += parameter.schema.validate(typed, at: name).map(\.issue)
        }
        for parameter in operation.query where parameter.required && values[parameter.name] == nil {
            issues.append(FieldIssue(field: parameter.name, message: "Required"))
        }
        if !issues.isEmpty {
            throw APIError.badRequest(
                "Invalid query parameter: " + issues.map(\.field).joined(separator: ", "),
                details: issues
            )
        }
        return values
    }

    // MARK: Body

    static func readBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.payloadTooLarge(limit: limit)
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge(limit: limit)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw APIError.payloadTooLarge(limit: limit)
        }
    }

    static func mediaType(of request: Request) -> String? {
        request.headers[.contentType].map {
            $0.split(separator: ";").first.map { $0.trimmingBlanks().lowercased() } ?? ""
        }
    }

    static func readJSON(_ request: Request, schema: Schema, required: Bool, limit: Int) async throws -> JSONValue? {
        let buffer = try await readBody(request, limit: limit)
        if buffer.readableBytes == 0 && mediaType(of: request) == nil {
            if required { throw APIError.badRequest("A JSON request body is required") }
            return nil
        }
        // Exactly what the document declares: another `+json` type is another format, not JSON to guess at.
        guard let type = mediaType(of: request), type == "application/json" else {
            throw APIError.unsupportedMediaType(expected: "application/json")
        }
        if let charset = request.headers[.contentType]?.lowercased().range(of: "charset=") {
            let value = request.headers[.contentType]!.lowercased()[charset.upperBound...]
                .trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            if value != "utf-8" && value != "utf8" { throw APIError.unsupportedMediaType(expected: "application/json; charset=utf-8") }
        }
        if buffer.readableBytes == 0 {
            if required { throw APIError.badRequest("A JSON request body is required") }
            return nil
        }
        var value: JSONValue
        do {
            value = try JSONValue.parse(buffer)
            // Only text beyond ASCII, sent as is or as `\u` escapes, can be in another normalization form.
            if buffer.readableBytesView.contains(where: { $0 >= 0x80 || $0 == UInt8(ascii: "\\") }) {
                value = try TextRule.normalized(value)
            }
        } catch let failure as JSONParser.Failure where failure.duplicateMember != nil {
            throw Self.duplicateMember(failure.duplicateMember!)
        } catch let duplicate as TextRule.DuplicateMember {
            throw Self.duplicateMember(duplicate.name)
        } catch {
            throw APIError.badRequest("Malformed JSON: the body could not be parsed")
        }
        try schema.enforce(value)
        return value
    }

    static func duplicateMember(_ name: String) -> APIError {
        APIError.badRequest(
            "Malformed JSON: a member name appears twice in one object",
            details: [FieldIssue(field: name, message: "Duplicate member name")])
    }

    static func readText(_ request: Request, mediaType expected: String, limit: Int) async throws -> String {
        guard let type = mediaType(of: request), type == expected || type == "text/plain" else {
            throw APIError.unsupportedMediaType(expected: expected)
        }
        let buffer = try await readBody(request, limit: limit)
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw APIError.badRequest("The body is not valid UTF-8")
        }
        return TextRule.normalized(text)
    }
}

/// Request body limits.
public struct BodyLimits: Sendable {
    /// JSON and text bodies, 1 MiB by default.
    public var json: Int
    public init(json: Int = 1 << 20) { self.json = json }
}

extension APIError {
    /// 413 `PAYLOAD_TOO_LARGE`.
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "PAYLOAD_TOO_LARGE", message: "The request body exceeds \(limit) bytes")
    }

    /// 415 `UNSUPPORTED_MEDIA_TYPE`.
    public static func unsupportedMediaType(expected: String) -> APIError {
        APIError(.unsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE", message: "Content-Type must be \(expected)")
    }
}

/// A server-side page invoked an operation wrongly (see `APIRouter.invoke`).
struct InvocationError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
