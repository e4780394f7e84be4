import Logging
import ServiceLifecycle

/// The run loop of services that keep writes in memory (API-key usage, license validations): flush
/// every `interval` until graceful shutdown, then once more. Services stop after the HTTP server has
/// drained, so that last flush is the last batch. A failed flush is logged and its batch retried.
enum PeriodicFlush {
    static func run(every interval: Duration, logger: Logger, failure: Logger.Message, flush: () async throws -> Void) async {
        func flushLoggingErrors() async {
            do {
                try await flush()
            } catch {
                logger.error(failure, metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            await flushLoggingErrors()
        }
        await flushLoggingErrors()
    }
}
