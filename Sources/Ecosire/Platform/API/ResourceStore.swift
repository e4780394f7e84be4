import Foundation
import NIOCore
import PostgresNIO
import SQLKit
import SQLiteNIO

/// Generic, organization-scoped SQL for a `Resource`.
public struct ResourceStore: Sendable {
    public let resource: Resource
    public let database: any Database
    public let clock: WallClock

    /// What a query selects to read a record: on SQLite one `record` column holding the record's JSON
    /// (built in the query until the table's stored documents are installed), otherwise the raw
    /// columns that `writeRecord` renders.
    private let selectColumns: String
    private static let storedColumns = "record_json AS record"
    /// SQLite: whether the table's stored JSON and counts are current (see `RecordDocuments`).
    private let documents: RecordDocuments.TableState?
    /// The table's name quoted once: SQLKit's identifier escaping showed in list profiles.
    private let quotedTable: String

    public init(resource: Resource, database: any Database, clock: WallClock) {
        self.resource = resource
        self.database = database
        self.clock = clock
        quotedTable = Self.quoted(resource.table)
        documents = (database as? SQLiteStorage)?.documents.state(for: resource)
        switch database.dialect {
        case .sqlite: selectColumns = (documents?.recordJSON ?? Self.recordJSON(resource)) + " AS record"
        case .postgres:
            selectColumns = (["id", "organization_id"] + resource.fields.map(\.column) + ["created_at", "updated_at"])
                .map(Self.quoted).joined(separator: ", ")
        }
    }

    private var recordColumns: String {
        documents?.isInstalled == true ? Self.storedColumns : selectColumns
    }

    /// A quoted SQL string literal.
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    /// A quoted SQL identifier (the same quoting on both backends).
    static func quoted(_ identifier: String) -> String {
        "\"" + (identifier.utf8.contains(UInt8(ascii: "\"")) ? identifier.replacingOccurrences(of: "\"", with: "\"\"") : identifier) + "\""
    }

    /// The SQLite expression of a record's JSON: what `record_json` stores, so that records leave
    /// the database finished (decoding eleven columns per row in Swift was most of a page's cost).
    /// The pieces are concatenated rather than built with `json_object`, which would parse every
    /// JSON column again; those hold JSON this server serialised. The keys and value rules are
    /// `writeRecord`'s (the whole test suite runs on both backends).
    static func recordJSON(_ resource: Resource) -> String {
        let column = quoted
        func key(_ name: String, first: Bool = false) -> String { literal((first ? "{" : ",") + JSONValue.string(name).jsonString + ":") }
        var parts = [key("id", first: true), "json_quote(\"id\")"]
        for field in resource.fields {
            let value =
                switch field.storage {
                case .text, .integer: "json_quote(\(column(field.column)))"
                case .boolean:
                    "CASE WHEN \(column(field.column)) IS NULL THEN 'null' WHEN \(column(field.column)) THEN 'true' ELSE 'false' END"
                case .json: "coalesce(\(column(field.column)), 'null')"
                case .timestamp: "json_quote(strftime('%Y-%m-%dT%H:%M:%fZ', \(column(field.column)) / 1000.0, 'unixepoch'))"
                }
            parts += [key(field.name), value]
        }
        parts += [key("organizationId"), "json_quote(\"organization_id\")"]
        for (name, column) in [("createdAt", "created_at"), ("updatedAt", "updated_at")] {
            parts += [key(name), "json_quote(strftime('%Y-%m-%dT%H:%M:%fZ', \(column) / 1000.0, 'unixepoch'))"]
        }
        parts.append("'}'")
        return "concat(" + parts.joined(separator: ", ") + ")"
    }

    // MARK: Reading

    /// One page as a JSON array written straight from the rows, and the total matching count.
    public func list(organizationID: String, query: ListQuery, filters: [String: String]) async throws -> (page: ByteBuffer, total: Int) {
        var conditions: [SQLQueryString] = ["organization_id = \(bind: organizationID)"]
        for filter in resource.filters {
            if let value = filters[filter.parameter.name] { conditions.append(filter.condition(value)) }
        }
        // The whole organization: its counter, when SQLite keeps one (see `RecordDocuments`).
        let counter = conditions.count == 1 && query.search == nil && documents?.isInstalled == true
        if let search = query.search {
            let pattern = "%" + SQLPatterns.escapeLike(search.lowercased()) + "%"
            let alternatives = resource.searchable.compactMap(resource.column(for:)).map { column -> SQLQueryString in
                "LOWER(\(ident: column)) LIKE \(bind: pattern) ESCAPE '\\'"
            }
            conditions.append("(\(SQLList(alternatives, separator: SQLRaw(" OR "))))")
        }
        let whereClause = SQLList(conditions, separator: SQLRaw(" AND "))
        let sortColumn = resource.column(for: query.sortBy) ?? "created_at"
        let direction = query.descending ? "DESC" : "ASC"
        let table = quotedTable
        let sortKey = Self.quoted(sortColumn)
        let order: SQLQueryString = "\(unsafeRaw: sortKey) \(unsafeRaw: direction), id \(unsafeRaw: direction)"
        let count: SQLQueryString =
            counter
            ? "coalesce((SELECT total FROM record_counts WHERE table_name = \(bind: resource.table) AND organization_id = \(bind: organizationID)), 0) AS total_count"
            : "(SELECT COUNT(*) FROM \(unsafeRaw: table) WHERE \(whereClause)) AS total_count"
        var page = ByteBufferAllocator().buffer(capacity: 64 + query.limit * 512)
        page.writeInteger(UInt8(ascii: "["))
        let total: Int
        switch database.dialect {
        case .sqlite:
            // The whole page leaves SQLite as one value, so rows are not handed over (and their
            // columns decoded) one by one. An aggregate always yields a row, so a page past the
            // end still has its count.
            let rows = try await database.readRows(
                """
                SELECT group_concat(record, ',' ORDER BY \(order)) AS page, \(count)
                FROM (SELECT \(unsafeRaw: recordColumns), \(unsafeRaw: sortKey), id FROM \(unsafeRaw: table) WHERE \(whereClause)
                ORDER BY \(order) \(query.limitClause))
                """
            )
            guard let row = rows.first else { throw ColumnValueError(column: "page") }
            total = Int(try row.integer("total_count"))
            if try !row.isNull("page") { page.writeString(try row.text("page")) }
        case .postgres:
            // The count rides along as an uncorrelated subquery (evaluated once) so a page is one
            // round trip; only a page past the end needs a separate count.
            let rows = try await database.readRows(
                "SELECT \(unsafeRaw: selectColumns), \(count) FROM \(unsafeRaw: table) WHERE \(whereClause) ORDER BY \(order) \(query.limitClause)"
            )
            if let first = rows.first {
                total = Int(try first.integer("total_count"))
            } else {
                total = Int(
                    try await database.readRows("SELECT COUNT(*) AS total FROM \(unsafeRaw: table) WHERE \(whereClause)").first?.integer(
                        "total") ?? 0)
            }
            for (index, row) in rows.enumerated() {
                if index > 0 { page.writeInteger(UInt8(ascii: ",")) }
                try writeRecord(from: row, into: &page)
            }
        }
        page.writeInteger(UInt8(ascii: "]"))
        return (page, total)
    }

    /// The record, or nil when it does not exist in this organization.
    public func get(organizationID: String, id: String) async throws -> JSONValue? {
        try await database.read { sql in try await fetch(sql, organizationID: organizationID, id: id) }
    }

    /// Reads one record on the given connection (inside a transaction, for example).
    public func fetch(_ sql: any SQLDatabase, organizationID: String, id: String) async throws -> JSONValue? {
        try await sql.raw(
            "SELECT \(unsafeRaw: recordColumns) FROM \(unsafeRaw: quotedTable) WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)"
        )
        .first().map { try record(from: DecodedColumns($0)) }
    }

    /// The record as a value (single-record routes and change hooks). It is the parse of what
    /// `writeRecord` writes, so a record reads the same in lists and on its own.
    func record(from row: some ColumnValues) throws -> JSONValue {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        try render(row, into: &buffer)
        return try JSONValue.parse(buffer)
    }

    /// Appends the record's JSON for a row read with `selectColumns`.
    private func render(_ row: some ColumnValues, into buffer: inout ByteBuffer) throws {
        switch database.dialect {
        case .sqlite: buffer.writeString(try row.text("record"))
        case .postgres: try writeRecord(from: row, into: &buffer)
        }
    }

    /// Writes the record's JSON straight from the row (PostgreSQL): no value tree is built. JSON
    /// columns hold JSON we serialised ourselves and are copied as they are.
    func writeRecord(from row: some ColumnValues, into buffer: inout ByteBuffer) throws {
        buffer.writeStaticString("{\"id\":")
        JSONValue.writeString(try row.text("id"), into: &buffer)
        for field in resource.fields {
            buffer.writeInteger(UInt8(ascii: ","))
            JSONValue.writeString(field.name, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            if try row.isNull(field.column) {
                buffer.writeStaticString("null")
                continue
            }
            switch field.storage {
            case .text: JSONValue.writeString(try row.text(field.column), into: &buffer)
            case .integer: buffer.writeString(String(try row.integer(field.column)))
            case .boolean: buffer.writeStaticString(try row.boolean(field.column) ? "true" : "false")
            case .json: buffer.writeString(try row.text(field.column))
            case .timestamp:
                buffer.writeInteger(UInt8(ascii: "\""))
                Timestamp.writeISO(millis: try row.integer(field.column), into: &buffer)
                buffer.writeInteger(UInt8(ascii: "\""))
            }
        }
        buffer.writeStaticString(",\"organizationId\":")
        JSONValue.writeString(try row.text("organization_id"), into: &buffer)
        buffer.writeStaticString(",\"createdAt\":\"")
        Timestamp.writeISO(millis: try row.integer("created_at"), into: &buffer)
        buffer.writeStaticString("\",\"updatedAt\":\"")
        Timestamp.writeISO(millis: try row.integer("updated_at"), into: &buffer)
        buffer.writeStaticString("\"}")
    }

    static func bind(_ value: JSONValue, for field: ResourceField) -> any Encodable & Sendable {
        switch (field.storage, value) {
        // Typed nulls: PostgreSQL refuses a text-typed NULL for a BIGINT or BOOLEAN column.
        case (.integer, .null), (.timestamp, .null): return Int64?.none
        case (.boolean, .null): return Bool?.none
        case (_, .null): return String?.none
        case (.text, .string(let string)): return string
        case (.integer, _): return value.intValue
        case (.boolean, .bool(let bool)): return bool
        case (.json, _): return value.jsonString
        case (.timestamp, _):
            return value.stringValue.flatMap(Timestamp.millis(parsing:))
        default: return value.stringValue
        }
    }

    // MARK: Writing

    private func normalized(_ body: JSONObject) -> JSONObject {
        var result = JSONObject()
        for field in resource.fields where field.writable {
            guard var value = body[field.name] else { continue }
            if let normalize = field.normalize, !value.isNull { value = normalize(value) }
            result[field.name] = value
        }
        return result
    }

    /// Inserts a record from a validated create body (in its own transaction).
    public func create(organizationID: String, body: JSONObject, preset: JSONObject = JSONObject()) async throws -> JSONValue {
        try await database.transaction { sql in try await create(sql, organizationID: organizationID, body: body, preset: preset) }
    }

    /// Inserts on the given connection (the caller owns the transaction). `preset` holds values the
    /// server sets (a parent id from the path, for example), whether or not clients may write them.
    public func create(_ sql: any SQLDatabase, organizationID: String, body: JSONObject, preset: JSONObject = JSONObject())
        async throws -> JSONValue
    {
        var values = normalized(body)
        values.merge(preset)
        try await resource.prepare?(&values, ResourceWrite(sql: sql, organizationID: organizationID, before: nil))
        let id = UUIDv7.generate()
        let now = clock.nowMillis()
        try await checkUnique(sql, organizationID: organizationID, values: values, excluding: nil)
        var columns = ["id", "organization_id"]
        var binds: [any Encodable & Sendable] = [id, organizationID]
        for field in resource.fields {
            columns.append(field.column)
            binds.append(Self.bind(values[field.name] ?? field.defaultValue, for: field))
        }
        columns += ["created_at", "updated_at"]
        binds += [now, now]
        try await translatingConflicts {
            try await sql.raw("INSERT INTO \(ident: resource.table) (\(idents: columns, joinedBy: ", ")) VALUES (\(binds: binds))").run()
        }
        guard let record = try await fetch(sql, organizationID: organizationID, id: id) else { throw APIError.internalError }
        try await resource.onChange?(.created(record), sql, organizationID)
        try await emit("created", record, sql, organizationID: organizationID)
        return record
    }

    /// Applies a validated PATCH body; nil when the record does not exist.
    public func update(organizationID: String, id: String, body: JSONObject) async throws -> JSONValue? {
        try await database.transaction { sql in try await update(sql, organizationID: organizationID, id: id, body: body) }
    }

    /// Applies a PATCH on the given connection.
    public func update(_ sql: any SQLDatabase, organizationID: String, id: String, body: JSONObject) async throws -> JSONValue? {
        guard let before = try await fetch(sql, organizationID: organizationID, id: id) else { return nil }
        var values = normalized(body)
        try await resource.prepare?(&values, ResourceWrite(sql: sql, organizationID: organizationID, before: before))
        guard !values.members.isEmpty else { return before }
        try await checkUnique(sql, organizationID: organizationID, values: values, excluding: id)
        return try await write(sql, organizationID: organizationID, id: id, values: values, before: before)
    }

    /// Sets fields the server owns (workflow stamps such as `resolvedAt`), bypassing client
    /// normalization and `prepare`; hooks and the `updated` event run as for any update. Nil when
    /// the record does not exist.
    public func set(_ sql: any SQLDatabase, organizationID: String, id: String, values: JSONObject) async throws -> JSONValue? {
        guard let before = try await fetch(sql, organizationID: organizationID, id: id) else { return nil }
        guard !values.members.isEmpty else { return before }
        return try await write(sql, organizationID: organizationID, id: id, values: values, before: before)
    }

    private func write(_ sql: any SQLDatabase, organizationID: String, id: String, values: JSONObject, before: JSONValue) async throws
        -> JSONValue?
    {
        var assignments: [SQLQueryString] = []
        for field in resource.fields {
            guard let value = values[field.name] else { continue }
            assignments.append("\(ident: field.column) = \(bind: Self.bind(value, for: field))")
        }
        assignments.append("updated_at = \(bind: clock.nowMillis())")
        try await translatingConflicts {
            try await sql.raw(
                """
                UPDATE \(ident: resource.table) SET \(SQLList(assignments, separator: SQLRaw(", ")))
                WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)
                """
            ).run()
        }
        guard let after = try await fetch(sql, organizationID: organizationID, id: id) else { return nil }
        try await resource.onChange?(.updated(before: before, after: after), sql, organizationID)
        if before != after { try await emit("updated", after, sql, organizationID: organizationID) }
        return after
    }

    /// A workflow action in one transaction: reads the record (404 when it does not exist), refuses
    /// with 409 `INVALID_STATE` unless its status is one of `allowed`, then runs `work` with it on the
    /// same connection.
    public func act<T: Sendable>(
        organizationID: String, id: String, action: String, allowed: [String],
        work: @escaping @Sendable (any SQLDatabase, JSONValue) async throws -> T
    ) async throws -> T {
        try await database.transaction { sql in
            // Concurrent actions on one record run one after the other (SQLite serialises every
            // write transaction already), so each sees the status the previous one left.
            if database.dialect == .postgres {
                _ = try await sql.raw(
                    "SELECT id FROM \(ident: resource.table) WHERE id = \(bind: id) AND organization_id = \(bind: organizationID) FOR UPDATE"
                ).first()
            }
            guard let record = try await fetch(sql, organizationID: organizationID, id: id) else {
                throw APIError.notFound("\(resource.singular) not found")
            }
            try APIError.requireStatus(of: record, in: allowed, action: action, noun: resource.noun)
            return try await work(sql, record)
        }
    }

    /// Deletes; false when the record does not exist.
    public func delete(organizationID: String, id: String) async throws -> Bool {
        try await database.transaction { sql in try await delete(sql, organizationID: organizationID, id: id) }
    }

    /// Deletes on the given connection.
    public func delete(_ sql: any SQLDatabase, organizationID: String, id: String) async throws -> Bool {
        guard let before = try await fetch(sql, organizationID: organizationID, id: id) else { return false }
        try await resource.onChange?(.deleted(before), sql, organizationID)
        try await sql.raw("DELETE FROM \(ident: resource.table) WHERE id = \(bind: id) AND organization_id = \(bind: organizationID)").run()
        try await emit("deleted", before, sql, organizationID: organizationID)
        return true
    }

    /// Writes `<prefix>.<action>` to the outbox when the resource has events.
    private func emit(_ action: String, _ record: JSONValue, _ sql: any SQLDatabase, organizationID: String) async throws {
        guard let prefix = resource.eventPrefix else { return }
        try await EventOutbox(clock: clock).record(sql, organizationID: organizationID, type: prefix + "." + action, object: record)
    }

    private func checkUnique(_ sql: any SQLDatabase, organizationID: String, values: JSONObject, excluding id: String?) async throws {
        for field in resource.fields where field.unique {
            guard let value = values[field.name], !value.isNull else { continue }
            let clash = try await sql.raw(
                """
                SELECT id FROM \(ident: resource.table)
                WHERE organization_id = \(bind: organizationID) AND \(ident: field.column) = \(bind: Self.bind(value, for: field)) AND id <> \(bind: id ?? "")
                """
            ).first()
            if clash != nil {
                throw APIError.conflict(
                    "A \(resource.singular.lowercased()) with this \(field.name) already exists",
                    details: [FieldIssue(field: field.name, message: "Already in use")]
                )
            }
        }
    }

    /// Maps a unique-constraint violation that slipped past the check (a concurrent insert) to 409.
    private func translatingConflicts(_ work: () async throws -> Void) async throws {
        do {
            try await work()
        } catch {
            if DatabaseErrors.isUniqueViolation(error) {
                throw APIError.conflict("A \(resource.singular.lowercased()) with these values already exists")
            }
            throw error
        }
    }
}

/// Recognises constraint errors of either backend.
public enum DatabaseErrors {
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? SQLiteError {
            return error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed
        }
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState] == "23505"
        }
        return false
    }
}
