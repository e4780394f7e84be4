/// One type of event the server emits: what the event catalog (`GET /api/webhooks/events`) and
/// the developer portal show, and what `POST /api/webhooks/endpoints/{id}/test` sends.
public struct EventType: Sendable {
    /// `contact.created`, `license.activated`, …
    public var type: String
    public var description: String
    /// What causes the event.
    public var trigger: String
    /// The schema of `data.object`.
    public var schema: Schema
    /// An example `data.object`.
    public var example: JSONValue

    public init(_ type: String, description: String, trigger: String, schema: Schema, example: JSONValue? = nil) {
        self.type = type
        self.description = description
        self.trigger = trigger
        self.schema = schema
        self.example = example ?? schema.sample()
    }

    /// The whole example event, in the envelope deliveries use.
    public var exampleEnvelope: JSONValue {
        EventOutbox.envelope(id: "evt_1ABCxyz", type: type, created: 1_711_000_000, object: example)
    }

    /// The envelope's JSON schema with this type's `data.object`.
    public var envelopeSchema: Schema {
        Schema.object([
            .init("id", Schema.string().matching("^evt_").describe("Unique event id; also the webhook-id header"), required: true),
            .init("object", .enumeration(["event"]), required: true),
            .init("type", .enumeration([type]), required: true),
            .init("created", Schema.integer(minimum: 0).describe("Unix seconds"), required: true),
            .init("data", Schema.object([.init("object", schema, required: true)]), required: true),
        ])
    }
}

extension Resource {
    /// `<prefix>.created`, `.updated` and `.deleted`, each carrying the record, for resources
    /// that declare an `eventPrefix`.
    public var eventTypes: [EventType] {
        guard let prefix = eventPrefix else { return [] }
        var record = recordSchema
        record.componentName = nil
        // The example record: the create example over a sample of every field.
        var example = record.sample().objectValue ?? JSONObject()
        if let given = self.example?.objectValue { example.merge(given) }
        let noun = self.noun
        return [
            EventType(
                "\(prefix).created", description: "\(noun.prefix(1).uppercased() + noun.dropFirst()) was created.",
                trigger: "POST \(path), or any action that creates one.", schema: record, example: .object(example)),
            EventType(
                "\(prefix).updated", description: "\(noun.prefix(1).uppercased() + noun.dropFirst()) changed; the object is the new state.",
                trigger: "PATCH \(path)/{id}, or a workflow action on it.", schema: record, example: .object(example)),
            EventType(
                "\(prefix).deleted",
                description: "\(noun.prefix(1).uppercased() + noun.dropFirst()) was deleted; the object is its last state.",
                trigger: "DELETE \(path)/{id}.", schema: record, example: .object(example)),
        ]
    }
}

extension Schema {
    /// A value that satisfies the schema, for examples: the schema's own example when it has one,
    /// else a plausible value per type and format.
    public func sample() -> JSONValue {
        if let example { return example }
        switch kind {
        case .any: return .object(JSONObject())
        case .boolean: return true
        case .number: return .int(minimum ?? 1)
        case .integer: return .int(Swift.max(minimum ?? 0, Swift.min(maximum ?? 1, 1)))
        case .oneOf(let choices): return choices.first?.sample() ?? .null
        case .array(let items): return .array([items.sample()])
        case .object(let properties, _):
            return .object(JSONObject(properties.map { ($0.name, $0.schema.sample()) }))
        case .string:
            if let first = allowed?.first { return .string(first) }
            switch format {
            case "uuid": return "0190f5a2-7c1e-7b3a-9d4e-2f6a8b1c3d5e"
            case "date-time": return "2026-03-20T12:00:00.000Z"
            case "date": return "2026-03-20"
            case "email": return "jane@example.com"
            case "uri": return "https://example.com"
            default:
                var text = "example"
                if let maxLength, text.count > maxLength { text = String(text.prefix(maxLength)) }
                if let minLength, text.count < minLength { text += String(repeating: "x", count: minLength - text.count) }
                return .string(text)
            }
        }
    }
}
