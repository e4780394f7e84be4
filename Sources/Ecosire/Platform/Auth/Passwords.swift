import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing, run on the blocking thread pool so a hash (≈ 250 ms at cost 12) never stalls an
/// event loop.
public struct PasswordHasher: Sendable {
    /// bcrypt cost; the contract asks for at least 12.
    public let cost: UInt8

    public init(cost: UInt8 = 12) { self.cost = cost }

    /// A hash of a password chosen a moment ago, for verifying unknown emails in the same time as
    /// known ones.
    private static let decoy = Bcrypt.hash("decoy-password-for-timing", cost: 12)

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time a real verification would, for an email that does not exist.
    public func verifyDecoy(_ password: String) async throws {
        _ = try await verify(password, hash: Self.decoy)
    }
}
