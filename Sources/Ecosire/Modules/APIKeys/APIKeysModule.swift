import Foundation
import HTTPTypes
import Hummingbird

/// `/api/api-keys`: the Eazip API-keys contract (snake_case, the `success` flag, its exact
/// shapes and messages) plus scopes, environments, rotation, usage and the audit log.
struct APIKeysModule: Module {
    let platform: Platform
    var store: APIKeyStore { APIKeyStore(database: platform.database, clock: platform.clock) }
    /// How long a rotated key keeps working.
    static let rotationOverlapMillis: Int64 = 24 * 3600 * 1000

    func register(on api: APIRouter) {
        let tag = "API Keys"
        let failure: JSONObject = ["success": false]
        func operation(
            _ method: HTTPRequest.Method, _ path: String, id: String, summary: String, description: String? = nil,
            query: [QueryParameter] = [], body: RequestBodySpec? = nil, responses: [ResponseSpec], errors: Set<Int> = [],
            returnsSecret: Bool = false
        ) -> Operation {
            Operation(
                method, path, id: id, tag: tag, summary: summary, description: description, query: query, body: body,
                responses: responses, errors: errors, scope: .admin, errorExtras: failure, returnsSecret: returnsSecret
            )
        }

        api.add(
            operation(
                .get, "/api/api-keys", id: "listApiKeys", summary: "List your API keys",
                description: "Your keys, newest first, without their secrets. Revoked keys are left out unless `include_revoked=true`.",
                query: [QueryParameter("include_revoked", .boolean, "Include revoked keys")],
                responses: [ResponseSpec(200, "The keys", schema: APIKeySchemas.list)]
            )
        ) { input in
            let keys = try await store.list(userID: try input.caller.userID, includeRevoked: input.query["include_revoked"] == "true")
            return .json(["success": true, "api_keys": .array(keys.map { $0.json() })])
        }

        api.add(
            operation(
                .post, "/api/api-keys", id: "createApiKey", summary: "Create an API key",
                description:
                    "The response is the only time the secret (`key`) is shown: only its SHA-256 is stored. Keys authenticate as you, limited by their scope: `read_only` (GET/HEAD), `read_write` (all but key administration and admin routes), `admin`.",
                body: .json(
                    APIKeySchemas.create, required: false,
                    example: ["name": "CI/CD Pipeline", "expires_at": "2026-12-31T23:59:59Z", "scope": "read_write", "environment": "live"]),
                responses: [
                    ResponseSpec(
                        201, "The new key, with its secret", schema: APIKeySchemas.created, headers: ["Location": "URL of the key"])
                ],
                returnsSecret: true
            )
        ) { input in
            let body = input.object
            let expiresAt = try Self.futureExpiry(body["expires_at"], now: platform.clock.nowMillis())
            let (record, secret) = try await store.create(
                caller: try input.caller, name: body["name"]?.stringValue,
                scope: body["scope"]?.stringValue.flatMap(KeyScope.init(rawValue:)) ?? .readWrite,
                environment: body["environment"]?.stringValue ?? "live", expiresAt: expiresAt
            )
            return Self.issued(record, secret: secret)
        }

        api.add(
            operation(
                .get, "/api/api-keys/{id}", id: "getApiKey", summary: "Get one of your API keys",
                description:
                    "A revoked key is a 404 here; it is listed with `GET /api/api-keys?include_revoked=true`, and its usage and audit log stay readable.",
                responses: [ResponseSpec(200, "The key (no secret)", schema: APIKeySchemas.single)]
            )
        ) { input in
            let record = try await owned(input)
            if record.revokedAt != nil { throw Self.notFound }
            return .json(["success": true, "api_key": record.json()])
        }

        api.add(
            operation(
                .delete, "/api/api-keys/{id}", id: "revokeApiKey", summary: "Revoke an API key",
                description: "Soft delete: the key stops working on the very next request. It cannot be undone.",
                responses: [ResponseSpec(200, "Revoked", schema: APIKeySchemas.message)]
            )
        ) { input in
            guard try await store.revoke(userID: try input.caller.userID, id: input.path("id")) != nil else { throw Self.notFound }
            platform.apiKeys.invalidate(keyID: input.path("id"))
            return .json(["success": true, "message": "API key revoked"])
        }

        api.add(
            operation(
                .post, "/api/api-keys/{id}/rotate", id: "rotateApiKey", summary: "Rotate an API key",
                description:
                    "Issues a new key with the same name, scope, environment and expiry (its secret is shown once). The old key keeps working for 24 hours, then answers 401 `API_KEY_EXPIRED`.",
                responses: [
                    ResponseSpec(
                        201, "The replacement key, with its secret", schema: APIKeySchemas.created,
                        headers: ["Location": "URL of the new key"])
                ],
                errors: [409], returnsSecret: true
            )
        ) { input in
            let caller = try input.caller
            guard let (record, secret) = try await store.rotate(caller: caller, id: input.path("id"), overlap: Self.rotationOverlapMillis)
            else { throw Self.notFound }
            platform.apiKeys.invalidate(keyID: input.path("id"))
            return Self.issued(record, secret: secret)
        }

        api.add(
            operation(
                .get, "/api/api-keys/{id}/usage", id: "getApiKeyUsage", summary: "Daily usage of an API key",
                description:
                    "Requests, errors (4xx and 5xx) and error rate per UTC day from `from` to `to` (default: the last 30 days, at most 366). Counts are written about once a second.",
                query: [
                    QueryParameter("from", .string(format: "date"), "First day, YYYY-MM-DD"),
                    QueryParameter("to", .string(format: "date"), "Last day, YYYY-MM-DD (default today)"),
                ],
                responses: [ResponseSpec(200, "The usage", schema: APIKeySchemas.usage)]
            )
        ) { input in try await usage(input) }

        api.add(
            operation(
                .get, "/api/api-keys/{id}/audit", id: "getApiKeyAudit", summary: "Request log of an API key",
                description: "Requests made with a live key, newest first (time, method, path, status, client IP, latency, request id).",
                query: Array(ListQuery.parameters(sortable: [], searchable: []).prefix(2)),
                responses: [ResponseSpec(200, "One page of the log", schema: APIKeySchemas.audit)]
            )
        ) { input in
            let record = try await owned(input)
            let query = ListQuery(input)
            let (entries, total) = try await store.audit(keyID: record.id, query: query)
            return .json([
                "success": true, "audit": .array(entries),
                "meta": [
                    "total": .int(Int64(total)), "page": .int(Int64(query.page)), "limit": .int(Int64(query.limit)),
                    "total_pages": .int(Int64(query.pageCount(total: total))),
                ],
            ])
        }
    }

    /// 201 with a new key and its secret, the one time it is shown.
    static func issued(_ record: APIKeyRecord, secret: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = "/api/api-keys/\(record.id)"
        return .json(["success": true, "api_key": record.json(secret: secret)], status: .created, headers: headers)
    }

    static let notFound = APIError(.notFound, code: "NOT_FOUND", message: "API key not found", extra: ["success": false])

    private func owned(_ input: APIInput) async throws -> APIKeyRecord {
        guard let record = try await store.get(userID: try input.caller.userID, id: input.path("id")) else { throw Self.notFound }
        return record
    }

    /// `expires_at` as Unix milliseconds; it must lie in the future.
    static func futureExpiry(_ value: JSONValue?, now: Int64) throws -> Int64? {
        guard let text = value?.stringValue else { return nil }
        guard let millis = Timestamp.millis(iso: text) else {
            throw APIError.validation(field: "expires_at", "Must be an ISO 8601 date-time")
        }
        guard millis > now else { throw APIError.validation(field: "expires_at", "Must be in the future") }
        return millis
    }

    private func usage(_ input: APIInput) async throws -> Response {
        let record = try await owned(input)
        let today = Timestamp.dayNumber(millis: platform.clock.nowMillis())
        let last = try input.query["to"].map { try Self.dayNumber($0, field: "to") } ?? today
        let first = try input.query["from"].map { try Self.dayNumber($0, field: "from") } ?? last - 29
        guard first <= last else {
            throw APIError.badRequest(
                "`from` must not be after `to`", details: [FieldIssue(field: "from", message: "Must not be after to")])
        }
        guard last - first < 366 else {
            throw APIError.badRequest(
                "At most 366 days at a time", details: [FieldIssue(field: "from", message: "At most 366 days before to")])
        }
        let from = Timestamp.day(number: first)
        let to = Timestamp.day(number: last)
        let usage = try await store.usage(keyID: record.id, from: from, to: to)
        let stored = Dictionary(uniqueKeysWithValues: usage.days.map { ($0.day, $0) })
        func rate(_ errors: Int, _ requests: Int) -> JSONValue { .double(requests == 0 ? 0 : Double(errors) / Double(requests)) }
        var days: [JSONValue] = []
        var requests = 0
        var errors = 0
        for number in first...last {
            let day = Timestamp.day(number: number)
            let entry = stored[day] ?? APIKeyUsageDay(day: day, requests: 0, errors: 0)
            requests += entry.requests
            errors += entry.errors
            days.append([
                "date": .string(day), "requests": .int(Int64(entry.requests)), "errors": .int(Int64(entry.errors)),
                "error_rate": rate(entry.errors, entry.requests),
            ])
        }
        return .json([
            "success": true,
            "usage": [
                "key_id": .string(record.id), "from": .string(from), "to": .string(to),
                "last_used_at": usage.lastUsedAt.map { .string(Timestamp.iso(millis: $0)) } ?? .null,
                "total_requests": .int(Int64(requests)), "total_errors": .int(Int64(errors)), "error_rate": rate(errors, requests),
                "days": .array(days),
            ],
        ])
    }

    private static func dayNumber(_ text: String, field: String) throws -> Int64 {
        guard let millis = Timestamp.millis(iso: text + "T00:00:00Z") else {
            throw APIError.badRequest("Invalid \(field)", details: [FieldIssue(field: field, message: "Must be a date (YYYY-MM-DD)")])
        }
        return Timestamp.dayNumber(millis: millis)
    }
}
