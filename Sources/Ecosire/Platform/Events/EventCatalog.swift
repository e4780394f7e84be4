/// Every event type the server emits, gathered from the modules that emit them: the source of
/// `GET /api/webhooks/events`, of the endpoint `events` check, and of test deliveries.
public struct EventCatalog: Sendable {
    /// In order of type.
    public let types: [EventType]
    private let byType: [String: EventType]

    /// Two modules may emit the same type (`invoice.paid` for Stripe-billed and for Ecosire
    /// invoices): the entry then documents both objects, and its example is the first one's.
    public init(_ declared: [EventType]) {
        var merged: [String: EventType] = [:]
        for type in declared {
            if var existing = merged[type.type] {
                existing.description += " " + type.description
                existing.trigger += " Or: " + type.trigger
                if case .oneOf(let choices) = existing.schema.kind {
                    existing.schema = .oneOf(choices + [type.schema])
                } else {
                    existing.schema = .oneOf([existing.schema, type.schema])
                }
                merged[type.type] = existing
            } else {
                merged[type.type] = type
            }
        }
        byType = merged
        types = merged.values.sorted { $0.type < $1.type }
    }

    public subscript(type: String) -> EventType? { byType[type] }
}
