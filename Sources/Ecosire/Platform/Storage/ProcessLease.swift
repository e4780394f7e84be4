import Logging
import SQLKit
import ServiceLifecycle

/// This process's lease in `process_leases`: renewed every second while the process runs, removed
/// when it stops. Work a process claims in the database (an `Idempotency-Key` in progress) names
/// the lease, so another process — or this one's successor after a crash — can tell a claim whose
/// holder died within `ttlMillis` instead of waiting out a fixed timeout.
public struct ProcessLease: Service {
    /// How long a lease outlives its last renewal.
    public static let ttlMillis: Int64 = 3_000
    static let renewal = Duration.seconds(1)

    /// This process's name in claims.
    public let holder: String
    let database: any Database
    let clock: WallClock
    let logger: Logger

    public init(database: any Database, clock: WallClock, logger: Logger) {
        self.holder = "process-" + UUIDv7.generate()
        self.database = database
        self.clock = clock
        self.logger = logger
    }

    /// Writes or extends the lease.
    public func renew() async throws {
        let expires = clock.nowMillis() + Self.ttlMillis
        _ = try await database.run(
            """
            INSERT INTO process_leases (holder, expires_at) VALUES (\(bind: holder), \(bind: expires))
            ON CONFLICT (holder) DO UPDATE SET expires_at = \(bind: expires)
            """
        )
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await renew()
            } catch {
                logger.warning("Could not renew the process lease", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.renewal) }
        }
        // The HTTP server has drained: nothing this process claimed is still running.
        _ = try? await database.run("DELETE FROM process_leases WHERE holder = \(bind: holder)")
    }
}
