import HummingbirdBcrypt
import NIOCore
import NIOPosix
import Synchronization

/// bcrypt hashing on its own fixed set of threads. A hash takes ≈ 250 ms at cost 12: on the shared
/// blocking pool, which also runs every SQLite query and file read, a flood of sign-ins queued the
/// whole API behind it. Here the flood queues for these threads only, and the rest keeps its pace.
public struct PasswordHasher: Sendable {
    /// bcrypt cost; the contract asks for at least 12.
    public let cost: UInt8

    public init(cost: UInt8 = 12) { self.cost = cost }

    /// Hashes run at once: one thread fewer than the cores (at least one), so a core stays free for
    /// answering everything else while sign-ins queue.
    public static let concurrency = max(1, System.coreCount - 1)

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: concurrency)
        pool.start()
        return pool
    }()

    /// Hashes of a throwaway password at each cost in use, for verifying unknown emails in the same
    /// time as known ones: the time of a check depends on the cost, so the decoy has the configured one.
    private static let decoys = Mutex<[UInt8: String]>([:])

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await Self.pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await Self.pool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time a real verification would, for an email that does not exist.
    public func verifyDecoy(_ password: String) async throws {
        let cost = self.cost
        if let decoy = Self.decoys.withLock({ $0[cost] }) {
            _ = try await verify(password, hash: decoy)
            return
        }
        // The first unknown email makes the decoy, which takes as long as a verification.
        let decoy = try await hash("decoy-password-" + SecretTokens.base62(count: 16))
        Self.decoys.withLock { $0[cost] = $0[cost] ?? decoy }
    }
}
