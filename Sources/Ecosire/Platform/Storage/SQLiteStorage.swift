import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// Embedded SQLite in WAL mode: one writer connection whose transactions are serialised, and a few
/// reader connections used round-robin so that reads never wait behind a write.
public final class SQLiteStorage: Database {
    public let dialect = SQLDialectKind.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let nextReader = ManagedCounter()
    private let logger: Logger
    private let bindEncoder = SQLiteDataEncoder()
    /// Stored record JSON and counts of the resource tables (see `RecordDocuments`).
    public let documents = RecordDocuments()

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readerCount: Int = 4, logger: Logger) async throws -> SQLiteStorage {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try restrictToOwner(path)
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: quiet)
        // The busy timeout comes first: switching to WAL takes a lock, and another process (a
        // running server, while `ecosire create-admin` opens the file) may hold it for a moment.
        for pragma in [
            "PRAGMA busy_timeout=5000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
        ] {
            try await writer.sql().exec(pragma)
        }
        var readers: [SQLiteConnection] = []
        for _ in 0..<max(1, readerCount) {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: quiet)
            try await reader.sql().exec("PRAGMA busy_timeout=5000")
            try await reader.sql().exec("PRAGMA query_only=ON")
            readers.append(reader)
        }
        return SQLiteStorage(writer: writer, readers: readers, logger: logger)
    }

    /// The database holds password hashes and customer data: it is created readable by its owner
    /// only (0600, like the key files), and an older file is tightened. SQLite gives the `-wal` and
    /// `-shm` files the main file's mode; existing ones are tightened too.
    static func restrictToOwner(_ path: String) throws {
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("Cannot create the database file \(path)")
            }
        }
        for file in [path, path + "-wal", path + "-shm"] where files.fileExists(atPath: file) {
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    public func read<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        // Inside an ambient transaction, reads see its uncommitted writes.
        if let ambient = AmbientTransaction.joined(by: self) { return try await work(ambient.sql) }
        let index = nextReader.next() % readers.count
        return try await work(readers[index].sql(queryLogLevel: nil))
    }

    public func readRows(_ query: SQLQueryString) async throws -> [any ColumnValues] {
        if let ambient = AmbientTransaction.joined(by: self) { return try await ambient.sql.raw(query).all().map { DecodedColumns($0) } }
        let connection = readers[nextReader.next() % readers.count]
        var serializer = SQLSerializer(database: connection.sql(queryLogLevel: nil))
        query.serialize(to: &serializer)
        let binds = try serializer.binds.map { try bindEncoder.encode($0) }
        // The connection's own async `query` hands rows over on the database thread; the generic
        // SQLKit path schedules one event-loop task per row instead.
        let collected = CollectedRows()
        try await connection.query(serializer.sql, binds) { row in collected.rows.withLock { $0.append(row) } }
        return collected.rows.withLock { $0 }
    }

    public func transaction<T: Sendable>(_ work: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if let ambient = AmbientTransaction.joined(by: self) { return try await ambient.savepoint(work) }
        let database = writer.sql(queryLogLevel: nil)
        DatabaseMetrics.inFlight.increment()
        defer { DatabaseMetrics.inFlight.decrement() }
        let requested = ContinuousClock.now
        return try await writeLock.withLock {
            DatabaseMetrics.wait.recordInterval(since: requested)
            try await database.exec("BEGIN IMMEDIATE")
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
        for reader in readers { try await reader.close() }
        try await writer.close()
    }
}

/// Rows handed over by the database thread.
private final class CollectedRows: Sendable {
    let rows = Mutex<[SQLiteRow]>([])
}

extension SQLiteRow: ColumnValues {
    private func value(_ column: String) throws -> SQLiteData {
        guard let value = self.column(column) else { throw ColumnValueError(column: column) }
        return value
    }
    public func isNull(_ column: String) throws -> Bool { try value(column) == .null }
    public func text(_ column: String) throws -> String {
        switch try value(column) {
        case .text(let text): return text
        case .integer(let integer): return String(integer)
        case .float(let double): return String(double)
        default: throw ColumnValueError(column: column)
        }
    }
    public func integer(_ column: String) throws -> Int64 {
        switch try value(column) {
        case .integer(let integer): return Int64(integer)
        case .float(let double): return Int64(double)
        default: throw ColumnValueError(column: column)
        }
    }
    public func boolean(_ column: String) throws -> Bool { try integer(column) != 0 }
}

/// A lock-protected counter for round-robin choices.
final class ManagedCounter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { current in
            current &+= 1
            return current & Int.max
        }
    }
}
