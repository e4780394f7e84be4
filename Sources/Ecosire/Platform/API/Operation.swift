import HTTPTypes

/// Who may call an operation.
public enum Access: Sendable {
    /// No credentials needed.
    case open
    /// Any authenticated caller whose role is at least `minimumRole`.
    case authenticated(minimumRole: Role = .viewer)

    public static var authenticated: Access { .authenticated() }
}

/// A query parameter an operation accepts. Any other query parameter is a 400.
public struct QueryParameter: Sendable {
    public var name: String
    public var schema: Schema
    public var description: String
    public var required: Bool

    public init(_ name: String, _ schema: Schema, _ description: String, required: Bool = false) {
        self.name = name
        self.schema = schema
        self.description = description
        self.required = required
    }
}

/// What an operation accepts as its body.
public enum RequestBodySpec: Sendable {
    /// `application/json` checked against the schema before the handler runs.
    case json(Schema, required: Bool = true, example: JSONValue? = nil)
    /// Raw text of the given media type (CSV import), read up to the body limit.
    case text(mediaType: String, description: String, example: String? = nil)
    /// A body the handler reads itself (streamed uploads, signed webhooks whose exact bytes
    /// matter), documented with this schema and media type.
    case raw(Schema, mediaType: String, description: String)
}

/// One documented response.
public struct ResponseSpec: Sendable {
    public var status: Int
    public var description: String
    public var schema: Schema?
    public var mediaType: String
    public var headers: [String: String]

    public init(
        _ status: Int, _ description: String, schema: Schema? = nil, mediaType: String = "application/json", headers: [String: String] = [:]
    ) {
        self.status = status
        self.description = description
        self.schema = schema
        self.mediaType = mediaType
        self.headers = headers
    }
}

/// A route together with everything the OpenAPI document says about it.
public struct Operation: Sendable {
    public var method: HTTPRequest.Method
    /// OpenAPI-style path: `/api/contacts/{id}`.
    public var path: String
    public var operationID: String
    public var tag: String
    public var summary: String
    public var description: String?
    public var access: Access
    public var query: [QueryParameter]
    public var body: RequestBodySpec?
    public var responses: [ResponseSpec]
    /// Error statuses this operation can answer besides the ones every operation can.
    public var errors: Set<Int>
    /// Hidden from the OpenAPI document (HTML pages, the document itself).
    public var undocumented: Bool
    /// The API-key scope needed, when it is not the default (see `requiredScope`).
    public var scope: KeyScope?
    /// The rate-limit class; authenticated operations default to `.standard`, open ones to none.
    public var rateLimit: RateLimitClass?
    /// Members added to every error this operation answers (`success: false` on the API-keys resource).
    public var errorExtras: JSONObject
    /// The answer carries a secret (tokens, an API key), so it is never stored for `Idempotency-Key`
    /// replays; such operations refuse the header instead.
    public var returnsSecret: Bool
    /// Request headers the operation reads besides the platform's (`Authorization`,
    /// `Idempotency-Key`, `X-CSRF-Token`): name → description, documented as optional parameters.
    public var requestHeaders: [String: String]
    /// Error codes of this operation's module (`LICENSE_EXPIRED`, `INVALID_SIGNATURE`…), beside the
    /// platform's, which `errorCodes` derives. Each must be in the error reference (`ErrorCatalog`).
    public var codes: Set<String>
    /// The handler calls another service (Stripe, the AI provider) that a database rollback cannot
    /// undo. Its `Idempotency-Key` answer is stored after it returns instead of in the transaction
    /// of its writes, and no transaction is held open while the other service answers.
    public var callsOtherServices: Bool

    public init(
        _ method: HTTPRequest.Method,
        _ path: String,
        id operationID: String,
        tag: String,
        summary: String,
        description: String? = nil,
        access: Access = .authenticated,
        query: [QueryParameter] = [],
        body: RequestBodySpec? = nil,
        responses: [ResponseSpec],
        errors: Set<Int> = [],
        undocumented: Bool = false,
        scope: KeyScope? = nil,
        rateLimit: RateLimitClass? = nil,
        errorExtras: JSONObject = JSONObject(),
        returnsSecret: Bool = false,
        requestHeaders: [String: String] = [:],
        codes: Set<String> = [],
        callsOtherServices: Bool = false
    ) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.tag = tag
        self.summary = summary
        self.description = description
        self.access = access
        self.query = query
        self.body = body
        self.responses = responses
        self.errors = errors
        self.undocumented = undocumented
        self.scope = scope
        self.rateLimit = rateLimit
        self.errorExtras = errorExtras
        self.returnsSecret = returnsSecret
        self.requestHeaders = requestHeaders
        self.codes = codes
        self.callsOtherServices = callsOtherServices
    }

    /// POSTs take `Idempotency-Key`, except those whose answer carries a secret and those that read
    /// their own body (uploads and webhooks: the body is not there to compare a retry with).
    public var acceptsIdempotencyKey: Bool {
        guard method == .post, !returnsSecret else { return false }
        if case .raw? = body { return false }
        return true
    }

    /// Answers that carry secrets or one caller's data must not be kept by browsers or shared
    /// proxies (`Cache-Control: no-store`): everything that needs credentials or returns a secret.
    public var keepsAnswersOutOfCaches: Bool {
        if returnsSecret { return true }
        if case .authenticated = access { return true }
        return false
    }

    /// The scope an API key needs: admin routes need `admin`, reads `read_only`, other writes
    /// `read_write`. Sessions (JWT, cookie) are not scoped.
    public var requiredScope: KeyScope {
        if let scope { return scope }
        if case .authenticated(let role) = access, role >= .admin { return .admin }
        return method == .get || method == .head ? .readOnly : .readWrite
    }

    /// The rate-limit class in force.
    public var effectiveRateLimit: RateLimitClass? {
        if let rateLimit { return rateLimit }
        if case .authenticated = access { return .standard }
        return nil
    }

    /// The path parameter names, in order.
    public var pathParameters: [String] {
        path.split(separator: "/").compactMap { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? String(segment.dropFirst().dropLast()) : nil
        }
    }

    /// The Hummingbird route path (`/api/contacts/:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }.joined(separator: "/")
    }

    /// Every error status the operation can produce, for the document.
    var errorStatuses: [Int] {
        var statuses: Set<Int> = [400, 500]
        // Any operation can meet an unreachable database (503 DATABASE_UNAVAILABLE), unless its
        // 503 is an answer of its own (readiness).
        if !responses.contains(where: { $0.status == 503 }) { statuses.insert(503) }
        statuses.formUnion(errors)
        if case .authenticated = access { statuses.formUnion([401, 403]) }
        if effectiveRateLimit != nil { statuses.insert(429) }
        if acceptsIdempotencyKey { statuses.formUnion([409, 422]) }
        if !pathParameters.isEmpty { statuses.insert(404) }
        if let body {
            statuses.formUnion([413, 415])
            if case .json = body { statuses.insert(422) }
        }
        statuses.formUnion(codes.compactMap(ErrorCatalog.status(of:)))
        return statuses.sorted()
    }

    /// The `code`s each error status of the operation can carry: the platform's (credentials,
    /// roles, CSRF, limits, idempotency, body checks, workflow states) and the module's `codes`.
    public var errorCodes: [Int: [String]] {
        var found: [Int: Set<String>] = [:]
        func add(_ status: Int, _ code: String) { found[status, default: []].insert(code) }
        var explicit = Set<Int>()
        for code in codes {
            guard let status = ErrorCatalog.status(of: code) else { continue }
            add(status, code)
            explicit.insert(status)
        }
        let statuses = errorStatuses
        let authenticated: Bool
        if case .authenticated = access { authenticated = true } else { authenticated = false }
        for status in statuses {
            switch status {
            case 400: add(400, "BAD_REQUEST")
            case 401:
                if authenticated {
                    for code in ["UNAUTHORIZED", "API_KEY_REVOKED", "API_KEY_EXPIRED"] { add(401, code) }
                } else if !explicit.contains(401) {
                    add(401, "UNAUTHORIZED")
                }
            case 403:
                if authenticated { add(403, "FORBIDDEN") }
                if authenticated && !Authenticator.isSafe(method) { add(403, "CSRF_FAILED") }
                if !authenticated && !explicit.contains(403) { add(403, "FORBIDDEN") }
            case 404:
                if !pathParameters.isEmpty || !explicit.contains(404) { add(404, "NOT_FOUND") }
            case 409:
                if acceptsIdempotencyKey { add(409, "IDEMPOTENCY_KEY_IN_USE") }
                guard errors.contains(409), !explicit.contains(409) else { break }
                // A workflow action (`POST …/{id}/confirm`) refuses the record's state; other
                // writes refuse a unique clash, and edits of records past their editable state.
                let last = path.split(separator: "/").last ?? ""
                let action = method == .post && !pathParameters.isEmpty && !last.hasPrefix("{")
                if action { add(409, "INVALID_STATE") } else { add(409, "CONFLICT") }
                if method == .patch || method == .delete { add(409, "INVALID_STATE") }
            case 413: add(413, "PAYLOAD_TOO_LARGE")
            case 415: add(415, "UNSUPPORTED_MEDIA_TYPE")
            case 422:
                add(422, "VALIDATION_FAILED")
                if acceptsIdempotencyKey { add(422, "IDEMPOTENCY_KEY_REUSED") }
            case 429:
                if effectiveRateLimit != nil || errors.contains(429) { add(429, "RATE_LIMITED") }
                if authenticated { add(429, "QUOTA_EXCEEDED") }
            case 500: add(500, "INTERNAL")
            case 502: if !explicit.contains(502) { add(502, "PAYMENT_PROVIDER_ERROR") }
            case 503:
                add(503, "DATABASE_UNAVAILABLE")
                if errors.contains(503) && !explicit.contains(503) {
                    add(503, tag == "Billing" ? "BILLING_NOT_CONFIGURED" : "NOT_CONFIGURED")
                }
            default: break
            }
        }
        return found.mapValues { $0.sorted() }
    }

    /// Who may call, as a sentence for the description: the role and the API-key scope.
    public var accessSentence: String {
        switch access {
        case .open: return "No credentials needed."
        case .authenticated(let role):
            let who =
                role == .viewer
                ? "Any signed-in member of the organization (role viewer or above)" : "Needs the \(role.rawValue) role or above"
            return "\(who); an API key needs the \(requiredScope.rawValue) scope."
        }
    }

    /// True when `requestPath` matches this operation's path template.
    func matches(path requestPath: String) -> Bool {
        let pattern = path.split(separator: "/")
        let actual = requestPath.split(separator: "/")
        guard pattern.count == actual.count else { return false }
        return zip(pattern, actual).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}
