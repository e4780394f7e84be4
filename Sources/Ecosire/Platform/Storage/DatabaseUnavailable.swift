import Foundation
import Synchronization

/// The database cannot be reached: no connection within the acquire timeout, or the connection
/// broke. Answered as 503 `DATABASE_UNAVAILABLE` with `Retry-After`, never a 500 or a held request.
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Remembers the last time the database could not be reached, so that requests in the second after
/// fail at once instead of each waiting out the acquire timeout; after that second, requests try
/// again, and the first that succeeds closes the circuit.
final class DatabaseCircuit: Sendable {
    private let openedAt = Mutex<ContinuousClock.Instant?>(nil)
    let coolDown: Duration

    init(coolDown: Duration = .seconds(1)) { self.coolDown = coolDown }

    /// Throws while the database failed within the cool-down.
    func admit() throws {
        guard let opened = openedAt.withLock({ $0 }) else { return }
        if ContinuousClock.now - opened < coolDown { throw DatabaseUnavailable("the database was unreachable a moment ago") }
    }

    func failed() { openedAt.withLock { $0 = .now } }
    func succeeded() {
        if openedAt.withLock({ $0 }) != nil { openedAt.withLock { $0 = nil } }
    }
}
