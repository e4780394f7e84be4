import Logging
import SQLKit

/// The SQL dialects we write per-dialect SQL for.
public enum SQLDialectKind: String, Sendable {
    case sqlite
    case postgres
}

/// The storage every module uses: reads on any connection, writes in one transaction.
///
/// SQLite and PostgreSQL both sit behind this so that modules write dialect-neutral SQLKit queries;
/// the few statements that differ are chosen with `dialect`.
public protocol Database: Sendable {
    /// Which dialect the connections speak.
    var dialect: SQLDialectKind { get }

    /// Runs read-only work on a connection.
    func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `work` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Releases connections.
    func shutdown() async throws
}

extension SQLDatabase {
    /// Runs raw SQL that has no bindings (DDL, pragmas).
    public func exec(_ sql: String) async throws {
        try await self.raw(SQLQueryString(sql)).run()
    }
}
