import Foundation
import Logging
import Metrics
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
        // Exported at 0 from the start, so an alert on its rate sees the first outage.
        DatabaseMetrics.unavailable.increment(by: 0)
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

    public func read<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
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

    public func transaction<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
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
    ///
    /// The work runs in a task of its own that a watchdog can leave behind: a statement sent on a
    /// connection the server is closing is sometimes never answered by the driver, and that must
    /// cost the request a 503, not hold it (and the server's shutdown) forever.
    private func withConnection<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do { try circuit.admit() } catch {
            DatabaseMetrics.unavailable.increment()
            throw error
        }
        DatabaseMetrics.inFlight.increment()
        defer { DatabaseMetrics.inFlight.decrement() }
        let lease = LeaseWatch()
        let requested = ContinuousClock.now
        let outcome = OneShot<T>()
        let client = self.client
        let operation = Task {
            do {
                outcome.resume(
                    .success(
                        try await client.withConnection { connection in
                            lease.leased(connection)
                            DatabaseMetrics.wait.recordInterval(since: requested)
                            return try await work(connection)
                        }))
            } catch {
                outcome.resume(.failure(error))
            }
        }
        let watchdog = Task { [acquireTimeout] in
            let started = ContinuousClock.now
            var closedSince: ContinuousClock.Instant?
            while !outcome.isDone && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                guard let connection = lease.connection else {
                    if ContinuousClock.now - started > acquireTimeout {
                        // The answer first: cancelling first let the pool's "request cancelled"
                        // error win the race and reach the client as a 500.
                        outcome.resume(.failure(DatabaseUnavailable("no database connection within \(acquireTimeout)")))
                        operation.cancel()
                    }
                    continue
                }
                guard connection.isClosed else { continue }
                let since = closedSince ?? .now
                closedSince = since
                if ContinuousClock.now - since > .milliseconds(500) {
                    outcome.resume(.failure(DatabaseUnavailable("the database connection closed under the request")))
                }
            }
        }
        defer { watchdog.cancel() }
        do {
            let value = try await withTaskCancellationHandler {
                try await outcome.value()
            } onCancel: {
                operation.cancel()
            }
            circuit.succeeded()
            return value
        } catch let error as DatabaseUnavailable {
            circuit.failed()
            DatabaseMetrics.unavailable.increment()
            throw error
        } catch let error as PSQLError where Self.meansUnavailable(error) {
            circuit.failed()
            DatabaseMetrics.unavailable.increment()
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

/// The connection once the pool has handed it over.
private final class LeaseWatch: Sendable {
    private let value = Mutex<PostgresConnection?>(nil)
    func leased(_ connection: PostgresConnection) { value.withLock { $0 = connection } }
    var connection: PostgresConnection? { value.withLock { $0 } }
}

/// A result delivered once, by the work or by its watchdog, whichever comes first.
private final class OneShot<T: Sendable>: Sendable {
    private enum State {
        case pending(CheckedContinuation<T, any Error>?)
        case done(Result<T, any Error>)
    }
    private let state = Mutex<State>(.pending(nil))

    var isDone: Bool {
        state.withLock { if case .done = $0 { return true } else { return false } }
    }

    func resume(_ result: Result<T, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard case .pending(let continuation) = state else { return nil }
            state = .done(result)
            return continuation
        }
        waiting?.resume(with: result)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<T, any Error>? in
                switch state {
                case .done(let result): return result
                case .pending:
                    state = .pending(continuation)
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
