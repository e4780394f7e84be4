import SQLKit
import Synchronization

/// A transaction that everything one task does on a database joins. While it is open, the
/// storage runs the task's reads and writes on its connection and turns nested `transaction`
/// calls into savepoints, so a handler written with ordinary transactions commits as one unit
/// together with whatever its caller adds (the answer stored for an `Idempotency-Key`).
public final class AmbientTransaction: Sendable {
    /// The transaction the current task runs in, if any.
    @TaskLocal public static var current: AmbientTransaction?

    /// The connection inside the transaction.
    public let sql: any SQLDatabase
    private let storage: ObjectIdentifier
    private let state = Mutex(State())

    private struct State {
        var open = true
        var savepoints = 0
        var afterCommit: [@Sendable () -> Void] = []
    }

    private init(sql: any SQLDatabase, storage: ObjectIdentifier) {
        self.sql = sql
        self.storage = storage
    }

    /// Runs `work` in one new transaction of `database` that every storage call of the task joins;
    /// commits when it returns, rolls back when it throws.
    public static func run<T: Sendable>(on database: any Database, _ work: @Sendable @escaping (AmbientTransaction) async throws -> T)
        async throws -> T
    {
        let identity = ObjectIdentifier(database as AnyObject)
        let box = Mutex<AmbientTransaction?>(nil)
        let value = try await database.transaction { sql in
            let ambient = AmbientTransaction(sql: sql, storage: identity)
            box.withLock { $0 = ambient }
            defer { ambient.close() }
            return try await $current.withValue(ambient) { try await work(ambient) }
        }
        box.withLock { $0 }?.committed()
        return value
    }

    /// The open ambient transaction of `storage` in this task, if there is one.
    static func joined(by storage: AnyObject) -> AmbientTransaction? {
        guard let ambient = current, ambient.storage == ObjectIdentifier(storage), ambient.isOpen else { return nil }
        return ambient
    }

    var isOpen: Bool { state.withLock { $0.open } }

    /// Runs `work` in a savepoint: its writes are undone when it throws, the transaction goes on.
    public func savepoint<T: Sendable>(_ work: (any SQLDatabase) async throws -> T) async throws -> T {
        let name = state.withLock { state in
            state.savepoints += 1
            return "ecosire_sp\(state.savepoints)"
        }
        try await sql.exec("SAVEPOINT \(name)")
        do {
            let value = try await work(sql)
            try await sql.exec("RELEASE SAVEPOINT \(name)")
            return value
        } catch {
            try? await sql.exec("ROLLBACK TO SAVEPOINT \(name)")
            try? await sql.exec("RELEASE SAVEPOINT \(name)")
            throw error
        }
    }

    /// Runs `action` once the transaction has committed (at once when the task is in none):
    /// wake-ups of workers that would otherwise look before the rows they are woken for exist.
    public static func afterCommit(_ action: @escaping @Sendable () -> Void) {
        guard let ambient = current, ambient.isOpen else { return action() }
        ambient.state.withLock { $0.afterCommit.append(action) }
    }

    private func close() { state.withLock { $0.open = false } }

    private func committed() {
        let actions = state.withLock { state in
            defer { state.afterCommit = [] }
            return state.afterCommit
        }
        for action in actions { action() }
    }
}
