import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// Liveness, readiness and Prometheus metrics.
struct OperationsModule: Module {
    let platform: Platform
    let migrations: MigrationRunner
    let startedAt: Date

    func register(on api: APIRouter) {
        let health = Schema.object([
            .init("status", .enumeration(["ok", "unavailable"]), required: true),
            .init("uptimeSeconds", .integer(minimum: 0), required: true),
            .init("version", .string(), required: true),
        ]).named("Health")
        api.add(
            Operation(
                .get, "/api/health", id: "getHealth", tag: "Operations", summary: "Liveness", access: .open,
                responses: [ResponseSpec(200, "The process is up", schema: health)])
        ) { _ in
            .json(
                .object([
                    "status": "ok", "uptimeSeconds": .int(Int64(Date().timeIntervalSince(startedAt))),
                    "version": .string(EcosireVersion.current),
                ]))
        }

        let readiness = Schema.object([
            .init("status", .enumeration(["ready", "unavailable"]), required: true),
            .init("database", .enumeration(["ok", "unreachable"]), required: true),
            .init("pendingMigrations", .array(.string()), required: true),
        ]).named("Readiness")
        api.add(
            Operation(
                .get, "/api/health/ready", id: "getReadiness", tag: "Operations",
                summary: "Readiness: database reachable and migrations applied", access: .open,
                responses: [ResponseSpec(200, "Ready", schema: readiness), ResponseSpec(503, "Not ready", schema: readiness)])
        ) { _ in
            var reachable = true
            do {
                try await platform.database.read { sql in try await sql.exec("SELECT 1") }
            } catch {
                reachable = false
            }
            let all = migrations.migrations.map(\.id)
            let pending = reachable ? ((try? await migrations.pending(platform.database)) ?? all) : all
            let ready = reachable && pending.isEmpty
            return .json(
                .object([
                    "status": .string(ready ? "ready" : "unavailable"), "database": .string(reachable ? "ok" : "unreachable"),
                    "pendingMigrations": .array(pending.map { .string($0) }),
                ]),
                status: ready ? .ok : .serviceUnavailable
            )
        }

        api.add(
            Operation(
                .get, "/metrics", id: "getMetrics", tag: "Operations", summary: "Prometheus metrics", access: .open,
                responses: [ResponseSpec(200, "Prometheus text exposition", schema: .string(), mediaType: "text/plain")])
        ) { _ in
            var bytes: [UInt8] = []
            MetricsRegistry.shared.emit(into: &bytes)
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        }
    }
}

/// The process-wide Prometheus registry; the metrics system can be bootstrapped once per process.
enum MetricsRegistry {
    static let shared = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    static func bootstrapOnce() {
        bootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: shared))
            done = true
        }
    }
}

/// The server version reported by health and the OpenAPI document.
public enum EcosireVersion {
    public static let current = "0.1.0"
}
