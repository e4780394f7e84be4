import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// PostgreSQL through a `PostgresClient` pool. Each transaction holds one pooled connection for its
/// whole `BEGIN … COMMIT`.
///
/// The pool would hold a request until the database comes back; instead a connection that is not
/// handed over within `acquireTimeout`, or one that breaks, is a `DatabaseUnavailable` (503), and
/// for a second after that requests fail at once.
public final class PostgresStorage: Database {
    public let dialect = SQLDialectKind.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let acquireTimeout: Duration
    private let circuit = DatabaseCircuit()

    private init(client: PostgresClient, acquireTimeout: Duration) {
        self.client = client
        self.acquireTimeout = acquireTimeout
        self.runner = Task { await client.run() }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`). `schema`, when given,
    /// becomes the connections' `search_path` (tests use one schema each).
    public static func open(
        url: String, schema: String? = nil, maxConnections: Int = 16, acquireTimeout: Duration = .seconds(2), logger: Logger
    ) throws -> PostgresStorage {
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
        configuration.options.connectTimeout = acquireTimeout
        if let schema {
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        return PostgresStorage(
            client: PostgresClient(configuration: configuration, backgroundLogger: quiet), acquireTimeout: acquireTimeout)
    }

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        // Inside an ambient transaction, reads see its uncommitted writes.
        if let ambient = AmbientTransaction.joined(by: self) { return try await work(ambient.sql) }
        return try await withConnection { connection in
            try await work(connection.sql(queryLogLevel: nil))
        }
    }

    public func run(_ query: SQLQueryString) async throws -> [any ColumnValues] {
        if let ambient = AmbientTransaction.joined(by: self) {
            return try await ambient.savepoint { sql in try await sql.raw(query).all().map { DecodedColumns($0) } }
        }
        return try await withConnection { connection in
            try await connection.sql(queryLogLevel: nil).raw(query).all().map { DecodedColumns($0) }
        }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let ambient = AmbientTransaction.joined(by: self) { return try await ambient.savepoint(work) }
        return try await withConnection { connection in
            let database = connection.sql(queryLogLevel: nil)
            try await database.exec("BEGIN")
            do {
                let value = try await work(database)
                try await database.exec("COMMIT")
                return value
            } catch {
                // On a connection the server closed, a ROLLBACK is never answered; the server
                // rolled the transaction back when it closed the connection.
                if !connection.isClosed { try? await database.exec("ROLLBACK") }
                throw error
            }
        }
    }

    /// A pooled connection for `work`, handed over within `acquireTimeout` or not at all.
    private func withConnection<T: Sendable>(_ work: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try circuit.admit()
        do {
            let value = try await withoutActuallyEscaping(work) { work in
                try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
                    let leased = LeaseFlag()
                    group.addTask {
                        .finished(
                            try await self.client.withConnection { connection in
                                leased.set()
                                return try await work(connection)
                            })
                    }
                    group.addTask {
                        try await Task.sleep(for: self.acquireTimeout)
                        return leased.isSet ? .inTime : .timedOut
                    }
                    while let outcome = try await group.next() {
                        switch outcome {
                        case .finished(let value):
                            group.cancelAll()
                            return value
                        case .inTime: continue
                        case .timedOut:
                            group.cancelAll()
                            throw DatabaseUnavailable("no database connection within \(self.acquireTimeout)")
                        }
                    }
                    throw CancellationError()
                }
            }
            circuit.succeeded()
            return value
        } catch let error as DatabaseUnavailable {
            circuit.failed()
            throw error
        } catch let error as PSQLError where Self.meansUnavailable(error) {
            circuit.failed()
            throw DatabaseUnavailable(String(reflecting: error.code))
        }
    }

    /// Connection failures and the server's own shutdown or overload, as opposed to an error of
    /// the statement (a constraint, a syntax error), which stays what it is.
    static func meansUnavailable(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed: return true
        case .server:
            // 08: connection exception; 57P: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        default: return false
        }
    }

    public func shutdown() async throws {
        runner.cancel()
        await runner.value
    }
}

/// What the race between a lease and its deadline ended with.
private enum LeaseOutcome<T: Sendable>: Sendable {
    case finished(T)
    case inTime
    case timedOut
}

/// Set once the pool hands the connection over.
private final class LeaseFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
