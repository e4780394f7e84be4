import Foundation
import SQLKit

/// One field of a table-backed resource: its API name, its column, its schema and how it is stored.
public struct ResourceField: Sendable {
    /// How the value sits in its column.
    public enum Storage: Sendable {
        case text, integer, boolean
        /// Objects and arrays, stored as JSON text.
        case json
        /// An ISO 8601 date-time, stored as Unix milliseconds (BIGINT).
        case timestamp
    }

    public var name: String
    public var column: String
    public var schema: Schema
    public var storage: Storage
    public var requiredOnCreate: Bool
    /// Clients may set it on create and update.
    public var writable: Bool
    /// Unique within the organization (a clash is a 409 naming the field).
    public var unique: Bool
    /// The value stored when a create omits the field.
    public var defaultValue: JSONValue
    /// Applied to client input before storing (for example lower-casing emails).
    public var normalize: (@Sendable (JSONValue) -> JSONValue)?
    /// What clients send, when it differs from what is returned (order lines: the server adds
    /// names, prices and totals).
    public var inputSchema: Schema?

    public init(
        _ name: String, column: String? = nil, schema: Schema, storage: Storage = .text, required: Bool = false,
        writable: Bool = true, unique: Bool = false, default defaultValue: JSONValue = .null,
        normalize: (@Sendable (JSONValue) -> JSONValue)? = nil, input inputSchema: Schema? = nil
    ) {
        self.name = name
        self.column = column ?? Self.snakeCase(name)
        self.schema = schema
        self.storage = storage
        self.requiredOnCreate = required
        self.writable = writable
        self.unique = unique
        self.defaultValue = defaultValue
        self.normalize = normalize
        self.inputSchema = inputSchema
    }

    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Whether a stored null is possible.
    var isNullable: Bool { !requiredOnCreate && defaultValue.isNull }
}

/// A list filter: a query parameter and the SQL condition it adds.
public struct ResourceFilter: Sendable {
    public var parameter: QueryParameter
    public var condition: @Sendable (String) -> SQLQueryString

    public init(_ parameter: QueryParameter, condition: @escaping @Sendable (String) -> SQLQueryString) {
        self.parameter = parameter
        self.condition = condition
    }

    /// `column = value`.
    public static func equals(_ name: String, column: String, schema: Schema, description: String) -> ResourceFilter {
        ResourceFilter(QueryParameter(name, schema, description)) { value in "\(ident: column) = \(bind: value)" }
    }

    /// `column = id` for a column referencing another record by UUID (ids are stored lowercase).
    public static func reference(_ name: String, column: String, description: String) -> ResourceFilter {
        ResourceFilter(QueryParameter(name, .uuid, description)) { value in "\(ident: column) = \(bind: value.lowercased())" }
    }

    /// `column = true|false` for a boolean column.
    public static func boolean(_ name: String, column: String, description: String) -> ResourceFilter {
        ResourceFilter(QueryParameter(name, .boolean, description)) { value in "\(ident: column) = \(bind: value == "true")" }
    }

    /// `column >= from` or `column <= to` over a millisecond timestamp column, from an ISO 8601 value.
    public static func timeRange(_ name: String, column: String, after: Bool, description: String) -> ResourceFilter {
        ResourceFilter(QueryParameter(name, .dateTime, description)) { value in
            let millis = Timestamp.millis(parsing: value) ?? 0
            return after ? "\(ident: column) >= \(bind: millis)" : "\(ident: column) <= \(bind: millis)"
        }
    }

    /// Membership of `value` in a JSON array of strings stored in `column`.
    public static func arrayContains(_ name: String, column: String, description: String) -> ResourceFilter {
        ResourceFilter(QueryParameter(name, .string(minLength: 1, maxLength: 100), description)) { value in
            let needle = "%" + SQLPatterns.escapeLike(JSONValue.string(value).jsonString) + "%"
            return "\(ident: column) LIKE \(bind: needle) ESCAPE '\\'"
        }
    }
}

/// A write about to happen, for `Resource.prepare`: the connection of its transaction, the
/// organization, and the record as it is now (nil on create).
public struct ResourceWrite: Sendable {
    public let sql: any SQLDatabase
    public let organizationID: String
    public let before: JSONValue?
}

/// What changed, for hooks that run in the same transaction as the change.
public enum ResourceChange: Sendable {
    case created(JSONValue)
    case updated(before: JSONValue, after: JSONValue)
    case deleted(JSONValue)
}

/// A table-backed resource described by data: the CRUD routes, their validation, tenancy and
/// OpenAPI metadata all come from this description.
public struct Resource: Sendable {
    /// Singular noun for operation ids and messages (`Contact`).
    public var singular: String
    /// Plural noun (`Contacts`).
    public var plural: String
    public var tag: String
    /// Collection path (`/api/contacts`).
    public var path: String
    public var table: String
    public var fields: [ResourceField]
    /// API names that `sortBy` accepts (`createdAt` is the default).
    public var sortable: [String]
    /// API names searched by `search`.
    public var searchable: [String]
    /// The order of a list without `sortBy`/`sortOrder` (newest first unless a resource has a
    /// natural order, like pipeline stages).
    public var defaultSort = (field: "createdAt", descending: true)
    /// Sort names that are not field names (`amount` → `total`).
    public var sortAliases: [String: String] = [:]
    /// Writes may answer 409 beyond unique clashes (a workflow state, dependent records, a
    /// combination that must be unique).
    public var conflictsOnChange = false
    public var filters: [ResourceFilter]
    /// Runs inside the transaction of every create, update and delete.
    public var onChange: (@Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void)?
    /// Runs before a create or update is written, inside its transaction: checks that need the
    /// database (a workflow state, a referenced record) and computes server-owned fields (totals,
    /// references), which it may set even when they are not writable by clients.
    public var prepare: (@Sendable (inout JSONObject, ResourceWrite) async throws -> Void)?
    /// Runs before the list and get routes read (for example to apply a time-based status change).
    public var beforeRead: (@Sendable (String) async throws -> Void)?
    /// The webhook event prefix (`contact` → `contact.created`, `contact.updated`, `contact.deleted`),
    /// written to the outbox in the same transaction as the change.
    public var eventPrefix: String?
    public var example: JSONValue?

    public init(
        singular: String, plural: String, tag: String, path: String, table: String, fields: [ResourceField],
        sortable: [String], searchable: [String], filters: [ResourceFilter] = [], example: JSONValue? = nil,
        eventPrefix: String? = nil,
        prepare: (@Sendable (inout JSONObject, ResourceWrite) async throws -> Void)? = nil,
        beforeRead: (@Sendable (String) async throws -> Void)? = nil,
        onChange: (@Sendable (ResourceChange, any SQLDatabase, String) async throws -> Void)? = nil
    ) {
        self.singular = singular
        self.plural = plural
        self.tag = tag
        self.path = path
        self.table = table
        self.fields = fields
        self.sortable = sortable
        self.searchable = searchable
        self.filters = filters
        self.example = example
        self.eventPrefix = eventPrefix
        self.prepare = prepare
        self.beforeRead = beforeRead
        self.onChange = onChange
    }

    /// "an order", "a product": the singular with its article, for messages.
    public var noun: String {
        let word = singular.lowercased()
        return ("aeiou".contains(word.first ?? "x") ? "an " : "a ") + word
    }

    /// The column for an API name, including the standard ones.
    func column(for name: String) -> String? {
        switch name {
        case "id": "id"
        case "createdAt": "created_at"
        case "updatedAt": "updated_at"
        default: sortAliases[name] ?? fields.first { $0.name == name }?.column
        }
    }

    // MARK: Schemas

    /// The record as returned.
    public var recordSchema: Schema {
        var properties: [Schema.Property] = [.init("id", Schema.uuid.asReadOnly(), required: true)]
        for field in fields {
            properties.append(.init(field.name, field.isNullable ? field.schema.orNull() : field.schema, required: true))
        }
        properties += [
            .init("organizationId", Schema.uuid.asReadOnly(), required: true),
            .init("createdAt", Schema.dateTime.asReadOnly(), required: true),
            .init("updatedAt", Schema.dateTime.asReadOnly(), required: true),
        ]
        var schema = Schema.object(properties).named(singular)
        schema.example = example
        return schema
    }

    /// The create body.
    public var createSchema: Schema {
        Schema.object(
            fields.filter(\.writable).map { field in
                let schema = field.inputSchema ?? field.schema
                return .init(field.name, field.isNullable ? schema.orNull() : schema, required: field.requiredOnCreate)
            }
        ).named("Create\(singular)Request")
    }

    /// The PATCH body: any writable field; optional fields without a default may be cleared with null.
    public var updateSchema: Schema {
        Schema.object(
            fields.filter(\.writable).map { field in
                let schema = field.inputSchema ?? field.schema
                return .init(field.name, field.isNullable ? schema.orNull() : schema)
            }
        ).named("Update\(singular)Request")
    }

    /// `{data, meta}`.
    public var listSchema: Schema {
        Schema.object([.init("data", .array(recordSchema), required: true), .init("meta", PageMeta.schema, required: true)])
            .named("\(singular)List")
    }
}

/// LIKE-pattern escaping with `\` as the escape character.
public enum SQLPatterns {
    public static func escapeLike(_ value: String) -> String {
        var result = ""
        for character in value {
            if character == "\\" || character == "%" || character == "_" { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
