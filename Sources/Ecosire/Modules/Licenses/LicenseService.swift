import Foundation
import HTTPTypes
import SQLKit

/// A license row as the API shows it.
struct License: Sendable {
    var id: String
    var organizationID: String
    var productID: String
    var key: String
    /// Stored status: `active`, `suspended` or `revoked` (`expired` is derived from `expiresAt`).
    var storedStatus: String
    var statusReason: String?
    var activationsCount: Int
    var activationsLimit: Int
    var expiresAt: Int64?
    var updatesUntil: Int64?
    var ownerUserID: String?
    var contactID: String?
    var orderID: String?
    var subscriptionID: String?
    var createdAt: Int64
    var updatedAt: Int64

    static let columns =
        "id, organization_id, product_id, license_key, status, status_reason, activations_count, activations_limit, expires_at, updates_until, owner_user_id, contact_id, order_id, subscription_id, created_at, updated_at"

    init(row: some ColumnValues) throws {
        func optionalText(_ column: String) throws -> String? { try row.isNull(column) ? nil : row.text(column) }
        func optionalInteger(_ column: String) throws -> Int64? { try row.isNull(column) ? nil : row.integer(column) }
        id = try row.text("id")
        organizationID = try row.text("organization_id")
        productID = try row.text("product_id")
        key = try row.text("license_key")
        storedStatus = try row.text("status")
        statusReason = try optionalText("status_reason")
        activationsCount = Int(try row.integer("activations_count"))
        activationsLimit = Int(try row.integer("activations_limit"))
        expiresAt = try optionalInteger("expires_at")
        updatesUntil = try optionalInteger("updates_until")
        ownerUserID = try optionalText("owner_user_id")
        contactID = try optionalText("contact_id")
        orderID = try optionalText("order_id")
        subscriptionID = try optionalText("subscription_id")
        createdAt = try row.integer("created_at")
        updatedAt = try row.integer("updated_at")
    }

    /// `active`, `expired`, `suspended` or `revoked` at `now`.
    func status(now: Int64) -> String {
        if storedStatus == "active", let expiresAt, expiresAt <= now { return "expired" }
        return storedStatus
    }

    /// The full record (`GET /api/licenses/:id`, the list, admin actions, events).
    func json(now: Int64) -> JSONValue {
        .object([
            "id": .string(id), "key": .string(key), "productId": .string(productID), "status": .string(status(now: now)),
            "statusReason": statusReason.map { .string($0) } ?? .null,
            "activationsCount": .int(Int64(activationsCount)), "activationsLimit": .int(Int64(activationsLimit)),
            "expiresAt": expiresAt.map { .string(Timestamp.iso(millis: $0)) } ?? .null,
            "updatesUntil": updatesUntil.map { .string(Timestamp.iso(millis: $0)) } ?? .null,
            "ownerUserId": ownerUserID.map { .string($0) } ?? .null, "contactId": contactID.map { .string($0) } ?? .null,
            "orderId": orderID.map { .string($0) } ?? .null, "subscriptionId": subscriptionID.map { .string($0) } ?? .null,
            "organizationId": .string(organizationID),
            "createdAt": .string(Timestamp.iso(millis: createdAt)), "updatedAt": .string(Timestamp.iso(millis: updatedAt)),
        ])
    }

    /// The short form of validate answers: `{key, status, expiresAt, productId}`.
    func summary(now: Int64) -> JSONValue {
        .object([
            "key": .string(key), "status": .string(status(now: now)),
            "expiresAt": expiresAt.map { .string(Timestamp.iso(millis: $0)) } ?? .null, "productId": .string(productID),
        ])
    }

    /// 404 `LICENSE_NOT_FOUND`, the guide's "License not found".
    static let notFound = APIError(.notFound, code: "LICENSE_NOT_FOUND", message: "License not found")

    /// The 403 a license that cannot be used answers, or nil when it is usable.
    func refusal(now: Int64) -> APIError? {
        switch status(now: now) {
        case "revoked": APIError(.forbidden, code: "LICENSE_REVOKED", message: "License revoked")
        case "suspended": APIError(.forbidden, code: "LICENSE_SUSPENDED", message: "License suspended")
        case "expired": APIError(.forbidden, code: "LICENSE_EXPIRED", message: "License expired")
        default: nil
        }
    }
}

/// What issuing a license needs to know.
public struct LicenseGrant: Sendable {
    public var productID: String
    /// The product's `licensePolicy` (nil: the defaults, prefix ECO and one activation, perpetual).
    public var policy: JSONValue?
    public var ownerUserID: String?
    public var contactID: String?
    public var orderID: String?
    public var subscriptionID: String?
    /// Overrides the policy's duration (subscriptions end with their period).
    public var expiresAt: Int64?
    public var activationsLimit: Int?

    public init(
        productID: String, policy: JSONValue?, ownerUserID: String? = nil, contactID: String? = nil, orderID: String? = nil,
        subscriptionID: String? = nil, expiresAt: Int64? = nil, activationsLimit: Int? = nil
    ) {
        self.productID = productID
        self.policy = policy
        self.ownerUserID = ownerUserID
        self.contactID = contactID
        self.orderID = orderID
        self.subscriptionID = subscriptionID
        self.expiresAt = expiresAt
        self.activationsLimit = activationsLimit
    }
}

/// The licenses module's public interface: other modules issue, revoke, suspend and look up licenses
/// through it, always on the connection of their own transaction.
public struct LicenseService: Sendable {
    let database: any Database
    let clock: WallClock
    let outbox: EventOutbox
    /// What validate needs, by key, for a second: validate is the hot path of installed software.
    /// Changes made through this service drop the entry at once; other instances see them within
    /// the second (as with API keys).
    let validationCache: ExpiringCache<ValidationView>

    /// A license and the domains holding an activation.
    struct ValidationView: Sendable {
        var license: License
        var activeDomains: Set<String>
    }

    init(database: any Database, clock: WallClock, cacheMillis: Int64 = 1000) {
        self.database = database
        self.clock = clock
        self.outbox = EventOutbox(clock: clock)
        self.validationCache = ExpiringCache(ttlMillis: cacheMillis)
    }

    /// The license with `key` and its active domains, from the cache or one read.
    func validationView(key: String) async throws -> ValidationView? {
        let now = clock.nowMillis()
        if let cached = validationCache.value(for: key, now: now) { return cached }
        guard let license = try await find(key: key) else { return nil }
        let domains = try await database.readRows(
            "SELECT domain FROM license_activations WHERE license_id = \(bind: license.id) AND deactivated_at IS NULL"
        ).map { try $0.text("domain") }
        let view = ValidationView(license: license, activeDomains: Set(domains))
        validationCache.store(view, for: key, now: now)
        return view
    }

    /// Drops cached views after a change (call after the change's transaction has committed too).
    /// Drops the cached view now and again once an ambient transaction commits, so that a read in
    /// between cannot cache the state from before the change.
    func forget(key: String) {
        validationCache.remove(key)
        AmbientTransaction.afterCommit { [validationCache] in validationCache.remove(key) }
    }

    /// Key groups use an alphabet without look-alikes (no 0/O, 1/I/L).
    static let keyAlphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")

    /// `PREFIX-XXXX-XXXX-XXXX-XXXX` from the system CSPRNG (rejection sampling keeps it uniform).
    static func newKey(prefix: String) -> String {
        var random = SystemRandomNumberGenerator()
        var groups: [String] = []
        for _ in 0..<4 {
            var group = ""
            while group.count < 4 {
                let byte = UInt8.random(in: 0...255, using: &random)
                let limit = UInt8(256 - 256 % keyAlphabet.count)
                if byte < limit { group.append(keyAlphabet[Int(byte) % keyAlphabet.count]) }
            }
            groups.append(group)
        }
        return ([prefix] + groups).joined(separator: "-")
    }

    /// Issues one license on the caller's transaction and returns it.
    func issue(_ sql: any SQLDatabase, organizationID: String, grant: LicenseGrant) async throws -> License {
        let policy = grant.policy?.objectValue ?? JSONObject()
        let prefix = policy["prefix"]?.stringValue ?? "ECO"
        let limit = grant.activationsLimit ?? policy["activationsLimit"]?.intValue.map(Int.init) ?? 1
        let now = clock.nowMillis()
        let expiresAt = grant.expiresAt ?? policy["durationDays"]?.intValue.map { now + $0 * 86_400_000 }
        let updatesUntil = policy["updatesMonths"]?.intValue.map { now + $0 * 30 * 86_400_000 }
        let id = UUIDv7.generate()
        // A clash of random keys is astronomically rare; ON CONFLICT keeps a PostgreSQL transaction usable.
        for _ in 0..<5 {
            let key = Self.newKey(prefix: prefix)
            let inserted = try await sql.raw(
                """
                INSERT INTO licenses (id, organization_id, product_id, license_key, status, activations_count, activations_limit,
                    expires_at, updates_until, owner_user_id, contact_id, order_id, subscription_id, created_at, updated_at)
                VALUES (\(bind: id), \(bind: organizationID), \(bind: grant.productID), \(bind: key), 'active', 0, \(bind: limit),
                    \(bind: expiresAt), \(bind: updatesUntil), \(bind: grant.ownerUserID), \(bind: grant.contactID), \(bind: grant.orderID),
                    \(bind: grant.subscriptionID), \(bind: now), \(bind: now))
                ON CONFLICT (license_key) DO NOTHING
                RETURNING id
                """
            ).first()
            if inserted != nil {
                guard let license = try await find(sql, organizationID: organizationID, id: id) else { throw APIError.internalError }
                try await outbox.record(sql, organizationID: organizationID, type: "license.created", object: license.json(now: now))
                return license
            }
        }
        throw APIError.internalError
    }

    /// The license with `id` in the organization.
    func find(_ sql: any SQLDatabase, organizationID: String, id: String) async throws -> License? {
        try await sql.raw(
            "SELECT \(unsafeRaw: License.columns) FROM licenses WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)"
        ).first().map { try License(row: DecodedColumns($0)) }
    }

    /// The license with `key`, in any organization (installed software knows only the key).
    func find(key: String) async throws -> License? {
        try await database.readRows("SELECT \(unsafeRaw: License.columns) FROM licenses WHERE license_key = \(bind: key)").first
            .map { try License(row: $0) }
    }

    /// The license with `key`, row-locked on PostgreSQL for the rest of the transaction.
    func findForUpdate(_ sql: any SQLDatabase, key: String) async throws -> License? {
        let lock: SQLQueryString = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await sql.raw("SELECT \(unsafeRaw: License.columns) FROM licenses WHERE license_key = \(bind: key)\(lock)").first()
            .map { try License(row: DecodedColumns($0)) }
    }

    /// Moves a license to `status` (`active`, `suspended`, `revoked`) and records the event.
    @discardableResult
    func setStatus(_ sql: any SQLDatabase, license: License, status: String, reason: String?, event: String) async throws -> License {
        let now = clock.nowMillis()
        try await sql.raw(
            """
            UPDATE licenses SET status = \(bind: status), status_reason = \(bind: reason), updated_at = \(bind: now)
            WHERE id = \(bind: license.id)
            """
        ).run()
        var changed = license
        changed.storedStatus = status
        changed.statusReason = reason
        changed.updatedAt = now
        try await outbox.record(sql, organizationID: license.organizationID, type: event, object: changed.json(now: now))
        forget(key: license.key)
        return changed
    }

    /// The licenses of an order or a subscription.
    func licenses(_ sql: any SQLDatabase, organizationID: String, orderID: String? = nil, subscriptionID: String? = nil) async throws
        -> [License]
    {
        let condition: SQLQueryString =
            if let orderID { "order_id = \(bind: orderID)" } else { "subscription_id = \(bind: subscriptionID ?? "")" }
        return try await sql.raw(
            """
            SELECT \(unsafeRaw: License.columns) FROM licenses WHERE organization_id = \(bind: organizationID) AND \(condition)
            ORDER BY created_at, id
            """
        ).all().map { try License(row: DecodedColumns($0)) }
    }

    /// Revokes every license of an order that is not revoked yet (refunds, cancellations).
    func revokeAll(_ sql: any SQLDatabase, organizationID: String, orderID: String, reason: String) async throws -> [License] {
        var revoked: [License] = []
        for license in try await licenses(sql, organizationID: organizationID, orderID: orderID) where license.storedStatus != "revoked" {
            revoked.append(try await setStatus(sql, license: license, status: "revoked", reason: reason, event: "license.revoked"))
        }
        return revoked
    }

    /// Sets the expiry of a subscription's licenses (renewal, or the end of a canceled subscription).
    func setExpiry(_ sql: any SQLDatabase, organizationID: String, subscriptionID: String, expiresAt: Int64?) async throws {
        try await sql.raw(
            """
            UPDATE licenses SET expires_at = \(bind: expiresAt), updated_at = \(bind: clock.nowMillis())
            WHERE organization_id = \(bind: organizationID) AND subscription_id = \(bind: subscriptionID)
            """
        ).run()
        validationCache.removeAll { $0.license.subscriptionID == subscriptionID }
    }

    /// Whether `userID` holds a usable license for the product; returns it (the newest) if so.
    func validLicense(organizationID: String, userID: String, productID: String) async throws -> License? {
        let now = clock.nowMillis()
        return try await database.readRows(
            """
            SELECT \(unsafeRaw: License.columns) FROM licenses
            WHERE organization_id = \(bind: organizationID) AND owner_user_id = \(bind: userID) AND product_id = \(bind: productID)
              AND status = 'active' AND (expires_at IS NULL OR expires_at > \(bind: now))
            ORDER BY updates_until IS NULL DESC, updates_until DESC
            """
        ).first.map { try License(row: $0) }
    }

    /// How many licenses reference a product (a product with licenses cannot be deleted).
    func count(_ sql: any SQLDatabase, productID: String) async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM licenses WHERE product_id = \(bind: productID)").first()?
            .decode(column: "n", as: Int.self) ?? 0
    }
}
