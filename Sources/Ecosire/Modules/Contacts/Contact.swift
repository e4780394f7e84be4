import SQLKit

/// The contacts resource, described as data for the resource helper.
enum ContactResource {
    static let address = Schema.object([
        .init("street", Schema.string(maxLength: 255).orNull()),
        .init("city", Schema.string(maxLength: 255).orNull()),
        .init("state", Schema.string(maxLength: 255).orNull()),
        .init("zip", Schema.string(maxLength: 32).orNull()),
        .init("country", Schema.string(maxLength: 255).orNull()),
    ]).named("Address")

    static let example: JSONValue = .object([
        "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000", "type": "person",
        "website": "https://ada.example.com", "address": .object(["city": "London", "country": "GB"]), "tags": ["vip"],
    ])

    static let fields: [ResourceField] = [
        ResourceField("name", schema: .string(minLength: 1, maxLength: 255), required: true),
        ResourceField("email", schema: .email, unique: true, normalize: { .string($0.stringValue?.lowercased() ?? "") }),
        ResourceField("phone", schema: Schema.string(minLength: 1, maxLength: 50)),
        ResourceField("type", schema: .enumeration(["person", "company"]), default: "person"),
        ResourceField("website", schema: Schema.string(maxLength: 2048, format: "uri").matching("^https?://")),
        ResourceField("address", schema: address, storage: .json),
        ResourceField("tags", schema: .array(Schema.string(minLength: 1, maxLength: 50), maxItems: 50), storage: .json, default: []),
    ]

    static func resource(onChange: @escaping @Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void) -> Resource {
        Resource(
            singular: "Contact", plural: "Contacts", tag: "Contacts", path: "/api/contacts", table: "contacts",
            fields: fields, sortable: ["name", "email", "createdAt", "updatedAt"], searchable: ["name", "email"],
            filters: [
                .equals("type", column: "type", schema: .enumeration(["person", "company"]), description: "Only contacts of this type"),
                .arrayContains("tag", column: "tags", description: "Only contacts carrying this tag"),
            ],
            example: example, eventPrefix: "contact", onChange: onChange
        )
    }
}
