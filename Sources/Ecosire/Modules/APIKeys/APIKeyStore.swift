import Foundation
import SQLKit

/// A stored API key, as the Eazip contract names its fields.
struct APIKeyRecord: Sendable {
    var id: String
    var name: String?
    var prefix: String
    var scope: KeyScope
    var environment: String
    var createdAt: Int64
    var expiresAt: Int64?
    var lastUsedAt: Int64?
    var revokedAt: Int64?
    var rotatedFrom: String?
    var rotatedAt: Int64?
    var totalRequests: Int
    var totalErrors: Int

    /// The key object (`secret` only in create and rotate answers).
    func json(secret: String? = nil) -> JSONValue {
        func time(_ millis: Int64?) -> JSONValue { millis.map { .string(Timestamp.iso(millis: $0)) } ?? .null }
        var object: JSONObject = [
            "id": .string(id),
            "name": name.map(JSONValue.string) ?? .null,
            "prefix": .string(prefix),
        ]
        if let secret { object["key"] = .string(secret) }
        object.merge([
            "scope": .string(scope.rawValue),
            "environment": .string(environment),
            "created_at": time(createdAt),
            "expires_at": time(expiresAt),
            "last_used_at": time(lastUsedAt),
            "revoked_at": time(revokedAt),
            "rotated_from": rotatedFrom.map(JSONValue.string) ?? .null,
            "usage": .object(["total_requests": .int(Int64(totalRequests)), "total_errors": .int(Int64(totalErrors))]),
        ])
        return .object(object)
    }
}

/// One day of a key's usage.
struct APIKeyUsageDay: Sendable {
    var day: String
    var requests: Int
    var errors: Int
}

/// SQL for the API-keys resource. Every query is scoped to the owning user: another user's key
/// does not exist for the caller.
struct APIKeyStore: Sendable {
    let database: any Database
    let clock: WallClock

    private static let columns: SQLQueryString = """
        k.id, k.name, k.prefix, k.scope, k.environment, k.created_at, k.expires_at, k.last_used_at, k.revoked_at,
        k.rotated_from, k.rotated_at,
        (SELECT COALESCE(SUM(u.requests), 0) FROM api_key_usage u WHERE u.key_id = k.id) AS total_requests,
        (SELECT COALESCE(SUM(u.errors), 0) FROM api_key_usage u WHERE u.key_id = k.id) AS total_errors
        """

    private static func record(_ row: any SQLRow) throws -> APIKeyRecord {
        func optionalInt(_ column: String) throws -> Int64? {
            try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: Int64.self)
        }
        func optionalText(_ column: String) throws -> String? {
            try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
        }
        return APIKeyRecord(
            id: try row.decode(column: "id", as: String.self),
            name: try optionalText("name"),
            prefix: try row.decode(column: "prefix", as: String.self),
            scope: KeyScope(rawValue: try row.decode(column: "scope", as: String.self)) ?? .readOnly,
            environment: try row.decode(column: "environment", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            expiresAt: try optionalInt("expires_at"),
            lastUsedAt: try optionalInt("last_used_at"),
            revokedAt: try optionalInt("revoked_at"),
            rotatedFrom: try optionalText("rotated_from"),
            rotatedAt: try optionalInt("rotated_at"),
            totalRequests: Int(try row.decode(column: "total_requests", as: Int64.self)),
            totalErrors: Int(try row.decode(column: "total_errors", as: Int64.self))
        )
    }

    /// The caller's keys, newest first.
    func list(userID: String, includeRevoked: Bool) async throws -> [APIKeyRecord] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT \(Self.columns) FROM api_keys k
                WHERE k.user_id = \(bind: userID) \(unsafeRaw: includeRevoked ? "" : "AND k.revoked_at IS NULL")
                ORDER BY k.created_at DESC, k.id DESC
                """
            ).all().map(Self.record)
        }
    }

    func get(userID: String, id: String) async throws -> APIKeyRecord? {
        try await database.read { sql in try await fetch(sql, userID: userID, id: id) }
    }

    private func fetch(_ sql: any SQLDatabase, userID: String, id: String) async throws -> APIKeyRecord? {
        try await sql.raw("SELECT \(Self.columns) FROM api_keys k WHERE k.id = \(bind: id) AND k.user_id = \(bind: userID)")
            .first().map(Self.record)
    }

    /// A new secret: `ecos_<environment>_` and 32 base62 characters from the system CSPRNG.
    static func newSecret(environment: String) -> String {
        "ecos_\(environment)_" + SecretTokens.base62(count: 32)
    }

    /// Stores a new key and returns it with its secret (the only time the secret exists outside
    /// the caller's hands: only its SHA-256 is kept).
    func create(
        _ sql: any SQLDatabase, caller: Caller, name: String?, scope: KeyScope, environment: String, expiresAt: Int64?,
        rotatedFrom: String? = nil
    ) async throws -> (APIKeyRecord, secret: String) {
        let id = UUIDv7.generate()
        let secret = Self.newSecret(environment: environment)
        let now = clock.nowMillis()
        try await sql.raw(
            """
            INSERT INTO api_keys (id, organization_id, user_id, name, prefix, secret_hash, scope, environment, created_at, expires_at, rotated_from)
            VALUES (\(bind: id), \(bind: caller.organizationID), \(bind: caller.userID), \(bind: name), \(bind: String(secret.prefix(12))),
                \(bind: SecretTokens.sha256Hex(secret)), \(bind: scope.rawValue), \(bind: environment), \(bind: now), \(bind: expiresAt),
                \(bind: rotatedFrom))
            """
        ).run()
        guard let record = try await fetch(sql, userID: caller.userID, id: id) else { throw APIError.internalError }
        return (record, secret)
    }

    func create(caller: Caller, name: String?, scope: KeyScope, environment: String, expiresAt: Int64?) async throws -> (
        APIKeyRecord, secret: String
    ) {
        try await database.transaction { sql in
            try await create(sql, caller: caller, name: name, scope: scope, environment: environment, expiresAt: expiresAt)
        }
    }

    /// Revokes (soft delete); nil when the key is not the caller's.
    func revoke(userID: String, id: String) async throws -> APIKeyRecord? {
        let now = clock.nowMillis()
        return try await database.transaction { sql in
            try await sql.raw(
                "UPDATE api_keys SET revoked_at = \(bind: now) WHERE id = \(bind: id) AND user_id = \(bind: userID) AND revoked_at IS NULL"
            ).run()
            return try await fetch(sql, userID: userID, id: id)
        }
    }

    /// Issues the replacement of a key; the old one stays valid for `overlap` milliseconds (never
    /// longer than it would have anyway). Nil when the key is not the caller's.
    func rotate(caller: Caller, id: String, overlap: Int64) async throws -> (APIKeyRecord, secret: String)? {
        let now = clock.nowMillis()
        return try await database.transaction { sql in
            guard let old = try await fetch(sql, userID: caller.userID, id: id) else { return nil }
            if old.revokedAt != nil { throw APIError.conflict("A revoked API key cannot be rotated") }
            if old.rotatedAt != nil { throw APIError.conflict("This API key has already been rotated; rotate its replacement instead") }
            if let expiresAt = old.expiresAt, expiresAt <= now { throw APIError.conflict("An expired API key cannot be rotated") }
            let graceEnd = min(old.expiresAt ?? Int64.max, now + overlap)
            try await sql.raw("UPDATE api_keys SET rotated_at = \(bind: now), expires_at = \(bind: graceEnd) WHERE id = \(bind: id)").run()
            return try await create(
                sql, caller: caller, name: old.name, scope: old.scope, environment: old.environment, expiresAt: old.expiresAt,
                rotatedFrom: old.id
            )
        }
    }

    /// Stored usage days between `from` and `to` (inclusive, `YYYY-MM-DD`) and the key's
    /// `last_used_at`, read in one statement: the usage recorder writes both in one transaction, so
    /// they always agree (two reads could land on either side of a flush).
    func usage(keyID: String, from: String, to: String) async throws -> (lastUsedAt: Int64?, days: [APIKeyUsageDay]) {
        try await database.read { sql in
            let rows = try await sql.raw(
                """
                SELECT k.last_used_at, u.day, u.requests, u.errors FROM api_keys k
                LEFT JOIN api_key_usage u ON u.key_id = k.id AND u.day >= \(bind: from) AND u.day <= \(bind: to)
                WHERE k.id = \(bind: keyID) ORDER BY u.day
                """
            ).all()
            let lastUsedAt = try rows.first?.decode(column: "last_used_at", as: Int64?.self)
            let days = try rows.filter { try !$0.decodeNil(column: "day") }.map { row in
                APIKeyUsageDay(
                    day: try row.decode(column: "day", as: String.self),
                    requests: Int(try row.decode(column: "requests", as: Int64.self)),
                    errors: Int(try row.decode(column: "errors", as: Int64.self))
                )
            }
            return (lastUsedAt ?? nil, days)
        }
    }

    /// One page of the audit log, newest first, and the total.
    func audit(keyID: String, query: ListQuery) async throws -> (entries: [JSONValue], total: Int) {
        try await database.read { sql in
            let total =
                try await sql.raw("SELECT COUNT(*) AS total FROM api_key_audit WHERE key_id = \(bind: keyID)").first()?
                .decode(column: "total", as: Int.self) ?? 0
            let entries = try await sql.raw(
                """
                SELECT id, occurred_at, method, path, status, ip, latency_ms, request_id FROM api_key_audit
                WHERE key_id = \(bind: keyID) ORDER BY occurred_at DESC, id DESC
                \(query.limitClause)
                """
            ).all().map { row -> JSONValue in
                [
                    "id": .string(try row.decode(column: "id", as: String.self)),
                    "occurred_at": .string(Timestamp.iso(millis: try row.decode(column: "occurred_at", as: Int64.self))),
                    "method": .string(try row.decode(column: "method", as: String.self)),
                    "path": .string(try row.decode(column: "path", as: String.self)),
                    "status": .int(try row.decode(column: "status", as: Int64.self)),
                    "ip": .string(try row.decode(column: "ip", as: String.self)),
                    "latency_ms": .int(try row.decode(column: "latency_ms", as: Int64.self)),
                    "request_id": .string(try row.decode(column: "request_id", as: String.self)),
                ]
            }
            return (entries, total)
        }
    }
}
