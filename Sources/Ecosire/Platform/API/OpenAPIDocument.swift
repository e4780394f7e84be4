import Foundation
import HTTPTypes
import OpenAPIKit30
import Yams

/// Builds the OpenAPI 3.0 document from the registered operations. The document is assembled as
/// JSON, then decoded into OpenAPIKit's model, which checks its structure and validates it, and
/// which serialises the JSON and YAML we serve.
public struct OpenAPIDocumentBuilder: Sendable {
    /// No C0 control character: the query form of `TextRule`'s single-line rule.
    static let singleLinePattern = "^[^\\u0000-\\u001F]*$"

    public let operations: [Operation]
    public let serverURL: String

    public init(operations: [Operation], serverURL: String = "/") {
        self.operations = operations
        self.serverURL = serverURL
    }

    static let problemSchema = Schema.object([
        .init("type", Schema.string().describe("Link to the error's documentation"), required: true),
        .init("title", .string(), required: true),
        .init("status", .integer(minimum: 100, maximum: 599), required: true),
        .init("detail", .string(), required: true),
        .init("instance", Schema.string().describe("The request path"), required: true),
        .init("code", Schema.string().describe("Stable machine-readable code").example("VALIDATION_FAILED"), required: true),
        .init("statusCode", .integer(minimum: 100, maximum: 599), required: true),
        .init("error", .string(), required: true),
        .init("message", .string(), required: true),
        .init(
            "details",
            .array(
                Schema.object([.init("field", .string(), required: true), .init("message", .string(), required: true)]).named("FieldError"))
        ),
        .init("requestId", .string(), required: true),
        .init("success", Schema.boolean.describe("Present (false) on the API-keys resource")),
        .init("currentStatus", Schema.string().describe("On INVALID_STATE: the record's status")),
        .init("valid", Schema.boolean.describe("On license refusals: false")),
        .init("reason", Schema.string().describe("On license refusals: why the license is not valid")),
        .init(
            "license", Schema.object([], additional: .anyValue).describe("On license refusals: the license's key, status, expiry, product")),
        .init("activationsCount", Schema.integer(minimum: 0).describe("On ACTIVATION_LIMIT_REACHED")),
        .init("activationsLimit", Schema.integer(minimum: 0).describe("On ACTIVATION_LIMIT_REACHED")),
    ]).named("Problem")

    static let problemResponses: [Int: (String, String)] = [
        400: ("BadRequest", "Malformed JSON, wrong types, unknown fields or query parameters"),
        401: ("Unauthorized", "Missing or invalid credentials"),
        403: ("Forbidden", "Authenticated but not allowed"),
        404: ("NotFound", "No such resource in your organization"),
        405: ("MethodNotAllowed", "The path exists but not with this method"),
        409: ("Conflict", "Unique conflict or wrong state"),
        413: ("PayloadTooLarge", "Body over the limit (1 MiB)"),
        415: ("UnsupportedMediaType", "Wrong Content-Type"),
        422: ("ValidationFailed", "Well-formed but invalid; see details"),
        429: ("TooManyRequests", "Rate limit or quota exceeded"),
        500: ("InternalError", "Unexpected error; the body carries only INTERNAL and the request id"),
        502: ("BadGateway", "The payment provider refused or could not be reached"),
        503: (
            "ServiceUnavailable",
            "The database is unreachable (retry after Retry-After), or a provider this operation needs is not configured"
        ),
    ]

    // MARK: Assembly

    /// A documented header.
    static func header(_ description: String, type: String = "string") -> JSONValue {
        .object(["description": .string(description), "schema": .object(["type": .string(type)])])
    }

    /// The headers every response carries, errors included.
    static let everyResponseHeaders: [String: JSONValue] = [
        "X-Request-Id": header("Request id (echoed when the request sent a valid one, else generated)"),
        "X-API-Version": header("The API version: 1"),
    ]

    /// An optional request header parameter.
    static func headerParameter(_ name: String, _ description: String, schema: JSONObject = ["type": "string"]) -> JSONValue {
        .object(["name": .string(name), "in": "header", "required": false, "description": .string(description), "schema": .object(schema)])
    }

    /// The document as JSON.
    public func json() -> JSONValue {
        var components: [String: JSONValue] = [:]
        var paths = JSONObject()
        var tags: [String] = []
        for operation in operations where !operation.undocumented {
            if !tags.contains(operation.tag) { tags.append(operation.tag) }
            var item = paths[operation.path]?.objectValue ?? JSONObject()
            item[operation.method.rawValue.lowercased()] = operationJSON(operation, components: &components)
            paths[operation.path] = .object(item)
        }
        _ = schemaJSON(Self.problemSchema, components: &components)
        var responses = JSONObject()
        for status in Self.problemResponses.keys.sorted() {
            let (name, description) = Self.problemResponses[status]!
            var response: JSONObject = [
                "description": .string(description),
                "content": .object(["application/problem+json": .object(["schema": .object(["$ref": "#/components/schemas/Problem"])])]),
            ]
            var headers = Self.everyResponseHeaders
            // Rate-limited operations send their limit headers with every answer, errors included.
            for (name, text) in RateLimitHeaders.documented {
                headers[name] = Self.header(status == 429 ? text : text + " (on rate-limited operations)")
            }
            switch status {
            case 401:
                headers["WWW-Authenticate"] = Self.header("`Bearer realm=\"ecosire\"`: the credentials this API takes")
            case 405:
                headers["Allow"] = Self.header("The methods the path takes")
            case 409:
                headers["Retry-After"] = Self.header("On IDEMPOTENCY_KEY_IN_USE: seconds to wait before retrying", type: "integer")
            case 429, 503:
                headers["Retry-After"] = Self.header("Seconds to wait before retrying", type: "integer")
            default: break
            }
            response["headers"] = .object(JSONObject(headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
            responses[name] = .object(response)
        }
        return .object([
            "openapi": "3.0.3",
            "info": .object([
                "title": "Ecosire API",
                "version": "1.0.0",
                "description": .string(
                    "The Ecosire business API. Errors are RFC 9457 problem details (application/problem+json) that also carry statusCode, error, message, code and details. Every response has X-Request-Id. Lists take page, limit (1-100), sortBy, sortOrder and search, and return {data, meta}."
                ),
            ]),
            "servers": .array([.object(["url": .string(serverURL)])]),
            "tags": .array(tags.map { .object(["name": .string($0)]) }),
            "paths": .object(paths),
            "components": .object([
                "schemas": .object(JSONObject(components.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
                "responses": .object(responses),
                "securitySchemes": .object([
                    "bearerAuth": .object([
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "Access token from POST /api/auth/login",
                    ]),
                    "apiKeyAuth": .object([
                        "type": "http", "scheme": "bearer", "bearerFormat": "ecos_live_…",
                        "description": "An API key sent as a Bearer token",
                    ]),
                    "cookieAuth": .object([
                        "type": "apiKey", "in": "cookie", "name": .string(AuthCookie.access),
                        "description": "HttpOnly session cookie set by login; writes need the CSRF check",
                    ]),
                ]),
            ]),
        ])
    }

    private func operationJSON(_ operation: Operation, components: inout [String: JSONValue]) -> JSONValue {
        var object: JSONObject = [
            "operationId": .string(operation.operationID),
            "tags": .array([.string(operation.tag)]),
            "summary": .string(operation.summary),
        ]
        let access = operation.accessSentence
        object["description"] = .string(operation.description.map { $0 + " " + access } ?? access)
        if case .authenticated(let role) = operation.access {
            object["x-required-role"] = .string(role.rawValue)
            object["x-required-scope"] = .string(operation.requiredScope.rawValue)
        }
        object["x-error-codes"] = .object(
            JSONObject(
                operation.errorCodes.sorted { $0.key < $1.key }.map { (String($0.key), JSONValue.array($0.value.map { .string($0) })) }
            ))
        var parameters: [JSONValue] = operation.pathParameters.map { name in
            // Ids (`id`, `fileId`) are UUIDs; other path segments (an event type) are names.
            let schema: Schema = name == "id" || name.hasSuffix("Id") ? .uuid : .string(minLength: 1, maxLength: 100)
            return .object(["name": .string(name), "in": "path", "required": true, "schema": schemaJSON(schema, components: &components)])
        }
        for parameter in operation.query {
            var schema = schemaJSON(parameter.schema, components: &components)
            // Free text in a query is one line (TextRule): say so, so that clients and fuzzers
            // generate only what the server accepts.
            if case .string = parameter.schema.kind, parameter.schema.allowed == nil, parameter.schema.format == nil,
                parameter.schema.pattern == nil, case .object(var fields) = schema
            {
                fields["pattern"] = .string(Self.singleLinePattern)
                schema = .object(fields)
            }
            parameters.append(
                .object([
                    "name": .string(parameter.name), "in": "query", "required": .bool(parameter.required),
                    "description": .string(parameter.description), "schema": schema,
                ])
            )
        }
        if operation.acceptsIdempotencyKey {
            parameters.append(
                .object([
                    "name": "Idempotency-Key", "in": "header", "required": false,
                    "description":
                        "Makes the POST safe to retry: the first response for this key is replayed for 24 hours; the same key with a different request is a 422, a retry while the first runs a 409.",
                    "schema": .object(["type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"]),
                ])
            )
        }
        for (name, description) in operation.requestHeaders.sorted(by: { $0.key < $1.key }) {
            parameters.append(Self.headerParameter(name, description))
        }
        if case .authenticated = operation.access, !Authenticator.isSafe(operation.method) {
            parameters.append(
                Self.headerParameter(
                    "X-CSRF-Token",
                    "With cookie authentication, a write needs this header equal to the `\(AuthCookie.csrf)` cookie (or an Origin naming this server or a trusted origin); otherwise 403 CSRF_FAILED. Not needed with a Bearer token or API key."
                ))
        }
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        switch operation.body {
        case .json(let schema, let required, let example)?:
            var media: JSONObject = ["schema": schemaJSON(schema, components: &components)]
            if let example { media["example"] = example }
            object["requestBody"] = .object(["required": .bool(required), "content": .object(["application/json": .object(media)])])
        case .text(let mediaType, let description, let example)?:
            var media: JSONObject = ["schema": .object(["type": "string"])]
            if let example { media["example"] = .string(example) }
            object["requestBody"] = .object([
                "required": true, "description": .string(description), "content": .object([mediaType: .object(media)]),
            ])
        case .raw(let schema, let mediaType, let description)?:
            object["requestBody"] = .object([
                "required": true, "description": .string(description),
                "content": .object([mediaType: .object(["schema": schemaJSON(schema, components: &components)])]),
            ])
        case nil:
            break
        }
        var responses = JSONObject()
        for response in operation.responses {
            var entry: JSONObject = ["description": .string(response.description)]
            if let schema = response.schema {
                entry["content"] = .object([response.mediaType: .object(["schema": schemaJSON(schema, components: &components)])])
            }
            var headers = JSONObject(Self.everyResponseHeaders.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            var documented = response.headers
            if operation.effectiveRateLimit != nil { documented.merge(RateLimitHeaders.documented) { current, _ in current } }
            for (name, description) in documented.sorted(by: { $0.key < $1.key }) {
                headers[name] = Self.header(description)
            }
            entry["headers"] = .object(headers)
            responses[String(response.status)] = .object(entry)
        }
        for status in operation.errorStatuses where responses[String(status)] == nil {
            responses[String(status)] = .object(["$ref": .string("#/components/responses/\(Self.problemResponses[status]!.0)")])
        }
        object["responses"] = .object(responses)
        switch operation.access {
        case .open:
            object["security"] = .array([])
        case .authenticated:
            object["security"] = .array([.object(["bearerAuth": []]), .object(["apiKeyAuth": []]), .object(["cookieAuth": []])])
        }
        return .object(object)
    }

    /// The schema as OpenAPI JSON; named schemas become `$ref`s defined once in `components`.
    func schemaJSON(_ schema: Schema, components: inout [String: JSONValue], inline: Bool = false) -> JSONValue {
        // A nullable use of a named schema is written inline: OpenAPI 3.0 cannot add `nullable`
        // to a `$ref`, and `allOf` + `nullable` is read differently by different validators.
        if !inline, let name = schema.componentName, !schema.nullable {
            if components[name] == nil {
                components[name] = .null  // reserve first: schemas may refer to themselves
                var definition = schema
                definition.componentName = nil
                definition.nullable = false
                components[name] = schemaJSON(definition, components: &components)
            }
            return .object(["$ref": .string("#/components/schemas/\(name)")])
        }
        var object = JSONObject()
        switch schema.kind {
        case .string: object["type"] = "string"
        case .integer:
            object["type"] = "integer"
            object["format"] = "int64"
        case .number: object["type"] = "number"
        case .boolean: object["type"] = "boolean"
        case .any: break
        case .oneOf(let choices): object["oneOf"] = .array(choices.map { schemaJSON($0, components: &components, inline: inline) })
        case .array(let items):
            object["type"] = "array"
            object["items"] = schemaJSON(items, components: &components, inline: inline)
        case .object(let properties, let additional):
            object["type"] = "object"
            var members = JSONObject()
            for property in properties { members[property.name] = schemaJSON(property.schema, components: &components, inline: inline) }
            object["properties"] = .object(members)
            let required = properties.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { object["required"] = .array(required) }
            object["additionalProperties"] = additional.map { schemaJSON($0, components: &components, inline: inline) } ?? false
        }
        if schema.nullable { object["nullable"] = true }
        if let format = schema.format { object["format"] = .string(format) }
        if let pattern = schema.pattern { object["pattern"] = .string(pattern) }
        if let value = schema.minLength { object["minLength"] = .int(Int64(value)) }
        if let value = schema.maxLength { object["maxLength"] = .int(Int64(value)) }
        if let value = schema.minimum { object["minimum"] = .int(value) }
        if let value = schema.maximum { object["maximum"] = .int(value) }
        if let value = schema.minItems { object["minItems"] = .int(Int64(value)) }
        if let value = schema.maxItems { object["maxItems"] = .int(Int64(value)) }
        if let allowed = schema.allowed {
            object["enum"] = .array(allowed.map { .string($0) } + (schema.nullable ? [.null] : []))
        }
        if schema.readOnly { object["readOnly"] = true }
        if let description = schema.description { object["description"] = .string(description) }
        if let example = schema.example { object["example"] = example }
        return .object(object)
    }

    /// A standalone JSON schema (OpenAPI 3.0 dialect) with every named schema written in place,
    /// for the event catalog.
    public static func inlineJSONSchema(_ schema: Schema) -> JSONValue {
        var unused: [String: JSONValue] = [:]
        return OpenAPIDocumentBuilder(operations: []).schemaJSON(schema, components: &unused, inline: true)
    }

    // MARK: Output

    /// The document decoded into OpenAPIKit and validated. Costly (seconds in a debug build), so
    /// it runs where the document is exported and in the tests, not on every server's first request:
    /// the document is a pure function of the registered operations.
    public func document() throws -> OpenAPI.Document {
        let data = Data(json().jsonString.utf8)
        let document = try JSONDecoder().decode(OpenAPI.Document.self, from: data)
        try document.validate()
        return document
    }

    /// Pretty JSON with sorted keys. Serialised from our own tree rather than OpenAPIKit's so that
    /// arrays such as `required` keep a stable order.
    public func jsonData() throws -> Data {
        let object = try JSONSerialization.jsonObject(with: Data(json().jsonString.utf8))
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// YAML of the same document.
    public func yaml() throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(json().jsonString.utf8))
        return try Yams.dump(object: object, sortKeys: true)
    }
}
