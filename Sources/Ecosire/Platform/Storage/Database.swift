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
    func read<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs one read query and returns its rows with cheap by-name column access. Lists use this:
    /// it skips SQLKit's Decodable row decoding, which dominated their cost.
    func readRows(_ query: SQLQueryString) async throws -> [any ColumnValues]

    /// Runs one statement on its own (autocommit), for single-statement writes such as counters.
    func run(_ query: SQLQueryString) async throws -> [any ColumnValues]

    /// Runs `work` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Releases connections.
    func shutdown() async throws
}

/// Column values of one result row, read by name without Decodable.
public protocol ColumnValues: Sendable {
    func isNull(_ column: String) throws -> Bool
    func text(_ column: String) throws -> String
    func integer(_ column: String) throws -> Int64
    func boolean(_ column: String) throws -> Bool
}

/// A column the query did not return, or a value of another type than the caller asked for.
public struct ColumnValueError: Error, CustomStringConvertible {
    public let column: String
    public var description: String { "Column \(column) is missing or has an unexpected type" }
}

/// `ColumnValues` over any SQLKit row (PostgreSQL, and rows read on a transaction's connection).
public struct DecodedColumns: ColumnValues {
    let row: any SQLRow
    public init(_ row: any SQLRow) { self.row = row }
    public func isNull(_ column: String) throws -> Bool { try row.decodeNil(column: column) }
    public func text(_ column: String) throws -> String { try row.decode(column: column, as: String.self) }
    public func integer(_ column: String) throws -> Int64 { try row.decode(column: column, as: Int64.self) }
    public func boolean(_ column: String) throws -> Bool { try row.decode(column: column, as: Bool.self) }
}

extension Database {
    public func run(_ query: SQLQueryString) async throws -> [any ColumnValues] {
        try await transaction { sql in try await sql.raw(query).all().map { DecodedColumns($0) } }
    }

    public func readRows(_ query: SQLQueryString) async throws -> [any ColumnValues] {
        try await read { sql in try await sql.raw(query).all().map { DecodedColumns($0) } }
    }
}

extension SQLDatabase {
    /// Runs raw SQL that has no bindings (DDL, pragmas).
    public func exec(_ sql: String) async throws {
        try await self.raw(SQLQueryString(sql)).run()
    }
}

extension ColumnValues {
    /// A text column as JSON: its string, or null.
    public func jsonText(_ column: String) throws -> JSONValue {
        try isNull(column) ? .null : .string(text(column))
    }

    /// An integer column as JSON: its number, or null.
    public func jsonInteger(_ column: String) throws -> JSONValue {
        try isNull(column) ? .null : .int(integer(column))
    }

    /// A timestamp column (Unix milliseconds) as JSON: its ISO 8601 string, or null.
    public func jsonTimestamp(_ column: String) throws -> JSONValue {
        try isNull(column) ? .null : .string(Timestamp.iso(millis: integer(column)))
    }
}
