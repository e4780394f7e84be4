import Foundation
import SQLKit
import Synchronization

/// SQLite only: each resource table keeps every record's API JSON in a `record_json` column, and
/// `record_counts` keeps each organization's number of records, both maintained by triggers, so
/// that a list page reads stored text and one counter instead of rebuilding the JSON of every row
/// and counting the organization's index entries. SQLiteNIO prepares every statement afresh, and
/// parsing the JSON expression plus the count were most of a page's cost.
///
/// Triggers cover every write path, including modules' own SQL. `install` runs at start-up: it
/// (re)creates a table's triggers and recomputes its documents and counts whenever the resource's
/// fields changed or the triggers are missing (a migration rebuilt the table), in one
/// transaction. Until a table is installed, its store builds the JSON in the query instead.
/// PostgreSQL keeps the plain path: this answers SQLite's costs (not measured there), and a
/// counter row would make concurrent writers of one organization wait for each other (SQLite
/// serialises writers anyway).
public final class RecordDocuments: Sendable {
    /// Whether a table's documents and counts are current; shared with its stores.
    public final class TableState: Sendable {
        public let resource: Resource
        /// `ResourceStore.recordJSON(resource)`: what `record_json` holds.
        let recordJSON: String
        private let installed = Atomic(false)
        init(resource: Resource, recordJSON: String) {
            self.resource = resource
            self.recordJSON = recordJSON
        }
        public var isInstalled: Bool { installed.load(ordering: .acquiring) }
        func markInstalled() { installed.store(true, ordering: .releasing) }
    }

    private let tables = Mutex<[String: TableState]>([:])

    public init() {}

    /// The table's state, registering the resource the first time it is seen. A second resource
    /// over the same table with other fields gets a state that is never installed, so its store
    /// keeps building its own JSON in the query.
    public func state(for resource: Resource) -> TableState {
        let recordJSON = ResourceStore.recordJSON(resource)
        return tables.withLock { tables in
            if let state = tables[resource.table] {
                return state.recordJSON == recordJSON ? state : TableState(resource: resource, recordJSON: recordJSON)
            }
            let state = TableState(resource: resource, recordJSON: recordJSON)
            tables[resource.table] = state
            return state
        }
    }

    /// Brings every registered table up to date (see the type's comment). With `write` false
    /// (migrations off), only tables already current are used; the others keep building the
    /// JSON in the query.
    public func install(on database: any Database, write: Bool = true) async throws {
        let states = tables.withLock { Array($0.values) }.sorted { $0.resource.table < $1.resource.table }
        for state in states {
            let statements = Self.triggers(for: state)
            let fingerprint = SecretTokens.sha256Hex(statements.joined(separator: ";\n"))
            // A failed check (migrations not applied yet, with migrations off) counts as not current.
            let current =
                (try? await database.read { sql in try await Self.isCurrent(sql, state.resource.table, statements, fingerprint) }) ?? false
            if !current {
                guard write else { continue }
                try await database.transaction { sql in
                    // Checked again under the write lock: another process may have installed it.
                    if try await Self.isCurrent(sql, state.resource.table, statements, fingerprint) { return }
                    try await Self.install(sql, state, statements, fingerprint)
                }
            }
            state.markInstalled()
        }
    }

    private static func isCurrent(_ sql: any SQLDatabase, _ table: String, _ statements: [String], _ fingerprint: String) async throws
        -> Bool
    {
        let recorded = try await sql.raw("SELECT fingerprint FROM record_documents WHERE table_name = \(bind: table)")
            .first()?.decode(column: "fingerprint", as: String.self)
        let triggerCount = try await sql.raw(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND tbl_name = \(bind: table) AND name IN (\(binds: triggerNames(table)))"
        ).first()?.decode(column: "n", as: Int.self)
        return recorded == fingerprint && triggerCount == statements.count
    }

    private static func install(_ sql: any SQLDatabase, _ state: TableState, _ statements: [String], _ fingerprint: String) async throws {
        let table = state.resource.table
        let columns = try await sql.raw("SELECT name FROM pragma_table_info(\(bind: table))").all()
            .map { try $0.decode(column: "name", as: String.self) }
        if !columns.contains("record_json") {
            try await sql.exec("ALTER TABLE \(ResourceStore.quoted(table)) ADD COLUMN record_json TEXT")
        }
        for name in triggerNames(table) { try await sql.exec("DROP TRIGGER IF EXISTS \(ResourceStore.quoted(name))") }
        for statement in statements { try await sql.exec(statement) }
        try await sql.exec("UPDATE \(ResourceStore.quoted(table)) SET record_json = \(state.recordJSON)")
        try await sql.raw("DELETE FROM record_counts WHERE table_name = \(bind: table)").run()
        try await sql.raw(
            """
            INSERT INTO record_counts (table_name, organization_id, total)
            SELECT \(bind: table), organization_id, COUNT(*) FROM \(unsafeRaw: ResourceStore.quoted(table)) GROUP BY organization_id
            """
        ).run()
        try await sql.raw(
            """
            INSERT INTO record_documents (table_name, fingerprint) VALUES (\(bind: table), \(bind: fingerprint))
            ON CONFLICT (table_name) DO UPDATE SET fingerprint = excluded.fingerprint
            """
        ).run()
    }

    private static func triggerNames(_ table: String) -> [String] {
        ["insert", "update", "count_insert", "count_delete", "count_move"].map { table + "_record_" + $0 }
    }

    /// The trigger definitions; their text is the fingerprint, so any change to the resource's
    /// fields reinstalls them.
    static func triggers(for state: TableState) -> [String] {
        let resource = state.resource
        let table = ResourceStore.quoted(resource.table)
        let names = triggerNames(resource.table).map(ResourceStore.quoted)
        let literal = ResourceStore.literal(resource.table)
        let document = "UPDATE \(table) SET record_json = \(state.recordJSON) WHERE id = NEW.id;"
        let columns = (["id", "organization_id"] + resource.fields.map(\.column) + ["created_at", "updated_at"])
            .map(ResourceStore.quoted).joined(separator: ", ")
        func add(_ organization: String) -> String {
            """
            INSERT INTO record_counts (table_name, organization_id, total) VALUES (\(literal), \(organization), 1)
            ON CONFLICT (table_name, organization_id) DO UPDATE SET total = total + 1;
            """
        }
        func remove(_ organization: String) -> String {
            "UPDATE record_counts SET total = total - 1 WHERE table_name = \(literal) AND organization_id = \(organization);"
        }
        return [
            "CREATE TRIGGER \(names[0]) AFTER INSERT ON \(table) BEGIN \(document) END",
            "CREATE TRIGGER \(names[1]) AFTER UPDATE OF \(columns) ON \(table) BEGIN \(document) END",
            "CREATE TRIGGER \(names[2]) AFTER INSERT ON \(table) BEGIN \(add("NEW.organization_id")) END",
            "CREATE TRIGGER \(names[3]) AFTER DELETE ON \(table) BEGIN \(remove("OLD.organization_id")) END",
            """
            CREATE TRIGGER \(names[4]) AFTER UPDATE OF organization_id ON \(table) WHEN OLD.organization_id IS NOT NEW.organization_id
            BEGIN \(remove("OLD.organization_id")) \(add("NEW.organization_id")) END
            """,
        ]
    }
}
