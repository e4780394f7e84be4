import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through a `PostgresClient` pool. Each transaction holds one pooled connection for its
/// whole `BEGIN … COMMIT`.
public final class PostgresStorage: Database {
    public let dialect = SQLDialectKind.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>

    private init(client: PostgresClient) {
        self.client = client
        self.runner = Task { await client.run() }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`). `schema`, when given,
    /// becomes the connections' `search_path` (tests use one schema each).
    public static func open(url: String, schema: String? = nil, maxConnections: Int = 16, logger: Logger) throws
        -> PostgresStorage
    {
        guard let components = URLComponents(string: url), let host = components.host,
            ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw ConfigurationError("DATABASE_URL is not a postgres:// URL")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        var configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: components.user?.removingPercentEncoding ?? "postgres",
            password: components.password?.removingPercentEncoding,
            database: database.isEmpty ? nil : database,
            tls: sslMode == "disable" ? .disable : .prefer(.makeClientConfiguration())
        )
        configuration.options.maximumConnections = maxConnections
        if let schema {
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        return PostgresStorage(client: PostgresClient(configuration: configuration, backgroundLogger: quiet))
    }

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        // Inside an ambient transaction, reads see its uncommitted writes.
        if let ambient = AmbientTransaction.joined(by: self) { return try await work(ambient.sql) }
        return try await client.withConnection { connection in
            try await work(connection.sql(queryLogLevel: nil))
        }
    }

    public func run(_ query: SQLQueryString) async throws -> [any ColumnValues] {
        if let ambient = AmbientTransaction.joined(by: self) {
            return try await ambient.savepoint { sql in try await sql.raw(query).all().map { DecodedColumns($0) } }
        }
        return try await client.withConnection { connection in
            try await connection.sql(queryLogLevel: nil).raw(query).all().map { DecodedColumns($0) }
        }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let ambient = AmbientTransaction.joined(by: self) { return try await ambient.savepoint(work) }
        return try await client.withConnection { connection in
            let database = connection.sql(queryLogLevel: nil)
            try await database.exec("BEGIN")
            do {
                let value = try await work(database)
                try await database.exec("COMMIT")
                return value
            } catch {
                try? await database.exec("ROLLBACK")
                throw error
            }
        }
    }

    public func shutdown() async throws {
        runner.cancel()
        await runner.value
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
