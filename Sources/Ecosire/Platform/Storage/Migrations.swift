import Logging
import SQLKit

/// One schema change. `sqlite` and `postgres` hold the statements for each dialect; most migrations
/// use `.same(...)` because the DDL we write is portable.
public struct Migration: Sendable {
    /// Unique, stable id: `<module>/<number>-<name>`.
    public var id: String
    public var sqlite: [String]
    public var postgres: [String]

    public init(_ id: String, sqlite: [String], postgres: [String]) {
        self.id = id
        self.sqlite = sqlite
        self.postgres = postgres
    }

    /// A migration whose statements are the same in both dialects.
    public static func same(_ id: String, _ statements: [String]) -> Migration {
        Migration(id, sqlite: statements, postgres: statements)
    }

    func statements(for dialect: SQLDialectKind) -> [String] {
        dialect == .sqlite ? sqlite : postgres
    }
}

/// Applies every module's migrations in order, each in its own transaction, and records them.
public struct MigrationRunner: Sendable {
    public let migrations: [Migration]
    public init(migrations: [Migration]) { self.migrations = migrations }

    private static let createTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)
        """

    /// Applies what is pending; returns the ids applied.
    @discardableResult
    public func migrate(_ database: any Database, logger: Logger) async throws -> [String] {
        if database.dialect == .postgres {
            // Serialise concurrent starts of several instances on one database.
            return try await database.transaction { sql in
                try await sql.exec("SELECT pg_advisory_xact_lock(727274)")
                try await sql.exec(Self.createTable)
                return try await applyPending(sql, dialect: .postgres, logger: logger)
            }
        }
        try await database.transaction { try await $0.exec(Self.createTable) }
        return try await database.transaction { sql in
            try await applyPending(sql, dialect: .sqlite, logger: logger)
        }
    }

    private func applyPending(_ sql: any SQLDatabase, dialect: SQLDialectKind, logger: Logger) async throws -> [String] {
        let applied = Set(try await sql.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) })
        var done: [String] = []
        for migration in migrations where !applied.contains(migration.id) {
            for statement in migration.statements(for: dialect) { try await sql.exec(statement) }
            try await sql.raw(
                "INSERT INTO schema_migrations (id, applied_at) VALUES (\(bind: migration.id), \(bind: WallClock.system.nowMillis()))"
            ).run()
            logger.info("Applied migration", metadata: ["migration": .string(migration.id)])
            done.append(migration.id)
        }
        return done
    }

    /// The ids not yet applied (readiness reports these).
    public func pending(_ database: any Database) async throws -> [String] {
        let applied: Set<String>
        do {
            applied = Set(
                try await database.read { sql in
                    try await sql.raw("SELECT id FROM schema_migrations").all().map { try $0.decode(column: "id", as: String.self) }
                })
        } catch {
            return migrations.map(\.id)
        }
        return migrations.map(\.id).filter { !applied.contains($0) }
    }
}
