import Crypto
import SQLKit

/// The transactional outbox: every event is a row written on the connection of the transaction that
/// caused it, so an event exists exactly when its change was committed. Delivery to subscribers
/// reads from here.
public struct EventOutbox: Sendable {
    public let clock: WallClock

    public init(clock: WallClock) { self.clock = clock }

    /// `evt_` + 32 lowercase hex characters.
    public static func newEventID() -> String {
        "evt_" + Hex.encode(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
    }

    /// The Stripe-like envelope: `{id, object: "event", type, created, data: {object}}`.
    public static func envelope(id: String, type: String, created: Int64, object: JSONValue) -> JSONValue {
        .object([
            "id": .string(id), "object": "event", "type": .string(type), "created": .int(created),
            "data": .object(["object": object]),
        ])
    }

    /// Records `type` with `object` as its `data.object`; returns the event id.
    @discardableResult
    public func record(_ sql: any SQLDatabase, organizationID: String, type: String, object: JSONValue) async throws -> String {
        let id = Self.newEventID()
        let now = clock.nowMillis()
        let payload = Self.envelope(id: id, type: type, created: now / 1000, object: object)
        try await sql.raw(
            """
            INSERT INTO events (id, organization_id, type, payload, created_at)
            VALUES (\(bind: id), \(bind: organizationID), \(bind: type), \(bind: payload.jsonString), \(bind: now))
            """
        ).run()
        return id
    }
}
