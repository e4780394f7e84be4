import Foundation
import SQLKit

/// Turns `ecos_live_…`/`ecos_test_…` secrets into callers.
///
/// A verified key is cached for `cacheTTL` (1 s by default) so that a busy integration costs one
/// hash and one dictionary lookup per request. Revocation on this instance invalidates the entry at
/// once; other instances see it within the TTL, which bounds staleness in a cluster. Expiry is
/// checked against the clock on every request, cached or not.
public final class APIKeyVerifier: Sendable {
    /// A class so that a cache hit copies one reference, not the caller's strings.
    final class VerifiedKey: Sendable {
        let caller: Caller
        let secretHash: String
        let expiresAt: Int64?
        let revokedAt: Int64?

        init(caller: Caller, secretHash: String, expiresAt: Int64?, revokedAt: Int64?) {
            self.caller = caller
            self.secretHash = secretHash
            self.expiresAt = expiresAt
            self.revokedAt = revokedAt
        }
    }

    private let database: any Database
    private let clock: WallClock
    /// Verified keys by the SHA-256 of their secret.
    private let cache: ExpiringCache<VerifiedKey>

    public init(database: any Database, clock: WallClock, cacheTTL: TimeInterval = 1) {
        self.database = database
        self.clock = clock
        self.cache = ExpiringCache(ttlMillis: Int64(cacheTTL * 1000))
    }

    /// The secret's shape: `ecos_live_` or `ecos_test_` and 32 base62 characters.
    public static func isWellFormed(_ secret: String) -> Bool {
        let utf8 = secret.utf8
        guard utf8.count == 42, secret.hasPrefix("ecos_live_") || secret.hasPrefix("ecos_test_") else { return false }
        return utf8.dropFirst(10).allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        }
    }

    /// The caller for `secret`, or 401 (`UNAUTHORIZED`, `API_KEY_REVOKED` or `API_KEY_EXPIRED`).
    public func caller(forSecret secret: String) async throws -> Caller {
        guard Self.isWellFormed(secret) else { throw APIError.unauthorized("Invalid API key") }
        let hash = SecretTokens.sha256Hex(secret)
        let now = clock.nowMillis()
        var entry = cache.value(for: hash, now: now)
        if entry == nil {
            entry = try await load(hash: hash)
            cache.store(entry, for: hash, now: now)
        }
        guard let entry, SecretTokens.constantTimeEquals(entry.secretHash, hash) else {
            throw APIError.unauthorized("Invalid API key")
        }
        if entry.revokedAt != nil { throw APIError.unauthorized("This API key has been revoked", code: "API_KEY_REVOKED") }
        if let expiresAt = entry.expiresAt, expiresAt <= now {
            throw APIError.unauthorized("This API key has expired", code: "API_KEY_EXPIRED")
        }
        return entry.caller
    }

    /// Drops a key from the cache (after revocation or rotation) so the next request re-reads it.
    public func invalidate(keyID: String) {
        cache.removeAll { $0.caller.key?.id == keyID }
    }

    private func load(hash: String) async throws -> VerifiedKey? {
        let rows = try await database.readRows(
            """
            SELECT k.id, k.organization_id, k.user_id, k.scope, k.environment, k.secret_hash, k.expires_at, k.revoked_at, u.role
            FROM api_keys k JOIN users u ON u.id = k.user_id
            WHERE k.secret_hash = \(bind: hash)
            """
        )
        guard let row = rows.first, let role = Role(rawValue: try row.text("role")),
            let scope = KeyScope(rawValue: try row.text("scope"))
        else { return nil }
        let key = CallerKey(id: try row.text("id"), scope: scope, environment: try row.text("environment"))
        return VerifiedKey(
            caller: Caller(
                userID: try row.text("user_id"), organizationID: try row.text("organization_id"), role: role, credential: .apiKey,
                key: key
            ),
            secretHash: try row.text("secret_hash"),
            expiresAt: try row.isNull("expires_at") ? nil : try row.integer("expires_at"),
            revokedAt: try row.isNull("revoked_at") ? nil : try row.integer("revoked_at")
        )
    }
}
